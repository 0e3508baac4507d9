using System.Net.Http.Headers;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.Runtime.Internal.Auth;
using Amazon.Runtime.Internal.Util;
using EcrDaemon.Configuration;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Ecr;

/// <summary>
/// GetAuthorizationToken over plain HTTP: the AWS JSON 1.1 protocol, signed with AWSSDK.Core's
/// SigV4 signer for service "ecr". This is the file that an AWSSDK.ECR-based client replaces.
/// A <see cref="EcrAuthorizationRequest.Public"/> request is ECR Public's GetAuthorizationToken
/// (botocore ecr-public 2020-10-30): target <see cref="PublicTarget"/>, signing name "ecr-public", body <c>{}</c>.
/// </summary>
internal sealed class SigV4EcrAuthorizationClient(IHttpClientFactory httpClientFactory, IOptions<EcrDaemonOptions> options) : IEcrAuthorizationClient
{
    /// <summary>The name of the HttpClient this client uses.</summary>
    public const string HttpClientName = "ecr";
    public const string Target = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
    public const string PublicTarget = "SpencerFrontendService.GetAuthorizationToken";
    public const string ContentType = "application/x-amz-json-1.1";
    private const string PrivateAction = "ecr:GetAuthorizationToken";
    private const string PublicAction = "ecr-public:GetAuthorizationToken";

    /// <summary>What a refusal of ECR Public names: its call needs both permissions.</summary>
    private const string PublicPermissions = "ecr-public:GetAuthorizationToken and/or sts:GetServiceBearerToken";
    private const int MaxBodyBytes = 4 * 1024 * 1024;

    public async Task<EcrCallResult> GetAuthorizationTokenAsync(EcrAuthorizationRequest request, CancellationToken cancellationToken)
    {
        var timeout = options.Value.Ecr.Timeout;
        var action = request.Public ? PublicAction : PrivateAction;
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(timeout);
        ImmutableCredentials credentials;
        try
        {
            // The SDK caches them; a refresh that fails (an agent that is down, STS refusing) surfaces here.
            credentials = await request.Credentials.GetCredentialsAsync().WaitAsync(attempt.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return EcrCallResult.Failed(EcrErrorClassifier.FromException(e, "resolving AWS credentials"));
        }

        try
        {
            using var message = CreateSignedRequest(request, credentials);
            var http = httpClientFactory.CreateClient(HttpClientName);
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, attempt.Token);

            // The real clock, not a TimeProvider: the signer signs with it (AWSSDK.Core's clock-skew correction is
            // learnt by the SDK's own request pipeline, which these calls do not go through, so it stays zero).
            var receivedAt = DateTimeOffset.UtcNow;
            var serverDate = response.Headers.Date;
            var body = await ReadBodyAsync(response.Content, attempt.Token);
            if (body is null)
            {
                return EcrCallResult.Failed(EcrFailure.Transient(EcrFailureReason.InvalidResponse,
                    $"invalid GetAuthorizationToken response: the body is larger than {MaxBodyBytes} bytes"));
            }

            if (response.IsSuccessStatusCode)
            {
                return (request.Public ? EcrResponseReader.ReadPublic(body) : EcrResponseReader.Read(body)).WithServerDate(serverDate, receivedAt);
            }

            var errorType = response.Headers.TryGetValues("x-amzn-ErrorType", out var values) ? values.FirstOrDefault() : null;
            return EcrCallResult.Failed(EcrErrorClassifier.FromHttpError((int)response.StatusCode, errorType, body, request.Public ? PublicPermissions : PrivateAction))
                .WithServerDate(serverDate, receivedAt);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return EcrCallResult.Failed(EcrFailure.Transient(EcrFailureReason.Timeout,
                $"no answer from {request.Endpoint.Authority} within {timeout.TotalSeconds:0.###} s"));
        }
        catch (HttpRequestException e)
        {
            return EcrCallResult.Failed(EcrFailure.Transient(EcrFailureReason.Network,
                $"could not reach {request.Endpoint.Authority}: {e.HttpRequestError}: {EcrErrorClassifier.WithoutUserInfo(e.Message)}"));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Signing, a connection cut mid-body (HttpIOException), or anything else: classified, never thrown.
            return EcrCallResult.Failed(EcrErrorClassifier.FromException(e, $"{action} at {request.Endpoint.Authority}"));
        }
    }

    private static HttpRequestMessage CreateSignedRequest(EcrAuthorizationRequest request, ImmutableCredentials credentials)
    {
        // ECR Public's request has no members: always {}.
        var payload = JsonSerializer.SerializeToUtf8Bytes(
            request.RegistryIds.Count == 0 || request.Public ? new Dictionary<string, string[]>() : new() { ["registryIds"] = [.. request.RegistryIds] },
            EcrJsonContext.Default.DictionaryStringStringArray);
        var config = request.Public ? EcrClientConfig.ForPublic() : new EcrClientConfig();
        config.AuthenticationRegion = request.Region;

        // AWSSDK.Core's signer works on its IRequest; fill one in and let it add the SigV4 headers.
        var signable = new DefaultRequest(new GetAuthorizationTokenRequest(), request.Public ? EcrClientConfig.PublicServiceId : EcrClientConfig.EcrServiceId)
        {
            HttpMethod = "POST",
            Endpoint = request.Endpoint,
            ResourcePath = "/",
            Content = payload,
            AuthenticationRegion = request.Region,
        };
        signable.Headers["Content-Type"] = ContentType;
        signable.Headers["X-Amz-Target"] = request.Public ? PublicTarget : Target;
        if (credentials.UseToken)
        {
            signable.Headers["X-Amz-Security-Token"] = credentials.Token;
        }

        var signature = new AWS4Signer().SignRequest(signable, config, new RequestMetrics(), credentials.AccessKey, credentials.SecretKey);
        signable.Headers["Authorization"] = signature.ForAuthorizationHeader;

        var message = new HttpRequestMessage(HttpMethod.Post, request.Endpoint) { Content = new ByteArrayContent(payload) };
        foreach (var (name, value) in signable.Headers)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(value);
            }
            else if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                message.Headers.Host = value;
            }
            else
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return message;
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>The SDK's request type is only a carrier for <see cref="DefaultRequest"/>.</summary>
    private sealed class GetAuthorizationTokenRequest : AmazonWebServiceRequest;
}
