using Amazon.Runtime;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>Against a real moto_server: in process, and through the built daemon's <c>check</c> command.</summary>
public sealed class MotoTests(MotoServer moto) : IClassFixture<MotoServer>
{
    private static readonly BasicAWSCredentials MotoKeys = new("AKIAMOTOTESTKEY00001", "moto-secret-key-never-printed-12345");
    private static readonly DateTimeOffset MotoExpiry = new(2015, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private Dictionary<string, string?> Registries(params (string Region, string? AccountId)[] registries)
    {
        var settings = EcrTestServices.FastSettings();
        for (var i = 0; i < registries.Length; i++)
        {
            settings[$"EcrDaemon:Registries:{i}:Region"] = registries[i].Region;
            settings[$"EcrDaemon:Registries:{i}:AccountId"] = registries[i].AccountId;
            settings[$"EcrDaemon:Registries:{i}:Endpoint"] = moto.Endpoint.ToString();
        }

        return settings;
    }

    [ToolFact("moto_server")]
    public async Task Default_registry_token_from_moto()
    {
        await using var services = EcrTestServices.Build(Registries(("us-west-2", null)), MotoKeys);

        var result = Assert.Single(await EcrTestServices.FetchAsync(services));

        Assert.Null(result.Failure);
        Assert.Equal("123456789012.dkr.ecr.us-west-2.amazonaws.com", result.Token!.RegistryHost);
        Assert.Equal("AWS", result.Token.Username);
        Assert.Equal("123456789012-auth-token", result.Token.Password);
        Assert.Equal(MotoExpiry, result.Token.ExpiresAt);
    }

    [ToolFact("moto_server")]
    public async Task Several_registry_ids_go_in_one_call_per_region()
    {
        CountingEcrClient? counter = null;
        await using var services = EcrTestServices.Build(
            Registries(("eu-central-1", "111111111111"), ("eu-central-1", "222222222222"), ("us-west-2", "333333333333")),
            MotoKeys,
            customize: CountingEcrClient.Register(c => counter = c));

        var results = await EcrTestServices.FetchAsync(services);

        Assert.Equal(
            ["111111111111.dkr.ecr.eu-central-1.amazonaws.com", "222222222222.dkr.ecr.eu-central-1.amazonaws.com", "333333333333.dkr.ecr.us-west-2.amazonaws.com"],
            results.Select(r => r.Token?.RegistryHost));
        Assert.Equal(["111111111111-auth-token", "222222222222-auth-token", "333333333333-auth-token"], results.Select(r => r.Token!.Password));
        Assert.Equal([["111111111111", "222222222222"], ["333333333333"]], counter!.Calls);
    }

    [ToolFact("moto_server")]
    public async Task Check_assumes_the_role_through_moto_sts()
    {
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = MotoKeys.GetCredentials().AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = MotoKeys.GetCredentials().SecretKey,
            ["AWS_REGION"] = "us-west-2",
            ["AWS_ENDPOINT_URL_ECR"] = moto.Endpoint.ToString(),
            ["AWS_ENDPOINT_URL_STS"] = moto.Endpoint.ToString(),
            ["EcrDaemon__Registries__0__RoleArn"] = "arn:aws:iam::222222222222:role/puller",
            ["EcrDaemon__Registries__0__ExternalId"] = "ext-123",
        }, "check");

        // moto hands an assumed role the default registry of the role's account: proof that the
        // ECR call was signed with the assumed credentials.
        AssertExpiredTokenFail(run, "222222222222.dkr.ecr.us-west-2.amazonaws.com", "assume-role arn:aws:iam::222222222222:role/puller via environment");
    }

    [ToolFact("moto_server")]
    public async Task Check_works_with_only_the_seed_variables_and_AWS_ENDPOINT_URL_ECR()
    {
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = MotoKeys.GetCredentials().AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = MotoKeys.GetCredentials().SecretKey,
            ["AWS_REGION"] = "eu-west-1",
            ["AWS_ACCOUNT"] = "111122223333",
            ["AWS_ENDPOINT_URL_ECR"] = moto.Endpoint.ToString(),
            // The service-specific variable wins over the global one, as in the AWS SDKs.
            ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9/",
        }, "check");

        AssertExpiredTokenFail(run, "111122223333.dkr.ecr.eu-west-1.amazonaws.com", "environment");
        Assert.Contains("expired already", run.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("moto_server")]
    public async Task Check_uses_a_shared_profile_and_AWS_ENDPOINT_URL()
    {
        var dir = Directory.CreateTempSubdirectory("ecrdaemon-profile-");
        try
        {
            var file = Path.Combine(dir.FullName, "credentials");
            await File.WriteAllTextAsync(file,
                $"[default]\naws_access_key_id = {MotoKeys.GetCredentials().AccessKey}\naws_secret_access_key = {MotoKeys.GetCredentials().SecretKey}\n");

            var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
            {
                ["AWS_SHARED_CREDENTIALS_FILE"] = file,
                ["AWS_ENDPOINT_URL"] = moto.Endpoint.ToString(),
                ["EcrDaemon__Registries__0__Region"] = "ap-southeast-2",
            }, "check");

            AssertExpiredTokenFail(run, "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com", "profile default");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// moto's tokens expired on 2015-01-01: check reports them as a FAIL (exit 1) that says so, once the call itself worked
    /// (the host and the credentials prove which account and which credentials answered).
    /// </summary>
    internal static void AssertExpiredTokenFail(ProcessResult run, string host, string credentials)
    {
        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(Lines(run.StandardOutput));
        Assert.StartsWith($"FAIL  {host}  expired: the token expired at 2015-01-01T00:00:00Z, ", line, StringComparison.Ordinal);
        Assert.Contains(" ago: a pull with it fails; the local clock or the server is wrong  ", line, StringComparison.Ordinal);
        Assert.Contains($"  credentials: {credentials}  endpoint: ", line, StringComparison.Ordinal);
    }

    internal static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
