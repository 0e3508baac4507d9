using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.LeaderElection;
using EcrDaemon.Queues;
using EcrDaemon.Reconciliation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Controller;

/// <summary>
/// The daemon's main loop: the registered informers (<see cref="InformerRegistration"/>) feed
/// namespace keys into the work queue; while this replica leads, the queue's workers run
/// <see cref="NamespaceReconciler"/>. A new token, the first sync of a term and every
/// <c>ResyncInterval</c> enqueue every namespace.
/// </summary>
internal sealed class PullSecretController(
    Informers informers,
    ClusterState state,
    WorkQueue queue,
    NamespaceReconciler reconciler,
    TokenRefresher refresher,
    EventRecorder events,
    Leadership leadership,
    ControllerMetrics gauges,
    IOptions<EcrDaemonOptions> options,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<PullSecretController>();
    private readonly Informers _informers = informers;
    private readonly TaskCompletionSource _syncedOnce = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _synced;

    /// <summary>True once every informer has listed once.</summary>
    public bool Synced => _synced;

    /// <summary>The controller's gauges, created with it so that they are there from the start.</summary>
    public ControllerMetrics Gauges { get; } = gauges;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var daemonOptions = options.Value;
        refresher.Changed += _ => EnqueueOptedIn();
        refresher.FailureStarted += failure => _ = WarnTokenFailureAsync(failure, stoppingToken);
        var running = _informers.Select(i => i.RunAsync(stoppingToken)).ToList();

        await Task.WhenAll(_informers.Select(i => i.Synced)).WaitAsync(stoppingToken);
        _synced = true;
        _syncedOnce.TrySetResult();
        if (_logger.IsEnabled(LogLevel.Information))
        {
            _logger.InformersSynced(state.Namespaces.Count, state.OptedIn().Count(), state.ServiceAccounts.Count, state.SecretCount);
        }

        running.Add(WriteWhileLeadingAsync(daemonOptions, stoppingToken));
        await Task.WhenAll(running);
    }

    /// <summary>
    /// Only the leader writes: each term of leadership runs the workers and the resync until it
    /// ends. Followers keep their informers (and the queue's keys) warm, so a new leader starts at once.
    /// </summary>
    private async Task WriteWhileLeadingAsync(EcrDaemonOptions daemonOptions, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            CancellationToken term;
            try
            {
                term = await leadership.WaitForTermAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using var leading = CancellationTokenSource.CreateLinkedTokenSource(term, stoppingToken);
            EnqueueAll();
            await Task.WhenAll(
                queue.RunAsync(daemonOptions.Concurrency, reconciler.ReconcileAsync,
                    (ns, e, reason, delay) => _logger.ReconcileRetrying(ns, reason ?? ApiErrors.Describe(e!), delay), leading.Token),
                ResyncAsync(daemonOptions.ResyncInterval, leading.Token));
        }
    }

    /// <summary>A Warning Event on the opted-in namespaces' secrets (once they are known), as many as the recorder's rate limit lets through: the token could not be refreshed.</summary>
    private async Task WarnTokenFailureAsync(string failure, CancellationToken stoppingToken)
    {
        try
        {
            await _syncedOnce.Task.WaitAsync(stoppingToken); // at cold start the opted-in namespaces are not known yet
        }
        catch (OperationCanceledException)
        {
            return;
        }

        // The leader records it. A replica without a token never competes for the Lease, so when no replica
        // leads (all of them without a token, as at a cold start during an outage) it records the failure itself.
        if (!leadership.IsLeader && (refresher.Current is not null ? "the leader" : await leadership.OtherLeaderAsync(stoppingToken)) is { } leader)
        {
            _logger.TokenFailureLeftToLeader(leader);
            return;
        }

        var message = $"The ECR token could not be refreshed ({failure}); the secret keeps the last good token, which expires at {refresher.Current?.Expiry ?? "(none held)"}.";
        foreach (var ns in state.OptedIn().ToList())
        {
            // On the secret of the first profile that selects the namespace: one Warning per namespace, not per profile.
            var secretName = (state.Namespace(ns) is { Member: var member } ? state.Profiles.In(member).FirstOrDefault() : null)?.SecretName;
            if (secretName is null)
            {
                continue; // opted out meanwhile
            }

            // A namespace whose own share is spent must not keep the Warning from the namespaces after it. The
            // daemon-wide budget ends the round, and so does a refused or failed create: with the API server
            // unreachable, each attempt would wait out its timeout while the budget refills, for hours.
            if (await events.WarningAsync(ns, "Secret", secretName, "TokenRefreshFailed", message, stoppingToken) is not (EventOutcome.Recorded or EventOutcome.NamespaceSpent))
            {
                break; // the rest would be dropped too
            }
        }
    }

    private async Task ResyncAsync(TimeSpan interval, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var count = EnqueueAll();
                _logger.Resynced(count);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private int EnqueueAll()
    {
        var all = state.Namespaces.Namespaces();
        foreach (var ns in all)
        {
            queue.Add(ns);
        }

        return all.Count;
    }

    private void EnqueueOptedIn() => state.OptedIn().ToList().ForEach(queue.Add);
}
