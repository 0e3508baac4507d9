using EcrDaemon.LeaderElection;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>Leader election with a Lease, under the chart's RBAC with leader election on (its Role for the Lease).</summary>
public sealed class LeaderElectionTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> Election = new()
    {
        ["EcrDaemon:LeaderElection:Enabled"] = "true",
        ["EcrDaemon:LeaderElection:LeaseNamespace"] = "ecr-daemon",
        ["EcrDaemon:LeaderElection:LeaseDuration"] = "00:00:04",
        ["EcrDaemon:LeaderElection:RenewDeadline"] = "00:00:03",
        ["EcrDaemon:LeaderElection:RetryPeriod"] = "00:00:00.500",
    };

    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        var rbac = Tools.Find("helm") is null && !Tools.IsCi ? DaemonHarness.RbacYaml : await HelmChart.RenderAsync("leaderElection: { enabled: true }");
        _h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rbac });
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private string? Holder() => _h.Cluster.Store.Get(ResourceType.Leases, "ecr-daemon", "ecr-daemon")?.Node["spec"]?["holderIdentity"]?.GetValue<string>();

    [ToolFact("helm")]
    public async Task The_leader_holds_the_Lease_writes_and_releases_the_Lease_when_it_stops()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync(Election);
        var leadership = _h.Services.GetRequiredService<Leadership>();

        await _h.WaitInSyncAsync("a");
        Assert.True(leadership.IsLeader);
        Assert.Equal(leadership.Identity, Holder());

        Assert.Equal(0, await _h.StopDaemonAsync());
        Assert.Equal("", Holder()); // released: another replica need not wait for it to expire
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == 4005);
        var refused = _h.Requests.All.Where(r => r.Identity == DaemonHarness.Identity && r.Code is 401 or 403).ToList();
        Assert.True(refused.Count == 0, DaemonHarness.Summary(refused));
    }

    [ToolFact("helm")]
    public async Task A_follower_writes_nothing_until_the_Lease_is_free_then_takes_over_and_syncs()
    {
        // Another replica holds the Lease for a minute.
        await _h.Admin.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "ecr-daemon" },
            Spec = new V1LeaseSpec { HolderIdentity = "other-replica", LeaseDurationSeconds = 60, AcquireTime = DateTime.UtcNow, RenewTime = DateTime.UtcNow },
        }, "ecr-daemon");
        await _h.CreateNamespaceAsync("a", optedIn: true);
        var mark = _h.Requests.Mark();
        await _h.StartDaemonAsync(Election);
        var leadership = _h.Services.GetRequiredService<Leadership>();

        // The follower has seen the namespace and holds a token (it is ready), but does not write.
        await Poll.Until(() => _h.Queue.Depth >= 1 && _h.Logs.Entries.Any(e => e.EventId.Id == 4003), () => "the follower did not see the namespace or the leader");
        Assert.False(leadership.IsLeader);
        Assert.Empty(_h.DaemonWrites(mark));
        Assert.Null(_h.Secret("a"));

        // The other replica releases the Lease (as a graceful stop does): this one takes over and syncs.
        await _h.Admin.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(
            """{"spec":{"holderIdentity":"","leaseDurationSeconds":1}}""", V1Patch.PatchType.MergePatch), "ecr-daemon", "ecr-daemon");
        await _h.WaitInSyncAsync("a");
        Assert.True(leadership.IsLeader);
        Assert.Equal(leadership.Identity, Holder());
    }
}
