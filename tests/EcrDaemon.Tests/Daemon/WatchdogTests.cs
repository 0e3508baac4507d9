using EcrDaemon.Diagnostics;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>A watch that goes silent (no event, no bookmark) is restarted by the watchdog, and nothing is missed.</summary>
public sealed class WatchdogTests
{
    [Fact]
    public async Task A_silent_watch_is_restarted_from_its_resourceVersion_and_later_changes_still_arrive()
    {
        await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = DaemonHarness.RbacYaml, BookmarkInterval = TimeSpan.FromHours(1) });
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.StartDaemonAsync(informers: DaemonHarness.FastInformers with { StallTimeout = TimeSpan.FromSeconds(1) });
        await h.WaitInSyncAsync("a");
        var lists = h.Requests.Count(verb: "list", identity: DaemonHarness.Identity);

        // Nothing happens for a while: every watch is silent, so the watchdog restarts each one.
        await Poll.Until(() => h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.WatchStalled) >= 3, () => $"{h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.WatchStalled)} stalls seen");
        await h.CreateNamespaceAsync("b", optedIn: true);

        await h.WaitInSyncAsync("b");
        Assert.Equal(lists, h.Requests.Count(verb: "list", identity: DaemonHarness.Identity)); // resumed, not relisted
    }
}
