namespace EcrDaemon.Ecr;

/// <summary>
/// One registry's credentials from GetAuthorizationToken: the registry host (the
/// <c>proxyEndpoint</c> without its scheme), the decoded user name and password, and the expiry.
/// </summary>
internal sealed record EcrAuthorizationToken(string RegistryHost, string Username, string Password, DateTimeOffset ExpiresAt)
{
    /// <summary>The 12-digit account id that leads an ECR registry host, or null for another host.</summary>
    public string? AccountId
    {
        get
        {
            var first = RegistryHost.Split('.', 2)[0];
            return first.Length == 12 && first.All(char.IsAsciiDigit) ? first : null;
        }
    }

    public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt <= now;

    // Records print every property; this one must never print the password.
    public override string ToString() => $"{RegistryHost} (user {Username}, expires {ExpiresAt:O})";
}
