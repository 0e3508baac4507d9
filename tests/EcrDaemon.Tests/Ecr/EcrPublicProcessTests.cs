using EcrDaemon.StandIns;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// The built daemon's <c>check</c> with an ECR Public registry: the endpoint it chooses (Registries:N:Endpoint,
/// AWS_ENDPOINT_URL_ECR_PUBLIC, AWS_ENDPOINT_URL, the us-east-1 default), and a real call to the stand-in
/// chosen through AWS_ENDPOINT_URL_ECR_PUBLIC, beside a private registry at AWS_ENDPOINT_URL_ECR.
/// </summary>
public sealed class EcrPublicProcessTests : StandInTest
{
    [Theory]
    [InlineData("AWS_ENDPOINT_URL_ECR_PUBLIC", "http://127.0.0.1:9/", "http://127.0.0.1:9/")]
    [InlineData("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", "http://127.0.0.1:9/")]
    [InlineData("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9/", "https://api.ecr-public.us-east-1.amazonaws.com/")] // the private API's setting only
    [InlineData("EcrDaemon__Registries__0__Endpoint", "http://127.0.0.1:8/", "http://127.0.0.1:8/")]
    public async Task The_endpoint_settings_choose_the_public_endpoint(string key, string value, string expected)
    {
        // Without credentials the check fails before any call, and its line names the chosen endpoint.
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_REGION"] = "us-west-2", // not ECR Public's region: ignored, as the registry sets none
            ["EcrDaemon__Registries__0__Public"] = "true",
            ["AWS_ENDPOINT_URL_ECR_PUBLIC"] = key == "EcrDaemon__Registries__0__Endpoint" ? "http://127.0.0.1:9/" : null,
            [key] = value,
        }, "check");

        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardOutput));
        Assert.StartsWith("FAIL  ECR Public (public.ecr.aws)  invalid_credentials (permanent): ", line, StringComparison.Ordinal);
        Assert.EndsWith($"endpoint: {expected}", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_gets_the_public_token_through_AWS_ENDPOINT_URL_ECR_PUBLIC_beside_a_private_registry()
    {
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_REGION"] = StandIn.Region,
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["AWS_ENDPOINT_URL_ECR"] = StandIn.Endpoint.ToString(),
            ["AWS_ENDPOINT_URL_ECR_PUBLIC"] = StandIn.Endpoint.ToString(),
            ["EcrDaemon__Registries__0__AccountId"] = "111111111111",
            ["EcrDaemon__Registries__1__Public"] = "true",
        }, "check");

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = MotoTests.Lines(run.StandardOutput);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"ok    {StandIn.HostFor("111111111111")}  ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("ok    public.ecr.aws  ", lines[1], StringComparison.Ordinal);
        Assert.Equal([(false, StandIn.Region, "ecr"), (true, "us-east-1", "ecr-public")],
            StandIn.Requests.Select(r => (r.Public, r.Region, r.Service)).OrderBy(r => r.Public));
        Assert.All(StandIn.Requests, r => Assert.True(r.SignatureValid));
        Assert.DoesNotContain(EcrStandIn.PublicPassword(), run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EcrDaemon__Registries__0__Region", "eu-west-1",
        "EcrDaemon:Registries:0:Region 'eu-west-1' cannot be used with EcrDaemon:Registries:0:Public: ECR Public's API is in us-east-1 only")]
    [InlineData("EcrDaemon__Registries__0__AccountId", "123456789012",
        "EcrDaemon:Registries:0:AccountId cannot be set with EcrDaemon:Registries:0:Public")]
    [InlineData("EcrDaemon__Registries__0__Public", "yes", "EcrDaemon:Registries:0:Public 'yes' must be true or false")]
    [InlineData("EcrDaemon__Registries__0__DualStack", "true", "EcrDaemon:Registries:0:DualStack cannot be set with EcrDaemon:Registries:0:Public")]
    public async Task A_bad_public_registry_exits_2_with_one_line_naming_the_key(string key, string value, string expected)
    {
        var env = new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["EcrDaemon__Registries__0__Public"] = "true", [key] = value };

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Empty(run.StandardOutput);
        var line = Assert.Single(MotoTests.Lines(run.StandardError));
        Assert.StartsWith("ecrdaemon: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }
}
