using EcrDaemon.Configuration;

namespace EcrDaemon.Ecr;

/// <summary>
/// The host names each configured registry's credentials are written for besides the one its token
/// names (<c>proxyEndpoint</c>): its dual-stack host (<see cref="RegistryOptions.DualStack"/>), then
/// its <see cref="RegistryOptions.Aliases"/>, in that order. <see cref="None"/> adds nothing, so a
/// configuration without either writes exactly what it wrote before.
/// </summary>
internal sealed class RegistryHosts
{
    private readonly IReadOnlyList<Extra> _registries;

    private RegistryHosts(IReadOnlyList<Extra> registries) => _registries = registries;

    /// <summary>No extra hosts for any registry.</summary>
    public static RegistryHosts None { get; } = new([]);

    /// <summary>The extra hosts of <paramref name="registries"/>, indexed as configured.</summary>
    public static RegistryHosts From(IEnumerable<RegistryOptions> registries) =>
        new([.. registries.Select(r => new Extra(r.DualStack ? r.Region?.Trim() : null, r.AccountId?.Trim() is { Length: > 0 } a ? a : null,
            [.. r.Aliases.Where(a => !string.IsNullOrWhiteSpace(a)).Select(a => a.Trim())]))]);

    /// <summary>These hosts for the registries at <paramref name="registries"/>, re-indexed from 0 in that order.</summary>
    public RegistryHosts Select(IReadOnlyList<int> registries) =>
        _registries.Count == 0 ? this : new([.. registries.Select(r => r < _registries.Count ? _registries[r] : Extra.Nothing)]);

    /// <summary>
    /// The hosts registry <paramref name="index"/>'s <paramref name="token"/> is also written for. The
    /// dual-stack host takes the account that leads the token's host (the configured AccountId when the
    /// host names none); with neither, there is no dual-stack host.
    /// </summary>
    public IEnumerable<string> For(int index, EcrAuthorizationToken token)
    {
        if (index >= _registries.Count)
        {
            yield break;
        }

        var extra = _registries[index];
        if (extra.DualStackRegion is { } region && (token.AccountId ?? extra.AccountId) is { } account)
        {
            yield return DualStackHost(account, region);
        }

        foreach (var alias in extra.Aliases)
        {
            yield return alias;
        }
    }

    /// <summary>ECR's dual-stack registry host, e.g. <c>123456789012.dkr-ecr.us-west-2.on.aws</c>.</summary>
    public static string DualStackHost(string accountId, string region) => $"{accountId}.dkr-ecr.{region}.on.aws";

    private sealed record Extra(string? DualStackRegion, string? AccountId, IReadOnlyList<string> Aliases)
    {
        public static Extra Nothing { get; } = new(null, null, []);
    }
}
