using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// The AWS SDK's default credential chain inside the built daemon, for the sources a cluster
/// uses: web identity (IRSA) through moto's STS, and a container credentials endpoint (EKS Pod
/// Identity, ECS) served by the stand-in. Everything stays on 127.0.0.1.
/// </summary>
public sealed class CredentialChainTests(MotoServer moto) : StandInTest, IClassFixture<MotoServer>
{
    [ToolFact("moto_server")]
    public async Task Web_identity_IRSA_credentials_come_from_sts_AssumeRoleWithWebIdentity()
    {
        var dir = Directory.CreateTempSubdirectory("ecrdaemon-irsa-");
        try
        {
            var tokenFile = Path.Combine(dir.FullName, "token");
            await File.WriteAllTextAsync(tokenFile, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZWNyOmRhZW1vbiJ9.c2ln");

            var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
            {
                ["AWS_WEB_IDENTITY_TOKEN_FILE"] = tokenFile,
                ["AWS_ROLE_ARN"] = "arn:aws:iam::555555555555:role/ecr-daemon",
                ["AWS_REGION"] = "us-west-2",
                ["AWS_ENDPOINT_URL"] = moto.Endpoint.ToString(),
            }, "check");

            // moto answers the default registry of the role's account: the call used the role's credentials.
            MotoTests.AssertExpiredTokenFail(run, "555555555555.dkr.ecr.us-west-2.amazonaws.com", "web identity (IRSA)");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Container_credentials_of_EKS_Pod_Identity_are_used_with_their_session_token()
    {
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = StandIn.ContainerCredentialsUri.ToString(),
            ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = EcrStandIn.ContainerAuthorizationToken,
            ["AWS_REGION"] = StandIn.Region,
            ["AWS_ENDPOINT_URL_ECR"] = StandIn.Endpoint.ToString(),
        }, "check");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(
            $"ok    {StandIn.HostFor(StandIn.DefaultAccountId)}  credentials: container (EKS Pod Identity / ECS)",
            System.Text.RegularExpressions.Regex.Replace(Assert.Single(MotoTests.Lines(run.StandardOutput)), "  expires \\S+", ""));
        Assert.True(StandIn.ContainerCredentialsRequests >= 1);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.True(request.HasSessionToken);
        Assert.DoesNotContain(EcrStandIn.ContainerSecretAccessKey, run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(EcrStandIn.ContainerSessionToken, run.Output, StringComparison.Ordinal);
    }
}
