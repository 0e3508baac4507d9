using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.Benchmarks;

internal sealed record WideResult(
    int ServiceAccounts, double ColdSeconds, RequestCounts Cold, PhaseUsage Usage,
    double AddedSeconds, RequestCounts Added, PhaseUsage AddedUsage, double PeakRssMb, IReadOnlyList<string> Failures);

/// <summary>
/// One namespace holding many ServiceAccounts (issue 14, item 11): the cold start until the secret
/// is there and every ServiceAccount lists it once, then as many ServiceAccounts again created one
/// by one while the daemon runs (each a watch event that requeues the namespace), with the
/// daemon's CPU and the writes it made in each phase.
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
        var until = DateTime.UtcNow + options.Deadline;
        var pending = await WaitSyncedAsync(names);
        var coldSeconds = daemon.Started.Elapsed.TotalSeconds;
        await Task.Delay(options.Settle);
        var cold = RequestCounts.Of(cluster.Requests.All);
        var usage = daemon.EndPhase();
        if (pending > 0)
        {
            failures.Add($"wide: {pending} of {n} ServiceAccounts not in sync after the cold start{daemon.ExitNote} (daemon log: {logPath})");
            return new WideResult(n, double.NaN, cold, usage, double.NaN, RequestCounts.Of([]), usage, daemon.PeakRssMb, failures);
        }

        if (cold["create", "secrets"] != 1 || cold.Writes("serviceaccounts") != n)
        {
            failures.Add($"wide: the cold start wrote {cold.Writes("secrets")} secrets and {cold.Writes("serviceaccounts")} ServiceAccounts; the minimum is 1 and {n}");
        }

        Console.Error.WriteLine($"benchmark: in sync after {coldSeconds:F1} s; creating {n} more ServiceAccounts one by one");
        var mark = cluster.Requests.Mark();
        var added = Enumerable.Range(1, n).Select(i => $"new-{i}").ToArray();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var sa in added)
        {
            cluster.Server.Operations.Create(ResourceType.ServiceAccounts, Namespace, new JsonObject { ["metadata"] = new JsonObject { ["name"] = sa } });
        }

        pending = await WaitSyncedAsync(added);
        var addedSeconds = pending == 0 ? clock.Elapsed.TotalSeconds : double.NaN;
        await Task.Delay(options.Settle);
        var addedCounts = RequestCounts.Of(cluster.Requests.Since(mark));
        var addedUsage = daemon.EndPhase();
        var peak = daemon.PeakRssMb;
        if (pending > 0)
        {
            failures.Add($"wide: {pending} of {n} added ServiceAccounts not in sync{daemon.ExitNote} (daemon log: {logPath})");
        }
        else if (addedCounts.ObjectWrites != n)
        {
            failures.Add($"wide: adding {n} ServiceAccounts made {addedCounts.ObjectWrites} writes; the minimum is {n}");
        }

        if (!daemon.HasExited && await daemon.StopAsync() != 0)
        {
            failures.Add($"wide: the daemon did not exit 0 on SIGTERM (daemon log: {logPath})");
        }

        return new WideResult(n, coldSeconds, cold, usage, addedSeconds, addedCounts, addedUsage, peak, failures);

        // How many of these are still not in sync when the secret holds the token, the daemon exits, or the deadline passes.
        async Task<int> WaitSyncedAsync(IEnumerable<string> serviceAccounts)
        {
            var left = new HashSet<string>(serviceAccounts, StringComparer.Ordinal);
            while (true)
            {
                left.RemoveWhere(sa => cluster.PullSecrets(Namespace, sa).Count(s => s == BenchCluster.SecretName) == 1);
                if ((left.Count == 0 && cluster.PasswordIn(Namespace) == password) || daemon.HasExited || DateTime.UtcNow > until)
                {
                    return left.Count;
                }

                await Task.Delay(20);
            }
        }
    }
}
