using System.Diagnostics;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;

namespace EcrDaemon.Benchmarks;

internal sealed record SeedPass(string Name, double Seconds, int Requests, int Writes);

internal sealed record SeedResult(
    int Namespaces,
    SeedPass First,
    SeedPass Rotation,
    int OtherPullSecretsLost,
    int ServiceAccountsNotCovered,
    int NamespacesWithoutSecretWindow,
    double MedianWindowMs,
    double MaxWindowMs);

/// <summary>
/// The seed's CronJob workflow (seed-cronjob.sh: the real aws CLI against the ECR stand-in, then
/// real kubectl) over the same shape of namespaces, twice: a first run, and a run after the token
/// changed. What it breaks is counted from the cluster: the other team's pull secrets it replaced,
/// the ServiceAccounts it does not cover, and the windows in which a namespace had no secret
/// (from each delete to the create after it, in the request log).
/// </summary>
internal static class SeedRun
{
    public static async Task<SeedResult> RunAsync(BenchmarkOptions options)
    {
        var n = options.SeedNamespaces;
        await using var cluster = await BenchCluster.StartAsync(n);
        var namespaces = Enumerable.Range(1, n).Select(BenchCluster.Namespace).ToArray();
        var kubectl = Tools.Require("kubectl");
        var aws = Tools.Require("aws");
        var environment = new Dictionary<string, string?>
        {
            ["PATH"] = $"{Path.GetDirectoryName(kubectl)}{Path.PathSeparator}{Path.GetDirectoryName(aws)}{Path.PathSeparator}{Environment.GetEnvironmentVariable("PATH")}",
            ["KUBECONFIG"] = cluster.AdminKubeconfig,
            ["ECR_ENDPOINT"] = cluster.Ecr.Endpoint.ToString(),
            ["AWS_REGION"] = cluster.Ecr.Region,
            ["AWS_ACCOUNT"] = cluster.Ecr.DefaultAccountId,
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,

            // The AWS config files stay in the scrubbed home, but HOME stays the user's: pyenv's aws shim finds Python through it.
            ["HOME"] = Environment.GetEnvironmentVariable("HOME"),
        };
        var home = Directory.CreateTempSubdirectory("ecrdaemon-bench-seed-").FullName;
        try
        {
            var first = await PassAsync("first run", cluster, namespaces, home, environment);
            var lost = cluster.OtherPullSecretsLost(namespaces);
            var notCovered = namespaces.Sum(ns => BenchCluster.ServiceAccounts.Count(sa => !cluster.PullSecrets(ns, sa).Contains(BenchCluster.SecretName)));

            cluster.Ecr.Generation = 1;
            var mark = cluster.Requests.Mark();
            var rotation = await PassAsync("token changed", cluster, namespaces, home, environment);
            var windows = cluster.Requests.Since(mark)
                .Where(r => r.Resource == "secrets" && r.Code < 300 && r.Verb is "delete" or "create")
                .GroupBy(r => r.Namespace)
                .Select(g => g.FirstOrDefault(r => r.Verb == "delete") is { } deleted && g.FirstOrDefault(r => r.Verb == "create" && r.At >= deleted.At) is { } created
                    ? (created.At - deleted.At).TotalMilliseconds
                    : double.NaN)
                .Where(ms => !double.IsNaN(ms))
                .Order()
                .ToList();
            return new SeedResult(n, first, rotation, lost, notCovered, windows.Count,
                ScaleRun.Percentile(windows, 0.5), windows.Count == 0 ? double.NaN : windows[^1]);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private static async Task<SeedPass> PassAsync(string name, BenchCluster cluster, string[] namespaces, string home, Dictionary<string, string?> environment)
    {
        Console.Error.WriteLine($"benchmark: the seed's CronJob workflow ({name}) over {namespaces.Length} namespaces");
        var mark = cluster.Requests.Mark();
        var clock = Stopwatch.StartNew();
        var script = Path.Combine(AppContext.BaseDirectory, "seed-cronjob.sh");
        var result = await Tools.RunAsync("bash", [script, .. namespaces], DaemonEnvironment.Scrubbed(home, environment), TimeSpan.FromMinutes(30));
        var seconds = clock.Elapsed.TotalSeconds;
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the seed's workflow failed: {result}");
        }

        var requests = cluster.Requests.Since(mark);
        return new SeedPass(name, seconds, requests.Count, requests.Count(r => r.IsWrite));
    }
}
