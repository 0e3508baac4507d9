using Amazon.Runtime;

namespace EcrDaemon.Aws;

/// <summary>
/// AWSSDK.Core's <see cref="AssumeRoleAWSCredentials"/> (AssumeRole, refreshed before expiry), whose
/// STS client the <see cref="AwsRuntimeDependencies"/> factory signs with <see cref="AssumeRoleAWSCredentials.SourceCredentials"/>.
/// </summary>
internal sealed class RoleCredentials(AWSCredentials sourceCredentials, string roleArn, string roleSessionName, AssumeRoleAWSCredentialsOptions options)
    : AssumeRoleAWSCredentials(sourceCredentials, roleArn, roleSessionName, options)
{
    protected override CredentialsRefreshState GenerateNewCredentials()
    {
        var previous = AwsRuntimeDependencies.SigningCredentials.Value;
        AwsRuntimeDependencies.SigningCredentials.Value = SourceCredentials;
        try
        {
            return base.GenerateNewCredentials();
        }
        finally
        {
            AwsRuntimeDependencies.SigningCredentials.Value = previous;
        }
    }

    // An async method restores the caller's AsyncLocal values when it returns.
    protected override async Task<CredentialsRefreshState> GenerateNewCredentialsAsync()
    {
        AwsRuntimeDependencies.SigningCredentials.Value = SourceCredentials;
        return await base.GenerateNewCredentialsAsync().ConfigureAwait(false);
    }
}
