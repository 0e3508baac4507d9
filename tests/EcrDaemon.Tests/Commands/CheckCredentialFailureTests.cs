using System.Net;
using System.Net.Sockets;
using EcrDaemon.StandIns;
using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// <c>check</c>, the built program as a process with the real default credential chain, when a
/// credential source or the transport to ECR fails: one FAIL line naming a classified reason, exit 1, never a crash.
/// </summary>
public sealed class CheckCredentialFailureTests : StandInTest
{
    public const string RoleArn = "arn:aws:iam::555555555555:role/ecr-daemon";

    [Theory]
    [InlineData("container endpoint refused", "network (transient)")]
    [InlineData("container endpoint 500", "network (transient)")]
    [InlineData("container endpoint garbage", "network (transient)")]
    [InlineData("web identity token file missing", "invalid_credentials (permanent)")]
    [InlineData("web identity token file unreadable", "invalid_credentials (permanent)")]
    [InlineData("sts refusing", "access_denied (permanent)")]
    [InlineData("ecr body truncated", "network (transient): ecr:GetAuthorizationToken at 127.0.0.1")]
    [InlineData("ecr connection reset mid-body", "network (transient)")]
    public async Task A_failing_source_is_a_FAIL_line_and_exit_1(string fault, string expected)
    {
        await using var credentials = await CredentialsStandIn.StartAsync();
        var home = Directory.CreateTempSubdirectory("ecrdaemon-check-fault-");
        try
        {
            var env = FaultEnvironment(fault, StandIn, credentials, home.FullName);
            env["EcrDaemon__Ecr__Retry__MaxAttempts"] = "2";
            env["EcrDaemon__Ecr__Retry__BaseDelay"] = "00:00:00.050";

            var run = await DaemonProcess.RunAsync(env, "check");

            Assert.True(run.ExitCode == 1, run.ToString());
            Assert.DoesNotContain("Unhandled exception", run.Output, StringComparison.Ordinal);
            var line = Assert.Single(MotoTests.Lines(run.StandardOutput));
            Assert.StartsWith("FAIL  default registry in us-west-2  ", line, StringComparison.Ordinal);
            Assert.True(line.Contains(expected, StringComparison.Ordinal), line);
            if (fault == "ecr body truncated")
            {
                Assert.True(line.Contains("the connection broke: HttpIOException", StringComparison.Ordinal), line); // the body, not the connect, failed
            }

            Assert.DoesNotContain(EcrStandIn.ContainerSecretAccessKey, run.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(EcrStandIn.DefaultSecretAccessKey, run.Output, StringComparison.Ordinal);
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }

    /// <summary>The environment (real default chain, nothing inherited) in which <paramref name="fault"/> happens.</summary>
    internal static Dictionary<string, string?> FaultEnvironment(string fault, EcrStandIn ecr, CredentialsStandIn credentials, string dir)
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_REGION"] = ecr.Region,
            ["AWS_ENDPOINT_URL_ECR"] = ecr.Endpoint.ToString(),
            ["AWS_ENDPOINT_URL_STS"] = credentials.Endpoint.ToString(),
        };
        var tokenFile = Path.Combine(dir, "web-identity-token");
        switch (fault)
        {
            case "container endpoint refused":
                env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = $"http://127.0.0.1:{ClosedPort()}/container-credentials";
                env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = EcrStandIn.ContainerAuthorizationToken;
                break;
            case "container endpoint 500" or "container endpoint garbage":
                credentials.Mode = fault.EndsWith("500", StringComparison.Ordinal) ? CredentialsMode.ServerError : CredentialsMode.Garbage;
                env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = credentials.ContainerCredentialsUri.ToString();
                env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = EcrStandIn.ContainerAuthorizationToken;
                break;
            case "web identity token file missing" or "web identity token file unreadable" or "sts refusing":
                if (fault.EndsWith("unreadable", StringComparison.Ordinal))
                {
                    Directory.CreateDirectory(tokenFile); // a directory: reading it fails, also for root
                }
                else if (fault == "sts refusing")
                {
                    File.WriteAllText(tokenFile, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlY3ItZGFlbW9uIn0.c2ln");
                    credentials.Mode = CredentialsMode.AccessDenied;
                }

                env["AWS_WEB_IDENTITY_TOKEN_FILE"] = tokenFile;
                env["AWS_ROLE_ARN"] = RoleArn;
                break;
            case "ecr body truncated" or "ecr connection reset mid-body":
                ecr.Enqueue(fault.Contains("truncated", StringComparison.Ordinal) ? EcrFault.TruncatedBody : EcrFault.ResetMidBody, 100);
                env["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId;
                env["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey;
                break;
            default:
                throw new ArgumentException($"unknown fault {fault}", nameof(fault));
        }

        return env;
    }

    /// <summary>A port on 127.0.0.1 that nothing listens on (it was free a moment ago).</summary>
    internal static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
