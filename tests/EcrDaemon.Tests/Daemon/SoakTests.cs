using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.Configuration;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The soak: the Deployment the chart renders (two replicas, leader election on) runs under a
/// kubelet simulator (its startup, liveness and readiness probes; the liveness and readiness
/// schedules scaled down by <see cref="Scale"/> together with the daemon's LivenessTimeout) and keeps 500 namespaces × 3
/// ServiceAccounts in sync with 20-second tokens (RefreshAt 0.5) while faults are injected at
/// random, and an invariant checker watches the cluster and the replicas' readiness the whole time.
/// About 2 minutes in CI; <c>bash scripts/soak.sh 600</c> for 10 minutes (README, "High availability").
/// </summary>
[Collection(SoakTestGroup.Name)]
public sealed class SoakTests(ITestOutputHelper output)
{
    internal const int Namespaces = 500;

    /// <summary>The liveness and readiness probe periods and LivenessTimeout (5 minutes) × 0.1: 30 s, so that a 100 s soak spans three.</summary>
    private const double Scale = 0.1;
    private const string Optin = DaemonHarness.OptInLabel;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["EcrDaemon:ServiceAccounts:0"] = "*",
        ["EcrDaemon:RefreshAt"] = "0.5",
        ["EcrDaemon:MinRefreshInterval"] = "00:00:01",
        ["EcrDaemon:KubernetesQps"] = "0",
        ["EcrDaemon:ResyncInterval"] = "00:00:10",
        ["EcrDaemon:LivenessTimeout"] = (new EcrDaemonOptions().LivenessTimeout * Scale).ToString("c", CultureInfo.InvariantCulture),
        ["EcrDaemon:LeaderElection:Enabled"] = "true",
        ["EcrDaemon:LeaderElection:LeaseDuration"] = "00:00:04",
        ["EcrDaemon:LeaderElection:RenewDeadline"] = "00:00:03",
        ["EcrDaemon:LeaderElection:RetryPeriod"] = "00:00:00.500",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information", // "Now listening on: ...", the port the kubelet probes
    };

    [ToolFact("helm")]
    public async Task Under_random_faults_every_invariant_holds_throughout()
    {
        var duration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("ECR_DAEMON_SOAK_SECONDS") ?? "100", CultureInfo.InvariantCulture));
        var rendered = await HelmChart.RenderAsync("replicaCount: 2");
        var probes = ContainerProbes.FromRendered(rendered).Scaled(Scale);
        Assert.Equal(2, probes.Replicas);
        await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rendered + LeaderElectionTests.ReplicaBBindings });
        h.Ecr.TokenLifetime = TimeSpan.FromSeconds(20);
        h.Ecr.RotateEveryRequest = true;
        var ops = h.Cluster.Operations;
        var random = new Random(20261128);

        // 500 namespaces, 4 in 5 opted in; default, sa-1 and sa-2 in each; every 10th sa-1 holds a third-party pull secret;
        // 10 opted-in namespaces hold a same-named secret the daemon does not own.
        var thirdParty = new List<string>();
        var unowned = new Dictionary<string, long>();
        for (var i = 0; i < Namespaces; i++)
        {
            var ns = $"soak-{i}";
            ops.CreateNamespace(ns, i % 5 == 0 ? null : new Dictionary<string, string> { [Optin] = "true" });
            foreach (var sa in new[] { "sa-1", "sa-2" })
            {
                var obj = new JsonObject { ["metadata"] = new JsonObject { ["name"] = sa } };
                if (sa == "sa-1" && i % 10 == 1)
                {
                    obj["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = "team-registry" });
                    thirdParty.Add(ns);
                }

                ops.Create(ResourceType.ServiceAccounts, ns, obj);
            }

            if (i % 50 == 3)
            {
                unowned[ns] = ops.Create(ResourceType.Secrets, ns, new JsonObject
                {
                    ["metadata"] = new JsonObject { ["name"] = DaemonHarness.SecretName },
                    ["stringData"] = new JsonObject { ["k"] = "theirs" },
                }).ResourceVersion;
            }
        }

        await using var kubelet = new KubeletSimulator(probes, (slot, pod) => h.StartReplicaProcess(slot == "a" ? "ecr-daemon" : "replica-b", pod, Settings));
        kubelet.Run("a", "a-0");
        kubelet.Run("b", "b-0");
        var check = new InvariantChecker(h, kubelet, thirdParty, unowned, Settle);
        var diagnostics = new SoakDiagnostics(h, check, kubelet);
        await Poll.Until(() => check.AllInSync(), () => check.Report(), TimeSpan.FromMinutes(3));
        check.Synced();
        var mark = h.Requests.Mark();
        var started = DateTimeOffset.UtcNow;
        var faults = new Dictionary<string, int>();
        var kills = 0;
        while (DateTimeOffset.UtcNow - started < duration)
        {
            var name = await InjectAsync(random.Next(10));
            faults[name] = faults.GetValueOrDefault(name) + 1;
            var until = DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(random.Next(500, 1500));
            while (DateTimeOffset.UtcNow < until)
            {
                check.Check();
                await Task.Delay(100); // the checker's sampling interval, not synchronisation
            }
        }

        h.Cluster.Faults.Clear();
        var cleared = DateTimeOffset.UtcNow;
        await Poll.Until(() => { check.Check(); return check.AllInSync(); }, () => $"{check.Report()}\n{diagnostics.Describe(check.Failing().Select(f => f.Namespace))}", TimeSpan.FromMinutes(1));
        var writes = h.Requests.Since(mark).Count(r => r.IsWrite && r.Resource is "secrets" or "serviceaccounts" && r.Identity != "kubernetes-admin");
        output.WriteLine($"soak {duration.TotalSeconds:0} s, {Namespaces} namespaces, probes {probes}: faults {string.Join(", ", faults.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}"))}; " +
            $"writes {writes}; longest without a valid token {check.LongestWithoutValidToken.TotalSeconds:0.0} s; longest without a Ready replica {check.LongestWithoutReady.TotalSeconds:0.0} s; " +
            $"kubelet restarts {kubelet.Restarts.Count}; converged {(DateTimeOffset.UtcNow - cleared).TotalSeconds:0.0} s after the faults were cleared; {diagnostics.Lease()}; violations {check.Violations.Count}");
        Assert.True(check.Violations.Count == 0, diagnostics.Describe(check.ViolatingNamespaces()));

        async Task<string> InjectAsync(int fault)
        {
            switch (fault)
            {
                case 0:
                    h.Cluster.Faults.FailNext(5, random.Next(2) == 0 ? 500 : 503, verb: random.Next(2) == 0 ? "patch" : "create");
                    return "api 5xx";
                case 1:
                    h.Cluster.Faults.FailNext(5, 429, retryAfterSeconds: 1);
                    return "api 429";
                case 2:
                    h.Cluster.Store.CloseAllWatches();
                    return "watch drop";
                case 3:
                    h.Cluster.Store.Compact();
                    h.Cluster.Store.CloseAllWatches();
                    return "410";
                case 4:
                    h.Ecr.Enqueue(random.Next(2) == 0 ? EcrFault.Throttle : EcrFault.ServerError, random.Next(1, 9));
                    return "ecr throttle/outage";
                case 5:
                    // The leader's pod is killed (SIGKILL) and the Deployment's new pod takes its slot. While the Lease still
                    // names a pod that is gone (for up to LeaseDuration), there is no leader to kill: killing that slot's
                    // new pod instead would keep it from ever starting. One pod is lost at a time, as the chart's
                    // PodDisruptionBudget (minAvailable 1) has it: while the other replica is not Ready, two replicas
                    // cannot cover a second loss, and no invariant could hold through it.
                    if (kubelet.SlotOf(diagnostics.LeaseHolder()) is not { } slot)
                    {
                        return "leader kill (skipped: no live leader)";
                    }

                    if (!kubelet.Ready.Any(pod => pod != diagnostics.LeaseHolder()))
                    {
                        return "leader kill (skipped: no other Ready replica)";
                    }

                    await kubelet.ReplaceAsync(slot, $"{slot}-{++kills}");
                    return "leader kill";
                case 6:
                    var ns = $"soak-{random.Next(Namespaces)}";
                    var optedIn = h.Cluster.Store.Get(ResourceType.Namespaces, "", ns)?.Labels?[Optin] is not null;
                    ops.Patch(ResourceType.Namespaces, "", ns, "application/merge-patch+json",
                        new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [Optin] = optedIn ? null : "true" } } }.ToJsonString());
                    return "label toggle";
                case 7:
                    ops.Create(ResourceType.ServiceAccounts, $"soak-{random.Next(Namespaces)}",
                        new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"late-{Guid.NewGuid():N}"[..20] } });
                    return "serviceaccount created";
                default:
                    var target = $"soak-{random.Next(Namespaces)}";
                    if (!unowned.ContainsKey(target) && h.Cluster.Store.Get(ResourceType.Secrets, target, DaemonHarness.SecretName) is not null)
                    {
                        ops.Delete(ResourceType.Secrets, target, DaemonHarness.SecretName, null);
                    }

                    return "secret deleted";
            }
        }
    }
}
