using EcrDaemon.Primitives;

namespace EcrDaemon.Ecr;

/// <summary>
/// What <see cref="TokenRefresher"/> publishes: one token per registry host (the first one given
/// for a host), hosts in ordinal order, and the earliest expiry. It says nothing of how a secret
/// holds them. <see cref="ToString"/> never shows a password.
/// </summary>
internal sealed class TokenSet
{
    private TokenSet(IReadOnlyList<EcrAuthorizationToken> tokens)
    {
        Tokens = tokens;
        ExpiresAt = tokens.Min(t => t.ExpiresAt);
        Expiry = Rfc3339.Format(ExpiresAt);
    }

    /// <summary>One per host, hosts in ordinal order.</summary>
    public IReadOnlyList<EcrAuthorizationToken> Tokens { get; }

    /// <summary>The earliest expiry among the tokens.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary><see cref="ExpiresAt"/> in RFC 3339 (whole seconds, UTC).</summary>
    public string Expiry { get; }

    public static TokenSet From(IEnumerable<EcrAuthorizationToken> tokens)
    {
        var byHost = tokens.GroupBy(t => t.RegistryHost, StringComparer.Ordinal).Select(g => g.First())
            .OrderBy(t => t.RegistryHost, StringComparer.Ordinal).ToList();
        return byHost.Count == 0 ? throw new ArgumentException("at least one token is needed", nameof(tokens)) : new TokenSet(byHost);
    }

    /// <summary>Same hosts, user names and passwords, and the same <see cref="Expiry"/>: nothing a consumer writes would change.</summary>
    public bool SameAs(TokenSet? other) =>
        other is not null && other.Expiry == Expiry && other.Tokens.Count == Tokens.Count
        && Tokens.Zip(other.Tokens).All(p => p.First.RegistryHost == p.Second.RegistryHost
            && p.First.Username == p.Second.Username && p.First.Password == p.Second.Password);

    public override string ToString() => $"tokens for {string.Join(", ", Tokens.Select(t => t.RegistryHost))} (expires {Expiry})";
}
