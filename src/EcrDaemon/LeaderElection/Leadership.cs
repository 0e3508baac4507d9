using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.LeaderElection;

/// <summary>
/// Who may write. With <c>LeaderElection:Enabled=false</c> this replica always leads. Otherwise it
/// competes for a Lease (KubernetesClient's LeaderElector and LeaseLock), once it holds an ECR
/// token: each term of leadership is a cancellation token that is cancelled the moment leadership
/// is lost, so the writes in flight stop at once. On shutdown the leader releases the Lease, so
/// that another replica takes over without waiting for it to expire.
/// </summary>
internal sealed class Leadership(IKubernetes client, TokenRefresher refresher, IOptions<EcrDaemonOptions> options, ILogger<Leadership> logger) : BackgroundService
{
    private readonly Lock _lock = new();
    private TaskCompletionSource<CancellationToken> _nextTerm = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _term;
    private LeaseLock? _lease;

    public bool IsLeader { get; private set; }

    public string Identity { get; } = Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod
        ? pod
        : $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Waits until this replica leads; the token is cancelled when that term ends.</summary>
    public Task<CancellationToken> WaitForTermAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return _nextTerm.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Another replica that holds the Lease now (unexpired), or null: this one leads, election is off,
    /// or nobody leads (no Lease, an empty or expired one, or one that cannot be read). One GET.
    /// </summary>
    public async Task<string?> OtherLeaderAsync(CancellationToken cancellationToken)
    {
        var election = options.Value.LeaderElection;
        if (!election.Enabled || IsLeader)
        {
            return null;
        }

        try
        {
            var record = await (_lease ?? new LeaseLock(client, election.Namespace, election.LeaseName, Identity)).GetAsync(cancellationToken);
            var held = !string.IsNullOrEmpty(record.HolderIdentity) && record.HolderIdentity != Identity
                && record.RenewTime is { } renewed && renewed.ToUniversalTime().AddSeconds(record.LeaseDurationSeconds) > DateTime.UtcNow;
            return held ? record.HolderIdentity : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var election = options.Value.LeaderElection;
        if (!election.Enabled)
        {
            Started();
            return;
        }

        // A replica without a token could not write anything: it competes only once it holds one, so
        // that a replica started during an ECR outage never takes the Lease from one that can write.
        try
        {
            await refresher.FirstToken.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        _lease = new LeaseLock(client, election.Namespace, election.LeaseName, Identity);
        while (!stoppingToken.IsCancellationRequested)
        {
            using var elector = new LeaderElector(new LeaderElectionConfig(_lease)
            {
                LeaseDuration = election.LeaseDuration,
                RenewDeadline = election.RenewDeadline,
                RetryPeriod = election.RetryPeriod,
            });
            elector.OnStartedLeading += Started;
            elector.OnStoppedLeading += Stopped;
            elector.OnNewLeader += leader => logger.NewLeader(leader, election.Namespace, election.LeaseName);
            elector.OnError += e => logger.LeaderElectionError(e.Message);
            try
            {
                await elector.RunAndTryToHoldLeadershipForeverAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return; // Stopping: StopAsync releases the Lease.
            }
            catch (Exception e)
            {
                // An API error escaped the elector (a 5xx or 429 on the Lease): this replica must not die of it.
                Stopped();
                logger.LeaderElectionError($"the elector stopped ({e.GetType().Name}: {e.Message}); competing again");
                try
                {
                    await Task.Delay(election.RetryPeriod, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_lease is null)
        {
            return;
        }

        // The elector may already have reported the end of the term; the Lease record says whether it is still ours.
        Stopped();
        try
        {
            var record = await _lease.GetAsync(cancellationToken);
            if (record.HolderIdentity == Identity)
            {
                record.HolderIdentity = "";
                record.LeaseDurationSeconds = 1;
                record.RenewTime = DateTime.UtcNow;
                await _lease.UpdateAsync(record, cancellationToken);
                logger.LeaseReleased(options.Value.LeaderElection.LeaseName);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LeaderElectionError($"could not release the Lease: {e.Message}");
        }
    }

    private void Started()
    {
        lock (_lock)
        {
            _term = new CancellationTokenSource();
            IsLeader = true;
            _nextTerm.TrySetResult(_term.Token);
        }

        logger.BecameLeader(Identity);
    }

    private void Stopped()
    {
        CancellationTokenSource? ended;
        lock (_lock)
        {
            if (!IsLeader)
            {
                return;
            }

            IsLeader = false;
            ended = _term;
            _term = null;
            _nextTerm = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        logger.LostLeadership(Identity);
        ended?.Cancel();
        ended?.Dispose();
    }
}
