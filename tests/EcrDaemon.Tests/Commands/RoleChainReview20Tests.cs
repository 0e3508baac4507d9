using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// Review of issue 20: a registry's RoleArn assumed from IRSA web identity credentials (role chaining, the usual
/// cross-account setup on EKS). AssumeRole must be signed with the web identity session; the STS client the
/// registered factory creates for the web identity refresh inside that AssumeRole must still be anonymous.
/// </summary>
[UsesPublishedDaemon]
public sealed class RoleChainReview20Tests : StandInTest
{
    private const string RegistryRole = "arn:aws:iam::222222222222:role/puller";

    [Fact]
    public Task Check_assumes_a_registry_role_from_IRSA_web_identity_credentials() => CheckAsync(published: false);

    [ToolFact("bash")]
    public Task The_published_check_assumes_a_registry_role_from_IRSA_web_identity_credentials() => CheckAsync(published: true);

    private async Task CheckAsync(bool published)
    {
        await using var credentials = await CredentialsStandIn.StartAsync();
        credentials.AssumeRoleSourceKeyId = EcrStandIn.ContainerAccessKeyId; // the web identity session signs AssumeRole
        var home = Directory.CreateTempSubdirectory("ecrdaemon-check-chain-");
        try
        {
            var tokenFile = Path.Combine(home.FullName, "token");
            await File.WriteAllTextAsync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlY3ItZGFlbW9uIn0.c2ln");
            var env = new Dictionary<string, string?>
            {
                ["AWS_REGION"] = StandIn.Region,
                ["AWS_ENDPOINT_URL_ECR"] = StandIn.Endpoint.ToString(),
                ["AWS_ENDPOINT_URL_STS"] = credentials.Endpoint.ToString(),
                ["AWS_WEB_IDENTITY_TOKEN_FILE"] = tokenFile,
                ["AWS_ROLE_ARN"] = CheckCredentialFailureTests.RoleArn,
                ["EcrDaemon__Registries__0__RoleArn"] = RegistryRole,
                ["EcrDaemon__Ecr__Retry__MaxAttempts"] = "1",
            };

            var run = published
                ? await Tools.RunAsync(PublishedDaemon.Executable(await PublishedDaemon.OutputAsync()), ["check"],
                    DaemonProcess.ScrubbedEnvironment(home.FullName, env), TimeSpan.FromSeconds(90))
                : await DaemonProcess.RunAsync(env, "check");

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains($"credentials: assume-role {RegistryRole} via web identity (IRSA)", run.StandardOutput, StringComparison.Ordinal);
            Assert.True(Assert.Single(StandIn.Requests).SignatureValid);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
