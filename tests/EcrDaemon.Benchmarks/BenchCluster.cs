using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Hooks;

namespace EcrDaemon.Benchmarks;

/// <summary>
/// One benchmark world: the test cluster (in this process, under the chart's RBAC for the daemon)
/// and the ECR stand-in, seeded with namespaces of three ServiceAccounts each. The default
/// ServiceAccount of every namespace already lists another team's pull secret, so that what a
/// workflow removes can be counted. The cluster is read through its store: checking costs no requests.
/// </summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    public const string DaemonIdentity = "system:serviceaccount:ecr-daemon:ecr-daemon";
    public const string SecretName = "aws-registry";
    public const string OtherPullSecret = "team-registry";
    public const string OptInLabel = "ecr-daemon.io/enabled";
    public static readonly string[] ServiceAccounts = ["default", "sa-1", "sa-2"];

    private readonly string _directory;
    private readonly Dictionary<string, (long Version, string? Password)> _passwords = new(StringComparer.Ordinal);

    private BenchCluster(TestClusterServer server, EcrStandIn ecr, string directory)
    {
        Server = server;
        Ecr = ecr;
        _directory = directory;
    }

    public TestClusterServer Server { get; }

    public EcrStandIn Ecr { get; }

    public RequestLog Requests => Server.Requests;

    public string Host => Ecr.HostFor(Ecr.DefaultAccountId);

    /// <summary>A kubeconfig file for the daemon's ServiceAccount (ecr-daemon/ecr-daemon).</summary>
    public string DaemonKubeconfig => Path.Combine(_directory, "daemon-kubeconfig");

    /// <summary>A kubeconfig file for the cluster admin.</summary>
    public string AdminKubeconfig => Path.Combine(_directory, "admin-kubeconfig");

    /// <summary>
    /// Starts a cluster with <paramref name="optedIn"/> labelled namespaces ns-1..ns-N and
    /// <paramref name="notOptedIn"/> unlabelled ones lat-1..lat-M, each with <see cref="ServiceAccounts"/>.
    /// ns-i is labelled <paramref name="labels"/>(i) when given, else with the opt-in label. With <paramref name="secretNames"/>,
    /// the ClusterRole's secret rule names those secrets instead of <see cref="SecretName"/>, as the chart renders it for profiles.
    /// </summary>
    public static async Task<BenchCluster> StartAsync(int optedIn, int notOptedIn = 0, Func<int, IReadOnlyDictionary<string, string>>? labels = null,
        IReadOnlyList<string>? secretNames = null)
    {
        var rbac = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "daemon-rbac.yaml"));
        if (secretNames is not null)
        {
            const string Rendered = $"resourceNames: [\"{SecretName}\"]";
            rbac = rbac.Contains(Rendered, StringComparison.Ordinal)
                ? rbac.Replace(Rendered, $"resourceNames: [{string.Join(", ", secretNames.Select(n => $"\"{n}\""))}]", StringComparison.Ordinal)
                : throw new InvalidOperationException($"daemon-rbac.yaml has no '{Rendered}' to replace with the profiles' secret names");
        }

        var server = await TestClusterServer.StartAsync(new TestClusterOptions { RbacYaml = rbac, HistoryLimit = 1_000_000 });
        var ecr = await EcrStandIn.StartAsync();
        var cluster = new BenchCluster(server, ecr, Directory.CreateTempSubdirectory("ecrdaemon-bench-").FullName);
        server.Operations.CreateNamespace("ecr-daemon");
        for (var i = 1; i <= optedIn; i++)
        {
            cluster.SeedNamespace($"ns-{i}", labels?.Invoke(i) ?? new Dictionary<string, string> { [OptInLabel] = "true" });
        }

        for (var i = 1; i <= notOptedIn; i++)
        {
            cluster.SeedNamespace(LatencyNamespace(i), null);
        }

        server.WriteKubeconfig(cluster.DaemonKubeconfig, server.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
        server.WriteKubeconfig(cluster.AdminKubeconfig);
        return cluster;
    }

    public static string Namespace(int i) => $"ns-{i}";

    public static string LatencyNamespace(int i) => $"lat-{i}";

    /// <summary>Sets the opt-in label, as <c>kubectl label namespace NS ecr-daemon.io/enabled=true</c> does (no HTTP).</summary>
    public void OptIn(string ns) =>
        Server.Operations.Patch(ResourceType.Namespaces, "", ns, "application/merge-patch+json",
            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [OptInLabel] = "true" } } }.ToJsonString());

    /// <summary>The password the stored secret holds for the registry, or null. A secret is decoded once per resourceVersion.</summary>
    public string? PasswordIn(string ns)
    {
        var secret = Server.Store.Get(ResourceType.Secrets, ns, SecretName);
        if (secret is null)
        {
            return null;
        }

        if (!_passwords.TryGetValue(ns, out var seen) || seen.Version != secret.ResourceVersion)
        {
            var data = secret.Node["data"]?[".dockerconfigjson"]?.GetValue<string>();
            var password = data is null ? null
                : JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(data)))?["auths"]?[Host]?["password"]?.GetValue<string>();
            _passwords[ns] = seen = (secret.ResourceVersion, password);
        }

        return seen.Password;
    }

    /// <summary>The ServiceAccount's imagePullSecrets names, in order (empty when it has none or does not exist).</summary>
    public string[] PullSecrets(string ns, string sa) =>
        Server.Store.Get(ResourceType.ServiceAccounts, ns, sa)?.Node["imagePullSecrets"]?.AsArray()
            .Select(e => e!["name"]!.GetValue<string>()).ToArray() ?? [];

    /// <summary>True when the namespace's secret holds <paramref name="password"/> and each of its ServiceAccounts lists the secret once.</summary>
    public bool InSync(string ns, string password) =>
        PasswordIn(ns) == password && ServiceAccounts.All(sa => PullSecrets(ns, sa).Count(n => n == SecretName) == 1);

    /// <summary>Default ServiceAccounts (of <paramref name="namespaces"/>) that no longer list the other team's pull secret.</summary>
    public int OtherPullSecretsLost(IEnumerable<string> namespaces) =>
        namespaces.Count(ns => !PullSecrets(ns, "default").Contains(OtherPullSecret));

    public string PasswordFor(int generation) => EcrStandIn.PasswordFor(Ecr.DefaultAccountId, generation);

    /// <summary>Waits until every namespace is in sync with <paramref name="password"/>; checks only those not yet seen in sync.</summary>
    public async Task<bool> WaitInSyncAsync(IEnumerable<string> namespaces, string password, TimeSpan deadline, Func<bool> abort)
    {
        var pending = new HashSet<string>(namespaces, StringComparer.Ordinal);
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            pending.RemoveWhere(ns => InSync(ns, password));
            if (pending.Count == 0)
            {
                return true;
            }

            if (DateTime.UtcNow > until || abort())
            {
                Console.Error.WriteLine($"benchmark: {pending.Count} namespaces not in sync, e.g. {string.Join(", ", pending.Take(3))}");
                return false;
            }

            await Task.Delay(5);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Ecr.DisposeAsync();
        await Server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private void SeedNamespace(string ns, IReadOnlyDictionary<string, string>? labels)
    {
        Server.Operations.CreateNamespace(ns, labels);
        foreach (var sa in ServiceAccounts.Skip(1))
        {
            Server.Operations.Create(ResourceType.ServiceAccounts, ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = sa } });
        }

        Server.Operations.Patch(ResourceType.ServiceAccounts, ns, "default", "application/merge-patch+json",
            $$"""{"imagePullSecrets":[{"name":"{{OtherPullSecret}}"}]}""");
    }
}
