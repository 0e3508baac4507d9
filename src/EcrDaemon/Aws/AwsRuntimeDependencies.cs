using Amazon.Runtime;
using Amazon.RuntimeDependencies;
using Amazon.SecurityToken;

namespace EcrDaemon.Aws;

/// <summary>
/// The STS client AWSSDK.Core needs for web identity (IRSA) and assume-role credentials. AWSSDK.Core
/// finds AWSSDK.SecurityToken's client by reflection, which Native AOT trims away: without this
/// registration the build is clean, and IRSA and assume-role fail at run time with a
/// MissingRuntimeDependencyException. Registered once, at start, for the whole process (the JIT
/// build uses it too, so both builds create the same client).
/// </summary>
/// <remarks>
/// The SDK's factory context holds the region and proxy but not the credentials to sign with:
/// web identity's AssumeRoleWithWebIdentity is unsigned (anonymous, as the SDK's own fallback
/// does), while AssumeRole must be signed with the source credentials, which
/// <see cref="RoleCredentials"/> passes here through <see cref="SigningCredentials"/>. An
/// assume-role the SDK sets up itself (a shared-config profile with role_arn) gets anonymous
/// credentials, so STS refuses it, loudly.
/// </remarks>
internal static class AwsRuntimeDependencies
{
    private static int _registered;

    /// <summary>The source credentials of the AssumeRole call being made on this flow, if any.</summary>
    internal static readonly AsyncLocal<AWSCredentials?> SigningCredentials = new();

    /// <summary>Registers the STS client factory; idempotent.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            GlobalRuntimeDependencyRegistry.Instance.RegisterSecurityTokenServiceClient(CreateSecurityTokenServiceClient);
        }
    }

    private static AmazonSecurityTokenServiceClient CreateSecurityTokenServiceClient(CreateInstanceContext context)
    {
        var data = context.SecurityTokenServiceClientContextData;
        // The config reads AWS_ENDPOINT_URL_STS and the other client settings from the environment, as the SDK's own does.
        var config = new AmazonSecurityTokenServiceConfig { RegionEndpoint = data.Region };
        if (data.ProxySettings is { } proxy)
        {
            config.SetWebProxy(proxy);
        }

        return new AmazonSecurityTokenServiceClient(SigningCredentials.Value ?? new AnonymousAWSCredentials(), config);
    }
}
