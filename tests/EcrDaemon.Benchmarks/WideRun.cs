using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.Benchmarks;

internal sealed record WideResult(int ServiceAccounts, double ColdSeconds, RequestCounts Cold, PhaseUsage Usage, double PeakRssMb, IReadOnlyList<string> Failures);

/// <summary>
/// One namespace holding many ServiceAccounts (issue 14, item 11): the cold start until the secret
/// is there and every ServiceAccount lists it once, with the daemon's CPU and the writes it made.
/// </summary>
internal static class WideRun
{
    public const string Namespace = "wide";

    public static async Task<WideResult> RunAsync(BenchmarkOptions options)
    {
        var n = options.WideServiceAccounts;
        var failures = new List<string>();
        await using var cluster = await BenchCluster.StartAsync(0);
        cluster.Server.Operations.CreateNamespace(Namespace, new Dictionary<string, string> { [BenchCluster.OptInLabel] = "true" });
        var names = Enumerable.Range(1, n - 1).Select(i => $"sa-{i}").Prepend("default").ToArray();
        foreach (var sa in names.Skip(1))
        {
            cluster.Server.Operations.Create(ResourceType.ServiceAccounts, Namespace, new JsonObject { ["metadata"] = new JsonObject { ["name"] = sa } });
        }

        cluster.Ecr.TokenLifetime = TimeSpan.FromHours(12);
        var settings = new Dictionary<string, string>
        {
            ["EcrDaemon:ServiceAccounts:0"] = "*",
            ["EcrDaemon:KubernetesQps"] = "0",
        };
        Console.Error.WriteLine($"benchmark: one namespace x {n} ServiceAccounts: cold start");
        var logPath = Path.Combine(options.WorkDirectory, $"daemon-wide-{n}.log");
        await using var daemon = DaemonUnderTest.Start(options.Daemon, cluster, settings, logPath);
        var password = cluster.PasswordFor(0);
        var pending = new HashSet<string>(names, StringComparer.Ordinal);
        var until = DateTime.UtcNow + options.Deadline;
        while (true)
        {
            pending.RemoveWhere(sa => cluster.PullSecrets(Namespace, sa).Count(s => s == BenchCluster.SecretName) == 1);
            if ((pending.Count == 0 && cluster.PasswordIn(Namespace) == password) || daemon.HasExited || DateTime.UtcNow > until)
            {
                break;
            }

            await Task.Delay(20);
        }

        var coldSeconds = daemon.Started.Elapsed.TotalSeconds;
        await Task.Delay(options.Settle);
        var cold = RequestCounts.Of(cluster.Requests.All);
        var usage = daemon.EndPhase();
        var peak = daemon.PeakRssMb;
        if (pending.Count > 0 || cluster.PasswordIn(Namespace) != password)
        {
            failures.Add($"wide: {pending.Count} of {n} ServiceAccounts not in sync{daemon.ExitNote} (daemon log: {logPath})");
            coldSeconds = double.NaN;
        }
        else if (cold["create", "secrets"] != 1 || cold.Writes("serviceaccounts") != n)
        {
            failures.Add($"wide: the cold start wrote {cold.Writes("secrets")} secrets and {cold.Writes("serviceaccounts")} ServiceAccounts; the minimum is 1 and {n}");
        }

        if (!daemon.HasExited && await daemon.StopAsync() != 0)
        {
            failures.Add($"wide: the daemon did not exit 0 on SIGTERM (daemon log: {logPath})");
        }

        return new WideResult(n, coldSeconds, cold, usage, peak, failures);
    }
}
