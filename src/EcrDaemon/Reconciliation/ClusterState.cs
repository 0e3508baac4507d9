using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using k8s.Models;

namespace EcrDaemon.Reconciliation;

/// <summary>What reconcile needs to know of a namespace.</summary>
internal sealed record NamespaceView(string Name, bool OptedIn, bool Terminating);

/// <summary>What reconcile needs to know of a ServiceAccount: its pull-secret names, in order, and whether we added ours.</summary>
/// <param name="AddedUnderOtherName">The entry our marker names when that is not SecretName: one the daemon added under an earlier SecretName.</param>
internal sealed record ServiceAccountView(string Namespace, string Name, string ResourceVersion, IReadOnlyList<string> PullSecrets, bool AddedByUs,
    string? AddedUnderOtherName = null);

/// <summary>What reconcile needs to know of the managed secret in a namespace: a hash of its data, not the data; immutable ones cannot be patched.</summary>
internal sealed record SecretView(string Namespace, string ResourceVersion, string? Type, bool Managed, string? DataHash, string? Expiry, bool Immutable = false);

/// <summary>
/// What reconcile reads: the informers' caches of namespaces, ServiceAccounts and the managed
/// secrets, each object projected to what reconcile needs (the opt-in policy: selector and
/// exclusions; a hash of the secret's data). Every change reports the namespace it touched to
/// <c>changed</c> (the controller maps it to a work-queue key).
/// </summary>
internal sealed class ClusterState
{
    public ClusterState(EcrDaemonOptions daemonOptions, Action<string> changed)
    {
        var selector = LabelSelector.Parse(daemonOptions.NamespaceSelector);
        var excluded = daemonOptions.Excluded.ToHashSet(StringComparer.Ordinal);
        var secretName = daemonOptions.SecretName;
        var strings = new StringPool();
        string[] justOurs = [secretName];
        Namespaces = new(ns => new NamespaceView(
            ns.Metadata.Name,
            !excluded.Contains(ns.Metadata.Name) && selector.Matches(ns.Metadata.Labels),
            ns.Metadata.DeletionTimestamp is not null || ns.Status?.Phase == "Terminating"), changed);
        ServiceAccounts = new(sa => new ServiceAccountView(
            strings.Share(sa.Metadata.NamespaceProperty),
            strings.Share(sa.Metadata.Name),
            sa.Metadata.ResourceVersion,
            sa.ImagePullSecrets switch
            {
                null or [] => [],
                [{ Name: var only }] when only == secretName => justOurs, // what most ServiceAccounts hold once synced
                var references => [.. references.Select(r => strings.Share(r.Name ?? ""))],
            },
            Markers.AddedByUs(sa.Metadata.Annotations, secretName),
            Markers.AddedPullSecret(sa.Metadata.Annotations) is { } other && other != secretName ? strings.Share(other) : null), changed);
        Secrets = new(secret => new SecretView(
            secret.Metadata.NamespaceProperty,
            secret.Metadata.ResourceVersion,
            strings.Share(secret.Type),
            Markers.IsManaged(secret.Metadata.Labels),
            strings.Share(PullSecretContent.HashOf(secret.Data?.TryGetValue(Markers.DockerConfigJsonKey, out var data) == true ? data : null)),
            strings.Share(secret.Metadata.Annotations?.TryGetValue(Markers.ExpiresAtAnnotation, out var expiry) == true ? expiry : null),
            secret.Immutable == true), changed);
    }

    public ObjectCache<V1Namespace, NamespaceView> Namespaces { get; }

    public ObjectCache<V1ServiceAccount, ServiceAccountView> ServiceAccounts { get; }

    public ObjectCache<V1Secret, SecretView> Secrets { get; }

    public NamespaceView? Namespace(string name) => Namespaces.Get(name, "");

    /// <summary>Every namespace currently opted in.</summary>
    public IEnumerable<string> OptedIn() =>
        Namespaces.Namespaces().Where(n => Namespace(n) is { OptedIn: true });
}
