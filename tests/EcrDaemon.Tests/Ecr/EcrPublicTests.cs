using System.Text;
using System.Text.Json;
using Amazon.Runtime;
using EcrDaemon.Ecr;
using EcrDaemon.StandIns;
using EcrDaemon.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// ECR Public (Registries:N:Public): the ecr-public GetAuthorizationToken call against the stand-in (signature
/// checked for us-east-1/ecr-public), its answer's shape, its endpoints, and its failures classified as the private API's.
/// </summary>
public sealed class EcrPublicTests : StandInTest
{
    /// <summary>Registries at the stand-in: an account id for a private one, "public" for ECR Public (no Region: it is us-east-1).</summary>
    private Dictionary<string, string?> Settings(params string[] registries)
    {
        var settings = EcrTestServices.FastSettings();
        for (var i = 0; i < registries.Length; i++)
        {
            settings[$"EcrDaemon:Registries:{i}:Endpoint"] = StandIn.Endpoint.ToString();
            if (registries[i] == "public")
            {
                settings[$"EcrDaemon:Registries:{i}:Public"] = "true";
            }
            else
            {
                settings[$"EcrDaemon:Registries:{i}:Region"] = StandIn.Region;
                settings[$"EcrDaemon:Registries:{i}:AccountId"] = registries[i];
            }
        }

        return settings;
    }

    private async Task<RegistryTokenResult> FetchPublicAsync(Action<Dictionary<string, string?>>? tweak = null, AWSCredentials? credentials = null)
    {
        var settings = Settings("public");
        tweak?.Invoke(settings);
        await using var services = EcrTestServices.Build(settings, credentials);
        return Assert.Single(await EcrTestServices.FetchAsync(services));
    }

    [Fact]
    public async Task A_public_registry_gets_its_token_from_a_signed_ecr_public_call_for_public_ecr_aws()
    {
        var expires = new DateTimeOffset(2031, 5, 6, 7, 8, 9, 250, TimeSpan.Zero);
        StandIn.ExpiresAt = expires;

        var result = await FetchPublicAsync();

        Assert.Null(result.Failure);
        Assert.Equal(new EcrAuthorizationToken("public.ecr.aws", "AWS", EcrStandIn.PublicPassword(), expires), result.Token);
        Assert.True(result.Registry.Public);
        Assert.Equal(("us-east-1", "public.ecr.aws", "ECR Public (public.ecr.aws)"), (result.Registry.Region, result.Registry.ExpectedHost, result.Registry.DisplayName));
        var request = Assert.Single(StandIn.Requests);
        Assert.True(request.SignatureValid);
        Assert.True(request.Public);
        Assert.Equal(("us-east-1", "ecr-public"), (request.Region, request.Service));
        Assert.Equal("{}", request.Body);
    }

    [Fact]
    public async Task The_stand_in_refuses_a_public_call_signed_for_another_service_or_region()
    {
        // The daemon's own client signing ecr-public in us-west-2 (as if the region were not forced) is refused:
        // the stand-in's check is what the test above relies on.
        var settings = Settings("public");
        await using var services = EcrTestServices.Build(settings);
        var client = services.GetRequiredService<IEcrAuthorizationClient>();
        var credentials = new BasicAWSCredentials(EcrStandIn.DefaultAccessKeyId, EcrStandIn.DefaultSecretAccessKey);

        var wrongRegion = await client.GetAuthorizationTokenAsync(new EcrAuthorizationRequest("us-west-2", StandIn.Endpoint, [], credentials) { Public = true }, CancellationToken.None);

        Assert.Equal(EcrFailureReason.InvalidCredentials, wrongRegion.Failure!.Reason);
        Assert.Contains("expected us-east-1/ecr-public, got us-west-2/ecr-public", wrongRegion.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Public_and_private_registries_at_one_endpoint_make_one_call_each_and_public_ones_share_theirs()
    {
        await using var services = EcrTestServices.Build(Settings("111111111111", "public", "222222222222", "public"));

        var results = await EcrTestServices.FetchAsync(services);

        Assert.All(results, r => Assert.Null(r.Failure));
        Assert.Equal([StandIn.HostFor("111111111111"), "public.ecr.aws", StandIn.HostFor("222222222222"), "public.ecr.aws"], results.Select(r => r.Token!.RegistryHost));
        Assert.Equal(EcrStandIn.PublicPassword(), results[3].Token!.Password);
        Assert.Equal(2, StandIn.RequestCount);
        var calls = StandIn.Requests;
        Assert.Single(calls, r => r.Public && r.RegistryIds.Count == 0 && r.Region == "us-east-1");
        Assert.Single(calls, r => !r.Public && r.RegistryIds.SequenceEqual(["111111111111", "222222222222"]) && r.Region == StandIn.Region);
    }

    [Fact]
    public async Task A_region_from_AWS_REGION_is_ignored_and_the_call_goes_to_us_east_1()
    {
        var result = await FetchPublicAsync(s => s["AWS_REGION"] = "eu-west-1");

        Assert.NotNull(result.Token);
        Assert.Equal("us-east-1", Assert.Single(StandIn.Requests).Region);
    }

    [Theory]
    [InlineData(EcrFault.Throttle, 3)]
    [InlineData(EcrFault.ServerError, 2)]
    [InlineData(EcrFault.MalformedJson, 1)]
    [InlineData(EcrFault.ResetMidBody, 1)]
    public async Task Transient_faults_are_retried_until_success(EcrFault fault, int count)
    {
        StandIn.Enqueue(fault, count);

        var result = await FetchPublicAsync();

        Assert.Equal(EcrStandIn.PublicPassword(), result.Token?.Password);
        Assert.Equal(count + 1, StandIn.RequestCount);
        Assert.All(StandIn.Requests, r => Assert.True(r.Public));
    }

    [Theory]
    [InlineData(EcrFault.Throttle, "throttled", true, "ThrottlingException")]
    [InlineData(EcrFault.ServerError, "other", true, "HTTP 500")]
    [InlineData(EcrFault.XmlAccessDenied, "access_denied", false, "the credentials lack ecr-public:GetAuthorizationToken and/or sts:GetServiceBearerToken")]
    [InlineData(EcrFault.TruncatedBody, "network", true, "ecr-public:GetAuthorizationToken at 127.0.0.1")]
    public async Task Failures_are_classified_as_the_private_apis_are(EcrFault fault, string reason, bool transient, string expected)
    {
        StandIn.Enqueue(fault, 5);

        var result = await FetchPublicAsync(s => s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "1");

        Assert.Null(result.Token);
        Assert.Equal((reason, transient), (result.Failure!.ReasonLabel, result.Failure.IsTransient));
        Assert.Contains(expected, result.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, StandIn.RequestCount);
    }

    [Theory]
    [InlineData(EcrFault.XmlBody, "XML document")]
    [InlineData(EcrFault.BadBase64Token, "authorizationData.authorizationToken is not valid base64")]
    [InlineData(EcrFault.TokenWithoutColon, "no ':'")]
    [InlineData(EcrFault.EmptyAuthorizationData, "authorizationData has no authorizationToken")]
    [InlineData(EcrFault.MissingExpiresAt, "authorizationData has no numeric expiresAt")]
    public async Task A_malformed_answer_is_an_invalid_response_that_quotes_no_token(EcrFault fault, string expected)
    {
        StandIn.Enqueue(fault);

        var result = await FetchPublicAsync(s => s["EcrDaemon:Ecr:Retry:MaxAttempts"] = "1");

        Assert.Equal(EcrFailureReason.InvalidResponse, result.Failure!.Reason);
        Assert.Contains(expected, result.Failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(EcrStandIn.PublicPassword(), result.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_secret_fails_the_signature_check_permanently()
    {
        var result = await FetchPublicAsync(credentials: new BasicAWSCredentials(EcrStandIn.DefaultAccessKeyId, "not-the-secret"));

        Assert.Equal(EcrFailureReason.InvalidCredentials, result.Failure!.Reason);
        Assert.False(result.Failure.IsTransient);
        Assert.False(Assert.Single(StandIn.Requests).SignatureValid);
    }

    [Fact]
    public void The_reader_takes_the_one_object_without_proxyEndpoint_for_public_ecr_aws()
    {
        var token = Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:pa:ss"));

        var result = EcrResponseReader.ReadPublic(Encoding.UTF8.GetBytes($$$"""{"authorizationData":{"authorizationToken":"{{{token}}}","expiresAt":1.700043602391E9}}"""));

        Assert.Null(result.Failure);
        Assert.Equal(new EcrAuthorizationToken("public.ecr.aws", "AWS", "pa:ss", DateTimeOffset.FromUnixTimeMilliseconds(1_700_043_602_391)), Assert.Single(result.Tokens));
        Assert.Null(result.Tokens[0].AccountId);
    }

    [Theory]
    [InlineData("[]", "JSON array, not an object")]
    [InlineData("{}", "no authorizationData object")]
    [InlineData("""{"authorizationData":[{"authorizationToken":"QVdTOng=","expiresAt":1}]}""", "a list, not the one object ECR Public returns")]
    [InlineData("""{"authorizationData":{"expiresAt":1}}""", "authorizationData has no authorizationToken")]
    [InlineData("""{"authorizationData":{"authorizationToken":"QVdTOng=","expiresAt":"2031-01-01"}}""", "authorizationData has no numeric expiresAt")]
    [InlineData("""{"authorizationData":{"authorizationToken":"QVdTOg==","expiresAt":1}}""", "empty user name or password")]
    public void The_reader_refuses_other_shapes(string json, string expected)
    {
        var result = EcrResponseReader.ReadPublic(Encoding.UTF8.GetBytes(json));

        Assert.Empty(result.Tokens);
        Assert.Equal(EcrFailureReason.InvalidResponse, result.Failure!.Reason);
        Assert.Contains(expected, result.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_private_reader_does_not_take_the_public_shape()
    {
        // The two answers differ (a list with proxyEndpoint vs one object): neither reader accepts the other's.
        var publicAnswer = JsonSerializer.SerializeToUtf8Bytes(new { authorizationData = new { authorizationToken = "QVdTOng=", expiresAt = 1 } });

        Assert.Contains("no authorizationData list", EcrResponseReader.Read(publicAnswer).Failure!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, "https://api.ecr-public.us-east-1.amazonaws.com/")]
    [InlineData(true, "https://api.ecr-public-fips.us-east-1.amazonaws.com/")]
    public void The_default_endpoint_is_us_east_1s(bool fips, string expected)
    {
        var resolver = new EcrEndpointResolver(() => "http://127.0.0.1:1/private-only", () => null);

        Assert.Equal(new Uri(expected), resolver.ResolvePublic(null, fips).Url);
    }

    [Fact]
    public void The_sdk_configured_public_endpoint_overrides_the_default_and_an_explicit_endpoint_overrides_both()
    {
        var resolver = new EcrEndpointResolver(() => "http://127.0.0.1:1/private", () => "http://127.0.0.1:2/public");

        Assert.Equal(new Uri("http://127.0.0.1:2/public"), resolver.ResolvePublic(null, useFips: true).Url);
        Assert.Equal(new Uri("https://ecr-public.internal.example/"), resolver.ResolvePublic("https://ecr-public.internal.example/", useFips: false).Url);
        Assert.Equal(new Uri("http://127.0.0.1:1/private"), resolver.Resolve("us-east-1", null, useFips: false).Url);
    }
}
