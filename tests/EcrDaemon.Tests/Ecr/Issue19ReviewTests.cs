using EcrDaemon.Ecr;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>Issue 19 review: attacks on the proxy, ECR Public and host features found by the production review.</summary>
public sealed class Issue19ReviewTests : StandInTest
{
    private const string ProxyUser = "corpproxyuser";
    private const string ProxyPassword = "Pr0xyS3cretPw";

    /// <summary>
    /// A corporate proxy that needs credentials is configured as HTTPS_PROXY=http://user:password@proxy:port. When the
    /// proxy refuses the CONNECT, .NET's HttpRequestException names the proxy URI, credentials included; the failure
    /// classifier quotes that message in the failure, which is printed, logged and put in Events. It must not.
    /// </summary>
    [ToolTheory("tinyproxy")]
    [InlineData("HTTPS_PROXY")]
    [InlineData("https_proxy")]
    public async Task Proxy_credentials_in_the_proxy_variable_never_appear_in_a_failure(string variable)
    {
        using var proxy = await TinyProxy.StartAsync(denyAll: true);
        var env = ProxyTests.WithProxy(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_REGION"] = StandIn.Region,
            ["EcrDaemon__Ecr__Retry__MaxAttempts"] = "2",
            ["EcrDaemon__Ecr__Retry__BaseDelay"] = "00:00:00.050",
        }, null);
        env[variable] = $"http://{ProxyUser}:{ProxyPassword}@127.0.0.1:{proxy.Port}";

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("CONNECT api.ecr.us-west-2.amazonaws.com:443", proxy.Requests); // the proxy was asked, and refused
        Assert.Contains("network (transient)", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", run.StandardOutput, StringComparison.Ordinal); // the proxy is still named, without its credentials
        Assert.DoesNotContain(ProxyPassword, run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(ProxyUser, run.Output, StringComparison.Ordinal);
    }

    /// <summary>The same through the classifier alone, for every exception layer the SDK (STS, credentials endpoints) wraps it in.</summary>
    [Theory]
    [InlineData("The proxy tunnel request to proxy 'http://corpproxyuser:Pr0xyS3cretPw@proxy.corp:3128/' failed with status code '407'.")]
    [InlineData("Error sending to http://corpproxyuser:Pr0xyS3cretPw@10.0.0.1:3128 (Connection refused)")]
    public void The_classifier_removes_user_info_from_quoted_URLs(string message)
    {
        var direct = EcrErrorClassifier.FromException(new HttpRequestException(message), "ecr:GetAuthorizationToken");
        var wrapped = EcrErrorClassifier.FromException(
            new Amazon.Runtime.AmazonServiceException("Error making request", new HttpRequestException(message)), "sts:AssumeRole");

        foreach (var failure in new[] { direct, wrapped })
        {
            Assert.Equal(EcrFailureReason.Network, failure.Reason);
            Assert.DoesNotContain(ProxyPassword, failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(ProxyUser, failure.Message, StringComparison.Ordinal);
            Assert.Contains("could not reach the service", failure.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// .NET's NO_PROXY is not curl's: "*" is no wildcard, "*.domain" matches nothing, and a bare domain matches that host
    /// only, not its subdomains; only ".domain" does. The README says so, since a NO_PROXY written for curl (or Go) would
    /// silently send the VPC endpoint's calls to the proxy. The proxy's log is the witness (a request is logged even when
    /// the name does not resolve; a direct call to the unresolvable name never reaches it).
    /// </summary>
    [ToolTheory("tinyproxy")]
    [InlineData("*", true)]
    [InlineData("*.corp.example", true)]
    [InlineData("corp.example", true)]
    [InlineData(".corp.example", false)]
    [InlineData("ecr.corp.example", false)]
    public async Task NO_PROXY_matches_as_dotnet_reads_it_not_as_curl_does(string noProxy, bool proxied)
    {
        using var proxy = await TinyProxy.StartAsync();
        var env = ProxyTests.WithProxy(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_REGION"] = StandIn.Region,
            ["AWS_ENDPOINT_URL_ECR"] = $"http://ecr.corp.example:{StandIn.Endpoint.Port}",
            ["EcrDaemon__Ecr__Retry__MaxAttempts"] = "1",
        }, proxy.Url, noProxy);

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 1, run.ToString()); // the name resolves nowhere, directly or at the proxy
        Assert.True(proxied == proxy.Requests.Contains($"POST http://ecr.corp.example:{StandIn.Endpoint.Port}/"), $"{run}\n{proxy.Describe()}");
    }
}
