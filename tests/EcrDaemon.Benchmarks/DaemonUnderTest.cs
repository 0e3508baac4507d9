using System.Diagnostics;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;

namespace EcrDaemon.Benchmarks;

/// <summary>What the daemon process used in one phase.</summary>
internal sealed record PhaseUsage(double PeakRssMb, double CpuSeconds);

/// <summary>
/// The daemon as its own process (the published build, or the EcrDaemon.dll built next to the
/// benchmark), authenticated as its ServiceAccount, with its output in a log file. Its memory and
/// CPU are read from /proc through <see cref="Process"/>: the resident set is sampled every 50 ms so
/// that each phase has its own peak, and the kernel's high-water mark (VmHWM) gives the overall peak.
/// </summary>
internal sealed class DaemonUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _home;
    private readonly StreamWriter _log;
    private readonly Task _sampler;
    private readonly CancellationTokenSource _stop = new();
    private long _phasePeakRss;
    private long _runPeakRss;
    private TimeSpan _phaseCpu;

    private DaemonUnderTest(Process process, string home, StreamWriter log)
    {
        _process = process;
        _home = home;
        _log = log;
        Started = Stopwatch.StartNew();
        _sampler = Task.Run(SampleAsync);
    }

    /// <summary>Time since the process was started.</summary>
    public Stopwatch Started { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>For a failure message: how the daemon ended, or nothing while it runs.</summary>
    public string ExitNote => _process.HasExited ? $"; the daemon exited with code {_process.ExitCode}" : "";

    public string LogPath { get; private set; } = "";

    /// <summary>
    /// The kernel's peak resident set for the whole run (VmHWM), in MB; once the process has
    /// exited, /proc has nothing left, so the highest sample stands in.
    /// </summary>
    public double PeakRssMb
    {
        get
        {
            try
            {
                _process.Refresh();
                return Mb(Math.Max(_process.PeakWorkingSet64, Interlocked.Read(ref _runPeakRss)));
            }
            catch (InvalidOperationException)
            {
                return Mb(Interlocked.Read(ref _runPeakRss));
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="daemon"/> (a .dll runs under dotnet; anything else is executed) with
    /// <c>run</c>, the stand-in's registry and <paramref name="settings"/> (keys like <c>EcrDaemon:KubernetesQps</c>).
    /// </summary>
    public static DaemonUnderTest Start(string daemon, BenchCluster cluster, IReadOnlyDictionary<string, string> settings, string logPath)
    {
        var home = Directory.CreateTempSubdirectory("ecrdaemon-bench-home-").FullName;
        var environment = new Dictionary<string, string?>
        {
            ["KUBECONFIG"] = cluster.DaemonKubeconfig,
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_REGION"] = cluster.Ecr.Region,
            ["EcrDaemon__Registries__0__AccountId"] = cluster.Ecr.DefaultAccountId,
            ["EcrDaemon__Registries__0__Endpoint"] = cluster.Ecr.Endpoint.ToString(),
        };
        foreach (var (key, value) in settings)
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var psi = daemon.EndsWith(".dll", StringComparison.Ordinal) ? new ProcessStartInfo("dotnet") { ArgumentList = { daemon } } : new ProcessStartInfo(daemon);
        psi.ArgumentList.Add("run");
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        foreach (var (name, value) in DaemonEnvironment.Scrubbed(home, environment))
        {
            if (value is null)
            {
                psi.Environment.Remove(name);
            }
            else
            {
                psi.Environment[name] = value;
            }
        }

        var log = new StreamWriter(logPath) { AutoFlush = false };
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new DaemonUnderTest(process, home, log) { LogPath = logPath };
    }

    /// <summary>
    /// Ends the current phase: its peak resident set and CPU seconds (NaN once the process has
    /// exited and /proc has nothing left); starts the next.
    /// </summary>
    public PhaseUsage EndPhase()
    {
        var peak = Interlocked.Exchange(ref _phasePeakRss, 0);
        try
        {
            _process.Refresh();
            var cpu = _process.TotalProcessorTime;
            var usage = new PhaseUsage(Mb(Math.Max(peak, _process.WorkingSet64)), (cpu - _phaseCpu).TotalSeconds);
            _phaseCpu = cpu;
            return usage;
        }
        catch (InvalidOperationException)
        {
            return new PhaseUsage(Mb(peak), double.NaN);
        }
    }

    /// <summary>Stops the daemon with SIGTERM, as Kubernetes does, and waits for its exit.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            await Tools.RunAsync("bash", ["-c", "kill -TERM \"$1\"", "kill", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(deadline.Token);
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }

        _stop.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    private static double Mb(long bytes) => bytes / 1024.0 / 1024.0;

    private static void RaiseTo(ref long peak, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, value, seen) != seen)
        {
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.WriteLine(line);
            }
        }
    }

    private async Task SampleAsync()
    {
        while (!_stop.IsCancellationRequested && !_process.HasExited)
        {
            try
            {
                _process.Refresh();
                var rss = _process.WorkingSet64;
                RaiseTo(ref _phasePeakRss, rss);
                RaiseTo(ref _runPeakRss, rss);

                await Task.Delay(50, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (InvalidOperationException)
            {
                return; // it exited
            }
        }
    }
}
