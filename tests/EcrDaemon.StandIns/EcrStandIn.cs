using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.StandIns;

/// <summary>What the stand-in does to the next request(s) instead of answering normally.</summary>
public enum EcrFault
{
    /// <summary>400 ThrottlingException (JSON, x-amzn-ErrorType), as ECR throttles.</summary>
    Throttle,

    /// <summary>500 ServerException.</summary>
    ServerError,

    /// <summary>Answers normally, but only after <see cref="EcrStandIn.SlowDelay"/> (or when the client gives up).</summary>
    Slow,

    /// <summary>200 with a body that is not JSON.</summary>
    MalformedJson,

    /// <summary>403 with an XML AccessDenied error document, as moto sends for auth failures.</summary>
    XmlAccessDenied,

    /// <summary>200 with an XML document instead of JSON.</summary>
    XmlBody,

    /// <summary>200; the authorizationToken is not base64.</summary>
    BadBase64Token,

    /// <summary>200; the token decodes to text without ':'.</summary>
    TokenWithoutColon,

    /// <summary>200; proxyEndpoint is not a URL (ECR Public's answer has none: answered normally).</summary>
    BadProxyEndpoint,

    /// <summary>200 with "authorizationData": [] (ECR Public: {}).</summary>
    EmptyAuthorizationData,

    /// <summary>200; an entry lacks expiresAt.</summary>
    MissingExpiresAt,

    /// <summary>200 whose Content-Length promises more than is sent: half the body, then the connection ends.</summary>
    TruncatedBody,

    /// <summary>200 without a Content-Length (chunked): half the body is flushed, then the connection is reset.</summary>
    ResetMidBody,
}

/// <summary>One request the stand-in received, and what its SigV4 check found.</summary>
public sealed record EcrStandInRequest(IReadOnlyList<string> RegistryIds, string? Region, string? Service, bool SignatureValid, bool HasSessionToken, EcrFault? Fault)
{
    /// <summary>An ECR Public GetAuthorizationToken request (X-Amz-Target <see cref="EcrStandIn.PublicTarget"/>).</summary>
    public bool Public { get; init; }

    /// <summary>The request body as sent.</summary>
    public string Body { get; init; } = "";

    /// <summary>When the request arrived (before it was answered).</summary>
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// An ECR GetAuthorizationToken stand-in on real HTTP (Kestrel, 127.0.0.1, port 0). It checks
/// each request's SigV4 signature against the credentials it knows and the region and service
/// ("ecr") it serves, answers with tokens for the requested registry ids (or its default
/// account), and can be scripted with faults for the next N requests. It serves ECR Public's
/// GetAuthorizationToken too (X-Amz-Target <see cref="PublicTarget"/>, signed for us-east-1 and
/// "ecr-public"), with the same faults. Reusable by other tests and the demo: nothing in it depends on the daemon.
/// </summary>
public sealed class EcrStandIn : IAsyncDisposable
{
    public const string DefaultAccessKeyId = "AKIASTANDIN0EXAMPLE1";
    public const string DefaultSecretAccessKey = "standin-secret-key-do-not-print-0123456789";

    public const string PrivateTarget = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

    /// <summary>ECR Public's operation (botocore ecr-public 2020-10-30: targetPrefix SpencerFrontendService).</summary>
    public const string PublicTarget = "SpencerFrontendService.GetAuthorizationToken";

    /// <summary>ECR Public's one region and its registry host.</summary>
    public const string PublicRegion = "us-east-1";
    public const string PublicHost = "public.ecr.aws";

    /// <summary>The name under which ECR Public's password generation is kept (<see cref="SetGeneration"/>, <see cref="GenerationFor"/>).</summary>
    public const string PublicAccount = "public";

    /// <summary>What a client must send as Authorization to <see cref="ContainerCredentialsUri"/> (AWS_CONTAINER_AUTHORIZATION_TOKEN).</summary>
    public const string ContainerAuthorizationToken = "standin-container-authorization-token";

    /// <summary>The session credentials <see cref="ContainerCredentialsUri"/> hands out; the stand-in accepts them.</summary>
    public const string ContainerAccessKeyId = "ASIASTANDINCONTAINER";
    public const string ContainerSecretAccessKey = "standin-container-secret-do-not-print-0000";
    public const string ContainerSessionToken = "standin-container-session-token-do-not-print";

    private readonly ConcurrentDictionary<string, (string Secret, string? SessionToken)> credentials = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<EcrFault> faults = new();
    private readonly ConcurrentQueue<EcrStandInRequest> requests = new();
    private readonly ConcurrentDictionary<string, int> accountGenerations = new(StringComparer.Ordinal);
    private readonly WebApplication app;
    private int containerCredentialsRequests;

    private EcrStandIn(WebApplication app, string region, string defaultAccountId)
    {
        this.app = app;
        Region = region;
        DefaultAccountId = defaultAccountId;
        credentials[DefaultAccessKeyId] = (DefaultSecretAccessKey, null);
        credentials[ContainerAccessKeyId] = (ContainerSecretAccessKey, ContainerSessionToken);
    }

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>
    /// A container credentials endpoint, as EKS Pod Identity and ECS provide: point
    /// AWS_CONTAINER_CREDENTIALS_FULL_URI here (with AWS_CONTAINER_AUTHORIZATION_TOKEN).
    /// </summary>
    public Uri ContainerCredentialsUri => new(Endpoint, "container-credentials");

    public int ContainerCredentialsRequests => containerCredentialsRequests;

    public string Region { get; }

    /// <summary>The account whose registry a request without registryIds gets.</summary>
    public string DefaultAccountId { get; }

    /// <summary>The expiry of the tokens it hands out; twelve hours from now unless set.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The stand-in's clock minus the real one (zero unless set). Its answers carry that time in their <c>Date</c> header,
    /// and, as AWS does, it refuses a request whose X-Amz-Date is more than <see cref="SignatureTimeWindow"/> off its clock:
    /// 400 InvalidSignatureException "Signature expired: ..." (or "Signature not yet current: ...").
    /// </summary>
    public TimeSpan ClockOffset { get; set; }

    /// <summary>How far a request's X-Amz-Date may be off the service's clock (AWS: 5 minutes).</summary>
    public static readonly TimeSpan SignatureTimeWindow = TimeSpan.FromMinutes(5);

    /// <summary>Bump it to hand out different passwords from now on, as a real token rotation does.</summary>
    public int Generation { get; set; }

    /// <summary>
    /// The generation of <paramref name="accountId"/>'s passwords: the one <see cref="SetGeneration"/> gave it, else <see cref="Generation"/>.
    /// </summary>
    public int GenerationFor(string accountId) => accountGenerations.TryGetValue(accountId, out var generation) ? generation : Generation;

    /// <summary>
    /// Rotates one account's passwords only (a request for several registry ids gets the other accounts' unchanged);
    /// <see cref="Generation"/> no longer applies to that account.
    /// </summary>
    public void SetGeneration(string accountId, int generation) => accountGenerations[accountId] = generation;

    /// <summary>Hand out a new password with every request, as ECR does.</summary>
    public bool RotateEveryRequest { get; set; }

    /// <summary>How long a token lives when <see cref="ExpiresAt"/> is not set (ECR: 12 hours).</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(12);

    public int RequestCount => requests.Count;

    public IReadOnlyList<EcrStandInRequest> Requests => [.. requests];

    public static async Task<EcrStandIn> StartAsync(string region = "us-west-2", string defaultAccountId = "123456789012")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var standIn = new EcrStandIn(app, region, defaultAccountId);
        app.MapPost("/", standIn.HandleAsync);
        app.MapGet("/container-credentials", standIn.HandleContainerCredentialsAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        standIn.Endpoint = new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return standIn;
    }

    /// <summary>Accepts another access key, optionally with a session token (as assumed-role credentials have).</summary>
    public void AddCredentials(string accessKeyId, string secretAccessKey, string? sessionToken = null) =>
        credentials[accessKeyId] = (secretAccessKey, sessionToken);

    /// <summary>Makes the next <paramref name="count"/> requests fail with <paramref name="fault"/> (after any already queued).</summary>
    public void Enqueue(EcrFault fault, int count = 1)
    {
        for (var i = 0; i < count; i++)
        {
            faults.Enqueue(fault);
        }
    }

    /// <summary>Drops every fault still queued.</summary>
    public void ClearFaults() => faults.Clear();

    /// <summary>The password in the token for <paramref name="accountId"/>: distinctive, so tests can look for leaks.</summary>
    public static string PasswordFor(string accountId, int generation = 0) =>
        generation == 0 ? $"standin-password-{accountId}-c2VjcmV0" : $"standin-password-{accountId}-g{generation}-c2VjcmV0";

    /// <summary>The base64 authorizationToken for <paramref name="accountId"/>.</summary>
    public static string TokenFor(string accountId, int generation = 0) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:" + PasswordFor(accountId, generation)));

    public string HostFor(string accountId) => $"{accountId}.dkr.ecr.{Region}.amazonaws.com";

    /// <summary>ECR Public's password (the stand-in's: distinctive, so tests can look for leaks).</summary>
    public static string PublicPassword(int generation = 0) => PasswordFor(PublicAccount, generation);

    public static string PublicToken(int generation = 0) => TokenFor(PublicAccount, generation);

    private async Task HandleAsync(HttpContext context)
    {
        var serverNow = DateTimeOffset.UtcNow + ClockOffset;
        if (ClockOffset != TimeSpan.Zero)
        {
            context.Response.Headers.Date = serverNow.ToString("r", CultureInfo.InvariantCulture);
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        var check = SigV4Verifier.Verify(context.Request, body, key => credentials.TryGetValue(key, out var c) ? c : null);
        var registryIds = ReadRegistryIds(body);
        var target = context.Request.Headers["X-Amz-Target"].ToString();
        var isPublic = target == PublicTarget;
        EcrFault? fault = check.Valid && faults.TryDequeue(out var next) ? next : null;
        requests.Enqueue(new EcrStandInRequest(registryIds ?? [], check.Region, check.Service, check.Valid, check.HasSessionToken, fault)
        {
            Public = isPublic,
            Body = Encoding.UTF8.GetString(body),
        });

        if (!check.Valid)
        {
            await JsonError(context, 400, check.ErrorCode!, check.Message!);
            return;
        }

        if (SignatureTimeProblem(context.Request.Headers["X-Amz-Date"].ToString(), serverNow) is { } timeProblem)
        {
            await JsonError(context, 400, "InvalidSignatureException", timeProblem);
            return;
        }

        var (region, service) = isPublic ? (PublicRegion, "ecr-public") : (Region, "ecr");
        if (check.Region != region || check.Service != service)
        {
            await JsonError(context, 400, "InvalidSignatureException",
                $"Credential should be scoped to a valid region and service: expected {region}/{service}, got {check.Region}/{check.Service}.");
            return;
        }

        if ((target != PrivateTarget && !isPublic)
            || context.Request.ContentType != "application/x-amz-json-1.1" || registryIds is null)
        {
            await JsonError(context, 400, "SerializationException", "not a GetAuthorizationToken request in AWS JSON 1.1");
            return;
        }

        switch (fault)
        {
            case EcrFault.Throttle:
                await JsonError(context, 400, "ThrottlingException", "Rate exceeded");
                return;
            case EcrFault.ServerError:
                await JsonError(context, 500, "ServerException", "internal error");
                return;
            case EcrFault.Slow:
                await Task.Delay(SlowDelay, context.RequestAborted);
                break;
            case EcrFault.MalformedJson:
                await Write(context, 200, "application/x-amz-json-1.1", "{\"authorizationData\": [{\"authorizationToken\": ");
                return;
            case EcrFault.XmlAccessDenied:
                await Write(context, 403, "text/xml", XmlError("AccessDenied",
                    $"User: arn:aws:iam::123456789012:user/standin is not authorized to perform: {(isPublic ? "ecr-public" : "ecr")}:GetAuthorizationToken"));
                return;
            case EcrFault.XmlBody:
                await Write(context, 200, "text/xml", "<?xml version=\"1.0\"?><GetAuthorizationTokenResponse><Result/></GetAuthorizationTokenResponse>");
                return;
            case EcrFault.TruncatedBody or EcrFault.ResetMidBody:
                await WriteHalfAndCut(context, isPublic ? PublicSuccessBody(fault) : SuccessBody(registryIds, fault), fault == EcrFault.TruncatedBody);
                return;
            default:
                break;
        }

        await Write(context, 200, "application/x-amz-json-1.1", isPublic ? PublicSuccessBody(fault) : SuccessBody(registryIds, fault));
    }

    /// <summary>AWS's message when <paramref name="amzDate"/> is outside <see cref="SignatureTimeWindow"/> of <paramref name="serverNow"/>, else null.</summary>
    private static string? SignatureTimeProblem(string amzDate, DateTimeOffset serverNow)
    {
        const string Format = "yyyyMMdd'T'HHmmss'Z'";
        if (!DateTimeOffset.TryParseExact(amzDate, Format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var signedAt))
        {
            return null; // the verifier has refused it already
        }

        string F(DateTimeOffset t) => t.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);
        var minutes = SignatureTimeWindow.TotalMinutes;
        if (signedAt < serverNow - SignatureTimeWindow)
        {
            return $"Signature expired: {F(signedAt)} is now earlier than {F(serverNow - SignatureTimeWindow)} ({F(serverNow)} - {minutes} min.)";
        }

        return signedAt > serverNow + SignatureTimeWindow
            ? $"Signature not yet current: {F(signedAt)} is still later than {F(serverNow + SignatureTimeWindow)} ({F(serverNow)} + {minutes} min.)"
            : null;
    }

    private async Task HandleContainerCredentialsAsync(HttpContext context)
    {
        Interlocked.Increment(ref containerCredentialsRequests);
        if (context.Request.Headers.Authorization != ContainerAuthorizationToken)
        {
            await Write(context, 401, "application/json", "{\"message\":\"bad authorization token\"}");
            return;
        }

        await Write(context, 200, "application/json", JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["AccessKeyId"] = ContainerAccessKeyId,
            ["SecretAccessKey"] = ContainerSecretAccessKey,
            ["Token"] = ContainerSessionToken,
            ["Expiration"] = DateTimeOffset.UtcNow.AddHours(6).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        }));
    }

    private string SuccessBody(List<string> registryIds, EcrFault? fault)
    {
        if (fault == EcrFault.EmptyAuthorizationData)
        {
            return "{\"authorizationData\":[]}";
        }

        var expires = (ExpiresAt ?? DateTimeOffset.UtcNow.Add(TokenLifetime)).ToUnixTimeMilliseconds() / 1000.0;
        var offset = RotateEveryRequest ? RequestCount : 0;
        List<string> ids = registryIds.Count == 0 ? [DefaultAccountId] : registryIds;
        var data = ids.Select(id => new Dictionary<string, object>
        {
            ["authorizationToken"] = fault switch
            {
                EcrFault.BadBase64Token => "%%%not-base64%%%",
                EcrFault.TokenWithoutColon => Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS-without-a-colon")),
                _ => TokenFor(id, GenerationFor(id) + offset),
            },
            ["proxyEndpoint"] = fault == EcrFault.BadProxyEndpoint ? "not a url" : $"https://{HostFor(id)}",
            ["expiresAt"] = expires,
        }).ToList();
        if (fault == EcrFault.MissingExpiresAt)
        {
            data[0].Remove("expiresAt");
        }

        return JsonSerializer.Serialize(new Dictionary<string, object> { ["authorizationData"] = data });
    }

    /// <summary>ECR Public's answer: one authorizationData object, authorizationToken and expiresAt, no proxyEndpoint.</summary>
    private string PublicSuccessBody(EcrFault? fault)
    {
        if (fault == EcrFault.EmptyAuthorizationData)
        {
            return "{\"authorizationData\":{}}";
        }

        var data = new Dictionary<string, object>
        {
            ["authorizationToken"] = fault switch
            {
                EcrFault.BadBase64Token => "%%%not-base64%%%",
                EcrFault.TokenWithoutColon => Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS-without-a-colon")),
                _ => PublicToken(GenerationFor(PublicAccount) + (RotateEveryRequest ? RequestCount : 0)),
            },
            ["expiresAt"] = (ExpiresAt ?? DateTimeOffset.UtcNow.Add(TokenLifetime)).ToUnixTimeMilliseconds() / 1000.0,
        };
        if (fault == EcrFault.MissingExpiresAt)
        {
            data.Remove("expiresAt");
        }

        return JsonSerializer.Serialize(new Dictionary<string, object> { ["authorizationData"] = data });
    }

    private static List<string>? ReadRegistryIds(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            return document.RootElement.TryGetProperty("registryIds", out var ids)
                ? [.. ids.EnumerateArray().Select(i => i.GetString() ?? "")]
                : [];
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Task JsonError(HttpContext context, int status, string code, string message)
    {
        context.Response.Headers["x-amzn-ErrorType"] = code;
        return Write(context, status, "application/x-amz-json-1.1", JsonSerializer.Serialize(new Dictionary<string, string> { ["__type"] = code, ["message"] = message }));
    }

    private static string XmlError(string code, string message) =>
        $"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>{code}</Code><Message>{message}</Message><Type>Sender</Type></Error></Errors></ErrorResponse>";

    private static async Task Write(HttpContext context, int status, string contentType, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        await context.Response.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>
    /// Sends the headers and half the body, then cuts. Truncated: the response is written straight to
    /// the socket (so the kernel has it before anything else), with a Content-Length of the whole
    /// body; the socket is then closed for sending, a FIN after the data, so the client surely reads
    /// the headers and sees the body end early; the stand-in waits for the client to hang up.
    /// Reset: chunked through Kestrel, flushed, and the connection aborted at once (the client sees the
    /// reset during the headers or the body, as the timing falls).
    /// </summary>
    private static async Task WriteHalfAndCut(HttpContext context, string body, bool truncate)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (truncate && socket is not null)
        {
            var head = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {bytes.Length}\r\nx-amzn-RequestId: {Guid.NewGuid()}\r\n\r\n");
            await socket.SendAsync(head.Concat(bytes.Take(bytes.Length / 2)).ToArray(), SocketFlags.None, context.RequestAborted);
            socket.Shutdown(SocketShutdown.Send);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(60), context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The client hung up.
            }

            context.Abort();
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/x-amz-json-1.1";
        await context.Response.Body.WriteAsync(bytes.AsMemory(0, bytes.Length / 2), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        context.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"ECR stand-in at {Endpoint} ({Region}, {RequestCount} requests)");
}
