using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The soak: two replicas (processes, leader election on) keep 500 namespaces × 3 ServiceAccounts
/// in sync with 20-second tokens (RefreshAt 0.5) while faults are injected at random, and an
/// invariant checker watches the cluster the whole time. About 2 minutes in CI; set
/// ECR_DAEMON_SOAK_SECONDS=600 for 10 minutes (README, "High availability").
/// </summary>
[Collection(SoakTestGroup.Name)]
public sealed class SoakTests(ITestOutputHelper output)
{
    internal const int Namespaces = 500;
    private const string Optin = DaemonHarness.OptInLabel;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["EcrDaemon:ServiceAccounts:0"] = "*",
        ["EcrDaemon:RefreshAt"] = "0.5",
        ["EcrDaemon:MinRefreshInterval"] = "00:00:01",
        ["EcrDaemon:KubernetesQps"] = "0",
        ["EcrDaemon:ResyncInterval"] = "00:00:10",
        ["EcrDaemon:LeaderElection:Enabled"] = "true",
        ["EcrDaemon:LeaderElection:LeaseDuration"] = "00:00:04",
        ["EcrDaemon:LeaderElection:RenewDeadline"] = "00:00:03",
        ["EcrDaemon:LeaderElection:RetryPeriod"] = "00:00:00.500",
    };

    [ToolFact("helm")]
    public async Task Under_random_faults_every_invariant_holds_throughout()
    {
        var duration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("ECR_DAEMON_SOAK_SECONDS") ?? "100", CultureInfo.InvariantCulture));
        var rbac = await HelmChart.RenderAsync("leaderElection: { enabled: true }") + LeaderElectionTests.ReplicaBBindings;
        await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rbac });
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

        var replicas = new Dictionary<string, BackgroundProcess>
        {
            ["a"] = h.StartReplicaProcess("ecr-daemon", "a-0", Settings),
            ["b"] = h.StartReplicaProcess("replica-b", "b-0", Settings),
        };
        try
        {
            var check = new InvariantChecker(h, thirdParty, unowned, Settle);
            await Poll.Until(() => check.AllInSync(), () => check.Report(), TimeSpan.FromMinutes(3));
            var mark = h.Requests.Mark();
            var started = DateTimeOffset.UtcNow;
            var faults = new Dictionary<string, int>();
            var restarts = 0;
            while (DateTimeOffset.UtcNow - started < duration)
            {
                var fault = random.Next(10);
                var name = fault switch
                {
                    0 => Do(() => h.Cluster.Faults.FailNext(5, random.Next(2) == 0 ? 500 : 503, verb: random.Next(2) == 0 ? "patch" : "create"), "api 5xx"),
                    1 => Do(() => h.Cluster.Faults.FailNext(5, 429, retryAfterSeconds: 1), "api 429"),
                    2 => Do(() => h.Cluster.Store.CloseAllWatches(), "watch drop"),
                    3 => Do(() => { h.Cluster.Store.Compact(); h.Cluster.Store.CloseAllWatches(); }, "410"),
                    4 => Do(() => h.Ecr.Enqueue(random.Next(2) == 0 ? EcrFault.Throttle : EcrFault.ServerError, random.Next(1, 9)), "ecr throttle/outage"),
                    5 => Do(() =>
                    {
                        var leader = h.Cluster.Store.Get(ResourceType.Leases, "ecr-daemon", "ecr-daemon")?.Node["spec"]?["holderIdentity"]?.GetValue<string>() ?? "";
                        var key = leader.StartsWith('b') ? "b" : "a";
                        replicas[key].Dispose(); // SIGKILL
                        restarts++;
                        replicas[key] = h.StartReplicaProcess(key == "a" ? "ecr-daemon" : "replica-b", $"{key}-{restarts}", Settings);
                    }, "leader kill"),
                    6 => Do(() =>
                    {
                        var ns = $"soak-{random.Next(Namespaces)}";
                        var optedIn = h.Cluster.Store.Get(ResourceType.Namespaces, "", ns)?.Labels?[Optin] is not null;
                        ops.Patch(ResourceType.Namespaces, "", ns, "application/merge-patch+json",
                            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [Optin] = optedIn ? null : "true" } } }.ToJsonString());
                    }, "label toggle"),
                    7 => Do(() =>
                    {
                        var ns = $"soak-{random.Next(Namespaces)}";
                        ops.Create(ResourceType.ServiceAccounts, ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"late-{Guid.NewGuid():N}"[..20] } });
                    }, "serviceaccount created"),
                    _ => Do(() =>
                    {
                        var ns = $"soak-{random.Next(Namespaces)}";
                        if (!unowned.ContainsKey(ns) && h.Cluster.Store.Get(ResourceType.Secrets, ns, DaemonHarness.SecretName) is not null)
                        {
                            ops.Delete(ResourceType.Secrets, ns, DaemonHarness.SecretName, null);
                            }
                    }, "secret deleted"),
                };
                faults[name] = faults.GetValueOrDefault(name) + 1;
                var until = DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(random.Next(500, 1500));
                while (DateTimeOffset.UtcNow < until)
                {
                    foreach (var key in replicas.Keys.Where(k => replicas[k].HasExited).ToList())
                    {
                        // A replica that dies on its own is a bug; restart it, as its Deployment would, and report it.
                        check.Violations.Add($"replica {key} exited on its own: {string.Join("\n", replicas[key].StandardErrorLines.TakeLast(15))}");
                        replicas[key].Dispose();
                        restarts++;
                        replicas[key] = h.StartReplicaProcess(key == "a" ? "ecr-daemon" : "replica-b", $"{key}-{restarts}", Settings);
                    }

                    check.Check();
                    await Task.Delay(100); // the checker's sampling interval, not synchronisation
                }
            }

            h.Cluster.Faults.Clear();
            await Poll.Until(() => check.AllInSync(), () => check.Report(), TimeSpan.FromMinutes(1));
            var writes = h.Requests.Since(mark).Count(r => r.IsWrite && r.Resource is "secrets" or "serviceaccounts" && r.Identity != "kubernetes-admin");
            output.WriteLine($"soak {duration.TotalSeconds:0} s, {Namespaces} namespaces: faults {string.Join(", ", faults.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}"))}; " +
                $"writes {writes}; longest without a valid token {check.LongestWithoutValidToken.TotalSeconds:0.0} s; violations {check.Violations.Count}");
            Assert.True(check.Violations.Count == 0, string.Join("\n", check.Violations.Take(5)) + "\n" + string.Join("\n",
                replicas.Select(r => $"--- replica {r.Key}:\n" + string.Join("\n", r.Value.StandardErrorLines.Where(l => l.Contains("[40", StringComparison.Ordinal) || l.Contains("[101", StringComparison.Ordinal) || l.Contains("[100", StringComparison.Ordinal) || l.Contains("fail", StringComparison.Ordinal) || l.Contains("crit", StringComparison.Ordinal)).TakeLast(40)))) + "\n" + string.Join("\n",
                check.Violations.Take(3).Select(v => v.Split(' ')[1].TrimEnd(':')).SelectMany(ns =>
                    h.Requests.All.Where(r => r.Namespace == ns).Select(r => $"{r.At:HH:mm:ss.fff} {r.Identity} {r.Verb} {r.Resource} {r.Code}")
                        .Concat(replicas.Values.SelectMany(p => p.StandardErrorLines).Where(l => l.Contains(ns, StringComparison.Ordinal))).TakeLast(40))));
        }
        finally
        {
            foreach (var replica in replicas.Values)
            {
                replica.Dispose();
            }
        }

        static string Do(Action action, string name)
        {
            action();
            return name;
        }
    }
}
