using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// The daemon published by scripts/publish.sh (Native AOT, the image's build), once per test run and
/// shared by every test that runs the published binary. The publish takes minutes, so
/// <see cref="EarlyPublishTestFramework"/> starts it before the first test runs when the run includes
/// a class marked <see cref="UsesPublishedDaemonAttribute"/>, and it overlaps the other tests; the
/// first test that needs it waits for it. Thread-safe: one publish, whoever asks first.
/// </summary>
internal static class PublishedDaemon
{
    // Generous: on a fresh clone the first publish also restores (the NativeAOT packs) and builds, on 2 busy cores.
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(12);

    private static readonly Lazy<Task<string>> Publish = new(() => Task.Run(PublishAsync), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Starts the publish if it has not started (returns at once).</summary>
    public static void Start() => _ = Publish.Value;

    /// <summary>The output directory, once the publish has succeeded; throws with its output if it failed.</summary>
    public static Task<string> OutputAsync() => Publish.Value;

    /// <summary>The native executable in <paramref name="output"/>.</summary>
    public static string Executable(string output) => Path.Combine(output, "EcrDaemon");

    private static async Task<string> PublishAsync()
    {
        // A review run may point at an output published already (scripts/publish.sh OUTPUT_DIR) instead of publishing again.
        if (Environment.GetEnvironmentVariable("ECRDAEMON_PUBLISHED_OUTPUT") is { Length: > 0 } published)
        {
            return published;
        }

        var work = Directory.CreateTempSubdirectory("ecrdaemon-published-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => work.Delete(recursive: true);
        var output = Path.Combine(work.FullName, "app");
        var publish = await Tools.RunAsync("bash", [Path.Combine(Tools.RepositoryRoot, "scripts", "publish.sh"), output],
            new Dictionary<string, string?> { ["ECRDAEMON_PUBLISH"] = null }, Timeout);
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/publish.sh failed: {publish}");
        }

        return output;
    }
}

/// <summary>Marks a test class that runs <see cref="PublishedDaemon"/>: a run that includes it starts the publish first.</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class UsesPublishedDaemonAttribute : Attribute;
