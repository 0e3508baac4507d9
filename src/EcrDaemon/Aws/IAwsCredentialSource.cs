using Amazon.Runtime;

namespace EcrDaemon.Aws;

/// <summary>The daemon's own AWS credentials (before any role is assumed) and a description of where they came from.</summary>
internal interface IAwsCredentialSource
{
    /// <summary>Resolves the credentials; throws (an AmazonClientException for none found) when it cannot.</summary>
    Task<ResolvedCredentials> ResolveAsync(CancellationToken cancellationToken);
}

/// <summary>Credentials plus a human description of their source, e.g. "environment" or "web identity (IRSA)". Never the keys.</summary>
internal sealed record ResolvedCredentials(AWSCredentials Credentials, string Source)
{
    public override string ToString() => Source;
}
