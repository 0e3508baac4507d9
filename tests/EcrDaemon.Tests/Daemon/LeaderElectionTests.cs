using EcrDaemon.Diagnostics;
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
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.LeaseReleased);
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
        await Poll.Until(() => _h.Queue.Depth >= 1 && _h.Logs.Entries.Any(e => e.EventId.Id == LogEvents.NewLeader), () => "the follower did not see the namespace or the leader");
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

    /// <summary>The chart's RBAC with leader election on, plus the same bindings for a second ServiceAccount, so that the request log tells the replicas apart.</summary>
    private static async Task<string> TwoIdentitiesRbacAsync() => await HelmChart.RenderAsync("leaderElection: { enabled: true }") + ReplicaBBindings;

    /// <summary>The chart's ClusterRole and Lease Role bound to a second ServiceAccount, replica-b.</summary>
    internal const string ReplicaBBindings = """

        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: { name: replica-b }
        roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ecr-daemon }
        subjects: [ { kind: ServiceAccount, name: replica-b, namespace: ecr-daemon } ]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: { name: replica-b, namespace: ecr-daemon }
        roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: ecr-daemon-leader-election }
        subjects: [ { kind: ServiceAccount, name: replica-b, namespace: ecr-daemon } ]
        """;

    private const string ReplicaB = "system:serviceaccount:ecr-daemon:replica-b";

    private IReadOnlyList<TestCluster.Hooks.RequestRecord> Writes(string identity, long since) =>
        [.. _h.Requests.Since(since).Where(r => r.Identity == identity && r.IsWrite && r.Resource is "secrets" or "serviceaccounts")];

    [ToolFact("helm")]
    public async Task Of_two_replicas_only_the_leader_writes_and_a_hard_killed_leader_is_replaced()
    {
        _h.Cluster.LoadRbac(await TwoIdentitiesRbacAsync());
        var mark = _h.Requests.Mark();
        using var b = _h.StartReplicaProcess("replica-b", "replica-b", Election);
        await Poll.Until(() => Holder() == "replica-b" || b.HasExited, () => $"replica-b did not lead; lease holder {Holder()}\n{b}");
        foreach (var ns in new[] { "one", "two", "three" })
        {
            await _h.CreateNamespaceAsync(ns, optedIn: true);
        }

        await _h.WaitInSyncAsync("one", "two", "three");
        Assert.Equal(6, Writes(ReplicaB, mark).Count); // 3 secrets created, 3 ServiceAccounts patched

        // Every replica fetches its own token: the follower's has another password, so were it to write, it would rewrite all three.
        _h.Ecr.Generation = 1;
        await _h.StartDaemonAsync(Election);
        var a = _h.Services.GetRequiredService<Leadership>();
        await Poll.Until(() => _h.Queue.Depth >= 3, () => $"the follower has not queued the namespaces (depth {_h.Queue.Depth})");
        Assert.False(a.IsLeader);
        Assert.Empty(Writes(DaemonHarness.Identity, mark));

        // SIGKILL: no release. The follower takes over once the Lease (4 s) has expired, and converges.
        b.Dispose();
        var afterKill = _h.Requests.Mark();
        await _h.CreateNamespaceAsync("after", optedIn: true);
        await _h.WaitInSyncAsync("one", "two", "three", "after");
        await _h.IdleAsync();

        Assert.True(a.IsLeader);
        Assert.Equal(a.Identity, Holder());
        var writes = Writes(DaemonHarness.Identity, afterKill);
        Assert.Equal(["one", "three", "two"], writes.Where(w => w is { Verb: "patch", Resource: "secrets" }).Select(w => w.Namespace).Order(StringComparer.Ordinal));
        Assert.Equal(["after/create/secrets", "after/patch/serviceaccounts"],
            writes.Where(w => w.Namespace == "after").Select(w => $"{w.Namespace}/{w.Verb}/{w.Resource}").Order(StringComparer.Ordinal));
        Assert.Equal(5, writes.Count); // its own token into the 3 secrets, and the new namespace; no ServiceAccount rewritten
        Assert.Empty(Writes(ReplicaB, afterKill));
    }

    [ToolFact("helm")]
    public async Task A_gracefully_stopped_leader_releases_the_Lease_so_the_follower_takes_over_long_before_it_would_expire()
    {
        _h.Cluster.LoadRbac(await TwoIdentitiesRbacAsync());
        var longLease = new Dictionary<string, string?>(Election)
        {
            ["EcrDaemon:LeaderElection:LeaseDuration"] = "00:02:00",
            ["EcrDaemon:LeaderElection:RenewDeadline"] = "00:01:00",
        };
        await _h.StartDaemonAsync(longLease);
        var a = _h.Services.GetRequiredService<Leadership>();
        await Poll.Until(() => a.IsLeader, () => $"the first replica did not lead; lease holder {Holder()}");
        using var b = _h.StartReplicaProcess("replica-b", "replica-b", longLease);
        await Poll.Until(() => b.StandardErrorLines.Any(l => l.Contains("[4003]", StringComparison.Ordinal)) || b.HasExited, () => b.ToString());

        Assert.Equal(0, await _h.StopDaemonAsync());

        // Within the 30 s poll deadline, while the Lease would have held for 2 minutes had it not been released.
        await Poll.Until(() => Holder() == "replica-b" || b.HasExited, () => $"lease holder {Holder()}\n{b}");
        var mark = _h.Requests.Mark();
        await _h.CreateNamespaceAsync("after", optedIn: true);
        await _h.WaitInSyncAsync("after");
        Assert.Equal(2, Writes(ReplicaB, mark).Count);
        await b.TerminateAsync();
        Assert.Equal(0, await b.WaitForExitAsync());
    }
}
