using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// A real moto_server on 127.0.0.1 and a free port, started for a test class and killed after it.
/// When moto is not installed it starts nothing; the tests, marked [ToolFact("moto_server")],
/// are then skipped (or fail under CI).
/// </summary>
public class MotoServer : IAsyncLifetime
{
    private Process? process;

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:1/");

    /// <summary>Variables for moto itself, e.g. INITIAL_NO_AUTH_ACTION_COUNT.</summary>
    protected virtual IReadOnlyDictionary<string, string> ServerEnvironment { get; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        var moto = Tools.Find("moto_server");
        if (moto is null)
        {
            return;
        }

        Exception? last = null;
        for (var attempt = 0; attempt < 3 && process is null; attempt++)
        {
            try
            {
                await StartAsync(moto);
            }
            catch (InvalidOperationException e)
            {
                last = e; // usually the port was taken between choosing and binding it
            }
        }

        if (process is null)
        {
            throw new InvalidOperationException("moto_server did not start", last);
        }

        await SetUpAsync();
    }

    /// <summary>Runs after moto answers; subclasses create users and keys here.</summary>
    protected virtual Task SetUpAsync() => Task.CompletedTask;

    private async Task StartAsync(string moto)
    {
        var port = FreePort();
        var psi = new ProcessStartInfo(moto) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in ServerEnvironment)
        {
            psi.Environment[name] = value;
        }

        var started = Process.Start(psi) ?? throw new InvalidOperationException("could not start moto_server");
        started.OutputDataReceived += (_, _) => { };
        started.ErrorDataReceived += (_, _) => { };
        started.BeginOutputReadLine();
        started.BeginErrorReadLine();

        // Wait for the port to accept connections, with a deadline (a TCP probe is not an API action).
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (started.HasExited)
            {
                throw new InvalidOperationException($"moto_server exited with {started.ExitCode}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                started.Kill(entireProcessTree: true);
                throw new InvalidOperationException("moto_server did not listen within 60 s");
            }
        }

        Endpoint = new Uri($"http://127.0.0.1:{port}/");
        process = started;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public Task DisposeAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }

        process?.Dispose();
        return Task.CompletedTask;
    }
}
