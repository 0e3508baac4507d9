using EcrDaemon.Configuration;

namespace EcrDaemon.Benchmarks;

internal sealed record RateLimitResult(string Setting, double Qps, int Burst, double ColdSeconds, int Requests, int Events, double RequestsPerSecond, bool Synced);

/// <summary>
/// Cold starts at the same N with the daemon's client-side rate limit at its defaults, at twice
/// them, and off: the request rate should follow the configured QPS (after the burst).
/// </summary>
internal static class RateLimitRun
{
    public static async Task<IReadOnlyList<RateLimitResult>> RunAsync(BenchmarkOptions options, List<string> failures)
    {
        var defaults = new EcrDaemonOptions();
        var settings = new (string Name, double Qps, int Burst)[]
        {
            ("default", defaults.KubernetesQps, defaults.KubernetesBurst),
            ("2 × default", defaults.KubernetesQps * 2, defaults.KubernetesBurst),
            ("off", 0, defaults.KubernetesBurst),
        };
        var results = new List<RateLimitResult>();
        foreach (var (name, qps, burst) in settings)
        {
            var n = options.RateLimitNamespaces;
            Console.Error.WriteLine($"benchmark: rate limit {name} (KubernetesQps={qps}), cold start over {n} namespaces");
            await using var cluster = await BenchCluster.StartAsync(n);
            var values = new Dictionary<string, string>
            {
                ["EcrDaemon:ServiceAccounts:0"] = "*",
                ["EcrDaemon:KubernetesQps"] = qps.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["EcrDaemon:KubernetesBurst"] = burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            var logPath = Path.Combine(options.WorkDirectory, $"daemon-ratelimit-{qps}.log");
            await using var daemon = DaemonUnderTest.Start(options.Daemon, cluster, values, logPath);
            var namespaces = Enumerable.Range(1, n).Select(BenchCluster.Namespace);
            var synced = await cluster.WaitInSyncAsync(namespaces, cluster.PasswordFor(0), options.Deadline, () => daemon.HasExited);
            var seconds = daemon.Started.Elapsed.TotalSeconds;
            var syncedAt = DateTimeOffset.UtcNow;

            // The rate over the daemon's non-watch requests until sync, first to last: that is what the token bucket limits.
            var limited = cluster.Requests.All.Where(r => r.Identity == BenchCluster.DaemonIdentity && r.Verb != "watch" && r.At <= syncedAt).ToList();
            var span = limited.Count > 1 ? (limited[^1].At - limited[0].At).TotalSeconds : double.NaN;
            results.Add(new RateLimitResult(name, qps, burst, seconds, limited.Count, limited.Count(r => r.Resource == "events"), limited.Count / span, synced));
            if (!synced)
            {
                failures.Add($"rate limit {name}: {n} namespaces did not reach sync{daemon.ExitNote} (daemon log: {logPath})");
            }

            await daemon.StopAsync();
        }

        return results;
    }
}
