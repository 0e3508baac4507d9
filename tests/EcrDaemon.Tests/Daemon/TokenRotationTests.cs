using EcrDaemon.Diagnostics;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>Token rotation, steady state and ECR failure, counted in the request log.</summary>
public sealed class TokenRotationTests : IAsyncLifetime
{
    private const int Namespaces = 30;
    private static readonly string[] All = [.. Enumerable.Range(1, Namespaces).Select(i => $"app-{i}")];
    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        foreach (var ns in All)
        {
            await _h.CreateNamespaceAsync(ns, optedIn: true, "builder");
        }
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_rotation_over_N_namespaces_makes_exactly_N_secret_writes_no_ServiceAccount_write_and_one_ECR_call()
    {
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ServiceAccounts:0"] = "*" });
        await _h.WaitInSyncAsync(All);
        await _h.IdleAsync();
        var mark = _h.Requests.Mark();
        var ecrCalls = _h.Ecr.RequestCount;

        _h.Ecr.Generation = 1;
        _h.Refresher.RequestRefresh();
        await _h.WaitInSyncAsync(All);
        await _h.IdleAsync();

        var writes = _h.DaemonWrites(mark);
        Assert.True(writes.Count == Namespaces && writes.All(w => w is { Verb: "patch", Resource: "secrets" }), DaemonHarness.Summary(writes));
        Assert.Equal(All.Order(StringComparer.Ordinal), writes.Select(w => w.Namespace).Order(StringComparer.Ordinal));
        Assert.Equal(ecrCalls + 1, _h.Ecr.RequestCount);
        var events = _h.Requests.Since(mark).Where(r => r is { Verb: "create", Resource: "events" } && r.Identity == DaemonHarness.Identity).ToList();
        Assert.True(events.Count == 0, "no Event for a routine rotation, but: " + string.Join("; ", events.Select(e => e.Namespace).Distinct()
            .SelectMany(ns => _h.Cluster.Store.InNamespace(TestCluster.Api.ResourceType.Events, ns))
            .Select(e => $"{e.Namespace} {e.Node["reason"]} {e.Node["message"]} {e.Node["metadata"]!["creationTimestamp"]}")));
        Assert.All(All, ns => Assert.True(_h.InSync(ns, "builder")));
    }

    [Fact]
    public async Task Steady_state_over_several_resyncs_makes_no_request_beyond_the_watches()
    {
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ResyncInterval"] = "00:00:01" });
        await _h.WaitInSyncAsync(All);
        await _h.IdleAsync();
        var mark = _h.Requests.Mark();
        var resyncs = _h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.Resynced);

        // Five resyncs, each reconciling every namespace from the cache: "five minutes" of a quiet cluster, shortened.
        await Poll.Until(() => _h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.Resynced) >= resyncs + 5, () => "fewer than 5 resyncs", TimeSpan.FromSeconds(60));
        await _h.IdleAsync();

        var requests = _h.DaemonRequests(mark);
        Assert.True(requests.All(r => r.Verb == "watch"), DaemonHarness.Summary(requests));
        Assert.Empty(_h.DaemonWrites(mark));
    }

    [Fact]
    public async Task An_ECR_failure_keeps_the_last_good_token_and_leaves_every_secret_untouched()
    {
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync(All);
        await _h.IdleAsync();
        var mark = _h.Requests.Mark();
        var versions = All.ToDictionary(ns => ns, ns => _h.SecretVersion(ns));

        _h.Ecr.Generation = 1;
        _h.Ecr.Enqueue(EcrFault.ServerError, 4);
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 1);
        _h.Refresher.RequestRefresh();
        await Poll.Until(() => _h.Refresher.ConsecutiveFailures >= 1, () => _h.Ecr.ToString());
        _h.Refresher.RequestRefresh();
        await Poll.Until(() => _h.Refresher.ConsecutiveFailures >= 2, () => _h.Ecr.ToString());
        await _h.IdleAsync();

        Assert.Empty(_h.DaemonWrites(mark));
        Assert.All(All, ns => Assert.Equal(versions[ns], _h.SecretVersion(ns)));
        Assert.All(All, ns => Assert.Equal(EcrStandIn.PasswordFor(_h.Ecr.DefaultAccountId, 0), _h.PasswordIn(ns)));

        // AWS recovers: the next refresh rotates every secret.
        _h.Refresher.RequestRefresh();
        await _h.WaitInSyncAsync(All);
        Assert.Equal(0, _h.Refresher.ConsecutiveFailures);
    }
}
