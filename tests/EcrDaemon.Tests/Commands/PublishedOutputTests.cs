using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// No container engine builds the image in CI, so this checks what goes into it: the Dockerfile's
/// publish command (scripts/publish.sh) and the published daemon, started the way the image starts
/// it (the EcrDaemon apphost, <c>run</c>, DOTNET_RUNNING_IN_CONTAINER=true), against the test
/// cluster and the ECR stand-in: healthy, syncing, JSON logs, and exit 0 on SIGTERM.
/// </summary>
public sealed class PublishedOutputTests
{
    [ToolFact("bash")]
    public async Task The_published_daemon_syncs_a_namespace_logs_JSON_and_exits_0_on_SIGTERM()
    {
        var work = Directory.CreateTempSubdirectory("ecrdaemon-published-");
        try
        {
            var output = Path.Combine(work.FullName, "app");
            // Generous: on a fresh clone the first publish also restores and builds.
            var publish = await Tools.RunAsync("bash", [Path.Combine(Tools.RepositoryRoot, "scripts", "publish.sh"), output],
                new Dictionary<string, string?>(), TimeSpan.FromMinutes(5));
            Assert.True(publish.ExitCode == 0, publish.ToString());
            var executable = Path.Combine(output, "EcrDaemon");
            Assert.True(File.Exists(executable), $"no EcrDaemon executable in {output}");
            // The image runs it as uid 1654, which owns none of /app.
            Assert.True(OperatingSystem.IsWindows() || File.GetUnixFileMode(executable).HasFlag(UnixFileMode.OtherExecute), "EcrDaemon is not executable by other users");
            Assert.True(File.Exists(Path.Combine(output, "EcrDaemon.dll")), $"no EcrDaemon.dll in {output}");

            await using var h = await DaemonHarness.StartAsync();
            var home = Directory.CreateDirectory(Path.Combine(work.FullName, "home")).FullName;
            var kubeconfig = Path.Combine(home, "kubeconfig");
            h.Cluster.WriteKubeconfig(kubeconfig, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
            var url = $"http://127.0.0.1:{FreePort()}";
            var environment = DaemonProcess.ScrubbedEnvironment(home, new Dictionary<string, string?>
            {
                ["KUBECONFIG"] = kubeconfig,
                ["ASPNETCORE_URLS"] = url,
                ["ASPNETCORE_HTTP_PORTS"] = null,
                ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
                ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
                ["AWS_REGION"] = h.Ecr.Region,
                ["AWS_EC2_METADATA_DISABLED"] = "true",
                ["DOTNET_RUNNING_IN_CONTAINER"] = "true",
                // The apphost runs on the runtime this test runs on, wherever it is installed.
                ["DOTNET_ROOT"] = DotnetRoot(),
                ["EcrDaemon__Registries__0__AccountId"] = h.Ecr.DefaultAccountId,
                ["EcrDaemon__Registries__0__Endpoint"] = h.Ecr.Endpoint.ToString(),
            });

            using var daemon = BackgroundProcess.Start(executable, ["run"], environment);
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };
            var health = "";
            await Poll.UntilAsync(async () =>
            {
                if (daemon.HasExited)
                {
                    return true;
                }

                health = $"livez {await StatusAsync(http, "/livez")}, readyz {await StatusAsync(http, "/readyz")}";
                return health == "livez 200, readyz 200";
            }, () => $"{health}\n{daemon}");
            Assert.False(daemon.HasExited, daemon.ToString());

            await h.CreateNamespaceAsync("x", optedIn: true);
            await h.WaitInSyncAsync("x");
            Assert.False(daemon.HasExited, daemon.ToString());

            await daemon.TerminateAsync();
            var exitCode = await daemon.WaitForExitAsync();

            Assert.True(exitCode == 0, daemon.ToString());
            Assert.Empty(daemon.StandardOutputLines);
            var lines = daemon.StandardErrorLines;
            Assert.NotEmpty(lines);
            foreach (var line in lines)
            {
                using var entry = ParseJson(line);
                Assert.Equal(JsonValueKind.Object, entry.RootElement.ValueKind);
                Assert.True(entry.RootElement.TryGetProperty("LogLevel", out _), line);
                Assert.DoesNotContain(EcrStandIn.DefaultSecretAccessKey, line, StringComparison.Ordinal);
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>A port that was free a moment ago (bound to port 0, then released).</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The status code, or what went wrong (the daemon may not listen yet).</summary>
    private static async Task<string> StatusAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
            return ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return e.Message;
        }
    }

    /// <summary>The dotnet root of the running runtime (its System.Private.CoreLib is in shared/Microsoft.NETCore.App/VERSION/).</summary>
    private static string DotnetRoot() =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));

    private static JsonDocument ParseJson(string line)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"a stderr line is not JSON ({e.Message}): {line}");
        }
    }
}
