using System.Diagnostics;
using Xunit;

namespace EcrDaemon.Testing;

/// <summary>
/// Finds the real third-party tools the tests drive (kubectl, helm, promtool, moto_server, aws).
/// Looks in the repository's .tools/bin (where scripts/tools.sh installs them) and then on PATH.
/// </summary>
public static class Tools
{
    /// <summary>True when running under CI, where a missing tool is a failure, not a skip.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The full path of a tool, or null when it is not installed.</summary>
    public static string? Find(string name)
    {
        var local = Path.Combine(RepositoryRoot, ".tools", "bin", name);
        if (File.Exists(local))
        {
            return local;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The full path of a tool; throws with install advice when it is missing.</summary>
    public static string Require(string name) =>
        Find(name) ?? throw new InvalidOperationException(
            $"required tool '{name}' is not installed; run 'bash scripts/tools.sh' (CI={IsCi})");

    /// <summary>Runs a process to completion with a deadline and returns its exit code and output.</summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null,
        string? standardInput = null,
        CancellationToken cancellationToken = default)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
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
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
            process.StandardInput.Close();
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException(
                $"{Path.GetFileName(fileName)} {string.Join(' ', psi.ArgumentList)} did not finish in time; output so far: {await stdout}{await stderr}");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EcrDaemon.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}

public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Output => StandardOutput + StandardError;

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}";
}

/// <summary>
/// A fact that needs real tools. Locally it is skipped, with the reason shown, when a tool is
/// missing; under CI=true it runs anyway so that the missing tool fails the test loudly.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(params string[] tools)
    {
        var missing = tools.Where(t => Tools.Find(t) is null).ToArray();
        if (missing.Length > 0 && !Tools.IsCi)
        {
            Skip = $"needs {string.Join(", ", missing)}: run 'bash scripts/tools.sh' (under CI=true this is a failure)";
        }
    }
}

/// <summary>A theory that needs real tools: skipped locally with the reason when one is missing, a failure under CI=true.</summary>
public sealed class ToolTheoryAttribute : TheoryAttribute
{
    public ToolTheoryAttribute(params string[] tools)
    {
        var missing = tools.Where(t => Tools.Find(t) is null).ToArray();
        if (missing.Length > 0 && !Tools.IsCi)
        {
            Skip = $"needs {string.Join(", ", missing)}: run 'bash scripts/tools.sh' (under CI=true this is a failure)";
        }
    }
}
