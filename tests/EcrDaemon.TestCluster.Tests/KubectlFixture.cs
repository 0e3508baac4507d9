using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using EcrDaemon.Testing;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// A test cluster and real kubectl pointed at it. Each instance has its own server, kubeconfig
/// and HOME (so kubectl's discovery cache never leaks between servers).
/// </summary>
public sealed class KubectlSession : IAsyncDisposable
{
    private readonly string _dir;

    private KubectlSession(TestClusterServer server, string dir)
    {
        Server = server;
        _dir = dir;
        KubeconfigPath = Path.Combine(dir, "kubeconfig");
        server.WriteKubeconfig(KubeconfigPath);
    }

    public TestClusterServer Server { get; }

    public string KubeconfigPath { get; }

    public static async Task<KubectlSession> StartAsync(TestClusterOptions? options = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ecr-daemon-kubectl-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return new KubectlSession(await TestClusterServer.StartAsync(options), dir);
    }

    private Dictionary<string, string?> Environment(string? kubeconfig) => new()
    {
        ["KUBECONFIG"] = kubeconfig ?? KubeconfigPath,
        ["HOME"] = _dir,
        ["KUBECACHEDIR"] = Path.Combine(_dir, "cache"),
    };

    /// <summary>Runs kubectl to completion (60 s deadline).</summary>
    public Task<ProcessResult> RunAsync(params string[] args) => RunAsAsync(null, args);

    public Task<ProcessResult> RunAsAsync(string? kubeconfig, params string[] args) =>
        Tools.RunAsync(Tools.Require("kubectl"), args, Environment(kubeconfig), TimeSpan.FromSeconds(60));

    /// <summary>Starts a long-running kubectl (such as <c>get -w</c>) whose output lines are collected as they come.</summary>
    public StreamingProcess Start(params string[] args)
    {
        var psi = new ProcessStartInfo(Tools.Require("kubectl"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in Environment(null))
        {
            psi.Environment[k] = v;
        }

        return new StreamingProcess(Process.Start(psi)!);
    }

    public StoredObjectView Get(ResourceType type, string ns, string name) =>
        new(Server.Store.Get(type, ns, name)?.Node);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A stored object as JSON, or null when it does not exist.</summary>
public sealed record StoredObjectView(JsonObject? Json)
{
    public bool Exists => Json is not null;

    public string? ResourceVersion => Json?["metadata"]?["resourceVersion"]?.GetValue<string>();
}

/// <summary>A running process whose stdout and stderr lines are collected for polling.</summary>
public sealed class StreamingProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    public StreamingProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) { _lines.Enqueue(e.Data); } };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { _lines.Enqueue("stderr: " + e.Data); } };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public IReadOnlyList<string> Lines => _lines.ToArray();

    /// <summary>Waits until a line satisfies the predicate; on timeout, fails with everything seen.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            var hit = _lines.FirstOrDefault(predicate);
            if (hit is not null)
            {
                return hit;
            }

            await Task.Delay(50);
        }

        throw new Xunit.Sdk.XunitException($"timed out waiting for {what}; kubectl printed:\n{string.Join('\n', _lines)}");
    }

    public void Dispose()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
