using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Commands;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// HTTPS_PROXY / HTTP_PROXY / NO_PROXY with a real forward proxy (tinyproxy) on 127.0.0.1, and the
/// built daemon as a process, so that .NET reads the variables the way it does in a pod. The AWS
/// calls (ECR, STS, the container credentials endpoint) go through the proxy; the Kubernetes API
/// never does. The proxy's own log is the witness: it lists every request it was asked to forward.
/// .NET does not exempt loopback from the proxy, so a stand-in on 127.0.0.1 is reached through it
/// unless NO_PROXY names it.
/// </summary>
public sealed class ProxyTests : StandInTest
{
    /// <summary>Static keys the stand-in accepts, the stand-in as the ECR endpoint, and the proxy variables (all spellings, so nothing is inherited).</summary>
    private Dictionary<string, string?> Environment(string? proxy, string? noProxy = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_REGION"] = StandIn.Region,
            ["AWS_ENDPOINT_URL_ECR"] = StandIn.Endpoint.ToString(),
            ["EcrDaemon__Ecr__Retry__MaxAttempts"] = "2",
            ["EcrDaemon__Ecr__Retry__BaseDelay"] = "00:00:00.050",
        };
        return WithProxy(env, proxy, noProxy);
    }

    internal static Dictionary<string, string?> WithProxy(Dictionary<string, string?> env, string? proxy, string? noProxy = null)
    {
        foreach (var name in new[] { "http_proxy", "https_proxy", "all_proxy", "ALL_PROXY", "no_proxy" })
        {
            env[name] = null;
        }

        env["HTTP_PROXY"] = proxy;
        env["HTTPS_PROXY"] = proxy;
        env["NO_PROXY"] = noProxy;
        return env;
    }

    private string StandInRequest => $"POST {StandIn.Endpoint}";

    [ToolFact("tinyproxy")]
    public async Task Ecr_calls_go_through_the_proxy_named_by_the_environment()
    {
        using var proxy = await TinyProxy.StartAsync();

        var run = await DaemonProcess.RunAsync(Environment(proxy.Url), "check");

        Assert.True(run.ExitCode == 0, $"{run}\n{proxy.Describe()}");
        Assert.StartsWith($"ok    {StandIn.HostFor(StandIn.DefaultAccountId)}", Assert.Single(MotoTests.Lines(run.StandardOutput)), StringComparison.Ordinal);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid); // the proxy forwarded the signed request unchanged
        Assert.Equal([StandInRequest], proxy.Requests);
    }

    [ToolTheory("tinyproxy")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Without_a_proxy_variable_or_with_NO_PROXY_naming_the_host_the_call_is_direct(bool proxySetButExcluded)
    {
        using var proxy = await TinyProxy.StartAsync();

        var run = await DaemonProcess.RunAsync(
            proxySetButExcluded ? Environment(proxy.Url, noProxy: $"example.com,{StandIn.Endpoint.Host}") : Environment(null), "check");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(StandIn.Requests);
        Assert.Empty(proxy.Requests);
    }

    [Fact]
    public async Task A_proxy_that_refuses_the_connection_is_a_transient_network_failure()
    {
        var closed = TinyProxy.FreePort();

        var run = await DaemonProcess.RunAsync(Environment($"http://127.0.0.1:{closed}"), "check");

        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardOutput));
        Assert.StartsWith("FAIL  default registry in us-west-2  network (transient): ", line, StringComparison.Ordinal);
        Assert.Empty(StandIn.Requests); // no direct call behind the proxy's back
        Assert.DoesNotContain("Unhandled exception", run.Output, StringComparison.Ordinal);
    }

    [ToolFact("tinyproxy")]
    public async Task A_proxy_that_denies_the_CONNECT_to_ECR_is_a_transient_network_failure()
    {
        using var proxy = await TinyProxy.StartAsync(denyAll: true);
        var env = Environment(proxy.Url);
        env["AWS_ENDPOINT_URL_ECR"] = null; // the real regional endpoint, over HTTPS: the proxy refuses it before anything leaves the machine

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardOutput));
        Assert.StartsWith("FAIL  default registry in us-west-2  network (transient): ", line, StringComparison.Ordinal);
        Assert.Contains("endpoint: https://api.ecr.us-west-2.amazonaws.com/", line, StringComparison.Ordinal);
        Assert.Equal(["CONNECT api.ecr.us-west-2.amazonaws.com:443", "CONNECT api.ecr.us-west-2.amazonaws.com:443"], proxy.Requests); // two attempts
    }

    [ToolFact("tinyproxy")]
    public async Task Sts_calls_for_web_identity_credentials_go_through_the_proxy()
    {
        using var proxy = await TinyProxy.StartAsync();
        await using var sts = await CredentialsStandIn.StartAsync();
        var dir = Directory.CreateTempSubdirectory("ecrdaemon-proxy-irsa-");
        try
        {
            var tokenFile = Path.Combine(dir.FullName, "token");
            await File.WriteAllTextAsync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlY3ItZGFlbW9uIn0.c2ln");
            var env = Environment(proxy.Url);
            env["AWS_ACCESS_KEY_ID"] = null;
            env["AWS_SECRET_ACCESS_KEY"] = null;
            env["AWS_WEB_IDENTITY_TOKEN_FILE"] = tokenFile;
            env["AWS_ROLE_ARN"] = CheckCredentialFailureTests.RoleArn;
            env["AWS_ENDPOINT_URL_STS"] = sts.Endpoint.ToString();

            var run = await DaemonProcess.RunAsync(env, "check");

            Assert.True(run.ExitCode == 0, $"{run}\n{proxy.Describe()}");
            Assert.True(Assert.Single(StandIn.Requests).HasSessionToken); // the role's session credentials from STS
            // The SDK may ask STS again for its short-lived session; every one of those calls went through the proxy, then the ECR call did.
            var stsCalls = proxy.Requests.Count(r => r == $"POST {sts.Endpoint}");
            Assert.True(stsCalls >= 1 && stsCalls == sts.Requests, proxy.Describe());
            Assert.Equal([.. Enumerable.Repeat($"POST {sts.Endpoint}", stsCalls), StandInRequest], proxy.Requests);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [ToolFact("tinyproxy")]
    public async Task The_container_credentials_endpoint_is_reached_through_the_proxy_unless_NO_PROXY_names_it()
    {
        using var proxy = await TinyProxy.StartAsync();
        var env = Environment(proxy.Url);
        env["AWS_ACCESS_KEY_ID"] = null;
        env["AWS_SECRET_ACCESS_KEY"] = null;
        env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = StandIn.ContainerCredentialsUri.ToString();
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = EcrStandIn.ContainerAuthorizationToken;

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 0, $"{run}\n{proxy.Describe()}");
        Assert.Contains($"GET {StandIn.ContainerCredentialsUri}", proxy.Requests);
    }

    [ToolFact("tinyproxy")]
    public async Task The_Kubernetes_API_is_reached_directly_even_when_the_proxy_variables_name_a_proxy()
    {
        using var proxy = await TinyProxy.StartAsync(denyAll: true);
        await using var h = await DaemonHarness.StartAsync();
        var kubeconfig = Path.GetTempFileName();
        try
        {
            h.Cluster.WriteKubeconfig(kubeconfig);
            var env = WithProxy(new Dictionary<string, string?> { ["AWS_REGION"] = h.Ecr.Region, ["KUBECONFIG"] = kubeconfig }, proxy.Url);
            var mark = h.Requests.Mark();

            var run = await DaemonProcess.RunAsync(env, "cleanup");

            Assert.True(run.ExitCode == 0, $"{run}\n{proxy.Describe()}");
            Assert.Contains("cleanup: removed 0, failed 0", run.StandardOutput, StringComparison.Ordinal);
            Assert.Empty(proxy.Requests); // a proxy that denies everything was not asked
            Assert.NotEmpty(h.Requests.Since(mark)); // the test cluster answered it
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }
}
