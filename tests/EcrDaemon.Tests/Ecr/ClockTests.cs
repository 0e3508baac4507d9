using EcrDaemon.Commands;
using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using EcrDaemon.StandIns;
using EcrDaemon.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// Issue 21, part 3: <c>check</c> is honest about time. A token expiring within MinRefreshInterval is a FAIL; a local
/// clock more than 60 s off ECR's <c>Date</c> header is a warning in <c>check</c> and a log line (as in <c>run</c>, whose
/// refresher fetches through the same <see cref="EcrTokenService"/>); a SigV4 rejection for time is <c>clock_skew</c>,
/// permanent (one request, no retry). The ECR stand-in's <see cref="EcrStandIn.ClockOffset"/> moves its clock.
/// (An already expired token comes from moto: <see cref="MotoTests"/> and <see cref="CredentialChainTests"/>.)
/// </summary>
public sealed class ClockTests : StandInTest
{
    [Theory]
    [InlineData(120, "behind")]
    [InlineData(-120, "ahead of")]
    public async Task Check_warns_when_the_local_clock_is_more_than_a_minute_off_ECRs_Date_and_still_succeeds(int offsetSeconds, string direction)
    {
        StandIn.ClockOffset = TimeSpan.FromSeconds(offsetSeconds);

        var (exit, stdout, stderr, logs) = await CheckAsync();

        Assert.True(exit == 0, $"{stdout}\n{stderr}");
        var lines = MotoTests.Lines(stdout);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"ok    {StandIn.HostFor(StandIn.DefaultAccountId)}  expires ", lines[0], StringComparison.Ordinal);
        Assert.Matches($"^warn  clock: the local clock is (1 min 5[0-9] s|2 min [0-9] s) {direction} {StandIn.Endpoint.Authority}'s \\(its Date header\\); "
            + "SigV4 requests fail beyond 5 minutes: fix the clock \\(NTP\\)$", lines[1]);
        var logged = Assert.Single(logs.Entries, e => e.EventId.Id == LogEvents.ClockSkewed);
        Assert.Equal(LogLevel.Warning, logged.Level);
    }

    [Fact]
    public async Task Check_says_nothing_about_the_clock_when_it_agrees_with_ECRs()
    {
        var (exit, stdout, stderr, logs) = await CheckAsync();

        Assert.True(exit == 0, $"{stdout}\n{stderr}");
        Assert.StartsWith("ok    ", Assert.Single(MotoTests.Lines(stdout)), StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == LogEvents.ClockSkewed);
    }

    [Theory]
    [InlineData(600, "Signature expired: ")]
    [InlineData(-600, "Signature not yet current: ")]
    public async Task A_SigV4_rejection_for_time_is_clock_skew_permanent_and_not_retried(int offsetSeconds, string awsMessage)
    {
        StandIn.ClockOffset = TimeSpan.FromSeconds(offsetSeconds);

        var (exit, stdout, stderr, logs) = await CheckAsync();

        Assert.True(exit == 1, $"{stdout}\n{stderr}");
        var lines = MotoTests.Lines(stdout);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"FAIL  {StandIn.DefaultAccountId} in {StandIn.Region}  clock_skew (permanent): AWS rejected the request's time: "
            + "this machine's clock differs from AWS's by more than SigV4 allows (5 minutes); every request fails until the clock is fixed (check NTP on the node) "
            + $"(HTTP 400: InvalidSignatureException: {awsMessage}", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("warn  clock: the local clock is ", lines[1], StringComparison.Ordinal);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.Contains(logs.Entries, e => e.EventId.Id == LogEvents.ClockSkewed);
        Assert.DoesNotContain(logs.Entries, e => e.EventId.Id == LogEvents.RetryingEcr);
    }

    [Fact]
    public async Task A_token_expiring_within_MinRefreshInterval_is_a_FAIL()
    {
        StandIn.ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(3);

        var (exit, stdout, stderr, _) = await CheckAsync(("EcrDaemon:MinRefreshInterval", "00:10:00"));

        Assert.True(exit == 1, $"{stdout}\n{stderr}");
        Assert.Matches($"^FAIL  {StandIn.HostFor(StandIn.DefaultAccountId)}  expiring: the token expires at [0-9TZ:-]+, in (2 min [0-9]+ s|3 min 0 s), "
            + "within MinRefreshInterval \\(00:10:00\\): the daemon cannot keep a pull secret fresh with it  credentials: environment  endpoint: ",
            Assert.Single(MotoTests.Lines(stdout)));
    }

    [Fact]
    public async Task A_token_expiring_after_MinRefreshInterval_is_ok()
    {
        StandIn.ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(30);

        var (exit, stdout, stderr, _) = await CheckAsync(("EcrDaemon:MinRefreshInterval", "00:10:00"));

        Assert.True(exit == 0, $"{stdout}\n{stderr}");
        Assert.StartsWith("ok    ", Assert.Single(MotoTests.Lines(stdout)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_token_service_measures_the_skew_and_logs_it_for_run()
    {
        StandIn.ClockOffset = TimeSpan.FromMinutes(-3);
        var logs = new CapturingLoggerProvider();
        await using var services = EcrTestServices.Build(EcrTestServices.ForStandIn(StandIn, StandIn.DefaultAccountId), logs: logs);

        var result = Assert.Single(await EcrTestServices.FetchAsync(services));

        Assert.NotNull(result.Token);
        Assert.InRange(result.ClockSkew!.Value.TotalSeconds, -182, -178);
        var logged = Assert.Single(logs.Entries, e => e.EventId.Id == LogEvents.ClockSkewed);
        Assert.Contains(StandIn.Endpoint.Authority, logged.Message, StringComparison.Ordinal);
    }

    private async Task<(int Exit, string Stdout, string Stderr, CapturingLoggerProvider Logs)> CheckAsync(params (string Key, string Value)[] extra)
    {
        var logs = new CapturingLoggerProvider();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var settings = EcrTestServices.ForStandIn(StandIn, StandIn.DefaultAccountId);
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        var exit = await CommandDispatcher.RunAsync(["check"], stdout, stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Services.Replace(ServiceDescriptor.Singleton<EcrDaemon.Aws.IAwsCredentialSource>(
                new StaticCredentialSource(new Amazon.Runtime.BasicAWSCredentials(EcrStandIn.DefaultAccessKeyId, EcrStandIn.DefaultSecretAccessKey), "environment")));
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
        });
        return (exit, stdout.ToString(), stderr.ToString(), logs);
    }
}
