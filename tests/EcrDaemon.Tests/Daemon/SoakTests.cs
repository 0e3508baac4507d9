using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
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
/// It runs twice: with the one-profile configuration (about 2 minutes in CI) and with three profiles over two
/// accounts (<see cref="SoakWorld.ThreeProfiles"/>; about 1.5 minutes). <c>bash scripts/soak.sh 600</c> runs each
/// for 10 minutes (README, "High availability").
/// </summary>
[Collection(SoakTestGroup.Name)]
public sealed class SoakTests(ITestOutputHelper output)
{
    internal const int Namespaces = 500;

    /// <summary>The liveness and readiness probe periods and LivenessTimeout (5 minutes) × 0.1: 30 s, so that a 100 s soak spans three.</summary>
    private const double Scale = 0.1;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    internal static readonly IReadOnlyDictionary<string, string?> OneProfileSettings = new Dictionary<string, string?>
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
    public Task Under_random_faults_every_invariant_holds_throughout() => SoakAsync(SoakWorld.OneProfile, defaultSeconds: 100);

    /// <summary>
    /// The same soak with three profiles over two accounts (issue 18): team-a (team=a, account A), team-b (team=b, account B),
    /// platform (platform=true, both; only the default ServiceAccount). Namespaces are relabelled between them while the faults
    /// run, and no namespace may hold, in any of our secrets, the host of a registry that none of its profiles gets. Shorter by
    /// default (60 s) so that CI runs both; <c>bash scripts/soak.sh SECONDS</c> runs both for SECONDS.
    /// </summary>
    [ToolFact("helm")]
    public Task With_three_profiles_under_random_faults_no_namespace_holds_a_registry_outside_its_profiles() => SoakAsync(SoakWorld.ThreeProfiles, defaultSeconds: 60);

    /// <summary>
    /// The checker's profile invariants can fail: a team-a secret holding account B's host is reported at once, a team=b
    /// namespace still holding team-a's secret (account A's host) after the settle time, and a namespace in two profiles
    /// holding both profiles' secrets is not reported.
    /// </summary>
    [Fact]
    public async Task The_checker_reports_a_namespace_holding_a_registry_outside_its_profiles()
    {
        await using var h = await DaemonHarness.StartAsync();
        var probe = new ProbeSpec("readinessProbe", "/readyz", TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 3, 1);
        await using var kubelet = new KubeletSimulator(new ContainerProbes(probe, probe, probe, 2), (_, _) => throw new InvalidOperationException("no replica runs here"));
        var profiles = SoakWorld.ThreeProfiles.Profiles(h)!;
        var (a, b) = (h.Ecr.HostFor(h.Ecr.DefaultAccountId), h.Ecr.HostFor(SoakWorld.AccountB));
        var ops = h.Cluster.Operations;
        ops.CreateNamespace("soak-1", new Dictionary<string, string> { ["team"] = "a" });
        ops.CreateNamespace("soak-3", new Dictionary<string, string> { ["team"] = "b" });
        ops.CreateNamespace("soak-5", new Dictionary<string, string> { ["team"] = "a", ["platform"] = "true" });
        ManagedSecret("soak-1", "ecr-team-a", a, b);
        ManagedSecret("soak-3", "ecr-team-a", a);
        ManagedSecret("soak-5", "ecr-team-a", a);
        ManagedSecret("soak-5", "ecr-platform", a, b);
        ops.Patch(ResourceType.ServiceAccounts, "soak-5", "default", "application/merge-patch+json",
            """{"metadata":{"annotations":{"ecr-daemon.io/added-image-pull-secret":"ecr-team-a,ecr-platform"}},"imagePullSecrets":[{"name":"ecr-team-a"},{"name":"ecr-platform"}]}""");
        var check = new InvariantChecker(h, kubelet, [], new Dictionary<string, long>(), TimeSpan.Zero, profiles, "ecr-team-b");

        check.Check();
        Assert.Equal([$"soak-1: secret ecr-team-a of profile team-a holds {b}, a registry the profile does not get"], check.Violations.Select(v => v[(v.IndexOf(' ', StringComparison.Ordinal) + 1)..]));
        await Poll.Until(() => { check.Check(); return check.Violations.Count >= 3; }, () => string.Join("\n", check.Violations));

        Assert.Contains(check.Violations, v => v.EndsWith($" soak-3: secret ecr-team-a holds {a}, a registry of none of the namespace's profiles for more than 0 s", StringComparison.Ordinal));
        Assert.Contains(check.Violations, v => v.Contains(" soak-1: ", StringComparison.Ordinal) && v.EndsWith("for more than 0 s", StringComparison.Ordinal));
        Assert.DoesNotContain(check.Violations, v => v.Contains(" soak-5: ", StringComparison.Ordinal));
        Assert.Equal(["soak-1", "soak-3"], check.ViolatingNamespaces());

        void ManagedSecret(string ns, string name, params string[] hosts)
        {
            var auths = new JsonObject();
            foreach (var host in hosts)
            {
                auths[host] = new JsonObject { ["username"] = "AWS", ["password"] = "p", ["auth"] = Convert.ToBase64String("AWS:p"u8.ToArray()) };
            }

            ops.Create(ResourceType.Secrets, ns, new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["name"] = name,
                    ["labels"] = new JsonObject { [Markers.ManagedByLabel] = Markers.ManagedByValue },
                    ["annotations"] = new JsonObject { [Markers.ExpiresAtAnnotation] = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture) },
                },
                ["type"] = "kubernetes.io/dockerconfigjson",
                ["data"] = new JsonObject { [Markers.DockerConfigJsonKey] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(new JsonObject { ["auths"] = auths }.ToJsonString())) },
            });
        }
    }

    private async Task SoakAsync(SoakWorld world, int defaultSeconds)
    {
        var seconds = Environment.GetEnvironmentVariable("ECR_DAEMON_SOAK_SECONDS");
        var duration = TimeSpan.FromSeconds(seconds is null ? defaultSeconds : int.Parse(seconds, CultureInfo.InvariantCulture));
        var rendered = await HelmChart.RenderAsync(world.ChartValues);
        Assert.True(rendered.Split('\n').Any(l => l.Contains("resourceNames:", StringComparison.Ordinal) && world.SecretNames.All(n => l.Contains($"\"{n}\"", StringComparison.Ordinal))),
            $"the chart's ClusterRole does not name every secret of the soak ({string.Join(", ", world.SecretNames)}) in one resourceNames list:\n{rendered}");
        var probes = ContainerProbes.FromRendered(rendered).Scaled(Scale);
        Assert.Equal(2, probes.Replicas);
        await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rendered + LeaderElectionTests.ReplicaBBindings });
        h.Ecr.TokenLifetime = TimeSpan.FromSeconds(20);
        h.Ecr.RotateEveryRequest = true;
        var ops = h.Cluster.Operations;
        var random = new Random(20261128);
        var settings = world.Settings(h);

        // 500 namespaces, 4 in 5 opted in; default, sa-1 and sa-2 in each; every 10th sa-1 holds a third-party pull secret;
        // 10 opted-in namespaces hold a same-named secret the daemon does not own.
        var thirdParty = new List<string>();
        var unowned = new Dictionary<string, long>();
        for (var i = 0; i < Namespaces; i++)
        {
            var ns = $"soak-{i}";
            ops.CreateNamespace(ns, world.Labels(i));
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
                    ["metadata"] = new JsonObject { ["name"] = world.UnownedSecretName },
                    ["stringData"] = new JsonObject { ["k"] = "theirs" },
                }).ResourceVersion;
            }
        }

        await using var kubelet = new KubeletSimulator(probes, (slot, pod) => h.StartReplicaProcess(slot == "a" ? "ecr-daemon" : "replica-b", pod, settings));
        kubelet.Run("a", "a-0");
        kubelet.Run("b", "b-0");
        var check = new InvariantChecker(h, kubelet, thirdParty, unowned, Settle, world.Profiles(h), world.UnownedSecretName);
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
        output.WriteLine($"soak{world.Title} {duration.TotalSeconds:0} s, {Namespaces} namespaces, probes {probes}: faults {string.Join(", ", faults.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}"))}; " +
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
                    for (var k = 0; k < world.RelabelsPerToggle; k++)
                    {
                        var ns = $"soak-{random.Next(Namespaces)}";
                        ops.Patch(ResourceType.Namespaces, "", ns, "application/merge-patch+json",
                            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = world.Relabel(h.Cluster.Store.Get(ResourceType.Namespaces, "", ns)?.Labels, random) } }.ToJsonString());
                    }

                    return "label toggle";
                case 7:
                    ops.Create(ResourceType.ServiceAccounts, $"soak-{random.Next(Namespaces)}",
                        new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"late-{Guid.NewGuid():N}"[..20] } });
                    return "serviceaccount created";
                default:
                    var target = $"soak-{random.Next(Namespaces)}";
                    var secret = world.SecretNames.Count == 1 ? world.SecretNames[0] : world.SecretNames[random.Next(world.SecretNames.Count)];
                    if (!unowned.ContainsKey(target) && h.Cluster.Store.Get(ResourceType.Secrets, target, secret) is not null)
                    {
                        ops.Delete(ResourceType.Secrets, target, secret, null);
                    }

                    return "secret deleted";
            }
        }
    }
}

/// <summary>
/// What a soak runs: the daemon's settings, the profiles the checker holds it to (null: the one-profile configuration),
/// how namespace soak-i is labelled at the start and relabelled by the "label toggle" fault (the patch's labels object),
/// the name of the secret the daemon does not own in every 50th namespace, the secret names the "secret deleted" fault picks from,
/// and how many namespaces one "label toggle" relabels.
/// </summary>
internal sealed record SoakWorld(
    string Title,
    string ChartValues,
    Func<DaemonHarness, Dictionary<string, string?>> Settings,
    Func<DaemonHarness, IReadOnlyList<SoakProfile>?> Profiles,
    Func<int, Dictionary<string, string>?> Labels,
    Func<JsonObject?, Random, JsonObject> Relabel,
    string UnownedSecretName,
    IReadOnlyList<string> SecretNames,
    int RelabelsPerToggle = 1)
{
    public const string AccountB = "210987654321";

    /// <summary>The soak as it always ran: 4 in 5 namespaces opted in, every ServiceAccount targeted, the opt-in label toggled.</summary>
    public static SoakWorld OneProfile { get; } = new(
        "",
        "replicaCount: 2",
        _ => new Dictionary<string, string?>(SoakTests.OneProfileSettings),
        _ => null,
        i => i % 5 == 0 ? null : new Dictionary<string, string> { [DaemonHarness.OptInLabel] = "true" },
        (labels, _) => new JsonObject { [DaemonHarness.OptInLabel] = labels?[DaemonHarness.OptInLabel] is not null ? null : "true" },
        DaemonHarness.SecretName,
        [DaemonHarness.SecretName]);

    /// <summary>
    /// team-a (team=a: account A, ecr-team-a, every ServiceAccount), team-b (team=b: account B, ecr-team-b, every ServiceAccount),
    /// platform (platform=true: both, ecr-platform, the default ServiceAccount only). soak-i is team=a for i mod 5 of 1 or 2, team=b
    /// for 3 or 4, unlabelled for 0, and platform=true for every third. A label toggle sets team=a, sets team=b, removes team,
    /// or toggles platform, in 10 namespaces at once; the unowned secrets (every 50th namespace, team=b) are named ecr-team-b.
    /// </summary>
    public static SoakWorld ThreeProfiles { get; } = new(
        " (three profiles)",
        $$"""
        replicaCount: 2
        registries:
          - name: acct-a
            region: us-west-2
            accountId: "123456789012"
          - name: acct-b
            region: us-west-2
            accountId: "{{AccountB}}"
        profiles:
          - name: team-a
            namespaceSelector: team=a
            secretName: ecr-team-a
            registries: [acct-a]
            serviceAccounts: ["*"]
          - name: team-b
            namespaceSelector: team=b
            secretName: ecr-team-b
            registries: [acct-b]
            serviceAccounts: ["*"]
          - name: platform
            namespaceSelector: platform=true
            secretName: ecr-platform
            registries: [acct-a, acct-b]
            serviceAccounts: ["default"]
        """,
        h =>
        {
            var settings = new Dictionary<string, string?>(SoakTests.OneProfileSettings);
            settings.Remove("EcrDaemon:ServiceAccounts:0"); // with profiles, each profile names its own
            settings["EcrDaemon:Registries:0:Name"] = "acct-a";
            settings["EcrDaemon:Registries:1:Name"] = "acct-b";
            settings["EcrDaemon:Registries:1:Region"] = h.Ecr.Region;
            settings["EcrDaemon:Registries:1:AccountId"] = AccountB;
            settings["EcrDaemon:Registries:1:Endpoint"] = h.Ecr.Endpoint.ToString();
            var profiles = new (string Name, string Selector, string Secret, string[] Registries, string ServiceAccount)[]
            {
                ("team-a", "team=a", "ecr-team-a", ["acct-a"], "*"),
                ("team-b", "team=b", "ecr-team-b", ["acct-b"], "*"),
                ("platform", "platform=true", "ecr-platform", ["acct-a", "acct-b"], "default"),
            };
            for (var p = 0; p < profiles.Length; p++)
            {
                settings[$"EcrDaemon:Profiles:{p}:Name"] = profiles[p].Name;
                settings[$"EcrDaemon:Profiles:{p}:NamespaceSelector"] = profiles[p].Selector;
                settings[$"EcrDaemon:Profiles:{p}:SecretName"] = profiles[p].Secret;
                settings[$"EcrDaemon:Profiles:{p}:ServiceAccounts:0"] = profiles[p].ServiceAccount;
                for (var r = 0; r < profiles[p].Registries.Length; r++)
                {
                    settings[$"EcrDaemon:Profiles:{p}:Registries:{r}"] = profiles[p].Registries[r];
                }
            }

            return settings;
        },
        h =>
        {
            var (a, b) = (h.Ecr.HostFor(h.Ecr.DefaultAccountId), h.Ecr.HostFor(AccountB));
            return
            [
                new SoakProfile("team-a", "team", "a", "ecr-team-a", [a]),
                new SoakProfile("team-b", "team", "b", "ecr-team-b", [b]),
                new SoakProfile("platform", "platform", "true", "ecr-platform", [a, b], ["default"]),
            ];
        },
        i =>
        {
            var labels = new Dictionary<string, string>();
            if (i % 5 != 0)
            {
                labels["team"] = i % 5 <= 2 ? "a" : "b";
            }

            if (i % 3 == 0)
            {
                labels["platform"] = "true";
            }

            return labels;
        },
        (labels, random) => random.Next(4) switch
        {
            0 => new JsonObject { ["team"] = "a" },
            1 => new JsonObject { ["team"] = "b" },
            2 => new JsonObject { ["team"] = null },
            _ => new JsonObject { ["platform"] = labels?["platform"] is not null ? null : "true" },
        },
        "ecr-team-b",
        ["ecr-team-a", "ecr-team-b", "ecr-platform"],
        RelabelsPerToggle: 10);
}
