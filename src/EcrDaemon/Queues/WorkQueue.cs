using System.Threading.Channels;
using EcrDaemon.Primitives;

namespace EcrDaemon.Queues;

/// <summary>
/// What one run of a key asks of the queue (as controller-runtime's <c>Result</c>): nothing more
/// (<see cref="Done"/>), or to run it again after the queue's backoff, for a reason that is no
/// error (<see cref="RetryLater"/>, e.g. a 409: the cache was behind). A thrown exception also
/// retries with backoff; this is the way to ask for it without one.
/// </summary>
internal readonly record struct WorkResult(string? RetryReason)
{
    public static WorkResult Done => default;

    public static WorkResult RetryLater(string reason) => new(reason);
}

/// <summary>
/// A queue of keys (namespace names) that never holds a key twice, processed by a bounded number
/// of workers. A key added while it is being processed runs once more after it finishes, never in
/// parallel with itself. A key whose processing fails (throws, or returns <see cref="WorkResult.RetryLater"/>) is
/// retried after an exponential backoff (<see cref="RetryDelay"/>); success forgets its failures.
/// </summary>
internal sealed class WorkQueue(TimeProvider time)
{
    public static readonly TimeSpan BaseRetryDelay = TimeSpan.FromMilliseconds(200);
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(2);

    private readonly Channel<string> _ready = Channel.CreateUnbounded<string>();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Run> _processing = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private DateTimeOffset _lastTaken = time.GetUtcNow();
    private int _workers;
    private DateTimeOffset _workersSince;

    /// <summary>Workers running now (0 on a replica that does not lead, or has not synced yet).</summary>
    public int Workers
    {
        get
        {
            lock (_lock)
            {
                return _workers;
            }
        }
    }

    /// <summary>Keys waiting to be processed.</summary>
    public int Depth
    {
        get
        {
            lock (_lock)
            {
                return _dirty.Count;
            }
        }
    }

    /// <summary>Nothing queued and nothing being processed (a retry waiting out its backoff is not counted).</summary>
    public bool Idle
    {
        get
        {
            lock (_lock)
            {
                return _dirty.Count == 0 && _processing.Count == 0;
            }
        }
    }

    /// <summary>
    /// Work in progress: a key being processed, or keys waiting for workers that run (a retry waiting out
    /// its backoff is not counted). The keys of a replica that runs no workers (a follower, an ex-leader,
    /// one waiting for its first token) wait for a term it may never get: that is no work.
    /// </summary>
    public bool Working
    {
        get
        {
            lock (_lock)
            {
                return _processing.Count > 0 || (_dirty.Count > 0 && _workers > 0);
            }
        }
    }

    /// <summary>
    /// Why the queue is wedged, or null: a key has been processing for longer than
    /// <paramref name="timeout"/> without reporting progress (<see cref="Progressed"/>), or keys have
    /// waited that long while workers ran and took none. A long run that keeps making progress (one
    /// namespace with thousands of ServiceAccounts at a low request rate) is not a wedge.
    /// Keys that wait while no worker runs are not a wedge: a follower, a replica waiting for its
    /// first token and an ex-leader queue keys for the leader they may become, and run no workers.
    /// </summary>
    public string? Wedged(TimeSpan timeout)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            foreach (var (key, run) in _processing)
            {
                if (now - run.Progress > timeout)
                {
                    return $"namespace {key} has been reconciling since {run.Started:O}, with no progress since {run.Progress:O}";
                }
            }

            if (_workers == 0)
            {
                return null;
            }

            // A term of workers that started after the keys were queued counts from its start.
            var idleSince = _lastTaken > _workersSince ? _lastTaken : _workersSince;
            var waiting = _dirty.Count(k => !_processing.ContainsKey(k));
            return waiting > 0 && now - idleSince > timeout
                ? $"{waiting} namespaces are waiting and no worker has taken one since {idleSince:O}"
                : null;
        }
    }

    public void Add(string key)
    {
        lock (_lock)
        {
            if (!_dirty.Add(key) || _processing.ContainsKey(key))
            {
                return;
            }
        }

        _ready.Writer.TryWrite(key);
    }

    /// <summary>The run of <paramref name="key"/> made progress (an API request answered); liveness counts from here.</summary>
    public void Progressed(string key)
    {
        lock (_lock)
        {
            if (_processing.TryGetValue(key, out var run))
            {
                _processing[key] = run with { Progress = time.GetUtcNow() };
            }
        }
    }

    public void AddAfter(string key, TimeSpan delay, CancellationToken cancellationToken) =>
        _ = Task.Delay(delay, time, cancellationToken).ContinueWith(
            _ => Add(key), cancellationToken, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

    /// <summary>The delay after the <paramref name="failures"/>-th failure of a key in a row: 200 ms, doubling, at most 2 minutes.</summary>
    public static TimeSpan RetryDelay(int failures) => Backoff.Exponential(BaseRetryDelay, MaxRetryDelay, failures);

    /// <summary>
    /// Runs <paramref name="workers"/> workers until cancelled. <paramref name="process"/> returns
    /// <see cref="WorkResult.Done"/> on success; <see cref="WorkResult.RetryLater"/> or an exception
    /// asks for a retry with backoff, reported through <paramref name="onRetry"/> (the key, the
    /// exception or null, the reason given by <see cref="WorkResult.RetryLater"/> or null, the delay).
    /// </summary>
    public Task RunAsync(int workers, Func<string, CancellationToken, Task<WorkResult>> process, Action<string, Exception?, string?, TimeSpan> onRetry,
        CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => WorkAsync(process, onRetry, cancellationToken), CancellationToken.None)));

    private async Task WorkAsync(Func<string, CancellationToken, Task<WorkResult>> process, Action<string, Exception?, string?, TimeSpan> onRetry,
        CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_workers++ == 0)
            {
                _workersSince = time.GetUtcNow();
            }
        }

        try
        {
            await foreach (var key in _ready.Reader.ReadAllAsync(cancellationToken))
            {
                lock (_lock)
                {
                    _dirty.Remove(key);
                    _lastTaken = time.GetUtcNow();
                    _processing[key] = new Run(_lastTaken, _lastTaken);
                }

                Exception? failure = null;
                string? retryReason = null;
                try
                {
                    retryReason = (await process(key, cancellationToken)).RetryReason;
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = e;
                }
                catch (OperationCanceledException)
                {
                    // Stopped mid-run (shutdown, or leadership lost): the key runs again in the next run.
                    Requeue(key);
                    throw;
                }

                Done(key, failure, retryReason, onRetry, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            lock (_lock)
            {
                _workers--;
            }
        }
    }

    private void Requeue(string key)
    {
        lock (_lock)
        {
            // Not in the channel either way: an Add during the run only marked it dirty.
            _processing.Remove(key);
            _dirty.Add(key);
        }

        _ready.Writer.TryWrite(key);
    }

    private void Done(string key, Exception? failure, string? retryReason, Action<string, Exception?, string?, TimeSpan> onRetry, CancellationToken cancellationToken)
    {
        bool again;
        int failures;
        var failed = failure is not null || retryReason is not null;
        lock (_lock)
        {
            _processing.Remove(key);
            again = _dirty.Contains(key);
            if (!failed)
            {
                _failures.Remove(key);
                failures = 0;
            }
            else
            {
                _failures[key] = failures = _failures.GetValueOrDefault(key) + 1;
            }
        }

        if (again)
        {
            _ready.Writer.TryWrite(key);
        }
        else if (failed)
        {
            var delay = RetryDelay(failures);
            onRetry(key, failure, retryReason, delay);
            AddAfter(key, delay, cancellationToken);
        }
    }

    /// <summary>A key being processed: since when, and when it last reported progress.</summary>
    private readonly record struct Run(DateTimeOffset Started, DateTimeOffset Progress);
}
