using System.Net;
using System.Net.Sockets;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;

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

    /// <summary>
    /// The environment the image gives the published daemon, as its ServiceAccount against <paramref name="h"/>'s
    /// cluster (a kubeconfig under <paramref name="home"/>) and ECR stand-in with static keys, serving HTTP on
    /// <paramref name="url"/>, with no .NET on the machine as far as it can tell; <paramref name="settings"/> add to it.
    /// </summary>
    public static Dictionary<string, string?> RunEnvironment(DaemonHarness h, string home, string url, IReadOnlyDictionary<string, string?> settings)
    {
        var kubeconfig = Path.Combine(home, "kubeconfig");
        h.Cluster.WriteKubeconfig(kubeconfig, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
        var environment = new Dictionary<string, string?>
        {
            ["KUBECONFIG"] = kubeconfig,
            ["ASPNETCORE_URLS"] = url,
            ["ASPNETCORE_HTTP_PORTS"] = null,
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_REGION"] = h.Ecr.Region,
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["DOTNET_RUNNING_IN_CONTAINER"] = "true",
            ["EcrDaemon__Registries__0__AccountId"] = h.Ecr.DefaultAccountId,
            ["EcrDaemon__Registries__0__Endpoint"] = h.Ecr.Endpoint.ToString(),
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        return WithoutDotnet(DaemonProcess.ScrubbedEnvironment(home, environment));
    }

    /// <summary>No .NET runtime to be found: the native executable must not need one.</summary>
    public static Dictionary<string, string?> WithoutDotnet(Dictionary<string, string?> environment)
    {
        environment["DOTNET_ROOT"] = null;
        environment["DOTNET_ROOT_X64"] = null;
        environment["DOTNET_HOST_PATH"] = null;
        environment["PATH"] = "/nonexistent";
        return environment;
    }

    /// <summary>A loopback URL on a port that was free a moment ago (bound to port 0, then released).</summary>
    public static string FreeLoopbackUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }

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
