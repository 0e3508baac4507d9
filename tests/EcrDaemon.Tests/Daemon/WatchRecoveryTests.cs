using EcrDaemon.Diagnostics;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.Testing;
using k8s;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>The daemon recovers on its own, without a restart, from dropped and broken watches, 410 Expired, an API outage and a kill.</summary>
public sealed class WatchRecoveryTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        await _h.CreateNamespaceAsync("before", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("before");
        await Poll.Until(() => _h.Cluster.Store.WatcherCount == 3, () => $"{_h.Cluster.Store.WatcherCount} watchers");
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task After_every_watch_is_dropped_a_newly_labelled_namespace_is_still_synced()
    {
        await Poll.Until(() => _h.Cluster.Store.WatcherCount == 3, () => $"{_h.Cluster.Store.WatcherCount} watchers");
        var watches = _h.Requests.Count(verb: "watch", identity: DaemonHarness.Identity);

        _h.Cluster.Store.CloseAllWatches();
        await Poll.Until(() => _h.Requests.Count(verb: "watch", identity: DaemonHarness.Identity) >= watches + 3, () => "watches not reopened");
        await _h.CreateNamespaceAsync("after", optedIn: true);

        await _h.WaitInSyncAsync("after");
        Assert.Equal(3, _h.Requests.Count(verb: "list", identity: DaemonHarness.Identity)); // the first lists only: each watch resumed from its resourceVersion
    }

    [Fact]
    public async Task A_410_Expired_makes_the_informers_list_again_and_notice_what_changed_meanwhile()
    {
        await Poll.Until(() => _h.Cluster.Store.WatcherCount == 3, () => $"{_h.Cluster.Store.WatcherCount} watchers");
        var lists = _h.Requests.Count(verb: "list", identity: DaemonHarness.Identity);

        // Changes the daemon's watches may or may not deliver, then history compacted and watches dropped:
        // each informer resumes from an expired resourceVersion, gets 410, and lists again.
        _h.Cluster.Faults.AddLatency(TimeSpan.FromSeconds(1), verb: "watch", count: 3);
        _h.Cluster.Store.CloseAllWatches();
        await _h.CreateNamespaceAsync("during", optedIn: true);
        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "before");
        _h.Cluster.Store.Compact();

        await _h.WaitInSyncAsync("before", "during");
        await Poll.Until(() => _h.Requests.Count(verb: "list", identity: DaemonHarness.Identity) >= lists + 3,
            () => $"lists: {_h.Requests.Count(verb: "list", identity: DaemonHarness.Identity) - lists}");
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.WatchExpired);
    }

    [Theory]
    [InlineData(WatchBreak.ResetMidEvent)]
    [InlineData(WatchBreak.BadJson)]
    public async Task A_broken_watch_event_is_survived_and_later_changes_still_arrive(WatchBreak kind)
    {
        _h.Cluster.Faults.BreakWatchEvents(kind, count: 3);

        await _h.CreateNamespaceAsync("during", optedIn: true); // its events are the broken ones
        await _h.CreateNamespaceAsync("after", optedIn: true);

        await _h.WaitInSyncAsync("during", "after");
        Assert.Equal(0, _h.Cluster.Faults.Pending);
        _h.AssertRunning();
    }

    [Fact]
    public async Task After_the_API_server_is_down_for_60_seconds_the_daemon_catches_up_with_what_changed()
    {
        var failuresBefore = _h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.WatchFailed);
        _h.Cluster.SetDown(true);
        await Task.Delay(TimeSpan.FromSeconds(60)); // the outage itself, not a wait for a condition
        Assert.True(_h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.WatchFailed) >= failuresBefore + 6, "the informers did not keep retrying during the outage");

        // Meanwhile, inside the server (its API refuses everyone): a namespace opts in, and our secret is deleted.
        _h.Cluster.Operations.CreateNamespace("during", new Dictionary<string, string> { [DaemonHarness.OptInLabel] = "true" });
        _h.Cluster.Operations.Delete(ResourceType.Secrets, "before", DaemonHarness.SecretName, null);
        _h.Cluster.SetDown(false);

        await _h.WaitInSyncAsync("before", "during");
        _h.AssertRunning();
    }

    [Fact]
    public async Task With_every_watch_closed_again_and_again_changes_still_converge()
    {
        using var stop = new CancellationTokenSource();
        var closer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                _h.Cluster.Store.CloseAllWatches();
                await Task.Delay(TimeSpan.FromMilliseconds(300), stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });

        var namespaces = Enumerable.Range(1, 10).Select(i => $"churn-{i}").ToArray();
        foreach (var ns in namespaces)
        {
            await _h.CreateNamespaceAsync(ns, optedIn: true);
        }

        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "before");
        await _h.WaitInSyncAsync([.. namespaces, "before"]);
        await stop.CancelAsync();
        await closer;
        Assert.All(namespaces, ns => Assert.Equal([DaemonHarness.SecretName], _h.PullSecrets(ns)!));
    }

    [Fact]
    public async Task A_daemon_killed_mid_reconcile_and_started_again_converges_without_duplicates()
    {
        await _h.StopDaemonAsync();
        using (var first = _h.StartReplicaProcess("ecr-daemon", "first", new Dictionary<string, string?>()))
        {
            // The ServiceAccount patch hangs: the secret is written, the reconcile is half done when the process dies.
            _h.Cluster.Faults.AddLatency(TimeSpan.FromMinutes(5), verb: "patch", resource: "serviceaccounts");
            await _h.CreateNamespaceAsync("half", optedIn: true);
            await Poll.Until(() => _h.Secret("half") is not null || first.HasExited, () => first.ToString());
            Assert.Empty(_h.PullSecrets("half")!);
        } // SIGKILL

        _h.Cluster.Faults.Clear();
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("half", "before");
        Assert.Equal([DaemonHarness.SecretName], _h.PullSecrets("half")!);
    }
}
