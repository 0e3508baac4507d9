using EcrDaemon.Diagnostics;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace EcrDaemon.Tests.Daemon;

/// <summary>A watch that expires (410) again right after each list backs off before listing again, and every restart is counted.</summary>
[Collection(MetricsTestGroup.Name)]
public sealed class WatchExpiryTests(ITestOutputHelper output)
{
    private static readonly string[] Resources = ["namespaces", "serviceaccounts", "secrets"];

    [Fact]
    public async Task Watches_that_expire_after_every_list_relist_with_capped_backoff_and_every_restart_is_counted()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.StartDaemonAsync(informers: DaemonHarness.FastInformers with { InitialBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(4) });
        await h.WaitInSyncAsync("a");
        await Poll.Until(() => h.Cluster.Store.WatcherCount == 3, () => $"{h.Cluster.Store.WatcherCount} watchers");
        var expiredBefore = await ExpiredRestartsAsync(h);
        var start = h.Requests.Mark();

        // From now on every watch is answered 410 at once, as for a resourceVersion the server no longer has:
        // each informer lists, watches, gets 410, and must list again.
        h.Cluster.Faults.WatchesExpire = true;
        h.Cluster.Store.CloseAllWatches();
        await Task.Delay(TimeSpan.FromSeconds(6)); // the fault's window, not a wait for a condition
        h.Cluster.Faults.WatchesExpire = false;
        var end = h.Requests.Mark();

        // With 1 s, 2 s, 4 s, 4 s ... (±20 %) between relists, an informer lists at most 4 times in 6 s, and at most 6 times
        // even if this machine stretched the window to 15 s; without backoff it lists as fast as 50 QPS allows.
        var lists = h.Requests.Since(start).Where(r => r.Sequence <= end && r.Identity == DaemonHarness.Identity && r.Verb == "list").ToList();
        var byResource = Resources.ToDictionary(r => r, r => lists.Count(l => l.Resource == r));
        var summary = string.Join(", ", byResource.Select(p => $"{p.Key} {p.Value}"));
        output.WriteLine($"lists in the 410 window: {summary}; watches answered 410 so far: {h.Cluster.Faults.ExpiredWatches}");
        Assert.All(byResource, p => Assert.True(p.Value is >= 2 and <= 6, $"lists in the window: {summary}"));
        Assert.Contains(h.Logs.Entries, e => e.EventId.Id == LogEvents.WatchExpiredAgain);

        // Once watches work again each informer resumes, and every 410 was counted as an "expired" restart.
        await Poll.Until(() => h.Cluster.Store.WatcherCount == 3, () => $"{h.Cluster.Store.WatcherCount} watchers");
        var expired = 0d;
        await Poll.UntilAsync(async () => (expired = await ExpiredRestartsAsync(h) - expiredBefore) == h.Cluster.Faults.ExpiredWatches,
            () => $"ecr_daemon_watch_restarts_total{{reason=\"expired\"}} grew by {expired}; the server answered {h.Cluster.Faults.ExpiredWatches} watches with 410");
        Assert.True(h.Cluster.Faults.ExpiredWatches >= 6, $"{h.Cluster.Faults.ExpiredWatches} watches expired");

        await h.CreateNamespaceAsync("after", optedIn: true);
        await h.WaitInSyncAsync("after");
    }

    [Fact]
    public async Task A_watch_the_server_refuses_with_HTTP_410_lists_again_instead_of_retrying_the_expired_resourceVersion()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.StartDaemonAsync();
        await h.WaitInSyncAsync("a");
        await Poll.Until(() => h.Cluster.Store.WatcherCount == 3, () => $"{h.Cluster.Store.WatcherCount} watchers");
        var lists = h.Requests.Count(verb: "list", identity: DaemonHarness.Identity);

        // The next three watches are refused with a 410 status instead of an ERROR event in the stream.
        h.Cluster.Faults.FailNext(3, 410, verb: "watch", identity: DaemonHarness.Identity);
        h.Cluster.Store.CloseAllWatches();

        await Poll.Until(() => h.Cluster.Faults.Pending == 0 && h.Requests.Count(verb: "list", identity: DaemonHarness.Identity) >= lists + 3,
            () => $"{h.Cluster.Faults.Pending} faults pending, {h.Requests.Count(verb: "list", identity: DaemonHarness.Identity) - lists} lists since");
        await h.CreateNamespaceAsync("after", optedIn: true);
        await h.WaitInSyncAsync("after");
    }

    private static async Task<double> ExpiredRestartsAsync(DaemonHarness h)
    {
        using var http = new HttpClient();
        var samples = PrometheusText.Parse(await http.GetStringAsync(new Uri(await h.BoundHttpEndpointAsync(), "/metrics")));
        return samples.Where(s => s.Name == "ecr_daemon_watch_restarts_total" && s.Labels.GetValueOrDefault("reason") == "expired").Sum(s => s.Value);
    }
}
