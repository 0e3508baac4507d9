using System.Diagnostics.Metrics;
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
/// caches and writing only the difference. Opted in: the secret holds the current auths and each
/// targeted ServiceAccount lists it exactly once. Opted out (with CleanupOnOptOut): our secret and
/// the entries we added are gone. In sync: no request at all. This class orchestrates: the planners
/// (<see cref="SecretPlanner"/>, <see cref="ServiceAccountPlanner"/>) decide, the writers
/// (<see cref="SecretWriter"/>, <see cref="ServiceAccountWriter"/>) write and cache, and
/// <see cref="ReconcileStatus"/> keeps what each namespace's last reconcile left behind.
/// </summary>
internal sealed class NamespaceReconciler
{
    private readonly ClusterState _state;
    private readonly DesiredPullSecret _desired;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EcrDaemonOptions _daemonOptions;
    private readonly ServiceAccountPlanner _planner;
    private readonly ReconcileStatus _status;
    private readonly ReconcileMetrics _metrics;
    private readonly SecretWriter _secrets;
    private readonly ServiceAccountWriter _serviceAccounts;

    public NamespaceReconciler(IKubernetes client, ClusterState state, WorkQueue queue, DesiredPullSecret desired, EventRecorder events,
        IMeterFactory meters, TimeProvider time, IOptions<EcrDaemonOptions> options, ILogger<NamespaceReconciler> logger)
    {
        (_state, _desired, _time, _logger, _daemonOptions) = (state, desired, time, logger, options.Value);
        _planner = new(SecretName, _daemonOptions.TargetServiceAccounts);
        _status = new(events, logger, SecretName);
        _metrics = new(meters, _status);
        _secrets = new(client, state, queue.Progressed, events, logger, SecretName);
        _serviceAccounts = new(client, state, queue.Progressed, events, logger, SecretName);
    }

    /// <summary>Namespaces where a same-named secret we do not own blocks us.</summary>
    public int UnmanagedSecretConflicts => _status.Conflicts;

    /// <summary>Opted-in namespaces whose last reconcile did not reach the desired state (no token yet, a conflict, or a failure).</summary>
    public int OutOfSync => _status.OutOfSync;

    private string SecretName => _daemonOptions.SecretName;

    /// <summary>
    /// Reconciles one namespace. <see cref="WorkResult.RetryLater"/> (our cache was behind: a 409)
    /// or an exception asks the queue to run it again after its backoff.
    /// </summary>
    public async Task<WorkResult> ReconcileAsync(string ns, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            var outcome = await ReconcileCoreAsync(ns, cancellationToken);
            if (outcome == ReconcileOutcome.RetryLater)
            {
                cancellationToken.ThrowIfCancellationRequested(); // stopping: the queue keeps the key for the next run
                _metrics.ReconcileFailed("conflict");
                _status.Failed(ns, _state.Namespace(ns) is { OptedIn: true });
                return WorkResult.RetryLater($"secret {ns}/{SecretName} changed while we wrote it; retrying with what is there now");
            }

            _status.Completed(ns, outOfSync: outcome == ReconcileOutcome.OutOfSync);
            return WorkResult.Done;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = ApiErrors.Reason(e);
            _metrics.ReconcileFailed(reason);
            _status.Failed(ns, _state.Namespace(ns) is { OptedIn: true });
            if (reason == "forbidden")
            {
                await _status.ForbiddenAsync(ns, e, cancellationToken);
            }

            throw;
        }
        finally
        {
            _metrics.Reconciled(_time.GetElapsedTime(started));
        }
    }

    private async Task<ReconcileOutcome> ReconcileCoreAsync(string ns, CancellationToken cancellationToken)
    {
        var view = _state.Namespace(ns);
        if (view is null || view.Terminating)
        {
            // Gone or going: what was in it goes with it.
            _status.ConflictCleared(ns);
            return ReconcileOutcome.NotManaged;
        }

        try
        {
            if (view.OptedIn)
            {
                return await EnsureAsync(ns, cancellationToken);
            }

            if (_daemonOptions.CleanupOnOptOut && !_daemonOptions.Excluded.Contains(ns))
            {
                return await RemoveAsync(ns, cancellationToken);
            }

            return ReconcileOutcome.NotManaged;
        }
        catch (HttpOperationException e) when (ApiErrors.NamespaceGoingAway(e))
        {
            _logger.NamespaceGoingAway(ns);
            return ReconcileOutcome.NotManaged;
        }
    }

    private async Task<ReconcileOutcome> EnsureAsync(string ns, CancellationToken cancellationToken)
    {
        if (_desired.Current is not { } content)
        {
            return ReconcileOutcome.OutOfSync; // No token yet; its arrival enqueues every opted-in namespace.
        }

        var secret = _state.Secrets.Get(ns, SecretName);
        var action = SecretPlanner.Plan(secret, content.Hash, content.Expiry, _desired.Previous?.Hash, _daemonOptions.AdoptUnmanagedSecrets);
        if (action.Blocked())
        {
            await _status.ConflictAsync(secret!, adoptable: action == SecretAction.LeaveWrongType, cancellationToken);
            return ReconcileOutcome.OutOfSync;
        }

        if (action != SecretAction.Create)
        {
            _status.ConflictCleared(ns); // the secret is ours to write; a create (nothing there) leaves a recorded conflict as it is
        }

        if (await _secrets.ApplyAsync(ns, secret, action, content, cancellationToken) == WriteOutcome.Conflict)
        {
            return ReconcileOutcome.RetryLater;
        }

        // Only the ServiceAccounts that need a write are copied out of the cache: a namespace with
        // thousands of them, requeued by each one's event, costs a scan per reconcile, not a copy.
        foreach (var sa in _state.ServiceAccounts.Where(ns, _planner.NeedsChange))
        {
            await _serviceAccounts.ApplyAsync(sa, _planner.Plan, cancellationToken);
        }

        return ReconcileOutcome.InSync;
    }

    private async Task<ReconcileOutcome> RemoveAsync(string ns, CancellationToken cancellationToken)
    {
        _status.ConflictCleared(ns);
        if (_state.Secrets.Get(ns, SecretName) is { Managed: true } secret)
        {
            if (await _secrets.RemoveAsync(secret, cancellationToken) == WriteOutcome.Conflict)
            {
                return ReconcileOutcome.RetryLater;
            }
        }

        foreach (var sa in _state.ServiceAccounts.Where(ns, sa => sa.AddedByUs))
        {
            await _serviceAccounts.ApplyAsync(sa, _planner.PlanRemove, cancellationToken);
        }

        return ReconcileOutcome.NotManaged;
    }
}
