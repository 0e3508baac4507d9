using System.Collections.Concurrent;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// What the last reconcile of each namespace left behind: the namespaces out of sync, those blocked
/// by a same-named secret we do not own (each reported once, with a log line and a Warning Event,
/// until it clears), and those where the API server refused us (one Warning Event until a reconcile
/// succeeds). <see cref="ReconcileMetrics"/> exposes the first two sets' sizes as gauges.
/// </summary>
internal sealed class ReconcileStatus(EventRecorder events, ILogger logger, string secretName)
{
    private readonly ConcurrentDictionary<string, byte> _outOfSync = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _conflicts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _forbidden = new(StringComparer.Ordinal);

    /// <summary>Opted-in namespaces whose last reconcile did not reach the desired state (no token yet, a conflict, or a failure).</summary>
    public int OutOfSync => _outOfSync.Count;

    /// <summary>Namespaces where a same-named secret we do not own blocks us.</summary>
    public int Conflicts => _conflicts.Count;

    /// <summary>A reconcile ran to its end: the namespace is out of sync or not, and no longer refused.</summary>
    public void Completed(string ns, bool outOfSync)
    {
        Track(_outOfSync, ns, outOfSync);
        _forbidden.TryRemove(ns, out _);
    }

    /// <summary>A reconcile failed or must run again: an opted-in namespace is out of sync.</summary>
    public void Failed(string ns, bool optedIn) => Track(_outOfSync, ns, optedIn);

    /// <summary>Nothing blocks the namespace (any more): the secret is ours to write, or the namespace is gone or opted out.</summary>
    public void ConflictCleared(string ns) => _conflicts.TryRemove(ns, out _);

    /// <summary>A secret we may not (or cannot) take blocks the namespace: logged and recorded as a Warning Event the first time only.</summary>
    public async Task ConflictAsync(SecretView secret, bool adoptable, CancellationToken cancellationToken)
    {
        if (!_conflicts.TryAdd(secret.Namespace, 0))
        {
            return; // Reported already; nothing changed.
        }

        var how = adoptable
            ? $"its type {secret.Type} cannot hold a registry credential; delete it, or choose another EcrDaemon__SecretName"
            : $"to let ecr-daemon manage it, label it (kubectl label secret -n {secret.Namespace} {secretName} {Markers.ManagedByLabel}={Markers.ManagedByValue}) or set EcrDaemon__AdoptUnmanagedSecrets=true";
        logger.UnmanagedSecret(secret.Namespace, secretName, secret.Type ?? "", how);
        await events.WarningAsync(secret.Namespace, "Secret", secretName, "UnmanagedSecretExists",
            $"Secret {secretName} exists and is not managed by ecr-daemon, so it was left untouched; {how}.", cancellationToken);
    }

    /// <summary>The API server refused a reconcile of the namespace: a Warning Event the first time, until a reconcile completes.</summary>
    public async Task ForbiddenAsync(string ns, Exception refusal, CancellationToken cancellationToken)
    {
        if (_forbidden.TryAdd(ns, 0))
        {
            await events.WarningAsync(ns, "Secret", secretName, "Forbidden",
                $"ecr-daemon was refused ({ApiErrors.Describe(refusal)}); check that its ClusterRole grants what the chart renders.", cancellationToken);
        }
    }

    private static void Track(ConcurrentDictionary<string, byte> set, string ns, bool member)
    {
        if (member)
        {
            set.TryAdd(ns, 0);
        }
        else
        {
            set.TryRemove(ns, out _);
        }
    }
}
