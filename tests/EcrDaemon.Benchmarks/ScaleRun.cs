using System.Diagnostics;
using EcrDaemon.TestCluster.Hooks;

namespace EcrDaemon.Benchmarks;

/// <summary>The daemon's requests in one phase, by verb and resource (Events apart: they are rate-limited and not part of the minimum).</summary>
internal sealed record RequestCounts(IReadOnlyDictionary<(string Verb, string Resource), int> ByVerb)
{
    public static RequestCounts Of(IEnumerable<RequestRecord> requests) =>
        new(requests.Where(r => r.Identity == BenchCluster.DaemonIdentity)
            .GroupBy(r => (r.Verb, r.Resource)).ToDictionary(g => g.Key, g => g.Count()));

    public int this[string verb, string resource] => ByVerb.GetValueOrDefault((verb, resource));

    public int Writes(string resource) => ByVerb.Where(kv => kv.Key.Resource == resource && IsWrite(kv.Key.Verb)).Sum(kv => kv.Value);

    /// <summary>Secret and ServiceAccount writes: what the minimum counts.</summary>
    public int ObjectWrites => Writes("secrets") + Writes("serviceaccounts");

    /// <summary>Reads that are not watches (list, get).</summary>
    public int Reads => ByVerb.Where(kv => kv.Key.Verb is "list" or "get").Sum(kv => kv.Value);

    public int Watches => ByVerb.Where(kv => kv.Key.Verb == "watch").Sum(kv => kv.Value);

    public int Events => Writes("events");

    public int AllWrites => ByVerb.Where(kv => IsWrite(kv.Key.Verb)).Sum(kv => kv.Value);

    private static bool IsWrite(string verb) => verb is "create" or "update" or "patch" or "delete" or "deletecollection";
}

internal sealed record ScaleResult(
    string Label,
    int Namespaces,
    double ReadySeconds,
    double ColdSeconds,
    RequestCounts Cold,
    double RotationSeconds,
    RequestCounts Rotation,
    int RotationEcrCalls,
    TimeSpan Steady,
    RequestCounts SteadyRequests,
    double LatencyP50Ms,
    double LatencyP99Ms,
    int LatencySamples,
    IReadOnlyDictionary<string, PhaseUsage> Usage,
    double PeakRssMb,
    int OtherPullSecretsLost,
    int SecretDeletes,
    IReadOnlyList<string> Failures)
{
    public int TargetedServiceAccounts => Namespaces * BenchCluster.ServiceAccounts.Length;
}

/// <summary>
/// One daemon run at N namespaces: cold start, token rotation, steady state and new-namespace
/// latency, each measured from the cluster's request log and the daemon's /proc.
/// </summary>
internal static class ScaleRun
{
    public static async Task<ScaleResult> RunAsync(BenchmarkOptions options, DaemonBuild build, int n)
    {
        var name = build.Name(n);
        var failures = new List<string>();
        await using var cluster = await BenchCluster.StartAsync(n, options.LatencyNamespaces);
        var namespaces = Enumerable.Range(1, n).Select(BenchCluster.Namespace).ToArray();

        // The first token is short-lived, so that the daemon itself refreshes it (at RefreshAt, 0.5
        // of its life, plus jitter) once the cold start is over; the next one lives 12 hours.
        cluster.Ecr.TokenLifetime = options.FirstTokenLifetime;
        var settings = new Dictionary<string, string>
        {
            ["EcrDaemon:ServiceAccounts:0"] = "*",
            ["EcrDaemon:KubernetesQps"] = "0",
            ["EcrDaemon:MinRefreshInterval"] = "00:00:01",
        };
        Console.Error.WriteLine($"benchmark: {name}: cold start");
        var logPath = Path.Combine(options.WorkDirectory, build.Label.Length == 0 ? $"daemon-{n}.log" : $"daemon-{build.Label}-{n}.log");
        await using var daemon = DaemonUnderTest.Start(build.Path, cluster, settings, logPath);
        var usage = new Dictionary<string, PhaseUsage>();
        var coldMark = 0L;

        if (!await cluster.WaitInSyncAsync(namespaces, cluster.PasswordFor(0), options.Deadline, () => daemon.HasExited))
        {
            failures.Add($"{name}: the cold start did not reach sync{daemon.ExitNote} (daemon log: {logPath})");
            return Failed();
        }

        var coldSeconds = daemon.Started.Elapsed.TotalSeconds;
        var cold = RequestCounts.Of(cluster.Requests.Since(coldMark));
        usage["cold start"] = daemon.EndPhase();
        if (cluster.Ecr.RequestCount != 1)
        {
            failures.Add($"{name}: the daemon refreshed its token before the cold start was over; raise --first-token-lifetime");
        }

        cluster.Ecr.Generation = 1;
        cluster.Ecr.TokenLifetime = TimeSpan.FromHours(12);
        Console.Error.WriteLine($"benchmark: {name}: in sync after {coldSeconds:F1} s; waiting for the daemon's own refresh");
        var rotationMark = cluster.Requests.Mark();
        await WaitAsync(() => cluster.Ecr.RequestCount >= 2 || daemon.HasExited, options.FirstTokenLifetime);
        if (cluster.Ecr.RequestCount < 2)
        {
            failures.Add($"{name}: the daemon did not refresh its token within {options.FirstTokenLifetime}{daemon.ExitNote} (daemon log: {logPath})");
            return Failed();
        }

        // Rotation runs from the refresh's arrival at the stand-in to the last secret holding the new token.
        var rotationStart = cluster.Ecr.Requests[1].At;
        if (!await cluster.WaitInSyncAsync(namespaces, cluster.PasswordFor(1), options.Deadline, () => daemon.HasExited))
        {
            failures.Add($"{name}: the rotation did not reach every namespace{daemon.ExitNote} (daemon log: {logPath})");
            return Failed();
        }

        var rotationSeconds = (DateTimeOffset.UtcNow - rotationStart).TotalSeconds;
        await Task.Delay(options.Settle); // stragglers (a ServiceAccount write, a second ECR call) would show here
        var rotated = RequestCounts.Of(cluster.Requests.Since(rotationMark).Where(r => r.At >= rotationStart));
        var rotationEcrCalls = cluster.Ecr.RequestCount - 1;
        usage["rotation, with the idle wait for it"] = daemon.EndPhase();

        Console.Error.WriteLine($"benchmark: {name}: rotated in {rotationSeconds:F2} s; steady state for {options.Steady}");
        var steadyMark = cluster.Requests.Mark();
        await WaitAsync(() => daemon.HasExited, options.Steady);
        var steady = RequestCounts.Of(cluster.Requests.Since(steadyMark));
        usage["steady state"] = daemon.EndPhase();

        Console.Error.WriteLine($"benchmark: {name}: new-namespace latency over {options.LatencyNamespaces} namespaces");
        var latencies = new List<double>();
        for (var i = 1; i <= options.LatencyNamespaces && !daemon.HasExited; i++)
        {
            var ns = BenchCluster.LatencyNamespace(i);
            var clock = Stopwatch.StartNew();
            cluster.OptIn(ns);
            while (!cluster.InSync(ns, cluster.PasswordFor(1)) && clock.Elapsed < options.Deadline && !daemon.HasExited)
            {
                await Task.Delay(1);
            }

            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }

        usage["new namespaces"] = daemon.EndPhase();
        var allNamespaces = namespaces.Concat(Enumerable.Range(1, options.LatencyNamespaces).Select(BenchCluster.LatencyNamespace)).ToArray();
        var lost = cluster.OtherPullSecretsLost(allNamespaces);
        var deletes = cluster.Requests.Count(verb: "delete", resource: "secrets", identity: BenchCluster.DaemonIdentity);
        var peak = daemon.PeakRssMb;
        if (daemon.HasExited)
        {
            failures.Add($"{name}: the daemon exited during the run{daemon.ExitNote} (daemon log: {logPath})");
        }
        else if (await daemon.StopAsync() != 0)
        {
            failures.Add($"{name}: the daemon did not exit 0 on SIGTERM (daemon log: {logPath})");
        }

        latencies.Sort();
        var result = new ScaleResult(build.Label, n, Seconds(daemon.Ready), coldSeconds, cold, rotationSeconds, rotated, rotationEcrCalls, options.Steady, steady,
            Percentile(latencies, 0.50), Percentile(latencies, 0.99), latencies.Count, usage, peak, lost, deletes, failures);
        failures.AddRange(Check(result, options, name));
        return result;

        ScaleResult Failed() => new(build.Label, n, Seconds(daemon.Ready), double.NaN, RequestCounts.Of([]), double.NaN, RequestCounts.Of([]), 0, options.Steady,
            RequestCounts.Of([]), double.NaN, double.NaN, 0, usage, daemon.PeakRssMb, 0, 0, failures);
    }

    /// <summary>The counts the issue fixes (timings are reported, never checked).</summary>
    private static IEnumerable<string> Check(ScaleResult r, BenchmarkOptions options, string name)
    {
        var n = r.Namespaces;
        if (r.Cold["create", "secrets"] != n || r.Cold.Writes("serviceaccounts") != r.TargetedServiceAccounts)
        {
            yield return $"{name}: cold start wrote {r.Cold.Writes("secrets")} secrets and {r.Cold.Writes("serviceaccounts")} ServiceAccounts; the minimum is {n} and {r.TargetedServiceAccounts}";
        }

        if (r.Rotation.Writes("secrets") != n || r.Rotation.Writes("serviceaccounts") != 0 || r.RotationEcrCalls != 1)
        {
            yield return $"{name}: rotation made {r.Rotation.Writes("secrets")} secret writes, {r.Rotation.Writes("serviceaccounts")} ServiceAccount writes and {r.RotationEcrCalls} ECR calls; the minimum is {n}, 0 and 1";
        }

        if (r.SteadyRequests.AllWrites != 0)
        {
            yield return $"{name}: {r.SteadyRequests.AllWrites} writes in the steady state; there must be none";
        }

        if (r.LatencySamples != options.LatencyNamespaces)
        {
            yield return $"{name}: {r.LatencySamples} of {options.LatencyNamespaces} new namespaces measured";
        }

        if (r.OtherPullSecretsLost != 0 || r.SecretDeletes != 0)
        {
            yield return $"{name}: the daemon removed {r.OtherPullSecretsLost} other pull secrets and deleted {r.SecretDeletes} secrets";
        }
    }

    public static double Seconds(TimeSpan? time) => time?.TotalSeconds ?? double.NaN;

    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static async Task WaitAsync(Func<bool> done, TimeSpan limit)
    {
        var until = Stopwatch.StartNew();
        while (!done() && until.Elapsed < limit)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }
}
