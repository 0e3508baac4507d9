using System.Diagnostics.Metrics;
using System.Runtime.ExceptionServices;
using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using EcrDaemon.Queues;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Reconciliation;

/// <summary>Where a reconcile left its namespace.</summary>
internal enum ReconcileOutcome
{
    /// <summary>In the desired state.</summary>
    InSync,

    /// <summary>Opted in but not there: no token yet, or a secret we do not own blocks it.</summary>
    OutOfSync,

    /// <summary>Not ours to manage: gone, terminating, or opted out.</summary>
    NotManaged,

    /// <summary>A secret write met a 409 (our cache was behind); the cache now holds what is there: run again.</summary>
    RetryLater,
}

/// <summary>
/// Reconcile(namespace): makes one namespace match the desired state, reading only the informers'
/// caches and writing only the difference. For each profile that selects it, the profile's secret
/// holds the current auths of the profile's registries and each targeted ServiceAccount lists it
/// exactly once. For each profile it left (with CleanupOnOptOut), our secret and the entries we
/// added are gone. In sync: no request at all. This class orchestrates: the planners
/// (<see cref="SecretPlanner"/>, <see cref="ServiceAccountPlanner"/>) decide, the writers
/// (<see cref="SecretWriter"/>, one per profile, and <see cref="ServiceAccountWriter"/>, one patch per
/// ServiceAccount for all profiles) write and cache, and <see cref="ReconcileStatus"/> keeps what
/// each namespace's last reconcile left behind.
/// </summary>
internal sealed class NamespaceReconciler
{
    private readonly ClusterState _state;
    private readonly DesiredPullSecret _desired;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EcrDaemonOptions _daemonOptions;
    private readonly PullSecretProfiles _profiles;
    private readonly ulong _allProfiles;
    private readonly ServiceAccountPlanner _planner;
    private readonly ReconcileStatus _status;
    private readonly ReconcileMetrics _metrics;
    private readonly SecretWriter[] _secrets;
    private readonly ServiceAccountWriter _serviceAccounts;

    public NamespaceReconciler(KubernetesApi client, ClusterState state, WorkQueue queue, DesiredPullSecret desired, EventRecorder events,
        IMeterFactory meters, TimeProvider time, IOptions<EcrDaemonOptions> options, ILogger<NamespaceReconciler> logger)
    {
        (_state, _desired, _time, _logger, _daemonOptions, _profiles) = (state, desired, time, logger, options.Value, state.Profiles);
        _allProfiles = _profiles.Aggregate(0UL, (set, p) => set | p.Bit);
        _planner = new(_profiles);
        _status = new(events, logger, _profiles);
        _metrics = new(meters, _status, _profiles);
        _secrets = [.. _profiles.Select(p => new SecretWriter(client, state.Secrets(p), queue.Progressed, events, logger, p))];
        _serviceAccounts = new(client, state, queue.Progressed, events, logger);
    }

    /// <summary>Profile secrets (a namespace and a profile) that a same-named secret we do not own blocks.</summary>
    public int UnmanagedSecretConflicts => _status.Conflicts;

    /// <summary>Opted-in namespaces whose last reconcile did not reach the desired state (no token yet, a conflict, or a failure).</summary>
    public int OutOfSync => _status.OutOfSync;

    /// <summary>Out-of-sync namespaces per profile, by profile index (what the out-of-sync gauge shows).</summary>
    public int[] OutOfSyncPerProfile() => _status.OutOfSyncPerProfile();

    /// <summary>
    /// Reconciles one namespace. <see cref="WorkResult.RetryLater"/> (our cache was behind: a 409)
    /// or an exception asks the queue to run it again after its backoff.
    /// </summary>
    public async Task<WorkResult> ReconcileAsync(string ns, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        Exception? reported = null;
        try
        {
            var result = await ReconcileCoreAsync(ns, cancellationToken);
            if (result.Failure is { } failure)
            {
                // One profile's write failed and the others went on: only the profiles not in sync count as such.
                reported = failure.SourceException;
                await FailedAsync(ns, reported, result.OutOfSync, cancellationToken);
                failure.Throw();
            }

            if (result.Outcome == ReconcileOutcome.RetryLater)
            {
                cancellationToken.ThrowIfCancellationRequested(); // stopping: the queue keeps the key for the next run
                _metrics.ReconcileFailed("conflict");
                _status.Failed(ns, Member(ns));
                return WorkResult.RetryLater($"secret {ns}/{result.Conflicted!.SecretName} changed while we wrote it; retrying with what is there now");
            }

            _status.Completed(ns, result.OutOfSync);
            return WorkResult.Done;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && !ReferenceEquals(e, reported))
        {
            await FailedAsync(ns, e, Member(ns), cancellationToken);
            throw;
        }
        finally
        {
            _metrics.Reconciled(_time.GetElapsedTime(started));
        }
    }

    /// <summary>A reconcile failed: counted by reason, <paramref name="profiles"/> out of sync, and a refusal reported once.</summary>
    private async Task FailedAsync(string ns, Exception e, ulong profiles, CancellationToken cancellationToken)
    {
        var reason = ApiErrors.Reason(e);
        _metrics.ReconcileFailed(reason);
        _status.Failed(ns, profiles);
        if (reason == "forbidden")
        {
            await _status.ForbiddenAsync(ns, (_profiles.In(profiles | Member(ns)).FirstOrDefault() ?? _profiles[0]).SecretName, e, cancellationToken);
        }
    }

    private ulong Member(string ns) => _state.Namespace(ns)?.Member ?? 0;

    /// <summary>
    /// Where the namespace was left, the profiles that selected it but are not in sync, the profile whose secret
    /// met a 409, and the first failure of one profile's secret (the others were reconciled all the same).
    /// </summary>
    private readonly record struct Result(ReconcileOutcome Outcome, ulong OutOfSync = 0, PullSecretProfile? Conflicted = null, ExceptionDispatchInfo? Failure = null);

    private async Task<Result> ReconcileCoreAsync(string ns, CancellationToken cancellationToken)
    {
        var view = _state.Namespace(ns);
        if (view is null || view.Terminating)
        {
            // Gone or going: what was in it goes with it.
            _status.ConflictsCleared(ns);
            return new(ReconcileOutcome.NotManaged);
        }

        try
        {
            // The profiles the namespace left whose secret and entries go: neither selected nor excluded.
            var cleanup = _daemonOptions.CleanupOnOptOut ? _allProfiles & ~view.Member & ~view.Excluded : 0;
            var ensured = 0UL;
            var outOfSync = 0UL;
            ExceptionDispatchInfo? failure = null;
            foreach (var profile in _profiles)
            {
                if ((view.Member & profile.Bit) != 0)
                {
                    ReconcileOutcome outcome;
                    try
                    {
                        outcome = await EnsureSecretAsync(ns, profile, cancellationToken);
                    }
                    catch (Exception e) when (Isolated(e, cancellationToken))
                    {
                        // This profile's secret failed (a quota, a webhook): the namespace's other profiles go on; the error is thrown at the end.
                        failure ??= ExceptionDispatchInfo.Capture(e);
                        outcome = ReconcileOutcome.OutOfSync;
                    }

                    switch (outcome)
                    {
                        case ReconcileOutcome.InSync:
                            ensured |= profile.Bit;
                            break;
                        case ReconcileOutcome.RetryLater:
                            return new(ReconcileOutcome.RetryLater, Conflicted: profile);
                        default:
                            outOfSync |= profile.Bit;
                            break;
                    }
                }
                else
                {
                    _status.ConflictCleared(ns, profile);
                    try
                    {
                        if ((cleanup & profile.Bit) != 0 && await RemoveSecretAsync(ns, profile, cancellationToken) == WriteOutcome.Conflict)
                        {
                            return new(ReconcileOutcome.RetryLater, Conflicted: profile);
                        }
                    }
                    catch (Exception e) when (Isolated(e, cancellationToken))
                    {
                        failure ??= ExceptionDispatchInfo.Capture(e);
                        cleanup &= ~profile.Bit; // its entries stay until its secret is gone
                    }
                }
            }

            if ((ensured | cleanup) != 0)
            {
                // Only the ServiceAccounts that need a write are copied out of the cache: a namespace with
                // thousands of them, requeued by each one's event, costs a scan per reconcile, not a copy.
                // Each gets one patch for every profile's entry.
                var sets = new ProfileSets(ensured, cleanup);
                foreach (var sa in _state.ServiceAccounts.Where(ns, sa => _planner.NeedsChange(sets, sa)))
                {
                    await _serviceAccounts.ApplyAsync(sa, current => _planner.Plan(sets, current), cancellationToken);
                }
            }

            if (failure is not null)
            {
                return new(ReconcileOutcome.OutOfSync, outOfSync, Failure: failure);
            }

            return !view.OptedIn ? new(ReconcileOutcome.NotManaged)
                : outOfSync != 0 ? new(ReconcileOutcome.OutOfSync, outOfSync)
                : new(ReconcileOutcome.InSync);
        }
        catch (HttpOperationException e) when (ApiErrors.NamespaceGoingAway(e))
        {
            _logger.NamespaceGoingAway(ns);
            return new(ReconcileOutcome.NotManaged);
        }
    }

    /// <summary>A profile's own failure, which must not hold back the namespace's other profiles (not a stop, not the namespace going away).</summary>
    private static bool Isolated(Exception e, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested && !(e is HttpOperationException http && ApiErrors.NamespaceGoingAway(http));

    /// <summary>
    /// Makes the profile's secret hold its current content: <see cref="ReconcileOutcome.InSync"/> (in
    /// place), <see cref="ReconcileOutcome.OutOfSync"/> (no token yet, or a secret we may not take) or
    /// <see cref="ReconcileOutcome.RetryLater"/> (a 409).
    /// </summary>
    private async Task<ReconcileOutcome> EnsureSecretAsync(string ns, PullSecretProfile profile, CancellationToken cancellationToken)
    {
        if (_desired.Current(profile) is not { } content)
        {
            return ReconcileOutcome.OutOfSync; // No token yet; its arrival enqueues every opted-in namespace.
        }

        var secret = _state.Secrets(profile).Get(ns, profile.SecretName);
        var action = SecretPlanner.Plan(secret, content.Hash, content.Expiry, _desired.Previous(profile)?.Hash, _daemonOptions.AdoptUnmanagedSecrets, content.Type);
        if (action.Blocked())
        {
            await _status.ConflictAsync(secret!, profile, adoptable: action == SecretAction.LeaveWrongType, cancellationToken);
            return ReconcileOutcome.OutOfSync;
        }

        if (action != SecretAction.Create)
        {
            _status.ConflictCleared(ns, profile); // the secret is ours to write; a create (nothing there) leaves a recorded conflict as it is
        }

        return await _secrets[profile.Index].ApplyAsync(ns, secret, action, content, cancellationToken) == WriteOutcome.Conflict
            ? ReconcileOutcome.RetryLater
            : ReconcileOutcome.InSync;
    }

    /// <summary>Deletes the profile's secret if it is ours: <see cref="WriteOutcome.Conflict"/> when it changed meanwhile.</summary>
    private async Task<WriteOutcome> RemoveSecretAsync(string ns, PullSecretProfile profile, CancellationToken cancellationToken) =>
        _state.Secrets(profile).Get(ns, profile.SecretName) is { Managed: true } secret
            ? await _secrets[profile.Index].RemoveAsync(secret, cancellationToken)
            : WriteOutcome.Unchanged;
}
