using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// A long-running process (a daemon) whose output lines are collected while it runs. Disposing it
/// kills the process tree if it is still running, so a failed test never leaves it behind.
/// </summary>
internal sealed class BackgroundProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private BackgroundProcess(Process process) => _process = process;

    /// <summary>The process id (kept after the process is gone).</summary>
    public int Id { get; private set; }

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> StandardOutputLines => [.. _stdout];

    public IReadOnlyList<string> StandardErrorLines => [.. _stderr];

    /// <param name="environment">Variables to set; a null value removes an inherited one.</param>
    public static BackgroundProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment)
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

        var process = new Process { StartInfo = psi };
        var started = new BackgroundProcess(process);
        process.OutputDataReceived += (_, e) => Collect(started._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Collect(started._stderr, e.Data);
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"could not start {fileName}");
        }

        started.Id = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    /// <summary>Sends SIGTERM, as Kubernetes does to stop a pod (bash's kill builtin: no procps needed).</summary>
    public async Task TerminateAsync()
    {
        var kill = await Tools.RunAsync("bash", ["-c", "kill -TERM \"$1\"", "kill", Id.ToString(CultureInfo.InvariantCulture)]);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -TERM {Id} failed: {kill}");
        }
    }

    /// <summary>Waits for the exit (and the end of its output) within the deadline; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? deadline = null)
    {
        await Poll.Within(_process.WaitForExitAsync(), $"process {Id}'s exit", deadline);
        return _process.ExitCode;
    }

    public override string ToString() =>
        $"pid {Id}{(HasExited ? $", exit {_process.ExitCode}" : ", running")}\nstdout:\n{string.Join('\n', _stdout)}\nstderr:\n{string.Join('\n', _stderr)}";

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited in between.
        }

        _process.Dispose();
    }

    private static void Collect(ConcurrentQueue<string> lines, string? line)
    {
        if (line is not null)
        {
            lines.Enqueue(line);
        }
    }
}
