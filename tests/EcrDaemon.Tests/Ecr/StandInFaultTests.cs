using EcrDaemon.Diagnostics;
using EcrDaemon.StandIns;
using Amazon.Runtime;
using EcrDaemon.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>The daemon's ECR client and retry policy against the in-process stand-in, over real HTTP.</summary>
public sealed class StandInFaultTests : StandInTest
{
    private async Task<RegistryTokenResult> FetchOneAsync(
        Action<Dictionary<string, string?>>? tweak = null, AWSCredentials? credentials = null, CapturingLoggerProvider? logs = null)
    {
        var settings = EcrTestServices.ForStandIn(StandIn, [null]);
        tweak?.Invoke(settings);
        await using var services = EcrTestServices.Build(settings, credentials, logs);
        return Assert.Single(await EcrTestServices.FetchAsync(services));
    }

    [Fact]
    public async Task Default_registry_token_is_decoded_from_a_signed_request()
    {
        var expires = DateTimeOffset.UtcNow.AddHours(12);
        StandIn.ExpiresAt = expires;

        var result = await FetchOneAsync();

        Assert.Null(result.Failure);
        var token = result.Token!;
        Assert.Equal("123456789012.dkr.ecr.us-west-2.amazonaws.com", token.RegistryHost);
        Assert.Equal("AWS", token.Username);
        Assert.Equal(EcrStandIn.PasswordFor("123456789012"), token.Password);
        Assert.Equal(expires.ToUnixTimeMilliseconds(), token.ExpiresAt.ToUnixTimeMilliseconds());
        Assert.Equal("test credentials", result.CredentialSource);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.Equal(("us-west-2", "ecr"), (request.Region, request.Service));
        Assert.Empty(request.RegistryIds);
    }

    [Fact]
    public async Task Registries_sharing_credentials_and_region_share_one_call()
    {
        var settings = EcrTestServices.ForStandIn(StandIn, "111111111111", "222222222222", null, "111111111111");
        await using var services = EcrTestServices.Build(settings);

        var results = await EcrTestServices.FetchAsync(services);

        Assert.All(results, r => Assert.Null(r.Failure));
        Assert.Equal(
            [StandIn.HostFor("111111111111"), StandIn.HostFor("222222222222"), StandIn.HostFor("123456789012"), StandIn.HostFor("111111111111")],
            results.Select(r => r.Token!.RegistryHost));
        Assert.Equal(EcrStandIn.PasswordFor("222222222222"), results[1].Token!.Password);
        Assert.Equal(2, StandIn.RequestCount);
        Assert.Contains(StandIn.Requests, r => r.RegistryIds.SequenceEqual(["111111111111", "222222222222"]));
        Assert.Contains(StandIn.Requests, r => r.RegistryIds.Count == 0);
    }

    [Fact]
    public async Task Throttling_is_retried_until_success()
    {
        StandIn.Enqueue(EcrFault.Throttle, 2);
        var logs = new CapturingLoggerProvider();

        var result = await FetchOneAsync(logs: logs);

        Assert.NotNull(result.Token);
        Assert.Equal(3, StandIn.RequestCount);
        var retries = logs.Entries.Where(e => e.EventId.Id == LogEvents.RetryingEcr).ToList();
        Assert.Equal(2, retries.Count);
        Assert.All(retries, e => Assert.Contains("throttled", e.Message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(EcrFault.Throttle, 3)]
    [InlineData(EcrFault.ServerError, 3)]
    [InlineData(EcrFault.MalformedJson, 1)]
    [InlineData(EcrFault.XmlBody, 2)]
    public async Task Transient_faults_are_retried_until_success(EcrFault fault, int count)
    {
        StandIn.Enqueue(fault, count);

        var result = await FetchOneAsync();

        Assert.NotNull(result.Token);
        Assert.Equal(count + 1, StandIn.RequestCount);
    }

    [Fact]
    public async Task Persistent_500s_stop_after_max_attempts_as_a_transient_failure()
    {
        StandIn.Enqueue(EcrFault.ServerError, 10);

        var result = await FetchOneAsync(s => s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "3");

        Assert.Null(result.Token);
        Assert.Equal(EcrFailureReason.Other, result.Failure!.Reason);
        Assert.True(result.Failure.IsTransient);
        Assert.Contains("HTTP 500", result.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(3, StandIn.RequestCount);
    }

    [Fact]
    public async Task A_response_slower_than_the_timeout_is_abandoned_and_retried()
    {
        StandIn.Enqueue(EcrFault.Slow);
        var logs = new CapturingLoggerProvider();

        var result = await FetchOneAsync(s => s["EcrDaemon:Ecr:Timeout"] = "00:00:01", logs: logs);

        Assert.NotNull(result.Token);
        Assert.Equal(EcrFault.Slow, StandIn.Requests[0].Fault);
        Assert.InRange(StandIn.RequestCount, 2, 4);
        Assert.Contains(logs.Entries, e => e.EventId.Id == LogEvents.RetryingEcr && e.Message.Contains("timeout", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Only_slow_responses_end_in_a_timeout_failure()
    {
        StandIn.Enqueue(EcrFault.Slow, 2);
        var logs = new CapturingLoggerProvider();

        var result = await FetchOneAsync(s =>
        {
            s["EcrDaemon:Ecr:Timeout"] = "00:00:00.300";
            s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "2";
        }, logs: logs);

        Assert.Equal(EcrFailureReason.Timeout, result.Failure!.Reason);
        Assert.True(result.Failure.IsTransient);

        // Two attempts, counted where they are made: one retry after the first timeout. The stand-in
        // may see only one of them: the 300 ms timeout covers connecting, signing and sending, and on a
        // loaded machine the first attempt can time out before its request arrives (seen in a full run).
        Assert.Single(logs.Entries, e => e.EventId.Id == LogEvents.RetryingEcr);
        Assert.InRange(StandIn.RequestCount, 1, 2);
        Assert.All(StandIn.Requests, r => Assert.Equal(EcrFault.Slow, r.Fault));
    }

    [Fact]
    public async Task The_total_retry_bound_stops_retries_of_slow_responses()
    {
        StandIn.Enqueue(EcrFault.Slow, 20);

        var result = await FetchOneAsync(s =>
        {
            s["EcrDaemon:Ecr:Timeout"] = "00:00:00.400";
            s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "20";
            s["EcrDaemon:Ecr:Retry:TotalTimeout"] = "00:00:01";
        });

        Assert.Equal(EcrFailureReason.Timeout, result.Failure!.Reason);
        Assert.Contains("total retry bound", result.Failure.Message, StringComparison.Ordinal);
        // Each attempt lasts at least the 0.4 s timeout, so a 1 s bound allows at most three.
        Assert.InRange(StandIn.RequestCount, 1, 3);
    }

    [Theory]
    [InlineData(EcrFault.MalformedJson, "not valid JSON")]
    [InlineData(EcrFault.XmlBody, "XML document")]
    [InlineData(EcrFault.BadBase64Token, "authorizationToken is not valid base64")]
    [InlineData(EcrFault.TokenWithoutColon, "no ':'")]
    [InlineData(EcrFault.BadProxyEndpoint, "proxyEndpoint is not an http(s) URL")]
    [InlineData(EcrFault.EmptyAuthorizationData, "authorizationData is empty")]
    [InlineData(EcrFault.MissingExpiresAt, "has no numeric expiresAt")]
    public async Task A_malformed_response_is_a_clear_invalid_response_failure(EcrFault fault, string expected)
    {
        StandIn.Enqueue(fault);

        var result = await FetchOneAsync(s => s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "1");

        Assert.Null(result.Token);
        Assert.Equal(EcrFailureReason.InvalidResponse, result.Failure!.Reason);
        Assert.Equal("invalid_response", result.Failure.ReasonLabel);
        Assert.Contains(expected, result.Failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(EcrStandIn.PasswordFor("123456789012"), result.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, StandIn.RequestCount);
    }

    [Fact]
    public async Task An_xml_access_denied_error_is_permanent_names_the_permission_and_is_not_retried()
    {
        StandIn.Enqueue(EcrFault.XmlAccessDenied, 5);

        var result = await FetchOneAsync();

        Assert.Equal(EcrFailureReason.AccessDenied, result.Failure!.Reason);
        Assert.False(result.Failure.IsTransient);
        Assert.Contains("the credentials lack ecr:GetAuthorizationToken", result.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, StandIn.RequestCount);
    }

    [Fact]
    public async Task A_wrong_secret_key_fails_the_signature_check_permanently()
    {
        var result = await FetchOneAsync(credentials: new BasicAWSCredentials(EcrStandIn.DefaultAccessKeyId, "not-the-secret"));

        Assert.Equal(EcrFailureReason.InvalidCredentials, result.Failure!.Reason);
        Assert.False(result.Failure.IsTransient);
        Assert.Contains("InvalidSignatureException", result.Failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", result.Failure.Message, StringComparison.Ordinal);
        Assert.False(Assert.Single(StandIn.Requests).SignatureValid);
    }

    [Fact]
    public async Task An_unknown_access_key_is_reported_as_not_recognised()
    {
        var result = await FetchOneAsync(credentials: new BasicAWSCredentials("AKIAUNKNOWN000000000", "whatever"));

        Assert.Equal(EcrFailureReason.InvalidCredentials, result.Failure!.Reason);
        Assert.Contains("not recognised", result.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, StandIn.RequestCount);
    }

    [Fact]
    public async Task The_request_is_signed_for_the_registry_region_which_the_stand_in_checks()
    {
        var result = await FetchOneAsync(s => s["EcrDaemon:Registries:0:Region"] = "eu-west-1");

        Assert.Equal(EcrFailureReason.InvalidCredentials, result.Failure!.Reason);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.Equal(("eu-west-1", "ecr"), (request.Region, request.Service));
    }

    [Fact]
    public async Task Session_credentials_send_a_signed_security_token()
    {
        StandIn.AddCredentials("ASIASESSION000000001", "session-secret", "session-token-value");

        var result = await FetchOneAsync(credentials: new SessionAWSCredentials("ASIASESSION000000001", "session-secret", "session-token-value"));

        Assert.NotNull(result.Token);
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.True(request.HasSessionToken);
    }

    [Fact]
    public async Task An_expiry_in_the_past_is_accepted_with_a_warning()
    {
        StandIn.ExpiresAt = new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var logs = new CapturingLoggerProvider();

        var result = await FetchOneAsync(logs: logs);

        Assert.Equal(new DateTimeOffset(2015, 1, 1, 0, 0, 0, TimeSpan.Zero), result.Token!.ExpiresAt);
        Assert.Equal(1, StandIn.RequestCount);
        var warning = Assert.Single(logs.Entries, e => e.EventId.Id == LogEvents.TokenAlreadyExpired);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains("123456789012.dkr.ecr.us-west-2.amazonaws.com", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_connection_is_a_transient_network_failure()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        var result = await FetchOneAsync(s =>
        {
            s["EcrDaemon:Registries:0:Endpoint"] = $"http://127.0.0.1:{port}/";
            s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "2";
        });

        Assert.Equal(EcrFailureReason.Network, result.Failure!.Reason);
        Assert.True(result.Failure.IsTransient);
        Assert.Contains($"127.0.0.1:{port}", result.Failure.Message, StringComparison.Ordinal);
    }
}
