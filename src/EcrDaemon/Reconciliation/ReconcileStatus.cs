using System.Collections.Concurrent;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// What the last reconcile of each namespace left behind: per namespace, the profiles out of sync;
/// the profile secrets blocked by a same-named secret we do not own (each reported once, with a log
/// line and a Warning Event, until it clears); and the namespaces where the API server refused us
/// (one Warning Event until a reconcile succeeds). <see cref="ReconcileMetrics"/> exposes the first
/// two as gauges.
/// </summary>
internal sealed class ReconcileStatus(EventRecorder events, ILogger logger, PullSecretProfiles profiles)
{
    private readonly ConcurrentDictionary<string, ulong> _outOfSync = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Namespace, int Profile), byte> _conflicts = new();
    private readonly ConcurrentDictionary<string, byte> _forbidden = new(StringComparer.Ordinal);

    /// <summary>Opted-in namespaces whose last reconcile did not reach the desired state for some profile (no token yet, a conflict, or a failure).</summary>
    public int OutOfSync => _outOfSync.Count;

    /// <summary>Out-of-sync namespaces per profile, by profile index.</summary>
    public int[] OutOfSyncPerProfile()
    {
        var counts = new int[profiles.Count];
        foreach (var set in _outOfSync.Values)
        {
            foreach (var p in profiles.In(set))
            {
                counts[p.Index]++;
            }
        }

        return counts;
    }

    /// <summary>Profile secrets (a namespace and a profile) that a same-named secret we do not own blocks.</summary>
    public int Conflicts => _conflicts.Count;

    /// <summary>Namespaces where a same-named secret we do not own blocks the profile's secret, by profile index.</summary>
    public int[] ConflictsPerProfile()
    {
        var counts = new int[profiles.Count];
        foreach (var (_, profile) in _conflicts.Keys)
        {
            counts[profile]++;
        }

        return counts;
    }

    /// <summary>A reconcile ran to its end: <paramref name="outOfSync"/> holds the profiles it could not bring in sync; the namespace is no longer refused.</summary>
    public void Completed(string ns, ulong outOfSync)
    {
        Track(ns, outOfSync);
        _forbidden.TryRemove(ns, out _);
    }

    /// <summary>A reconcile failed or must run again: every profile that selects the namespace is out of sync.</summary>
    public void Failed(string ns, ulong member) => Track(ns, member);

    /// <summary>Nothing blocks the profile's secret (any more): it is ours to write, or the namespace left the profile.</summary>
    public void ConflictCleared(string ns, PullSecretProfile profile) => _conflicts.TryRemove((ns, profile.Index), out _);

    /// <summary>The namespace is gone or going: nothing of it blocks anything.</summary>
    public void ConflictsCleared(string ns)
    {
        foreach (var p in profiles)
        {
            ConflictCleared(ns, p);
        }
    }

    /// <summary>A secret we may not (or cannot) take blocks the profile: logged and recorded as a Warning Event the first time only.</summary>
    public async Task ConflictAsync(SecretView secret, PullSecretProfile profile, bool adoptable, CancellationToken cancellationToken)
    {
        if (!_conflicts.TryAdd((secret.Namespace, profile.Index), 0))
        {
            return; // Reported already; nothing changed.
        }

        var secretName = profile.SecretName;
        var how = adoptable
            ? $"its type {secret.Type} cannot hold a registry credential; delete it, or choose another secret name for profile {profile.Name}"
            : $"to let ecr-daemon manage it, label it (kubectl label secret -n {secret.Namespace} {secretName} {Markers.ManagedByLabel}={Markers.ManagedByValue}) or set EcrDaemon__AdoptUnmanagedSecrets=true"
                + (profile.Format == Configuration.SecretFormat.ArgoCdRepositoryCredentials ? $" and label it {Markers.ArgoCdSecretTypeLabel}={Markers.ArgoCdRepoCreds}" : "");
        logger.UnmanagedSecret(secret.Namespace, secretName, profile.Name, secret.Type ?? "", how);
        await events.WarningAsync(secret.Namespace, "Secret", secretName, "UnmanagedSecretExists",
            $"Secret {secretName} (profile {profile.Name}) exists and is not managed by ecr-daemon, so it was left untouched; {how}.", cancellationToken);
    }

    /// <summary>The API server refused a reconcile of the namespace: a Warning Event (on <paramref name="secretName"/>) the first time, until a reconcile completes.</summary>
    public async Task ForbiddenAsync(string ns, string secretName, Exception refusal, CancellationToken cancellationToken)
    {
        if (_forbidden.TryAdd(ns, 0))
        {
            await events.WarningAsync(ns, "Secret", secretName, "Forbidden",
                $"ecr-daemon was refused ({ApiErrors.Describe(refusal)}); check that its ClusterRole grants what the chart renders.", cancellationToken);
        }
    }

    private void Track(string ns, ulong profilesOutOfSync)
    {
        if (profilesOutOfSync != 0)
        {
            _outOfSync[ns] = profilesOutOfSync;
        }
        else
        {
            _outOfSync.TryRemove(ns, out _);
        }
    }
}
