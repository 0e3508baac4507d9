using System.Collections.Concurrent;
using Amazon.Runtime;

namespace EcrDaemon.Aws;

/// <summary>
/// Credentials for assumed roles, one <see cref="RoleCredentials"/> (AWSSDK's AssumeRoleAWSCredentials) per
/// (base credentials, role, external id). The SDK calls STS AssumeRole (AWSSDK.SecurityToken,
/// honouring AWS_ENDPOINT_URL_STS) and refreshes the session before it expires.
/// </summary>
internal sealed class RoleCredentialCache : IDisposable
{
    public const string SessionName = "ecrdaemon";

    private readonly ConcurrentDictionary<(AWSCredentials Base, string RoleArn, string? ExternalId), RoleCredentials> roles = new();

    public ResolvedCredentials For(ResolvedCredentials baseCredentials, string roleArn, string? externalId)
    {
        var credentials = roles.GetOrAdd((baseCredentials.Credentials, roleArn, externalId), key =>
            new RoleCredentials(key.Base, key.RoleArn, SessionName, new AssumeRoleAWSCredentialsOptions { ExternalId = key.ExternalId }));
        return new ResolvedCredentials(credentials, $"assume-role {roleArn} via {baseCredentials.Source}");
    }

    public void Dispose()
    {
        foreach (var role in roles.Values)
        {
            role.Dispose();
        }

        roles.Clear();
    }
}
