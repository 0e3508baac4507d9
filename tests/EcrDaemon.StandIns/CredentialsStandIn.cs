using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.StandIns;

/// <summary>How <see cref="CredentialsStandIn"/> answers.</summary>
public enum CredentialsMode
{
    /// <summary>Short-lived session credentials that <see cref="EcrStandIn"/> accepts.</summary>
    Ok,

    /// <summary>500 with a short text body, as an agent that is up but broken.</summary>
    ServerError,

    /// <summary>200 with a body that is not the expected document.</summary>
    Garbage,

    /// <summary>403 AccessDenied (STS's XML error document): the role may not be assumed.</summary>
    AccessDenied,
}

/// <summary>
/// Where a pod's AWS credentials come from, on real HTTP: a container credentials endpoint (EKS
/// Pod Identity agent, ECS; <c>GET /container-credentials</c>) and STS
/// AssumeRoleWithWebIdentity (IRSA) and AssumeRole (<c>POST /</c>, the query protocol), all handing out
/// <see cref="EcrStandIn"/>'s container session credentials, which expire within 75 s so
/// that the SDK asks again every few seconds. <see cref="Mode"/> breaks both.
/// </summary>
public sealed class CredentialsStandIn : IAsyncDisposable
{
    private readonly WebApplication app;
    private int requests;

    private CredentialsStandIn(WebApplication app) => this.app = app;

    public CredentialsMode Mode { get; set; }

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Point AWS_CONTAINER_CREDENTIALS_FULL_URI here (with AWS_CONTAINER_AUTHORIZATION_TOKEN = <see cref="EcrStandIn.ContainerAuthorizationToken"/>).</summary>
    public Uri ContainerCredentialsUri => new(Endpoint, "container-credentials");

    public int Requests => requests;

    /// <summary>The access key id AssumeRole must be signed with: the static source keys, or (role chaining from IRSA) the web identity session's.</summary>
    public string AssumeRoleSourceKeyId { get; set; } = EcrStandIn.DefaultAccessKeyId;

    /// <summary>Starts serving on 127.0.0.1 and <paramref name="port"/> (0: any free port).</summary>
    public static async Task<CredentialsStandIn> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var standIn = new CredentialsStandIn(builder.Build());
        standIn.app.MapGet("/container-credentials", standIn.ContainerAsync);
        standIn.app.MapPost("/", standIn.StsAsync);
        await standIn.app.StartAsync();
        var address = standIn.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        standIn.Endpoint = new Uri(address + "/");
        return standIn;
    }

    private Task ContainerAsync(HttpContext context)
    {
        Interlocked.Increment(ref requests);
        if (context.Request.Headers.Authorization != EcrStandIn.ContainerAuthorizationToken)
        {
            return Write(context, 401, "application/json", "{\"message\":\"bad authorization token\"}");
        }

        return Mode switch
        {
            CredentialsMode.Ok => Write(context, 200, "application/json", JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["AccessKeyId"] = EcrStandIn.ContainerAccessKeyId,
                ["SecretAccessKey"] = EcrStandIn.ContainerSecretAccessKey,
                ["Token"] = EcrStandIn.ContainerSessionToken,
                ["Expiration"] = Expiration(),
            })),
            CredentialsMode.Garbage => Write(context, 200, "application/json", "<html>agent starting</html>"),
            CredentialsMode.AccessDenied => Write(context, 403, "application/json", "{\"code\":\"AccessDeniedException\",\"message\":\"denied\"}"),
            _ => Write(context, 500, "text/plain", "internal error"),
        };
    }

    private async Task StsAsync(HttpContext context)
    {
        Interlocked.Increment(ref requests);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (form["Action"] == "AssumeRole")
        {
            await AssumeRoleAsync(context, form);
            return;
        }

        if (form["Action"] != "AssumeRoleWithWebIdentity" || string.IsNullOrEmpty(form["WebIdentityToken"]))
        {
            await Write(context, 400, "text/xml", Error("InvalidAction", "only AssumeRole, or AssumeRoleWithWebIdentity with a WebIdentityToken"));
            return;
        }

        switch (Mode)
        {
            case CredentialsMode.Ok:
                await Write(context, 200, "text/xml",
                    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult>"
                    + "<SubjectFromWebIdentityToken>system:serviceaccount:ecr-daemon:ecr-daemon</SubjectFromWebIdentityToken>"
                    + $"<AssumedRoleUser><Arn>{form["RoleArn"]}/{form["RoleSessionName"]}</Arn><AssumedRoleId>AROASTANDIN:{form["RoleSessionName"]}</AssumedRoleId></AssumedRoleUser>"
                    + $"<Credentials><AccessKeyId>{EcrStandIn.ContainerAccessKeyId}</AccessKeyId><SecretAccessKey>{EcrStandIn.ContainerSecretAccessKey}</SecretAccessKey>"
                    + $"<SessionToken>{EcrStandIn.ContainerSessionToken}</SessionToken><Expiration>{Expiration()}</Expiration></Credentials>"
                    + "<Provider>standin</Provider><Audience>sts.amazonaws.com</Audience></AssumeRoleWithWebIdentityResult>"
                    + "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>");
                return;
            case CredentialsMode.Garbage:
                await Write(context, 200, "text/xml", "<not-sts/>");
                return;
            case CredentialsMode.AccessDenied:
                await Write(context, 403, "text/xml", Error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"));
                return;
            default:
                await Write(context, 500, "text/xml", Error("InternalFailure", "internal error"));
                return;
        }
    }

    /// <summary>
    /// AssumeRole (a role of EcrDaemon:Registries:N:RoleArn): only when signed with
    /// <see cref="EcrStandIn.DefaultAccessKeyId"/>, the source credentials (an unsigned or otherwise
    /// signed call is refused as STS would); hands out the container session credentials.
    /// </summary>
    private async Task AssumeRoleAsync(HttpContext context, IFormCollection form)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.Contains($"Credential={AssumeRoleSourceKeyId}/", StringComparison.Ordinal))
        {
            await Write(context, 403, "text/xml", Error(authorization.Length == 0 ? "MissingAuthenticationToken" : "InvalidClientTokenId",
                "AssumeRole must be signed with the source credentials"));
            return;
        }

        if (Mode != CredentialsMode.Ok)
        {
            await Write(context, 403, "text/xml", Error("AccessDenied", "Not authorized to perform sts:AssumeRole"));
            return;
        }

        await Write(context, 200, "text/xml",
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
            + $"<AssumedRoleUser><Arn>{form["RoleArn"]}/{form["RoleSessionName"]}</Arn><AssumedRoleId>AROASTANDIN:{form["RoleSessionName"]}</AssumedRoleId></AssumedRoleUser>"
            + $"<Credentials><AccessKeyId>{EcrStandIn.ContainerAccessKeyId}</AccessKeyId><SecretAccessKey>{EcrStandIn.ContainerSecretAccessKey}</SecretAccessKey>"
            + $"<SessionToken>{EcrStandIn.ContainerSessionToken}</SessionToken><Expiration>{Expiration()}</Expiration></Credentials>"
            + "</AssumeRoleResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></AssumeRoleResponse>");
    }

    private static string Expiration() =>
        DateTimeOffset.UtcNow.AddSeconds(75).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Error(string code, string message) =>
        $"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        + "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>";

    private static async Task Write(HttpContext context, int status, string contentType, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(body, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
