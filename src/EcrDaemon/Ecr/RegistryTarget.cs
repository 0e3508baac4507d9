namespace EcrDaemon.Ecr;

/// <summary>A configured registry with its defaults applied and its endpoint resolved.</summary>
internal sealed record RegistryTarget(int Index, string Region, string? AccountId, string? RoleArn, string? ExternalId, EcrEndpoint Endpoint)
{
    /// <summary>How the registry is named before its host is known, e.g. "123456789012 in us-west-2".</summary>
    public string DisplayName => $"{AccountId ?? "default registry"} in {Region}";
}

/// <summary>A registry's outcome: its token, or why there is none, and the credentials used.</summary>
internal sealed record RegistryTokenResult(RegistryTarget Registry, string CredentialSource, EcrAuthorizationToken? Token, EcrFailure? Failure)
{
    public bool Succeeded => Token is not null;
}
