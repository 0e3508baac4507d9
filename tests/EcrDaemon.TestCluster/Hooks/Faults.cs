using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Auth;

namespace EcrDaemon.TestCluster.Hooks;

/// <summary>
/// Fault injection: fail the next N requests that match (verb, resource, namespace, identity)
/// with a status, add latency, or take the whole API "down" (connections are cut).
/// Null in a filter matches anything.
/// </summary>
public sealed class Faults
{
    private readonly Lock _lock = new();
    private readonly List<Rule> _rules = [];

    private const string WatchEvent = "watch-event";
    private readonly List<HeldResponses> _holds = [];
    private int _watchBreaks;
    private WatchBreak _watchBreakKind;
    private int _expiredWatches;

    /// <summary>While true, every request's connection is aborted and no watch can open.</summary>
    public bool Down { get; set; }

    /// <summary>
    /// While true, every watch is answered with an ERROR event 410 Expired at once, as the API server
    /// answers a watch from a resourceVersion it no longer has (so list, watch, 410 repeats).
    /// </summary>
    public bool WatchesExpire { get; set; }

    /// <summary>How many watches <see cref="WatchesExpire"/> has answered with 410.</summary>
    public int ExpiredWatches => Volatile.Read(ref _expiredWatches);

    internal bool TakeWatchExpiry()
    {
        if (!WatchesExpire)
        {
            return false;
        }

        Interlocked.Increment(ref _expiredWatches);
        return true;
    }

    /// <summary>The next <paramref name="count"/> events written on any watch stream are broken this way.</summary>
    public void BreakWatchEvents(WatchBreak kind, int count = 1)
    {
        lock (_lock)
        {
            _watchBreakKind = kind;
            _watchBreaks = count;
        }
    }

    internal WatchBreak TakeWatchBreak()
    {
        lock (_lock)
        {
            if (_watchBreaks <= 0)
            {
                return WatchBreak.None;
            }

            _watchBreaks--;
            return _watchBreakKind;
        }
    }

    public void FailNext(int count, int status, string? verb = null, string? resource = null, string? ns = null,
        string? identity = null, int? retryAfterSeconds = null)
    {
        lock (_lock)
        {
            _rules.Add(new Rule(verb, resource, ns, identity) { Remaining = count, Status = status, RetryAfterSeconds = retryAfterSeconds });
        }
    }

    /// <summary>Delays matching requests; <paramref name="count"/> null means until <see cref="Clear"/>.</summary>
    public void AddLatency(TimeSpan latency, string? verb = null, string? resource = null, string? ns = null, int? count = null)
    {
        lock (_lock)
        {
            _rules.Add(new Rule(verb, resource, ns, null) { Remaining = count ?? int.MaxValue, Latency = latency });
        }
    }

    /// <summary>
    /// Holds the next <paramref name="count"/> matching writes (create, update, patch, delete) until
    /// <see cref="HeldResponses.Release"/>: by default after the write is committed and before its
    /// response is sent (a response that arrives late, for as long as a test needs); with
    /// <paramref name="beforeCommit"/>, before the write is done (a request that arrives late).
    /// </summary>
    public HeldResponses HoldResponses(string verb, string resource, string? ns = null, string? identity = null, int count = 1, bool beforeCommit = false)
    {
        var held = new HeldResponses(new Rule(verb, resource, ns, identity) { Remaining = count, BeforeCommit = beforeCommit });
        lock (_lock)
        {
            _holds.Add(held);
        }

        return held;
    }

    internal Task HoldAsync(RequestAttributes request, Identity identity, bool committed, CancellationToken cancellationToken)
    {
        HeldResponses? held;
        lock (_lock)
        {
            held = _holds.FirstOrDefault(h => h.Rule.Remaining > 0 && h.Rule.BeforeCommit != committed && h.Rule.Matches(request, identity));
            if (held is null)
            {
                return Task.CompletedTask;
            }

            held.Rule.Remaining--;
        }

        return held.HoldAsync(cancellationToken);
    }

    /// <summary>
    /// Holds the watch events of <paramref name="resource"/> objects in <paramref name="ns"/>, on every
    /// watch stream (and what follows them on that stream), until released: a watch that is behind.
    /// </summary>
    public HeldResponses HoldWatchEvents(string resource, string? ns = null)
    {
        var held = new HeldResponses(new Rule(WatchEvent, resource, ns, null) { Remaining = int.MaxValue });
        lock (_lock)
        {
            _holds.Add(held);
        }

        return held;
    }

    internal Task HoldWatchEventAsync(string resource, string ns, CancellationToken cancellationToken)
    {
        HeldResponses? held;
        lock (_lock)
        {
            held = _holds.FirstOrDefault(h => h.Rule is { Verb: WatchEvent } r && r.Resource == resource && (r.Namespace is null || r.Namespace == ns));
        }

        return held is null ? Task.CompletedTask : held.HoldAsync(cancellationToken);
    }

    public void Clear()
    {
        List<HeldResponses> holds;
        lock (_lock)
        {
            holds = [.. _holds];
            _holds.Clear();
            _rules.Clear();
            _watchBreaks = 0;
            Down = false;
            WatchesExpire = false;
        }

        holds.ForEach(h => h.Release());
    }

    /// <summary>How many injected failures are still waiting to fire.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _rules.Where(r => r.Status != 0).Sum(r => r.Remaining);
            }
        }
    }

    internal (ApiException? Error, TimeSpan Delay) Match(RequestAttributes request, Identity identity)
    {
        lock (_lock)
        {
            var delay = TimeSpan.Zero;
            foreach (var rule in _rules.Where(r => r.Latency > TimeSpan.Zero && r.Remaining > 0 && r.Matches(request, identity)))
            {
                rule.Remaining--;
                delay += rule.Latency;
            }

            var failure = _rules.FirstOrDefault(r => r.Status != 0 && r.Remaining > 0 && r.Matches(request, identity));
            if (failure is null)
            {
                return (null, delay);
            }

            failure.Remaining--;
            return (ApiException.Injected(failure.Status, failure.RetryAfterSeconds), delay);
        }
    }

    internal sealed record Rule(string? Verb, string? Resource, string? Namespace, string? Identity)
    {
        public int Remaining { get; set; }

        public int Status { get; init; }

        public int? RetryAfterSeconds { get; init; }

        public TimeSpan Latency { get; init; }

        public bool BeforeCommit { get; init; }

        public bool Matches(RequestAttributes r, Identity id) =>
            (Verb is null || Verb == r.Verb) && (Resource is null || Resource == r.Resource)
            && (Namespace is null || Namespace == r.Namespace) && (Identity is null || Identity == id.User);
    }
}

/// <summary>Writes that wait (committed, or before their commit) until the test releases them.</summary>
public sealed class HeldResponses : IDisposable
{
    private readonly TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _held;

    internal HeldResponses(Faults.Rule rule) => Rule = rule;

    internal Faults.Rule Rule { get; }

    /// <summary>Completes when a matching write is being held (committed, unless held before its commit).</summary>
    public Task Committed => _committed.Task;

    /// <summary>How many responses have been held so far.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Lets every held response (and any later match) go.</summary>
    public void Release() => _released.TrySetResult();

    public void Dispose() => Release();

    internal async Task HoldAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _held);
        _committed.TrySetResult();
        await _released.Task.WaitAsync(cancellationToken);
    }
}

/// <summary>How a watch event is broken on the wire.</summary>
public enum WatchBreak
{
    None,

    /// <summary>A line of JSON that does not parse, then the stream goes on.</summary>
    BadJson,

    /// <summary>Half an event, then the connection is reset.</summary>
    ResetMidEvent,
}
