using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.LeaderElection;
using EcrDaemon.Queues;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The daemon's main loop: three informers (namespaces; ServiceAccounts; the managed secrets, by
/// field selector <c>metadata.name=&lt;SecretName&gt;</c> so that no other secret is ever read) feed
/// namespace keys into the work queue, whose workers run <see cref="NamespaceReconciler"/>. A new
/// token, the first sync and every <c>ResyncInterval</c> enqueue every namespace.
/// </summary>
internal sealed class PullSecretController(
    IKubernetes client,
    ClusterState state,
    WorkQueue queue,
    NamespaceReconciler reconciler,
    TokenRefresher tokens,
    InformerSettings informerSettings,
    DaemonMetrics metrics,
    EventRecorder events,
    Leadership leadership,
    IOptions<EcrDaemonOptions> options,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<PullSecretController>();
    private readonly TaskCompletionSource _syncedOnce = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _synced;

    /// <summary>True once every informer has listed once.</summary>
    public bool Synced => _synced;

    /// <summary>The informers, once started (for liveness).</summary>
    public IReadOnlyList<IInformerStatus> Informers { get; private set; } = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var secretField = $"metadata.name={settings.SecretName}";
        var informerLogger = loggers.CreateLogger("EcrDaemon.Kubernetes.Informer");
        var namespaces = new Informer<V1Namespace>("namespaces",
            async (limit, next, ct) => Page(await client.CoreV1.ListNamespaceAsync(limit: limit, continueParameter: next, cancellationToken: ct)),
            (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespaceAsync(
                allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            state.Namespaces, informerSettings, time, metrics, informerLogger);
        var serviceAccounts = new Informer<V1ServiceAccount>("serviceaccounts",
            async (limit, next, ct) => Page(await client.CoreV1.ListServiceAccountForAllNamespacesAsync(limit: limit, continueParameter: next, cancellationToken: ct)),
            (rv, timeout, onError, ct) => client.CoreV1.WatchListServiceAccountForAllNamespacesAsync(
                allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            state.ServiceAccounts, informerSettings, time, metrics, informerLogger);
        var secrets = new Informer<V1Secret>("secrets",
            async (limit, next, ct) => Page(await client.CoreV1.ListSecretForAllNamespacesAsync(
                fieldSelector: secretField, limit: limit, continueParameter: next, cancellationToken: ct)),
            (rv, timeout, onError, ct) => client.CoreV1.WatchListSecretForAllNamespacesAsync(
                allowWatchBookmarks: true, fieldSelector: secretField, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            state.Secrets, informerSettings, time, metrics, informerLogger);

        Informers = [namespaces, serviceAccounts, secrets];
        tokens.Changed += _ => EnqueueOptedIn();
        tokens.FailureStarted += failure => _ = WarnTokenFailureAsync(failure, settings.SecretName, stoppingToken);
        var running = new List<Task>
        {
            namespaces.RunAsync(stoppingToken),
            serviceAccounts.RunAsync(stoppingToken),
            secrets.RunAsync(stoppingToken),
        };

        await Task.WhenAll(namespaces.Synced, serviceAccounts.Synced, secrets.Synced).WaitAsync(stoppingToken);
        _synced = true;
        _syncedOnce.TrySetResult();
        if (_logger.IsEnabled(LogLevel.Information))
        {
            _logger.InformersSynced(state.Namespaces.Count, state.OptedIn().Count(), state.ServiceAccounts.Count, state.Secrets.Count);
        }

        running.Add(WriteWhileLeadingAsync(settings, stoppingToken));
        await Task.WhenAll(running);
    }

    /// <summary>
    /// Only the leader writes: each term of leadership runs the workers and the resync until it
    /// ends. Followers keep their informers (and the queue's keys) warm, so a new leader starts at once.
    /// </summary>
    private async Task WriteWhileLeadingAsync(EcrDaemonOptions settings, CancellationToken stoppingToken)
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
                queue.RunAsync(settings.Concurrency, reconciler.ReconcileAsync,
                    (ns, e, delay) => _logger.ReconcileRetrying(ns, e is RetryLaterException ? e.Message : ApiErrors.Describe(e), delay), leading.Token),
                ResyncAsync(settings.ResyncInterval, leading.Token));
        }
    }

    /// <summary>A Warning Event on the opted-in namespaces' secrets (once they are known), as many as the recorder's rate limit lets through: the token could not be refreshed.</summary>
    private async Task WarnTokenFailureAsync(string failure, string secretName, CancellationToken stoppingToken)
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
        if (!leadership.IsLeader && (tokens.Current is not null ? "the leader" : await leadership.OtherLeaderAsync(stoppingToken)) is { } leader)
        {
            _logger.TokenFailureLeftToLeader(leader);
            return;
        }

        var message = $"The ECR token could not be refreshed ({failure}); the secret keeps the last good token, which expires at {tokens.Current?.Expiry ?? "(none held)"}.";
        foreach (var ns in state.OptedIn().ToList())
        {
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

    private static (IList<T> Items, string ResourceVersion, string? Continue) Page<T>(IKubernetesObject<V1ListMeta> list, IList<T> items) =>
        (items, list.Metadata.ResourceVersion, list.Metadata.ContinueProperty);

    private static (IList<V1Namespace>, string, string?) Page(V1NamespaceList list) => Page(list, list.Items);

    private static (IList<V1ServiceAccount>, string, string?) Page(V1ServiceAccountList list) => Page(list, list.Items);

    private static (IList<V1Secret>, string, string?) Page(V1SecretList list) => Page(list, list.Items);
}
