using System.Collections;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// One pull-secret profile, resolved from <see cref="ProfileOptions"/> (or from the top-level keys,
/// as the profile named <c>default</c>): which namespaces it selects, the secret it writes there,
/// the registries (indexes into <c>EcrDaemon:Registries</c>) that secret holds, and the
/// ServiceAccounts that reference it.
/// </summary>
internal sealed class PullSecretProfile
{
    private readonly HashSet<string> _serviceAccounts;
    private readonly bool _everyServiceAccount;
    private readonly HashSet<string> _excluded;

    public PullSecretProfile(int index, string name, LabelSelector selector, string secretName, IReadOnlyList<int> registries,
        IEnumerable<string> serviceAccounts, IEnumerable<string> excluded, SecretFormat format = SecretFormat.DockerConfigJson)
    {
        (Index, Name, Selector, SecretName, Registries, Format) = (index, name, selector, secretName, registries, format);
        _serviceAccounts = serviceAccounts.ToHashSet(StringComparer.Ordinal);
        _everyServiceAccount = _serviceAccounts.Contains("*");
        _excluded = excluded.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Its position among the profiles: its bit in a namespace's profile set is <c>1 &lt;&lt; Index</c>.</summary>
    public int Index { get; }

    public ulong Bit => 1UL << Index;

    public string Name { get; }

    public LabelSelector Selector { get; }

    public string SecretName { get; }

    /// <summary>What the profile's secret holds.</summary>
    public SecretFormat Format { get; }

    /// <summary>Indexes into the configured registries, in order, without repeats.</summary>
    public IReadOnlyList<int> Registries { get; }

    /// <summary>The profile patches no ServiceAccount: the secret only.</summary>
    public bool SecretOnly => _serviceAccounts.Count == 0;

    /// <summary>The ServiceAccount named <paramref name="serviceAccount"/> should reference the secret.</summary>
    public bool Targets(string serviceAccount) => _everyServiceAccount || _serviceAccounts.Contains(serviceAccount);

    /// <summary>The namespace is never touched by this profile (the global exclusions and its own).</summary>
    public bool Excludes(string ns) => _excluded.Contains(ns);

    public override string ToString() => $"profile {Name} (secret {SecretName})";
}

/// <summary>
/// The configured profiles, in order (at most 64, so that a namespace's profiles are a bit set).
/// With no <c>EcrDaemon:Profiles</c>, one profile named <c>default</c>: today's NamespaceSelector,
/// SecretName, ServiceAccounts and every registry. A profile of Argo CD repository credentials
/// writes one secret per registry, so it stands here as one profile per registry, named
/// <c>&lt;profile&gt;/&lt;registry&gt;</c>, with the secret <c>&lt;SecretName&gt;-&lt;registry&gt;</c>
/// (<see cref="Expand"/>).
/// </summary>
internal sealed class PullSecretProfiles : IReadOnlyList<PullSecretProfile>
{
    private readonly PullSecretProfile[] _profiles;
    private readonly Dictionary<string, PullSecretProfile> _bySecretName;

    private PullSecretProfiles(PullSecretProfile[] profiles)
    {
        _profiles = profiles;
        _bySecretName = profiles.ToDictionary(p => p.SecretName, StringComparer.Ordinal);
    }

    public int Count => _profiles.Length;

    public PullSecretProfile this[int index] => _profiles[index];

    /// <summary>The profile whose secret is named <paramref name="secretName"/>, or null: a name no profile writes.</summary>
    public PullSecretProfile? WithSecretName(string secretName) => _bySecretName.GetValueOrDefault(secretName);

    /// <summary>The profiles in <paramref name="set"/> (a namespace's bit set), in order.</summary>
    public IEnumerable<PullSecretProfile> In(ulong set) => _profiles.Where(p => (set & p.Bit) != 0);

    /// <summary>The profiles, from validated options.</summary>
    public static PullSecretProfiles From(EcrDaemonOptions options)
    {
        var excluded = options.Excluded;
        if (options.Profiles.Count == 0)
        {
            return new([new PullSecretProfile(0, EcrDaemonOptions.DefaultProfileName, LabelSelector.Parse(options.NamespaceSelector), options.SecretName,
                [.. Enumerable.Range(0, options.Registries.Count)], options.TargetServiceAccounts, excluded)]);
        }

        var registryIndex = options.Registries.Select((r, i) => (r.Name, i)).Where(r => !string.IsNullOrEmpty(r.Name))
            .ToDictionary(r => r.Name!, r => r.i, StringComparer.Ordinal);
        var profiles = new List<PullSecretProfile>();
        foreach (var p in options.Profiles)
        {
            foreach (var (name, secretName, registries) in Expand(p))
            {
                profiles.Add(new PullSecretProfile(
                    profiles.Count,
                    name,
                    LabelSelector.Parse(p.NamespaceSelector!),
                    secretName,
                    [.. registries.Select(r => registryIndex[r]).Distinct()],
                    p.Format == SecretFormat.ArgoCdRepositoryCredentials ? [] : (IEnumerable<string>?)p.ServiceAccounts ?? EcrDaemonOptions.DefaultServiceAccounts,
                    excluded.Concat(p.ExcludedNamespaces ?? []),
                    p.Format));
            }
        }

        return new([.. profiles]);
    }

    /// <summary>
    /// The profiles one configured profile stands as, each with its name, secret name and registry names: itself,
    /// or for Argo CD repository credentials one per registry (<c>&lt;profile&gt;/&lt;registry&gt;</c>, secret <c>&lt;SecretName&gt;-&lt;registry&gt;</c>).
    /// </summary>
    public static IEnumerable<(string Name, string SecretName, IReadOnlyList<string> Registries)> Expand(ProfileOptions profile) =>
        profile.Format == SecretFormat.ArgoCdRepositoryCredentials
            ? profile.Registries.Distinct(StringComparer.Ordinal).Select(r => ($"{profile.Name}/{r}", $"{profile.SecretName}-{r}", (IReadOnlyList<string>)[r]))
            : [(profile.Name!, profile.SecretName!, [.. profile.Registries])];

    public IEnumerator<PullSecretProfile> GetEnumerator() => ((IEnumerable<PullSecretProfile>)_profiles).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
