using EcrDaemon.StandIns;
using System.Globalization;
using System.Text.Json;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// The real aws CLI (botocore) against the stand-in: if the CLI cannot parse what the stand-in
/// says, or the stand-in rejects what botocore signs, the stand-in is wrong.
/// </summary>
public sealed class StandInFidelityTests : StandInTest
{
    private Task<ProcessResult> AwsAsync(string secretAccessKey, params string[] extra)
    {
        var env = AwsCliEnvironment(secretAccessKey, "AWS_ENDPOINT_URL_ECR");
        return Tools.RunAsync(Tools.Require("aws"),
            ["ecr", "get-authorization-token", "--endpoint-url", StandIn.Endpoint.ToString(), "--region", StandIn.Region, "--output", "json", .. extra], env);
    }

    [ToolFact("aws")]
    public async Task The_cli_signs_requests_the_stand_in_accepts_and_parses_its_tokens()
    {
        var expires = new DateTimeOffset(2031, 5, 6, 7, 8, 9, 250, TimeSpan.Zero);
        StandIn.ExpiresAt = expires;

        var run = await AwsAsync(EcrStandIn.DefaultSecretAccessKey, "--registry-ids", "111111111111", "222222222222");

        Assert.True(run.ExitCode == 0, run.ToString());
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.Equal(["111111111111", "222222222222"], request.RegistryIds);
        using var document = JsonDocument.Parse(run.StandardOutput);
        var data = document.RootElement.GetProperty("authorizationData").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        Assert.Equal(EcrStandIn.TokenFor("111111111111"), data[0].GetProperty("authorizationToken").GetString());
        Assert.Equal("https://222222222222.dkr.ecr.us-west-2.amazonaws.com", data[1].GetProperty("proxyEndpoint").GetString());
        Assert.Equal(expires, CliTimestamp(data[0].GetProperty("expiresAt")));
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
    }

    [ToolFact("aws")]
    public async Task The_stand_in_rejects_a_botocore_signature_made_with_the_wrong_secret()
    {
        var run = await AwsAsync("wrong-secret");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("(InvalidSignatureException)", run.StandardError, StringComparison.Ordinal);
        Assert.False(Assert.Single(StandIn.Requests).SignatureValid);
    }

    /// <summary>A timestamp the aws CLI printed back after botocore parsed it: epoch seconds (CLI v1) or ISO 8601 (v2).</summary>
    internal static DateTimeOffset CliTimestamp(JsonElement printed) => printed.ValueKind == JsonValueKind.Number
        ? DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(printed.GetDouble() * 1000))
        : DateTimeOffset.Parse(printed.GetString()!, CultureInfo.InvariantCulture);
}
