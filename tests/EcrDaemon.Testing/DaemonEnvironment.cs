using System.Collections;

namespace EcrDaemon.Testing;

/// <summary>
/// The environment for a daemon process started by a test or the benchmark: the machine's AWS
/// settings are not inherited (no AWS_* or EcrDaemon* variables), HOME and the AWS config files
/// point into an empty directory, and IMDS is disabled, so nothing leaves the machine unless the
/// caller points it at 127.0.0.1.
/// </summary>
public static class DaemonEnvironment
{
    /// <summary>
    /// The inherited AWS_* and EcrDaemon* variables removed (null), HOME and the AWS config files in
    /// <paramref name="home"/> (an empty directory), IMDS disabled, then <paramref name="environment"/>,
    /// in which "{HOME}" stands for <paramref name="home"/>.
    /// </summary>
    public static Dictionary<string, string?> Scrubbed(string home, IReadOnlyDictionary<string, string?> environment)
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
