using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using EcrDaemon.Ecr;
using k8s;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.LeaderElection;

/// <summary>
/// Who may write. With <c>LeaderElection:Enabled=false</c> this replica always leads. Otherwise it
/// competes for a Lease (<see cref="LeaseElector"/>), once it holds an ECR
/// token: each term of leadership is a cancellation token that is cancelled the moment leadership
/// is lost, so the writes in flight stop at once. On shutdown the leader releases the Lease, so
/// that another replica takes over without waiting for it to expire.
/// </summary>
internal sealed class Leadership(KubernetesApi client, TokenRefresher refresher, IOptions<EcrDaemonOptions> options, TimeProvider time, ILogger<Leadership> logger)
    : BackgroundService
{
    private readonly Lock _lock = new();
    private TaskCompletionSource<CancellationToken> _nextTerm = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _term;
    private LeaseElector? _elector;

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
    /// or nobody leads (no Lease, an empty or expired one, or one that cannot be read). One GET. A hint for
    /// who records Events, not an election: with no history of the record, expiry is judged by its renewTime.
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
            var record = (await client.ReadLeaseAsync(election.Namespace, election.LeaseName, cancellationToken)).Spec;
            var held = record is { HolderIdentity: { Length: > 0 } holder, RenewTime: { } renewed } && holder != Identity
                && renewed.ToUniversalTime().AddSeconds(record.LeaseDurationSeconds ?? 0) > time.GetUtcNow().UtcDateTime;
            return held ? record!.HolderIdentity : null;
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

        _elector = new LeaseElector(client, election.Namespace, election.LeaseName, Identity,
            new LeaseTimings(election.LeaseDuration, election.RenewDeadline, election.RetryPeriod), time, logger);
        _elector.StartedLeading += Started;
        _elector.StoppedLeading += Stopped;
        await _elector.RunAsync(stoppingToken); // API errors are failed attempts inside; it returns when stopping
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_elector is null)
        {
            return;
        }

        // The elector has ended the term when it stopped; the Lease record says whether it is still ours to release.
        Stopped();
        try
        {
            await _elector.ReleaseAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LeaderElectionError($"could not release the Lease: {e.Message}");
        }
    }

    public override void Dispose()
    {
        _elector?.Dispose();
        base.Dispose();
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
