using EcrDaemon.Kubernetes;
using k8s.Models;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// What reconcile needs to know of a namespace: the profiles that select it (<see cref="Member"/>)
/// and those that exclude it (<see cref="Excluded"/>), each a bit set of <see cref="PullSecretProfile.Bit"/>.
/// </summary>
internal sealed record NamespaceView(string Name, ulong Member, ulong Excluded, bool Terminating)
{
    /// <summary>At least one profile selects the namespace.</summary>
    public bool OptedIn => Member != 0;
}

/// <summary>
/// What reconcile needs to know of a ServiceAccount: its pull-secret names, in order, and our marker
/// annotations as they are (<see cref="Markers.AddedPullSecretAnnotation"/>: the entries we added;
/// <see cref="Markers.PreviousPullSecretAnnotation"/>: those we added under earlier secret names).
/// </summary>
internal sealed record ServiceAccountView(string Namespace, string Name, string ResourceVersion, IReadOnlyList<string> PullSecrets,
    string? Added = null, string? Previous = null)
{
    /// <summary>Our marker lists <paramref name="secretName"/>: we added that entry.</summary>
    public bool AddedByUs(string secretName) => Markers.Lists(Added, secretName);
}

/// <summary>
/// What reconcile needs to know of a managed secret: a hash of its data, not the data; immutable ones cannot be patched;
/// <see cref="RepoCreds"/>: it carries Argo CD's <c>argocd.argoproj.io/secret-type: repo-creds</c> label.
/// </summary>
internal sealed record SecretView(string Namespace, string ResourceVersion, string? Type, bool Managed, string? DataHash, string? Expiry, bool Immutable = false,
    bool RepoCreds = false);

/// <summary>
/// What reconcile reads: the informers' caches of namespaces, ServiceAccounts and, per profile,
/// the secrets named as its secret, each object projected to what reconcile needs (which profiles
/// select a namespace; a hash of the secret's data). Every change reports the namespace it touched
/// to <c>changed</c> (the controller maps it to a work-queue key).
/// </summary>
internal sealed class ClusterState
{
    private readonly ObjectCache<V1Secret, SecretView>[] _secrets;

    public ClusterState(PullSecretProfiles profiles, Action<string> changed)
    {
        Profiles = profiles;
        var strings = new StringPool();

        // What most ServiceAccounts hold once synced: one of our names, alone. One shared array per name.
        var alone = profiles.ToDictionary(p => p.SecretName, p => new[] { p.SecretName }, StringComparer.Ordinal);
        Namespaces = new(ns => new NamespaceView(
            ns.Metadata.Name,
            Select(profiles, p => !p.Excludes(ns.Metadata.Name) && p.Selector.Matches(ns.Metadata.Labels)),
            Select(profiles, p => p.Excludes(ns.Metadata.Name)),
            ns.Metadata.DeletionTimestamp is not null || ns.Status?.Phase == "Terminating"), changed);
        ServiceAccounts = new(sa => new ServiceAccountView(
            strings.Share(sa.Metadata.NamespaceProperty),
            strings.Share(sa.Metadata.Name),
            sa.Metadata.ResourceVersion,
            sa.ImagePullSecrets switch
            {
                null or [] => [],
                [{ Name: { } only }] when alone.TryGetValue(only, out var shared) => shared,
                var references => [.. references.Select(r => strings.Share(r.Name ?? ""))],
            },
            strings.Share(Markers.AddedPullSecret(sa.Metadata.Annotations)),
            strings.Share(Markers.PreviousPullSecret(sa.Metadata.Annotations))), changed);
        _secrets = [.. profiles.Select(profile => new ObjectCache<V1Secret, SecretView>(secret => new SecretView(
            secret.Metadata.NamespaceProperty,
            secret.Metadata.ResourceVersion,
            strings.Share(secret.Type),
            Markers.IsManaged(secret.Metadata.Labels),
            strings.Share(PullSecretContent.HashOfData(secret.Data, profile.Format)),
            strings.Share(secret.Metadata.Annotations?.TryGetValue(Markers.ExpiresAtAnnotation, out var expiry) == true ? expiry : null),
            secret.Immutable == true,
            secret.Metadata.Labels?.TryGetValue(Markers.ArgoCdSecretTypeLabel, out var argo) == true && argo == Markers.ArgoCdRepoCreds), changed))];
    }

    public PullSecretProfiles Profiles { get; }

    public ObjectCache<V1Namespace, NamespaceView> Namespaces { get; }

    public ObjectCache<V1ServiceAccount, ServiceAccountView> ServiceAccounts { get; }

    /// <summary>The secrets named as <paramref name="profile"/>'s secret, one informer's cache.</summary>
    public ObjectCache<V1Secret, SecretView> Secrets(PullSecretProfile profile) => _secrets[profile.Index];

    /// <summary>The secrets named <paramref name="secretName"/> (a profile's secret name).</summary>
    public ObjectCache<V1Secret, SecretView> SecretsNamed(string secretName) =>
        Profiles.WithSecretName(secretName) is { } profile ? Secrets(profile) : throw new ArgumentException($"no profile writes secrets named {secretName}", nameof(secretName));

    /// <summary>Every cached secret, of every profile.</summary>
    public int SecretCount => _secrets.Sum(c => c.Count);

    public NamespaceView? Namespace(string name) => Namespaces.Get(name, "");

    /// <summary>Every namespace currently opted in (selected by at least one profile).</summary>
    public IEnumerable<string> OptedIn() =>
        Namespaces.Namespaces().Where(n => Namespace(n) is { OptedIn: true });

    /// <summary>How many namespaces each profile selects, by profile index.</summary>
    public int[] SelectedPerProfile()
    {
        var counts = new int[Profiles.Count];
        foreach (var ns in Namespaces.Namespaces())
        {
            if (Namespace(ns) is { Member: var member and not 0 })
            {
                foreach (var p in Profiles.In(member))
                {
                    counts[p.Index]++;
                }
            }
        }

        return counts;
    }

    private static ulong Select(PullSecretProfiles profiles, Func<PullSecretProfile, bool> predicate)
    {
        var set = 0UL;
        foreach (var p in profiles)
        {
            set |= predicate(p) ? p.Bit : 0;
        }

        return set;
    }
}
