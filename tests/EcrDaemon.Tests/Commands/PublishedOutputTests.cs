using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// No container engine builds the image in CI, so this checks what goes into it: the Dockerfile's
/// publish command (scripts/publish.sh, Native AOT) and the published daemon. The output is one
/// native executable that runs without a .NET runtime; <c>check</c> fetches a token with static keys,
/// with IRSA web identity and with an assumed role (the last two need the STS client registered for
/// Native AOT: AwsRuntimeDependencies); and <c>run</c>, started the way the image starts it
/// (DOTNET_RUNNING_IN_CONTAINER=true), against the test cluster and the ECR stand-in: healthy,
/// syncing, JSON logs, and exit 0 on SIGTERM. The publish is shared (<see cref="PublishedDaemon"/>).
/// </summary>
[UsesPublishedDaemon]
public sealed class PublishedOutputTests : StandInTest
{
    private const string RoleArn = "arn:aws:iam::222222222222:role/puller";

    [ToolFact("bash")]
    public async Task The_published_daemon_is_one_native_executable_without_the_NET_runtime()
    {
        var output = await PublishedDaemon.OutputAsync();
        var executable = PublishedDaemon.Executable(output);
        Assert.True(File.Exists(executable), $"no EcrDaemon executable in {output}");
        var magic = new byte[4];
        await using (var file = File.OpenRead(executable))
        {
            await file.ReadExactlyAsync(magic);
        }

        Assert.True(magic is [0x7F, (byte)'E', (byte)'L', (byte)'F'], $"EcrDaemon is not an ELF executable: {Convert.ToHexString(magic)}");
        // The image runs it as uid 1654, which owns none of /app.
        Assert.True(OperatingSystem.IsWindows() || File.GetUnixFileMode(executable).HasFlag(UnixFileMode.OtherExecute), "EcrDaemon is not executable by other users");
        var files = Directory.GetFiles(output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(output, f)).Order(StringComparer.Ordinal).ToList();
        foreach (var jit in new[] { "EcrDaemon.dll", "libcoreclr.so", "libclrjit.so", "EcrDaemon.runtimeconfig.json" })
        {
            Assert.DoesNotContain(jit, files);
        }

        // The daemon reads appsettings.json from its own directory (the host's content root).
        Assert.Equal(["EcrDaemon", "appsettings.json"], files);
    }

    [ToolFact("bash")]
    public async Task The_published_daemon_checks_with_static_keys()
    {
        var run = await CheckAsync(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
        });

        Assert.Equal($"ok    {StandIn.HostFor(StandIn.DefaultAccountId)}  credentials: environment", OkLine(run));
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.False(request.HasSessionToken);
    }

    [ToolFact("bash")]
    public async Task The_published_daemon_checks_with_IRSA_web_identity()
    {
        await using var credentials = await CredentialsStandIn.StartAsync();
        var dir = Directory.CreateTempSubdirectory("ecrdaemon-published-irsa-");
        try
        {
            var tokenFile = Path.Combine(dir.FullName, "token");
            await File.WriteAllTextAsync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlY3ItZGFlbW9uIn0.c2ln");
            var run = await CheckAsync(new Dictionary<string, string?>
            {
                ["AWS_WEB_IDENTITY_TOKEN_FILE"] = tokenFile,
                ["AWS_ROLE_ARN"] = CheckCredentialFailureTests.RoleArn,
                ["AWS_ENDPOINT_URL_STS"] = credentials.Endpoint.ToString(),
            });

            // Without the STS client registered, the SDK cannot create one under Native AOT: a FAIL line naming a missing runtime dependency.
            Assert.Equal($"ok    {StandIn.HostFor(StandIn.DefaultAccountId)}  credentials: web identity (IRSA)", OkLine(run));
            Assert.True(credentials.Requests >= 1);
            var request = Assert.Single(StandIn.Requests);
            Assert.True(request.SignatureValid);
            Assert.True(request.HasSessionToken); // the role's session credentials from STS
            Assert.DoesNotContain(EcrStandIn.ContainerSecretAccessKey, run.Output, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [ToolFact("bash")]
    public async Task The_published_daemon_checks_with_an_assumed_role()
    {
        await using var credentials = await CredentialsStandIn.StartAsync();
        var run = await CheckAsync(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_ENDPOINT_URL_STS"] = credentials.Endpoint.ToString(),
            ["EcrDaemon__Registries__0__RoleArn"] = RoleArn,
        });

        // The stand-in's STS answers AssumeRole only when it is signed with the source (environment) keys.
        Assert.Equal($"ok    {StandIn.HostFor(StandIn.DefaultAccountId)}  credentials: assume-role {RoleArn} via environment", OkLine(run));
        Assert.True(credentials.Requests >= 1);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.True(request.HasSessionToken); // signed with the assumed role's session, not the source keys
        Assert.DoesNotContain(EcrStandIn.DefaultSecretAccessKey, run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(EcrStandIn.ContainerSecretAccessKey, run.Output, StringComparison.Ordinal);
    }

    [ToolFact("bash")]
    public async Task The_published_daemon_syncs_a_namespace_logs_JSON_and_exits_0_on_SIGTERM()
    {
        var output = await PublishedDaemon.OutputAsync();
        var executable = PublishedDaemon.Executable(output);
        var work = Directory.CreateTempSubdirectory("ecrdaemon-published-run-");
        try
        {
            await using var h = await DaemonHarness.StartAsync();
            var home = Directory.CreateDirectory(Path.Combine(work.FullName, "home")).FullName;
            var url = PublishedDaemon.FreeLoopbackUrl();
            var environment = PublishedDaemon.RunEnvironment(h, home, url, new Dictionary<string, string?>());

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

            // The Native AOT binary serves the runtime's memory metrics too (the System.Runtime meter), and the daemon's.
            var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            foreach (var name in new[] { "dotnet_gc_heap_total_allocated_bytes_total", "dotnet_process_memory_working_set_bytes", "ecr_daemon_token_expiry_timestamp_seconds" })
            {
                Assert.Contains(PrometheusText.Parse(metrics), s => s.Name == name);
            }

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

    /// <summary>
    /// The published daemon's <c>check</c> against the ECR stand-in's default registry, with
    /// <paramref name="credentials"/> (the real default chain, nothing inherited) and no .NET in
    /// sight: no DOTNET_ROOT, no PATH to find a dotnet on.
    /// </summary>
    private async Task<ProcessResult> CheckAsync(Dictionary<string, string?> credentials)
    {
        var executable = PublishedDaemon.Executable(await PublishedDaemon.OutputAsync());
        var home = Directory.CreateTempSubdirectory("ecrdaemon-published-check-");
        try
        {
            credentials["AWS_REGION"] = StandIn.Region;
            credentials["AWS_ENDPOINT_URL_ECR"] = StandIn.Endpoint.ToString();
            var run = await Tools.RunAsync(executable, ["check"], PublishedDaemon.WithoutDotnet(DaemonProcess.ScrubbedEnvironment(home.FullName, credentials)), TimeSpan.FromSeconds(90));
            Assert.True(run.ExitCode == 0, run.ToString());
            return run;
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    /// <summary>The single <c>ok</c> line of a check, without its expiry.</summary>
    private static string OkLine(ProcessResult run) =>
        Regex.Replace(Assert.Single(MotoTests.Lines(run.StandardOutput)), "  expires [^ ]+( \\(already expired\\))?", "");

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
