namespace EcrDaemon.Ecr;

/// <summary>A configured registry with its defaults applied and its endpoint resolved.</summary>
internal sealed record RegistryTarget(int Index, string Region, string? AccountId, string? RoleArn, string? ExternalId, EcrEndpoint Endpoint)
{
    /// <summary>The host of ECR Public's registry, the one host its token is for.</summary>
    public const string PublicHost = "public.ecr.aws";

    /// <summary>ECR Public: the token comes from the ecr-public API (region us-east-1, no account id) for <see cref="PublicHost"/>.</summary>
    public bool Public { get; init; }

    /// <summary>How the registry is named before its host is known, e.g. "123456789012 in us-west-2".</summary>
    public string DisplayName => Public ? $"ECR Public ({PublicHost})" : $"{AccountId ?? "default registry"} in {Region}";

    /// <summary>
    /// The registry host ECR will name (<c>{account}.dkr.ecr.{region}.amazonaws.com</c>), used as
    /// the metrics label before a token has told us the host; <c>default.{region}</c> for the
    /// caller's default registry, whose account is not known until then; <see cref="PublicHost"/> for ECR Public.
    /// </summary>
    public string ExpectedHost => Public
        ? PublicHost
        : AccountId is null
        ? $"default.{Region}"
        : HostOf(AccountId, Region);

    /// <summary>The host of a private registry: <c>{account}.dkr.ecr.{region}.amazonaws.com</c> (<c>.cn</c> in China).</summary>
    public static string HostOf(string accountId, string region) =>
        $"{accountId}.dkr.ecr.{region}.amazonaws.com{(region.StartsWith("cn-", StringComparison.Ordinal) ? ".cn" : "")}";
}

/// <summary>A registry's outcome: its token, or why there is none, and the credentials used.</summary>
internal sealed record RegistryTokenResult(RegistryTarget Registry, string CredentialSource, EcrAuthorizationToken? Token, EcrFailure? Failure, TimeSpan? ClockSkew = null)
{
    public bool Succeeded => Token is not null;
}
