namespace EcrDaemon.Configuration;

/// <summary>One ECR registry: <c>EcrDaemon:Registries:N:{Name,Region,AccountId,RoleArn,ExternalId,Endpoint,DualStack,Aliases}</c>.</summary>
internal sealed class RegistryOptions
{
    /// <summary>A DNS label by which profiles name the registry (<see cref="ProfileOptions.Registries"/>); needed only with profiles.</summary>
    public string? Name { get; set; }

    /// <summary>The AWS region; defaults to AWS_REGION (or AWS_DEFAULT_REGION).</summary>
    public string? Region { get; set; }

    /// <summary>The 12-digit registry (account) id; absent means the caller's default registry.</summary>
    public string? AccountId { get; set; }

    /// <summary>An IAM role to assume first, e.g. for a registry in another account.</summary>
    public string? RoleArn { get; set; }

    /// <summary>The external id the role's trust policy requires, if any.</summary>
    public string? ExternalId { get; set; }

    /// <summary>An explicit ECR API endpoint (absolute http(s) URL) for this registry.</summary>
    public string? Endpoint { get; set; }

    /// <summary>
    /// Also write the registry's dual-stack host, <c>{account}.dkr-ecr.{region}.on.aws</c>, with the same
    /// credentials; the account is the one that leads the token's host (so the default registry works too).
    /// </summary>
    public bool DualStack { get; set; }

    /// <summary>More host names (DNS names, optionally with <c>:port</c>) that get the same credentials, one auths entry each.</summary>
    public IList<string> Aliases { get; set; } = [];

    /// <summary>ECR Public (public.ecr.aws): the token comes from the ecr-public API in us-east-1; no AccountId.</summary>
    public bool Public { get; set; }
}
