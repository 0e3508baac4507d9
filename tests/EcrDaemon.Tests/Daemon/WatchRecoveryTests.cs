using EcrDaemon.Testing;
using k8s;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>The informers recover from dropped watches and 410 Expired without help.</summary>
public sealed class WatchRecoveryTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        await _h.CreateNamespaceAsync("before", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("before");
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
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == 2002);
    }
}
