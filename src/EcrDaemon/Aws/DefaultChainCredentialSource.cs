using Amazon.Runtime;
using Amazon.Runtime.Credentials;

namespace EcrDaemon.Aws;

/// <summary>
/// The AWS SDKs' default credential chain, resolved by AWSSDK.Core itself: environment variables,
/// the shared profile, web identity (IRSA), container credentials (EKS Pod Identity, ECS) and
/// instance metadata (IMDS), in that order.
/// </summary>
internal sealed class DefaultChainCredentialSource : IAwsCredentialSource
{
    public async Task<ResolvedCredentials> ResolveAsync(CancellationToken cancellationToken)
    {
        var credentials = await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync(null).WaitAsync(cancellationToken);
        return new ResolvedCredentials(credentials, Describe(credentials));
    }

    /// <summary>Names the provider that produced <paramref name="credentials"/>.</summary>
    internal static string Describe(AWSCredentials credentials) => credentials switch
    {
        EnvironmentVariablesAWSCredentials => "environment",
        AssumeRoleWithWebIdentityCredentials => "web identity (IRSA)",
        GenericContainerCredentials => "container (EKS Pod Identity / ECS)",
        InstanceProfileAWSCredentials => "instance metadata",
        AssumeRoleAWSCredentials role => $"profile {DefaultAWSCredentialsIdentityResolver.GetProfileName()} (assume-role {role.RoleArn})",
        _ when credentials.GetType().Name.Contains("InstanceProfile", StringComparison.Ordinal) => "instance metadata",
        _ => $"profile {DefaultAWSCredentialsIdentityResolver.GetProfileName()}",
    };
}
