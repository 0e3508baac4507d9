using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// Runs the real, built daemon (<c>dotnet EcrDaemon.dll ...</c>) as a process, in the environment
/// <see cref="DaemonEnvironment.Scrubbed"/> builds.
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

    /// <inheritdoc cref="DaemonEnvironment.Scrubbed"/>
    public static Dictionary<string, string?> ScrubbedEnvironment(string home, IReadOnlyDictionary<string, string?> environment) =>
        DaemonEnvironment.Scrubbed(home, environment);
}
