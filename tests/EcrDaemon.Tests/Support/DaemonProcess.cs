using System.Collections;
using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// Runs the real, built daemon (<c>dotnet EcrDaemon.dll ...</c>) as a process, with an environment
/// scrubbed of the machine's AWS settings: no AWS_* or EcrDaemon__* variables are inherited, HOME
/// and the AWS config files point into an empty directory, and IMDS is disabled, so nothing
/// leaves the machine unless a test points it at 127.0.0.1.
/// </summary>
internal static class DaemonProcess
{
    public static string DllPath { get; } = Path.Combine(AppContext.BaseDirectory, "EcrDaemon.dll");

    public static async Task<ProcessResult> RunAsync(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var home = Directory.CreateTempSubdirectory("ecrdaemon-home-");
        try
        {
            return await Tools.RunAsync("dotnet", [DllPath, .. arguments], ScrubbedEnvironment(home.FullName, environment), TimeSpan.FromSeconds(90));
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The environment for a daemon process: the inherited AWS_* and EcrDaemon* variables removed
    /// (null), HOME and the AWS config files in <paramref name="home"/> (an empty directory), IMDS
    /// disabled, then <paramref name="environment"/>, in which "{HOME}" stands for <paramref name="home"/>.
    /// </summary>
    public static Dictionary<string, string?> ScrubbedEnvironment(string home, IReadOnlyDictionary<string, string?> environment)
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            if (name.StartsWith("AWS_", StringComparison.OrdinalIgnoreCase) || name.StartsWith("EcrDaemon", StringComparison.OrdinalIgnoreCase))
            {
                env[name] = null;
            }
        }

        env["HOME"] = home;
        env["AWS_CONFIG_FILE"] = Path.Combine(home, "aws-config");
        env["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(home, "aws-credentials");
        env["AWS_EC2_METADATA_DISABLED"] = "true";
        env["DOTNET_ENVIRONMENT"] = "Production";
        foreach (var (name, value) in environment)
        {
            env[name] = value?.Replace("{HOME}", home, StringComparison.Ordinal);
        }

        return env;
    }
}
