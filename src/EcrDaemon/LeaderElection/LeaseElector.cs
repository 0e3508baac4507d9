using System.Net;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.LeaderElection;

/// <summary>How long a Lease holds, how long its holder keeps trying to renew it, and the wait between attempts.</summary>
internal sealed record LeaseTimings(TimeSpan LeaseDuration, TimeSpan RenewDeadline, TimeSpan RetryPeriod);

/// <summary>
/// Competes for a coordination.k8s.io/v1 Lease and, once it holds it, renews it.
/// <list type="bullet">
/// <item>Acquire: no Lease, it creates one. A Lease with an empty <c>holderIdentity</c> (released) is taken at
/// once. A Lease held by another replica is taken only once it has expired, and expiry is judged by this
/// replica's own clock from the moment it last saw the record change, never by comparing the holder's
/// <c>renewTime</c> with the local clock: two nodes whose clocks disagree cannot both believe they lead.
/// Taking a Lease over sets <c>acquireTime</c> and adds one to <c>leaseTransitions</c>.</item>
/// <item>Renew: the holder rewrites <c>renewTime</c> every <see cref="LeaseTimings.RetryPeriod"/>. Every write
/// is a replace carrying the <c>resourceVersion</c> just read: a 409 means someone else wrote, so the record
/// is read again and judged again, never overwritten.</item>
/// <item>Stepping down: a term lasts until <see cref="LeaseTimings.RenewDeadline"/> after the start of the last
/// successful write, unless renewed. The holder's last write reached the API server after it started, and
/// other replicas wait a whole Lease duration from when they see it, so with <c>RenewDeadline &lt;
/// LeaseDuration</c> this replica has stopped leading before any other may take over.</item>
/// <item>Errors (5xx, 429, timeouts, a broken connection) are failed attempts: the loop goes on.</item>
/// </list>
/// All time comes from the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class LeaseElector : IDisposable
{
    private const int Tries = 2; // a read and a write, once more after a conflict

    private readonly KubernetesApi _client;
    private readonly string _namespace;
    private readonly string _name;
    private readonly LeaseTimings _timings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly ITimer _deadline;

    private Observed? _seen;
    private long _seenChangedAt;
    private string? _lastHolder;
    private bool _leading;
    private long _renewStartedAt;
    private long _rounds;

    public LeaseElector(KubernetesApi client, string @namespace, string name, string identity, LeaseTimings timings, TimeProvider time, ILogger logger)
    {
        _client = client;
        _namespace = @namespace;
        _name = name;
        Identity = identity;
        _timings = timings;
        _time = time;
        _logger = logger;
        _deadline = time.CreateTimer(_ => DeadlinePassed(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Raised (synchronously, in order with <see cref="StoppedLeading"/>) when a term begins.</summary>
    public event Action? StartedLeading;

    /// <summary>Raised when a term ends: the renew deadline passed, another replica holds the Lease, or the elector stops.</summary>
    public event Action? StoppedLeading;

    public string Identity { get; }

    public bool IsLeader
    {
        get
        {
            lock (_lock)
            {
                return _leading;
            }
        }
    }

    /// <summary>How many attempts have finished with the wait for the next one begun (a test steps a fake clock by it).</summary>
    internal long Rounds => Interlocked.Read(ref _rounds);

    private int LeaseSeconds => (int)Math.Max(1, Math.Ceiling(_timings.LeaseDuration.TotalSeconds));

    /// <summary>Competes (and leads while it can) until <paramref name="stoppingToken"/>; the term ends when it returns.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await AttemptAsync(stoppingToken);
                var wait = Task.Delay(_timings.RetryPeriod, _time, stoppingToken);
                Interlocked.Increment(ref _rounds);
                await wait;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            StepDown();
        }
    }

    /// <summary>
    /// Ends the term, then empties the Lease's holder if the record still names this replica, so that another
    /// replica takes over at once. True if it was released. API errors other than a conflict are thrown.
    /// </summary>
    public async Task<bool> ReleaseAsync(CancellationToken cancellationToken)
    {
        StepDown();
        for (var attempt = 0; attempt < Tries; attempt++)
        {
            if (await ReadAsync(cancellationToken) is not { Spec: { } spec } lease || spec.HolderIdentity != Identity)
            {
                return false;
            }

            spec.HolderIdentity = "";
            spec.LeaseDurationSeconds = 1;
            spec.RenewTime = Now();
            try
            {
                await _client.ReplaceLeaseAsync(_namespace, _name, WithoutManagedFields(lease), cancellationToken);
                _logger.LeaseReleased(_name);
                return true;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict))
            {
                // Someone else wrote meanwhile: read again; it is released only if it is still ours.
            }
        }

        return false;
    }

    public void Dispose() => _deadline.Dispose();

    private async Task AttemptAsync(CancellationToken stoppingToken)
    {
        using var timeout = new CancellationTokenSource(_timings.RenewDeadline, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            for (var attempt = 0; attempt < Tries && !await TryOnceAsync(linked.Token); attempt++)
            {
            }
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            _logger.LeaderElectionError($"no answer about the Lease {_namespace}/{_name} within {_timings.RenewDeadline}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LeaderElectionError($"the Lease {_namespace}/{_name}: {ApiErrors.Describe(e)}");
        }
    }

    /// <summary>One read and at most one write. False when the write met a conflict (the record must be read again).</summary>
    private async Task<bool> TryOnceAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var lease = await ReadAsync(cancellationToken);
        if (lease is null)
        {
            // No Lease (or it was deleted under this replica, which then no longer holds it): create one.
            StepDown();
            var now = Now();
            var created = new V1Lease
            {
                Metadata = new V1ObjectMeta { Name = _name, NamespaceProperty = _namespace },
                Spec = new V1LeaseSpec
                {
                    HolderIdentity = Identity, LeaseDurationSeconds = LeaseSeconds, AcquireTime = now, RenewTime = now, LeaseTransitions = 0,
                },
            };
            try
            {
                created = await _client.CreateLeaseAsync(_namespace, created, cancellationToken);
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict))
            {
                return false; // another replica created it first
            }

            Observe(created.Spec);
            Lead(started);
            return true;
        }

        var spec = lease.Spec ??= new V1LeaseSpec();
        Observe(spec);
        if (spec.HolderIdentity == Identity)
        {
            spec.RenewTime = Now();
            spec.LeaseDurationSeconds = LeaseSeconds;
        }
        else
        {
            StepDown(); // if this replica led, someone else has written the record since
            if (!string.IsNullOrEmpty(spec.HolderIdentity) && !Expired(spec))
            {
                return true; // a follower
            }

            var now = Now();
            spec.HolderIdentity = Identity;
            spec.LeaseDurationSeconds = LeaseSeconds;
            spec.AcquireTime = now;
            spec.RenewTime = now;
            spec.LeaseTransitions = (spec.LeaseTransitions ?? 0) + 1;
        }

        V1Lease written;
        try
        {
            written = await _client.ReplaceLeaseAsync(_namespace, _name, WithoutManagedFields(lease), cancellationToken);
        }
        catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict))
        {
            return false;
        }

        Observe(written.Spec);
        Lead(started);
        return true;
    }

    private async Task<V1Lease?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _client.ReadLeaseAsync(_namespace, _name, cancellationToken);
        }
        catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.NotFound))
        {
            return null;
        }
    }

    /// <summary>Expired: unchanged, as this replica has seen it, for as long as the Lease's own duration.</summary>
    private bool Expired(V1LeaseSpec spec)
    {
        var duration = spec.LeaseDurationSeconds is { } seconds && seconds > 0 ? TimeSpan.FromSeconds(seconds) : _timings.LeaseDuration;
        lock (_lock)
        {
            return _time.GetElapsedTime(_seenChangedAt) >= duration;
        }
    }

    private void Observe(V1LeaseSpec? spec)
    {
        var seen = new Observed(spec?.HolderIdentity ?? "", spec?.LeaseDurationSeconds, spec?.AcquireTime, spec?.RenewTime, spec?.LeaseTransitions);
        string? newLeader = null;
        lock (_lock)
        {
            if (_seen != seen)
            {
                _seen = seen;
                _seenChangedAt = _time.GetTimestamp();
            }

            if (seen.Holder != _lastHolder)
            {
                _lastHolder = seen.Holder;
                newLeader = seen.Holder.Length > 0 ? seen.Holder : null;
            }
        }

        if (newLeader is not null)
        {
            _logger.NewLeader(newLeader, _namespace, _name);
        }
    }

    /// <summary>A write that started at <paramref name="started"/> succeeded: this replica leads until RenewDeadline after that.</summary>
    private void Lead(long started)
    {
        lock (_lock)
        {
            var left = _timings.RenewDeadline - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                StepDownLocked(); // the answer came too late to lead on
                return;
            }

            _renewStartedAt = started;
            _deadline.Change(left, Timeout.InfiniteTimeSpan);
            if (!_leading)
            {
                _leading = true;
                StartedLeading?.Invoke();
            }
        }
    }

    private void DeadlinePassed()
    {
        lock (_lock)
        {
            if (!_leading)
            {
                return;
            }

            var left = _timings.RenewDeadline - _time.GetElapsedTime(_renewStartedAt);
            if (left <= TimeSpan.Zero)
            {
                StepDownLocked();
            }
            else
            {
                _deadline.Change(left, Timeout.InfiniteTimeSpan); // a timer that fired early
            }
        }
    }

    private void StepDown()
    {
        lock (_lock)
        {
            StepDownLocked();
        }
    }

    private void StepDownLocked()
    {
        if (!_leading)
        {
            return;
        }

        _leading = false;
        _deadline.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        StoppedLeading?.Invoke();
    }

    /// <summary>
    /// The Lease as read, without <c>metadata.managedFields</c>, for a replace. KubernetesClient.Aot's source-generated
    /// JSON cannot write a read <c>fieldsV1</c> back (its value is an untyped JSON element), and the API server keeps
    /// the stored managedFields when an update omits them.
    /// </summary>
    private static V1Lease WithoutManagedFields(V1Lease lease)
    {
        lease.Metadata.ManagedFields = null;
        return lease;
    }

    private DateTime Now() => _time.GetUtcNow().UtcDateTime;

    /// <summary>The fields of a Lease record whose change shows that its holder is alive.</summary>
    private sealed record Observed(string Holder, int? LeaseDurationSeconds, DateTime? AcquireTime, DateTime? RenewTime, int? LeaseTransitions);
}
