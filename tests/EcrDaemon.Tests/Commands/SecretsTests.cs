using EcrDaemon.Diagnostics;
using EcrDaemon.StandIns;
using Amazon.Runtime;
using EcrDaemon.Aws;
using EcrDaemon.Commands;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>No token, password, secret key or session token in any log line or printed output.</summary>
public sealed class SecretsTests(MotoServer moto) : StandInTest, IClassFixture<MotoServer>
{
    private const string SessionAccessKey = "ASIASECRETSTEST00001";
    private const string SessionSecret = "session-secret-key-must-not-leak-987654321";
    private const string SessionToken = "session-token-must-not-leak-FwoGZXIvYXdzEJr";

    [Fact]
    public async Task A_full_check_run_with_retries_failures_and_expired_tokens_logs_no_secret()
    {
        StandIn.AddCredentials(SessionAccessKey, SessionSecret, SessionToken);
        StandIn.ExpiresAt = new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero);
        // The default registry's call: throttled, a 500, too slow, then a token. The ids call: tokens.
        StandIn.Enqueue(EcrFault.Throttle);
        StandIn.Enqueue(EcrFault.ServerError);
        StandIn.Enqueue(EcrFault.Slow);
        var logs = new CapturingLoggerProvider();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var settings = EcrTestServices.ForStandIn(StandIn, null, "111111111111", "222222222222");
        settings["EcrDaemon:Ecr:Timeout"] = "00:00:02";
        // A registry in another region: the stand-in rejects its signature scope, a permanent failure.
        settings["EcrDaemon:Registries:3:Region"] = "eu-west-1";
        settings["EcrDaemon:Registries:3:AccountId"] = "333333333333";
        settings["EcrDaemon:Registries:3:Endpoint"] = StandIn.Endpoint.ToString();
        settings["Logging:LogLevel:Default"] = "Trace";
        settings["Logging:LogLevel:Microsoft"] = "Trace";
        settings["Logging:LogLevel:System"] = "Trace";

        var exit = await CommandDispatcher.RunAsync(["check"], stdout, stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Services.Replace(ServiceDescriptor.Singleton<IAwsCredentialSource>(
                new StaticCredentialSource(new SessionAWSCredentials(SessionAccessKey, SessionSecret, SessionToken), "environment")));
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
        });

        var everything = $"{logs.AllText}\n{stdout}\n{stderr}";
        Assert.True(exit == 1, everything);
        var lines = MotoTests.Lines(stdout.ToString());
        Assert.Equal(4, lines.Length);
        // The stand-in's tokens expired in 2015: check fetches them, then fails them for it.
        Assert.Equal(3, lines.Count(l => l.StartsWith("FAIL  ", StringComparison.Ordinal) && l.Contains("  expired: the token expired at 2015-01-01T00:00:00Z, ", StringComparison.Ordinal)));
        Assert.StartsWith("FAIL  333333333333 in eu-west-1  invalid_credentials (permanent)", lines[3], StringComparison.Ordinal);
        // The capture did see the run: retries, the token, the expiry warning and the failure.
        Assert.Contains(logs.Entries, e => e.EventId.Id == LogEvents.RetryingEcr);
        Assert.Contains(logs.Entries, e => e.EventId.Id == LogEvents.TokenAlreadyExpired);
        Assert.Contains(logs.Entries, e => e.EventId.Id == LogEvents.TokenFailed);
        Assert.True(everything.Contains("123456789012.dkr.ecr.us-west-2.amazonaws.com", StringComparison.Ordinal), everything);
        foreach (var secret in new[]
        {
            SessionSecret, SessionToken, EcrStandIn.DefaultSecretAccessKey,
            EcrStandIn.PasswordFor("123456789012"), EcrStandIn.TokenFor("123456789012"),
            EcrStandIn.PasswordFor("111111111111"), EcrStandIn.TokenFor("111111111111"),
        })
        {
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
        }
    }

    [ToolFact("moto_server")]
    public async Task The_built_daemon_prints_no_secret_at_trace_level()
    {
        const string secret = "process-secret-key-must-not-leak-0000000";

        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "AKIAPROCESSTEST00001",
            ["AWS_SECRET_ACCESS_KEY"] = secret,
            ["AWS_REGION"] = "us-west-2",
            ["AWS_ACCOUNT"] = "444455556666",
            ["AWS_ENDPOINT_URL_ECR"] = moto.Endpoint.ToString(),
            ["Logging__LogLevel__Default"] = "Trace",
            ["Logging__LogLevel__Microsoft"] = "Trace",
            ["Logging__LogLevel__System"] = "Trace",
        }, "check");

        // moto's token expired in 2015: a FAIL, after the whole call went through at trace level.
        MotoTests.AssertExpiredTokenFail(run, "444455556666.dkr.ecr.us-west-2.amazonaws.com", "environment");
        Assert.DoesNotContain(secret, run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("444455556666-auth-token", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String("AWS:444455556666-auth-token"u8), run.Output, StringComparison.Ordinal);
    }
}
