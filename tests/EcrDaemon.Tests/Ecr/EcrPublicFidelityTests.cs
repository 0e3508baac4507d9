using System.Globalization;
using System.Text.Json;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// The real aws CLI (botocore's ecr-public model) against the stand-in's ECR Public API: if the CLI cannot
/// parse what the stand-in says, or the stand-in rejects what botocore signs, the stand-in is wrong.
/// </summary>
public sealed class EcrPublicFidelityTests : StandInTest
{
    private Task<ProcessResult> AwsAsync(string secretAccessKey, string region = "us-east-1")
    {
        var env = AwsCliEnvironment(secretAccessKey, "AWS_ENDPOINT_URL_ECR_PUBLIC");
        return Tools.RunAsync(Tools.Require("aws"),
            ["ecr-public", "get-authorization-token", "--endpoint-url", StandIn.Endpoint.ToString(), "--region", region, "--output", "json"], env);
    }

    [ToolFact("aws")]
    public async Task The_cli_signs_requests_the_stand_in_accepts_and_parses_its_token()
    {
        var expires = new DateTimeOffset(2031, 5, 6, 7, 8, 9, 250, TimeSpan.Zero);
        StandIn.ExpiresAt = expires;

        var run = await AwsAsync(EcrStandIn.DefaultSecretAccessKey);

        Assert.True(run.ExitCode == 0, run.ToString());
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.True(request.Public);
        Assert.Equal(("us-east-1", "ecr-public"), (request.Region, request.Service));
        Assert.Equal("{}", request.Body);
        using var document = JsonDocument.Parse(run.StandardOutput);
        var data = document.RootElement.GetProperty("authorizationData");
        Assert.Equal(JsonValueKind.Object, data.ValueKind);
        Assert.Equal(EcrStandIn.PublicToken(), data.GetProperty("authorizationToken").GetString());
        Assert.Equal(expires, StandInFidelityTests.CliTimestamp(data.GetProperty("expiresAt")));
    }

    [ToolFact("aws")]
    public async Task The_cli_reads_the_stand_ins_throttling_and_server_errors()
    {
        foreach (var (fault, code, message) in new[] { (EcrFault.Throttle, "(ThrottlingException)", "Rate exceeded"), (EcrFault.ServerError, "(ServerException)", "internal error") })
        {
            StandIn.Enqueue(fault);

            var run = await AwsAsync(EcrStandIn.DefaultSecretAccessKey);

            Assert.NotEqual(0, run.ExitCode);
            Assert.Contains(code, run.StandardError, StringComparison.Ordinal);
            Assert.Contains(message, run.StandardError, StringComparison.Ordinal);
        }

        Assert.All(StandIn.Requests, r => Assert.True(r.Public && r.SignatureValid));
    }

    [ToolFact("aws")]
    public async Task The_stand_in_rejects_a_botocore_signature_made_with_the_wrong_secret()
    {
        var run = await AwsAsync("wrong-secret");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("(InvalidSignatureException)", run.StandardError, StringComparison.Ordinal);
        Assert.False(Assert.Single(StandIn.Requests).SignatureValid);
    }

    [ToolFact("aws")]
    public async Task The_stand_in_rejects_a_valid_botocore_signature_scoped_to_another_region()
    {
        var run = await AwsAsync(EcrStandIn.DefaultSecretAccessKey, region: "us-west-2");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("expected us-east-1/ecr-public, got us-west-2/ecr-public", run.StandardError, StringComparison.Ordinal);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.True(request.Public);
    }
}
