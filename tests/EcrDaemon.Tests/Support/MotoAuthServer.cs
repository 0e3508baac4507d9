using System.Text.Json;
using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// moto with request authentication on (INITIAL_NO_AUTH_ACTION_COUNT): after the set-up calls it
/// verifies every request's SigV4 signature with botocore and evaluates IAM policies. Set up with
/// the real aws CLI: user "puller" may call ecr:GetAuthorizationToken; user "nopolicy" may not.
/// </summary>
public sealed class MotoAuthServer : MotoServer
{
    private const int SetUpCalls = 5;

    public (string AccessKeyId, string SecretAccessKey) Puller { get; private set; }

    public (string AccessKeyId, string SecretAccessKey) NoPolicy { get; private set; }

    protected override IReadOnlyDictionary<string, string> ServerEnvironment { get; } =
        new Dictionary<string, string> { ["INITIAL_NO_AUTH_ACTION_COUNT"] = SetUpCalls.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    protected override async Task SetUpAsync()
    {
        if (Tools.Find("aws") is null)
        {
            return;
        }

        const string policy = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken"],"Resource":"*"}]}""";
        await Aws("iam", "create-user", "--user-name", "puller");
        Puller = ReadKey(await Aws("iam", "create-access-key", "--user-name", "puller"));
        await Aws("iam", "put-user-policy", "--user-name", "puller", "--policy-name", "ecr-pull", "--policy-document", policy);
        await Aws("iam", "create-user", "--user-name", "nopolicy");
        NoPolicy = ReadKey(await Aws("iam", "create-access-key", "--user-name", "nopolicy"));
    }

    private async Task<string> Aws(params string[] arguments)
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "AKIDSETUP",
            ["AWS_SECRET_ACCESS_KEY"] = "setup",
            ["AWS_DEFAULT_REGION"] = "us-east-1",
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["AWS_PROFILE"] = null,
            ["AWS_ENDPOINT_URL"] = null,
        };
        var result = await Tools.RunAsync(Tools.Require("aws"), [.. arguments, "--endpoint-url", Endpoint.ToString(), "--output", "json"], env);
        return result.ExitCode == 0 ? result.StandardOutput : throw new InvalidOperationException($"aws {string.Join(' ', arguments)}: {result}");
    }

    private static (string, string) ReadKey(string json)
    {
        using var document = JsonDocument.Parse(json);
        var key = document.RootElement.GetProperty("AccessKey");
        return (key.GetProperty("AccessKeyId").GetString()!, key.GetProperty("SecretAccessKey").GetString()!);
    }
}
