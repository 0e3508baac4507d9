using System.Text.RegularExpressions;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// Runs replica processes as a kubelet runs the Deployment's pods. Each pod's container is probed
/// over HTTP on the port the process reports ("Now listening on: ..." in its log, which needs
/// <c>Logging:LogLevel:Microsoft.Hosting.Lifetime=Information</c>): the startup probe until it
/// succeeds (a connection refused, a timeout or a status outside 200-399 is a failure;
/// <c>failureThreshold</c> failures restart the container), then the liveness probe
/// (<c>failureThreshold</c> consecutive failures restart the container) and the readiness probe
/// (Ready after <c>successThreshold</c> consecutive successes, not Ready after
/// <c>failureThreshold</c> consecutive failures; never Ready before the startup probe passed) side
/// by side, each on its own period. A container that exits is restarted as well. A restart is
/// SIGTERM, at most 10 s for the exit, then SIGKILL, and a new process under the same pod name
/// (restartPolicy Always; without CrashLoopBackOff's delay). <see cref="Restarts"/> lists every
/// restart with the probe's last answer; <see cref="History"/> every start, readiness change and restart.
/// </summary>
internal sealed partial class KubeletSimulator(ContainerProbes probes, Func<string, string, BackgroundProcess> start) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Pod> _pods = new(StringComparer.Ordinal);
    private readonly List<string> _history = [];
    private readonly List<string> _restarts = [];
    private readonly List<Pod> _gone = [];
    private readonly HttpClient _http = new();

    public ContainerProbes Probes => probes;

    /// <summary>The restarts the simulator made (probe failures, exits), each with its time, pod and reason.</summary>
    public IReadOnlyList<string> Restarts
    {
        get { lock (_lock) { return [.. _restarts]; } }
    }

    public IReadOnlyList<string> History
    {
        get { lock (_lock) { return [.. _history]; } }
    }

    /// <summary>The names of the pods the Service would route to now.</summary>
    public IReadOnlyList<string> Ready
    {
        get { lock (_lock) { return [.. _pods.Where(p => p.Value.Ready).Select(p => p.Value.Name)]; } }
    }

    /// <summary>Every container's process, current and past, by pod name (for diagnostics).</summary>
    public IReadOnlyList<(string Pod, BackgroundProcess Process)> Containers
    {
        get { lock (_lock) { return [.. _gone.Concat(_pods.Values).SelectMany(p => p.Containers.Select(c => (p.Name, c)))]; } }
    }

    /// <summary>The slot that runs pod <paramref name="name"/> now, or null when no running pod has that name.</summary>
    public string? SlotOf(string name)
    {
        lock (_lock)
        {
            return _pods.Values.FirstOrDefault(p => p.Name == name)?.Slot;
        }
    }

    /// <summary>Runs pod <paramref name="name"/> in replica slot <paramref name="slot"/>.</summary>
    public void Run(string slot, string name)
    {
        var pod = new Pod(slot, name);
        lock (_lock)
        {
            _pods.Add(slot, pod);
        }

        pod.Loop = Task.Run(() => RunPodAsync(pod));
    }

    /// <summary>An injected kill: the pod in <paramref name="slot"/> is killed (SIGKILL) and the Deployment's new pod <paramref name="name"/> takes its slot.</summary>
    public async Task ReplaceAsync(string slot, string name)
    {
        Pod old;
        lock (_lock)
        {
            old = _pods[slot];
            _pods.Remove(slot);
            _gone.Add(old);
        }

        await StopAsync(old);
        Note(old, "killed (injected)");
        Run(slot, name);
    }

    public async ValueTask DisposeAsync()
    {
        List<Pod> pods;
        lock (_lock)
        {
            pods = [.. _pods.Values];
        }

        foreach (var pod in pods)
        {
            await StopAsync(pod);
        }

        _http.Dispose();
    }

    private static async Task StopAsync(Pod pod)
    {
        await pod.Stop.CancelAsync();
        try
        {
            await pod.Loop!;
        }
        catch (OperationCanceledException)
        {
            // Stopped while probing or waiting.
        }

        pod.Current?.Dispose(); // SIGKILL
    }

    private async Task RunPodAsync(Pod pod)
    {
        var token = pod.Stop.Token;
        while (!token.IsCancellationRequested)
        {
            var process = start(pod.Slot, pod.Name);
            lock (_lock)
            {
                pod.Containers.Add(process);
                pod.Current = process;
            }

            Note(pod, $"container {pod.Containers.Count} started (pid {process.Id})");
            var reason = await RunContainerAsync(pod, process, token);
            SetReady(pod, false, "restarting");
            lock (_lock)
            {
                _restarts.Add($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {pod.Name}: {reason}");
            }

            Note(pod, $"restart: {reason}");
            await TerminateAsync(process);
        }
    }

    /// <summary>SIGTERM, at most 10 s for the exit, then SIGKILL (the grace period, shortened).</summary>
    private static async Task TerminateAsync(BackgroundProcess process)
    {
        try
        {
            if (!process.HasExited)
            {
                await process.TerminateAsync();
                await process.WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // Still running after the grace period, or gone in between: Dispose kills what is left.
        }

        process.Dispose();
    }

    /// <summary>Probes one container until it must be restarted; returns why.</summary>
    private async Task<string> RunContainerAsync(Pod pod, BackgroundProcess process, CancellationToken token)
    {
        var endpoint = new Endpoint(process);
        await Task.Delay(probes.Startup.InitialDelay, token);
        for (var failures = 0; ;)
        {
            var (ok, answer) = await ProbeAsync(endpoint, probes.Startup, token);
            if (ok)
            {
                Note(pod, $"started: {answer}");
                break;
            }

            if (process.HasExited || ++failures >= probes.Startup.FailureThreshold)
            {
                return process.HasExited ? Exited(process) : $"startupProbe failed {failures} times; last answer: {answer}";
            }

            await Task.Delay(probes.Startup.Period, token);
        }

        using var container = CancellationTokenSource.CreateLinkedTokenSource(token);
        var readiness = Task.Run(() => ProbeReadinessAsync(pod, endpoint, container.Token), CancellationToken.None);
        try
        {
            return await LivenessAsync(process, endpoint, token);
        }
        finally
        {
            await container.CancelAsync();
            await readiness.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task<string> LivenessAsync(BackgroundProcess process, Endpoint endpoint, CancellationToken token)
    {
        await Task.Delay(probes.Liveness.InitialDelay, token);
        for (var failures = 0; ;)
        {
            var (ok, answer) = await ProbeAsync(endpoint, probes.Liveness, token);
            if (process.HasExited)
            {
                return Exited(process);
            }

            failures = ok ? 0 : failures + 1;
            if (failures >= probes.Liveness.FailureThreshold)
            {
                return $"livenessProbe failed {failures} times in a row; last answer: {answer}";
            }

            await Task.Delay(probes.Liveness.Period, token);
        }
    }

    private async Task ProbeReadinessAsync(Pod pod, Endpoint endpoint, CancellationToken token)
    {
        await Task.Delay(probes.Readiness.InitialDelay, token);
        for (int successes = 0, failures = 0; ;)
        {
            var (ok, answer) = await ProbeAsync(endpoint, probes.Readiness, token);
            (successes, failures) = ok ? (successes + 1, 0) : (0, failures + 1);
            if (successes >= probes.Readiness.SuccessThreshold)
            {
                SetReady(pod, true, answer);
            }
            else if (failures >= probes.Readiness.FailureThreshold)
            {
                SetReady(pod, false, answer);
            }

            await Task.Delay(probes.Readiness.Period, token);
        }
    }

    /// <summary>One probe as the kubelet's HTTP prober makes it: success is a status in 200-399 within the timeout.</summary>
    private async Task<(bool Ok, string Answer)> ProbeAsync(Endpoint endpoint, ProbeSpec probe, CancellationToken token)
    {
        if (endpoint.Address is not { } address)
        {
            return (false, "connection refused (the process is not listening yet)");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(probe.Timeout);
        try
        {
            using var response = await _http.GetAsync(new Uri(address, probe.Path), timeout.Token);
            var body = (await response.Content.ReadAsStringAsync(timeout.Token)).Trim();
            var code = (int)response.StatusCode;
            return (code is >= 200 and < 400, $"{code} {body}");
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            return (false, $"no answer within {probe.Timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            return (false, e.Message);
        }
    }

    private void SetReady(Pod pod, bool ready, string answer)
    {
        lock (_lock)
        {
            if (pod.Ready == ready)
            {
                return;
            }

            pod.Ready = ready;
        }

        Note(pod, ready ? "Ready" : $"not Ready: {answer}");
    }

    private void Note(Pod pod, string what)
    {
        lock (_lock)
        {
            _history.Add($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {pod.Name}: {what}");
        }
    }

    private static string Exited(BackgroundProcess process) =>
        $"the process exited on its own: {string.Join("\n", process.StandardErrorLines.TakeLast(15))}";

    [GeneratedRegex(@"Now listening on: (http://[0-9.]+:[0-9]+)")]
    private static partial Regex Listening();

    /// <summary>The container's HTTP address, read from its log once it is listening.</summary>
    private sealed class Endpoint(BackgroundProcess process)
    {
        private Uri? _address;

        public Uri? Address => _address ??= process.StandardErrorLines.Select(l => Listening().Match(l)).FirstOrDefault(m => m.Success) is { } m
            ? new Uri(m.Groups[1].Value, UriKind.Absolute)
            : null;
    }

    private sealed class Pod(string slot, string name)
    {
        public string Slot { get; } = slot;

        public string Name { get; } = name;

        public CancellationTokenSource Stop { get; } = new();

        public List<BackgroundProcess> Containers { get; } = [];

        public BackgroundProcess? Current { get; set; }

        public bool Ready { get; set; }

        public Task? Loop { get; set; }
    }
}
