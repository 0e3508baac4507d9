using EcrDaemon.Primitives;

namespace EcrDaemon.Ecr;

/// <summary>
/// What <see cref="TokenRefresher"/> publishes: the token of each configured registry that has one
/// (<see cref="ByRegistry"/>, null for a registry still without one), one token per registry host
/// (the first one given for a host), hosts in ordinal order, and the earliest expiry. A registry's
/// token is given for its own host and then for its extra hosts (<see cref="RegistryHosts"/>: the
/// dual-stack host, aliases), each a copy with that host, so the first registry naming a host wins. It says
/// nothing of how a secret holds them. <see cref="For"/> gives the set of some of the registries (a
/// profile's), once each of them has a token. <see cref="ToString"/> never shows a password.
/// </summary>
internal sealed class TokenSet
{
    private readonly RegistryHosts _hosts;

    private TokenSet(IReadOnlyList<EcrAuthorizationToken?> byRegistry, IReadOnlyList<EcrAuthorizationToken> tokens, RegistryHosts hosts)
    {
        ByRegistry = byRegistry;
        _hosts = hosts;
        Tokens = tokens;
        ExpiresAt = tokens.Min(t => t.ExpiresAt);
        Expiry = Rfc3339.Format(ExpiresAt);
    }

    /// <summary>The tokens as given: one per configured registry, in registry order; null where a registry has none yet.</summary>
    public IReadOnlyList<EcrAuthorizationToken?> ByRegistry { get; }

    /// <summary>Every registry has a token.</summary>
    public bool Complete => ByRegistry.All(t => t is not null);

    /// <summary>One per host, hosts in ordinal order.</summary>
    public IReadOnlyList<EcrAuthorizationToken> Tokens { get; }

    /// <summary>The earliest expiry among the tokens.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary><see cref="ExpiresAt"/> in RFC 3339 (whole seconds, UTC).</summary>
    public string Expiry { get; }

    /// <param name="tokens">One per configured registry, in registry order (the order <see cref="For"/> indexes); null for one without a token yet. At least one is needed.</param>
    /// <param name="hosts">The registries' extra hosts, indexed like <paramref name="tokens"/>; none when null.</param>
    public static TokenSet From(IEnumerable<EcrAuthorizationToken?> tokens, RegistryHosts? hosts = null)
    {
        hosts ??= RegistryHosts.None;
        var byRegistry = tokens.ToList();
        var byHost = byRegistry.SelectMany((t, i) => t is null ? [] : Expand(t, hosts.For(i, t)))
            .GroupBy(t => t.RegistryHost, StringComparer.Ordinal).Select(g => g.First())
            .OrderBy(t => t.RegistryHost, StringComparer.Ordinal).ToList();
        return byHost.Count == 0 ? throw new ArgumentException("at least one token is needed", nameof(tokens)) : new TokenSet(byRegistry, byHost, hosts);
    }

    private static IEnumerable<EcrAuthorizationToken> Expand(EcrAuthorizationToken token, IEnumerable<string> extraHosts) =>
        [token, .. extraHosts.Select(h => token with { RegistryHost = h })];

    /// <summary>
    /// The set of the registries at <paramref name="registries"/> (indexes into <see cref="ByRegistry"/>), or
    /// null while one of them has no token; this set itself when that is all of them.
    /// </summary>
    public TokenSet? For(IReadOnlyList<int> registries)
    {
        if (registries.Any(r => ByRegistry[r] is null))
        {
            return null;
        }

        return registries.Count == ByRegistry.Count && registries.Select((r, i) => r == i).All(same => same) ? this : From(registries.Select(r => ByRegistry[r]), _hosts.Select(registries));
    }

    /// <summary>The same registries hold the same hosts, user names and passwords, with the same <see cref="Expiry"/>: nothing a consumer writes would change.</summary>
    public bool SameAs(TokenSet? other) =>
        other is not null && other.Expiry == Expiry && other.ByRegistry.Count == ByRegistry.Count
        && ByRegistry.Zip(other.ByRegistry).All(p => p.First is null ? p.Second is null : p.Second is not null
            && p.First.RegistryHost == p.Second.RegistryHost && p.First.Username == p.Second.Username && p.First.Password == p.Second.Password);

    public override string ToString() =>
        $"tokens for {string.Join(", ", Tokens.Select(t => t.RegistryHost))} (expires {Expiry}{(Complete ? "" : $"; {ByRegistry.Count(t => t is null)} registries without a token yet")})";
}
