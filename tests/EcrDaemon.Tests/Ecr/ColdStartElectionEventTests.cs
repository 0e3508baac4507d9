using EcrDaemon.Controller;
using EcrDaemon.Diagnostics;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// A token failure at cold start with leader election on (the chart's setting for several replicas): a replica
/// without a token never competes for the Lease, so when no replica leads, it records the failure itself;
/// when another replica leads (and so holds a token and writes), it leaves the Events to that one.
/// </summary>
public sealed class ColdStartElectionEventTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> Election = new()
    {
        ["EcrDaemon:LeaderElection:Enabled"] = "true",
        ["EcrDaemon:LeaderElection:LeaseNamespace"] = "ecr-daemon",
    };

    private DaemonHarness _h = null!;

    public async Task InitializeAsync() =>
        _h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = await HelmChart.RenderAsync("leaderElection: { enabled: true }") });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [ToolFact("helm")]
    public async Task With_no_replica_leading_a_cold_start_token_failure_is_recorded_on_each_opted_in_namespace()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.CreateNamespaceAsync("b", optedIn: true);
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 10_000);

        await _h.StartDaemonAsync(Election, waitForSync: false);
        var controller = _h.Services.GetRequiredService<PullSecretController>();
        await Poll.Until(() => _h.HasExited || (controller.Synced && _h.Refresher.ConsecutiveFailures >= 1), () => _h.Logs.AllText);

        await Poll.Until(() => TokenEvents("a") == 1 && TokenEvents("b") == 1, () => $"TokenRefreshFailed Events: a {TokenEvents("a")}, b {TokenEvents("b")}");
        _h.AssertRunning();
        Assert.Null(_h.Refresher.Current);
    }

    [ToolFact("helm")]
    public async Task With_another_replica_leading_a_replica_without_a_token_records_no_TokenRefreshFailed()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.Admin.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "ecr-daemon" },
            Spec = new V1LeaseSpec { HolderIdentity = "other-replica", LeaseDurationSeconds = 600, RenewTime = DateTime.UtcNow, AcquireTime = DateTime.UtcNow },
        }, "ecr-daemon");
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 10_000);

        await _h.StartDaemonAsync(Election, waitForSync: false);
        await Poll.Until(() => _h.HasExited || _h.Logs.Entries.Any(e => e.EventId.Id == LogEvents.TokenFailureLeftToLeader), () => _h.Logs.AllText);

        _h.AssertRunning();
        Assert.Contains("other-replica", _h.Logs.Entries.First(e => e.EventId.Id == LogEvents.TokenFailureLeftToLeader).Message, StringComparison.Ordinal);
        Assert.Equal(0, TokenEvents("a"));
    }

    private int TokenEvents(string ns) =>
        _h.Cluster.Store.InNamespace(ResourceType.Events, ns).Count(e => e.Node["reason"]?.GetValue<string>() == "TokenRefreshFailed");
}
