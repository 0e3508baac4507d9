namespace EcrDaemon.Benchmarks;

internal sealed record IdleResult(
    string Label,
    int Namespaces,
    double ReadySeconds,
    double SyncSeconds,
    TimeSpan Settle,
    TimeSpan Window,
    PhaseUsage AtRest,
    double PeakRssMb,
    RequestCounts Cold,
    IReadOnlyList<string> Failures)
{
    public int TargetedServiceAccounts => Namespaces * BenchCluster.ServiceAccounts.Length;
}

/// <summary>
/// The daemon at rest with a few namespaces (issue 20: "under 50 MB idle with a few namespaces"): the cold start until
/// every namespace is in sync, a settle period with no changes, then the resident set sampled every 50 ms over
/// <see cref="Window"/>; its median is the idle RSS. The first token lives 12 hours, so nothing happens in between.
/// </summary>
internal static class IdleRun
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    public static async Task<IdleResult> RunAsync(BenchmarkOptions options, DaemonBuild build)
    {
        var n = options.IdleNamespaces;
        var name = build.Label.Length == 0 ? $"idle, N={n}" : $"idle, N={n} ({build.Label})";
        var failures = new List<string>();
        await using var cluster = await BenchCluster.StartAsync(n);
        cluster.Ecr.TokenLifetime = TimeSpan.FromHours(12);
        var settings = new Dictionary<string, string>
        {
            ["EcrDaemon:ServiceAccounts:0"] = "*",
            ["EcrDaemon:KubernetesQps"] = "0",
        };
        Console.Error.WriteLine($"benchmark: {name}: cold start, then {options.IdleSettle.TotalSeconds:0} s to settle and {Window.TotalSeconds:0} s at rest");
        var logPath = Path.Combine(options.WorkDirectory, build.Label.Length == 0 ? $"daemon-idle-{n}.log" : $"daemon-{build.Label}-idle-{n}.log");
        await using var daemon = DaemonUnderTest.Start(build.Path, cluster, settings, logPath);
        var namespaces = Enumerable.Range(1, n).Select(BenchCluster.Namespace).ToArray();
        if (!await cluster.WaitInSyncAsync(namespaces, cluster.PasswordFor(0), options.Deadline, () => daemon.HasExited))
        {
            failures.Add($"{name}: the cold start did not reach sync{daemon.ExitNote} (daemon log: {logPath})");
            return new IdleResult(build.Label, n, ScaleRun.Seconds(daemon.Ready), double.NaN, options.IdleSettle, Window, daemon.EndPhase(),
                daemon.PeakRssMb, RequestCounts.Of([]), failures);
        }

        var syncSeconds = daemon.Started.Elapsed.TotalSeconds;
        await WaitUnlessExitedAsync(daemon, options.IdleSettle);
        var cold = RequestCounts.Of(cluster.Requests.All);
        daemon.EndPhase();
        await WaitUnlessExitedAsync(daemon, Window);
        var atRest = daemon.EndPhase();
        var peak = daemon.PeakRssMb;
        var result = new IdleResult(build.Label, n, ScaleRun.Seconds(daemon.Ready), syncSeconds, options.IdleSettle, Window, atRest, peak, cold, failures);
        if (daemon.HasExited)
        {
            failures.Add($"{name}: the daemon exited during the run{daemon.ExitNote} (daemon log: {logPath})");
        }
        else if (await daemon.StopAsync() != 0)
        {
            failures.Add($"{name}: the daemon did not exit 0 on SIGTERM (daemon log: {logPath})");
        }

        if (cold["create", "secrets"] != n || cold.Writes("serviceaccounts") != result.TargetedServiceAccounts || cold.Writes("secrets") != n)
        {
            failures.Add($"{name}: wrote {cold.Writes("secrets")} secrets and {cold.Writes("serviceaccounts")} ServiceAccounts; the minimum is {n} and {result.TargetedServiceAccounts}");
        }

        return result;
    }

    private static async Task WaitUnlessExitedAsync(DaemonUnderTest daemon, TimeSpan time)
    {
        var until = DateTime.UtcNow + time;
        while (DateTime.UtcNow < until && !daemon.HasExited)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
    }
}
