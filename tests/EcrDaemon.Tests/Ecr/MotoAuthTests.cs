using Amazon.Runtime;
using EcrDaemon.Ecr;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// Against moto with authentication on: moto (with botocore) verifies our SigV4 signatures and
/// evaluates IAM policies, and answers failures with XML error documents.
/// </summary>
public sealed class MotoAuthTests(MotoAuthServer moto) : IClassFixture<MotoAuthServer>
{
    private async Task<(RegistryTokenResult Result, CountingEcrClient Calls)> FetchAsync(string accessKeyId, string secretAccessKey)
    {
        var settings = EcrTestServices.FastSettings();
        settings["EcrDaemon:Registries:0:Region"] = "us-east-1";
        settings["EcrDaemon:Registries:0:Endpoint"] = moto.Endpoint.ToString();
        CountingEcrClient? counter = null;
        await using var services = EcrTestServices.Build(settings, new BasicAWSCredentials(accessKeyId, secretAccessKey),
            customize: CountingEcrClient.Register(c => counter = c));
        return (Assert.Single(await EcrTestServices.FetchAsync(services)), counter!);
    }

    [ToolFact("moto_server", "aws")]
    public async Task Moto_accepts_our_signature_and_hands_out_a_token()
    {
        var (result, _) = await FetchAsync(moto.Puller.AccessKeyId, moto.Puller.SecretAccessKey);

        Assert.Null(result.Failure);
        Assert.Equal("123456789012.dkr.ecr.us-east-1.amazonaws.com", result.Token!.RegistryHost);
    }

    [ToolFact("moto_server", "aws")]
    public async Task A_wrong_secret_key_is_a_permanent_invalid_credentials_failure_without_retries()
    {
        var (result, calls) = await FetchAsync(moto.Puller.AccessKeyId, "wrong-secret-key-0000000000000000000000");

        Assert.Equal(EcrFailureReason.InvalidCredentials, result.Failure!.Reason);
        Assert.False(result.Failure.IsTransient);
        Assert.Contains("SignatureDoesNotMatch", result.Failure.Message, StringComparison.Ordinal);
        Assert.Contains("secret access key", result.Failure.Message, StringComparison.Ordinal);
        Assert.Single(calls.Calls);
    }

    [ToolFact("moto_server", "aws")]
    public async Task A_user_without_the_permission_gets_access_denied_naming_it()
    {
        var (result, calls) = await FetchAsync(moto.NoPolicy.AccessKeyId, moto.NoPolicy.SecretAccessKey);

        Assert.Equal(EcrFailureReason.AccessDenied, result.Failure!.Reason);
        Assert.Equal("access_denied", result.Failure.ReasonLabel);
        Assert.False(result.Failure.IsTransient);
        Assert.Contains("the credentials lack ecr:GetAuthorizationToken", result.Failure.Message, StringComparison.Ordinal);
        Assert.Single(calls.Calls);
    }

    [ToolFact("moto_server", "aws")]
    public async Task An_unknown_access_key_is_not_recognised()
    {
        var (result, _) = await FetchAsync("AKIANOSUCHKEY0000000", "whatever");

        Assert.Equal(EcrFailureReason.InvalidCredentials, result.Failure!.Reason);
        Assert.Contains("InvalidClientTokenId", result.Failure.Message, StringComparison.Ordinal);
    }

    [ToolFact("moto_server", "aws")]
    public async Task Check_exits_1_and_prints_the_reason_when_a_registry_fails()
    {
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = moto.NoPolicy.AccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = moto.NoPolicy.SecretAccessKey,
            ["AWS_REGION"] = "us-east-1",
            ["AWS_ENDPOINT_URL_ECR"] = moto.Endpoint.ToString(),
        }, "check");

        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardOutput));
        Assert.StartsWith("FAIL  default registry in us-east-1  access_denied (permanent): access denied: the credentials lack ecr:GetAuthorizationToken", line, StringComparison.Ordinal);
        Assert.Contains("credentials: environment", line, StringComparison.Ordinal);
        Assert.DoesNotContain(moto.NoPolicy.SecretAccessKey, run.Output, StringComparison.Ordinal);
    }
}
