using System.Diagnostics;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;

namespace EcrDaemon.Benchmarks;

/// <summary>
/// What the daemon process used in one phase: the highest resident set sampled, CPU seconds (user + system), the median
/// of the resident set's samples over the phase and the resident set at its end (NaN once the process has exited).
/// </summary>
internal sealed record PhaseUsage(double PeakRssMb, double CpuSeconds, double MedianRssMb, double EndRssMb);

/// <summary>
/// The daemon as its own process (the published build, or the EcrDaemon.dll built next to the
/// benchmark), authenticated as its ServiceAccount, with its output in a log file. Its memory and
/// CPU are read from /proc through <see cref="Process"/>: the resident set is sampled every 50 ms so
/// that each phase has its own peak and median, and the kernel's high-water mark (VmHWM) gives the overall peak.
/// /readyz is polled on the daemon's own port from the process start until its first 200.
/// </summary>
internal sealed class DaemonUnderTest : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _home;
    private readonly StreamWriter _log;
    private readonly Task _sampler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _readiness;
    private readonly List<long> _phaseSamples = [];
    private long _readyTicks = -1;
    private long _phasePeakRss;
    private long _runPeakRss;
    private TimeSpan _phaseCpu;

    private DaemonUnderTest(Process process, string home, StreamWriter log, Stopwatch started, Uri readyz)
    {
        _process = process;
        _home = home;
        _log = log;
        Started = started;
        _sampler = Task.Run(SampleAsync);
        _readiness = Task.Run(() => PollReadinessAsync(readyz));
    }

    /// <summary>Time since the process was started.</summary>
    public Stopwatch Started { get; }

    /// <summary>
    /// From the process start to the first 200 from /readyz (the informers synced once and a token is held), polled every
    /// 5 ms; null while it has not answered 200.
    /// </summary>
    public TimeSpan? Ready => Interlocked.Read(ref _readyTicks) is var ticks and >= 0 ? TimeSpan.FromTicks(ticks) : null;

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
        var port = FreePort();
        var environment = new Dictionary<string, string?>
        {
            ["KUBECONFIG"] = cluster.DaemonKubeconfig,
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
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
        var started = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new DaemonUnderTest(process, home, log, started, new Uri($"http://127.0.0.1:{port}/readyz")) { LogPath = logPath };
    }

    /// <summary>
    /// Ends the current phase: its peak resident set and CPU seconds (NaN once the process has
    /// exited and /proc has nothing left); starts the next.
    /// </summary>
    public PhaseUsage EndPhase()
    {
        var peak = Interlocked.Exchange(ref _phasePeakRss, 0);
        long[] samples;
        lock (_phaseSamples)
        {
            samples = [.. _phaseSamples];
            _phaseSamples.Clear();
        }

        Array.Sort(samples);
        var median = samples.Length == 0 ? double.NaN : Mb(samples[samples.Length / 2]);
        try
        {
            _process.Refresh();
            var cpu = _process.TotalProcessorTime;
            var end = _process.WorkingSet64;
            var usage = new PhaseUsage(Mb(Math.Max(peak, end)), (cpu - _phaseCpu).TotalSeconds, median, Mb(end));
            _phaseCpu = cpu;
            return usage;
        }
        catch (InvalidOperationException)
        {
            return new PhaseUsage(Mb(peak), double.NaN, median, double.NaN);
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
        await _readiness;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        // Also when it had exited by itself: WaitForExitAsync returns once its redirected output has been read to the
        // end, so that the log holds its last lines (a daemon that exits at once writes why just before it exits).
        await _process.WaitForExitAsync();
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }

        _stop.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    private static double Mb(long bytes) => bytes / 1024.0 / 1024.0;

    /// <summary>A loopback port that was free a moment ago (the daemon binds it; another process taking it first would show as no /readyz time).</summary>
    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

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

    private async Task PollReadinessAsync(Uri readyz)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        while (!_stop.IsCancellationRequested && !_process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(readyz, _stop.Token);
                if (response.IsSuccessStatusCode)
                {
                    Interlocked.Exchange(ref _readyTicks, Started.Elapsed.Ticks);
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException) when (!_stop.IsCancellationRequested)
            {
                // a slow answer: ask again
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await Task.Delay(5, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
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
                lock (_phaseSamples)
                {
                    _phaseSamples.Add(rss);
                }

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
