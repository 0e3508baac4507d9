using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using EcrDaemon.Testing;
using Xunit.Sdk;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// The official clients of other languages, driven through the scripts in Clients/ (one protocol:
/// <c>&lt;interpreter&gt; &lt;script&gt; &lt;kubeconfig&gt; &lt;scenario&gt; [args...]</c>, one JSON object per output line).
/// "python": Debian's /usr/bin/python3 with python3-kubernetes. "node": node with
/// @kubernetes/client-node from &lt;repo&gt;/.tools/node/node_modules. scripts/tools.sh installs both.
/// </summary>
internal static class RealClients
{
    /// <summary>Debian's interpreter, where python3-kubernetes is installed (not a pyenv one on PATH).</summary>
    public const string PythonInterpreter = "/usr/bin/python3";

    public static readonly string[] Names = ["python", "node"];

    private static readonly ConcurrentDictionary<string, string?> MissingCache = new(StringComparer.Ordinal);

    public static string ClientsDirectory => Path.Combine(Tools.RepositoryRoot, "tests", "EcrDaemon.TestCluster.Tests", "Clients");

    public static string NodeModules => Path.Combine(Tools.RepositoryRoot, ".tools", "node", "node_modules");

    public static string Script(string client) => client switch
    {
        "python" => Path.Combine(ClientsDirectory, "python", "scenarios.py"),
        "node" => Path.Combine(ClientsDirectory, "node", "scenarios.mjs"),
        _ => throw new ArgumentOutOfRangeException(nameof(client), client, "unknown client"),
    };

    /// <summary>Why the client cannot run here, or null when it can. Checked once per test run.</summary>
    public static string? Missing(string client) => MissingCache.GetOrAdd(client, Check);

    private static string? Check(string client)
    {
        var script = Script(client);
        if (!File.Exists(script))
        {
            return $"{script} is missing";
        }

        return client switch
        {
            "python" when !File.Exists(PythonInterpreter) => $"{PythonInterpreter} is missing",
            "python" when !Succeeds(PythonInterpreter, "-c", "import kubernetes") =>
                $"{PythonInterpreter} cannot import kubernetes (Debian package python3-kubernetes)",
            "node" when Tools.Find("node") is null => "node is not on PATH",
            "node" when !File.Exists(Path.Combine(NodeModules, "@kubernetes", "client-node", "package.json")) =>
                $"@kubernetes/client-node is not installed under {NodeModules}",
            _ => null,
        };
    }

    private static bool Succeeds(string file, params string[] args)
    {
        var psi = Start(file, args);
        try
        {
            using var process = Process.Start(psi)!;
            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static ProcessStartInfo Start(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in Environment(file))
        {
            if (v is null)
            {
                psi.Environment.Remove(k);
            }
            else
            {
                psi.Environment[k] = v;
            }
        }

        return psi;
    }

    /// <summary>Debian's python must not pick up another interpreter's modules; node finds the package under .tools.</summary>
    private static Dictionary<string, string?> Environment(string file) => file == PythonInterpreter
        ? new() { ["PYTHONPATH"] = null, ["PYTHONHOME"] = null, ["PYTHONDONTWRITEBYTECODE"] = "1" }
        : new() { ["NODE_PATH"] = NodeModules };

    private static (string File, List<string> Args) Command(string client, string kubeconfig, string scenario, string[] args)
    {
        if (Missing(client) is { } why)
        {
            throw new InvalidOperationException($"the {client} client cannot run: {why}; run 'bash scripts/tools.sh' (CI={Tools.IsCi})");
        }

        var file = client == "python" ? PythonInterpreter : Tools.Require("node");
        return (file, [Script(client), kubeconfig, scenario, .. args]);
    }

    /// <summary>Runs a scenario to completion; it must exit 0. Returns its output lines as JSON objects.</summary>
    public static async Task<IReadOnlyList<JsonObject>> RunAsync(string client, string kubeconfig, string scenario, params string[] args)
    {
        var (file, argv) = Command(client, kubeconfig, scenario, args);
        var env = Environment(file);
        var result = await Tools.RunAsync(file, argv, env, Poll.Deadline);
        Assert.True(result.ExitCode == 0, $"{client} {scenario} failed: {result}");
        return Parse(result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries), $"{client} {scenario}: {result}");
    }

    /// <summary>Starts a long-running scenario (a watch) whose output lines are collected as they come.</summary>
    public static StreamingProcess Start(string client, string kubeconfig, string scenario, params string[] args)
    {
        var (file, argv) = Command(client, kubeconfig, scenario, args);
        return new StreamingProcess(Process.Start(Start(file, argv))!);
    }

    /// <summary>Every stdout line of a streaming scenario as JSON (stderr lines fail the parse, with all output shown).</summary>
    public static IReadOnlyList<JsonObject> Parse(IEnumerable<string> lines, string context)
    {
        var parsed = new List<JsonObject>();
        foreach (var line in lines)
        {
            try
            {
                parsed.Add(JsonNode.Parse(line)!.AsObject());
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
            {
                throw new XunitException($"not a JSON object line: {line}\n{context}");
            }
        }

        return parsed;
    }
}

/// <summary>A theory run once per real client (rows from <see cref="ClientDataAttribute"/>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ClientTheoryAttribute : TheoryAttribute
{
}

/// <summary>
/// One row of a <see cref="ClientTheoryAttribute"/>: the client's name. Locally the row is skipped,
/// with the reason, when that client cannot run; under CI=true it runs and the missing client fails it.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ClientDataAttribute : DataAttribute
{
    public ClientDataAttribute(string client)
    {
        Client = client;
        if (RealClients.Missing(client) is { } why && !Tools.IsCi)
        {
            Skip = $"{client} client: {why}: run 'bash scripts/tools.sh' (under CI=true this is a failure)";
        }
    }

    public string Client { get; }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[Client]];
}
