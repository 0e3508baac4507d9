using System.Collections.Concurrent;
using EcrDaemon.Queues;
using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Queues;

public sealed class WorkQueueTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static string Show(IEnumerable<string> keys) => $"[{string.Join(", ", keys)}]";

    /// <summary>A process that succeeds unless it throws.</summary>
    private static Func<string, CancellationToken, Task<WorkResult>> Work(Func<string, CancellationToken, Task> process) => async (key, cancellationToken) =>
    {
        await process(key, cancellationToken);
        return WorkResult.Done;
    };

    [Theory]
    [InlineData(0, 200)]
    [InlineData(1, 200)]
    [InlineData(2, 400)]
    [InlineData(3, 800)]
    [InlineData(4, 1_600)]
    [InlineData(10, 102_400)]
    [InlineData(11, 120_000)]
    [InlineData(12, 120_000)]
    [InlineData(100, 120_000)]
    [InlineData(int.MaxValue, 120_000)]
    public void RetryDelay_doubles_from_200_ms_and_caps_at_2_minutes(int failures, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), WorkQueue.RetryDelay(failures));
    }

    [Fact]
    public async Task A_key_added_many_times_while_queued_is_processed_once()
    {
        var queue = new WorkQueue(TimeProvider.System);
        var processed = new ConcurrentQueue<string>();
        var retries = new ConcurrentQueue<string>();
        for (var i = 0; i < 5; i++)
        {
            queue.Add("a");
        }

        queue.Add("b");
        queue.Add("a");
        Assert.Equal(2, queue.Depth);

        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(
            1,
            (key, _) =>
            {
                processed.Enqueue(key);
                return Task.FromResult(WorkResult.Done);
            },
            (key, _, _, _) => retries.Enqueue(key),
            stop.Token);
        queue.Add("z");
        await Poll.Until(() => processed.Contains("z"), () => Show(processed));
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);

        // One worker takes keys in order: an extra "a" would have come before "z".
        Assert.Equal(["a", "b", "z"], processed);
        Assert.Equal(0, queue.Depth);
        Assert.Empty(retries);
    }

    [Fact]
    public async Task A_key_added_while_it_is_processed_runs_once_more_afterwards_and_never_alongside_itself()
    {
        var queue = new WorkQueue(TimeProvider.System);
        var sync = new Lock();
        var processed = new List<string>();
        var aRuns = 0;
        var aRunning = 0;
        var aMostRunning = 0;
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task Process(string key, CancellationToken cancellationToken)
        {
            if (key == "a")
            {
                int run;
                lock (sync)
                {
                    run = ++aRuns;
                    aMostRunning = Math.Max(aMostRunning, ++aRunning);
                }

                if (run == 1)
                {
                    firstStarted.SetResult();
                    await releaseFirst.Task;
                }

                lock (sync)
                {
                    aRunning--;
                }
            }

            lock (sync)
            {
                processed.Add(key);
            }
        }

        string Seen()
        {
            lock (sync)
            {
                return $"a runs {aRuns}, processed {Show(processed)}, depth {queue.Depth}";
            }
        }

        int Count(string key)
        {
            lock (sync)
            {
                return processed.Count(k => k == key);
            }
        }

        queue.Add("a");
        using var stop = new CancellationTokenSource();
        var retries = new ConcurrentQueue<string>();
        var run = queue.RunAsync(2, Work(Process), (key, _, _, _) => retries.Enqueue(key), stop.Token);
        await firstStarted.Task.WaitAsync(Deadline);

        queue.Add("a");
        queue.Add("a");
        queue.Add("a");
        Assert.Equal(1, queue.Depth);

        // The second worker is free; it takes "b", and would have taken an early "a" before it.
        queue.Add("b");
        await Poll.Until(() => Count("b") == 1, Seen);
        lock (sync)
        {
            Assert.Equal(1, aRuns);
        }

        Assert.Equal(1, queue.Depth);

        releaseFirst.SetResult();
        await Poll.Until(() => Count("a") == 2, Seen);
        queue.Add("z");
        await Poll.Until(() => Count("z") == 1, Seen);
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);

        lock (sync)
        {
            Assert.Equal(2, aRuns);
            Assert.Equal(1, aMostRunning);
        }

        Assert.Equal(0, queue.Depth);
        Assert.Empty(retries);
    }

    [Fact]
    public async Task Different_keys_run_in_parallel_up_to_the_number_of_workers()
    {
        const int workers = 3;
        var queue = new WorkQueue(TimeProvider.System);
        var sync = new Lock();
        var running = 0;
        var mostRunning = 0;
        var finished = new List<string>();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task Process(string key, CancellationToken cancellationToken)
        {
            lock (sync)
            {
                mostRunning = Math.Max(mostRunning, ++running);
            }

            await release.Task;
            lock (sync)
            {
                running--;
                finished.Add(key);
            }
        }

        string Seen()
        {
            lock (sync)
            {
                return $"running {running}, most {mostRunning}, finished {Show(finished)}, depth {queue.Depth}";
            }
        }

        string[] keys = ["k0", "k1", "k2", "k3", "k4"];
        foreach (var key in keys)
        {
            queue.Add(key);
        }

        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(workers, Work(Process), (_, _, _, _) => { }, stop.Token);

        await Poll.Until(() => { lock (sync) { return running == workers; } }, Seen);
        // Every worker is held, so the other two keys are still waiting.
        Assert.Equal(keys.Length - workers, queue.Depth);

        release.SetResult();
        await Poll.Until(() => { lock (sync) { return finished.Count == keys.Length; } }, Seen);
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);

        lock (sync)
        {
            Assert.Equal(workers, mostRunning);
            Assert.Equal(keys, finished.Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task A_failing_key_is_retried_with_backoff_and_success_forgets_its_failures()
    {
        var queue = new WorkQueue(TimeProvider.System);
        // true: the attempt succeeds; false: it throws.
        var outcomes = new ConcurrentQueue<bool>([false, false, true, false, true]);
        var attempts = 0;
        var retries = new ConcurrentQueue<(string Key, string Error, TimeSpan Delay)>();

        Task Process(string key, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref attempts);
            Assert.True(outcomes.TryDequeue(out var succeeds), $"unexpected attempt {attempt}");
            return succeeds ? Task.CompletedTask : throw new InvalidOperationException($"attempt {attempt} failed");
        }

        string Seen() => $"attempts {Volatile.Read(ref attempts)}, retries [{string.Join(", ", retries)}]";

        queue.Add("a");
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(1, Work(Process), (key, error, _, delay) => retries.Enqueue((key, error!.Message, delay)), stop.Token);

        // Two failures, then success on the retry.
        await Poll.Until(() => Volatile.Read(ref attempts) == 3, Seen);
        queue.Add("a");
        // A new failure after the success starts the backoff from the beginning again.
        await Poll.Until(() => Volatile.Read(ref attempts) == 5, Seen);
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);

        Assert.Equal(
            [
                ("a", "attempt 1 failed", WorkQueue.RetryDelay(1)),
                ("a", "attempt 2 failed", WorkQueue.RetryDelay(2)),
                ("a", "attempt 4 failed", WorkQueue.RetryDelay(1)),
            ],
            retries);
        Assert.Equal(TimeSpan.FromMilliseconds(200), WorkQueue.RetryDelay(1));
        Assert.Equal(TimeSpan.FromMilliseconds(400), WorkQueue.RetryDelay(2));
        Assert.Equal(5, attempts);
        Assert.Empty(outcomes);
    }

    [Fact]
    public async Task RetryLater_is_retried_with_the_same_backoff_as_a_failure_and_Done_forgets_it()
    {
        var queue = new WorkQueue(TimeProvider.System);
        // null: the run is done; else it asks to run again later, for that reason.
        var outcomes = new ConcurrentQueue<string?>(["conflict 1", "conflict 2", null]);
        var attempts = 0;
        var retries = new ConcurrentQueue<(string Key, Exception? Error, string? Reason, TimeSpan Delay)>();

        Task<WorkResult> Process(string key, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref attempts);
            Assert.True(outcomes.TryDequeue(out var reason), $"unexpected attempt {attempt}");
            return Task.FromResult(reason is null ? WorkResult.Done : WorkResult.RetryLater(reason));
        }

        queue.Add("a");
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(1, Process, (key, error, reason, delay) => retries.Enqueue((key, error, reason, delay)), stop.Token);
        await Poll.Until(() => Volatile.Read(ref attempts) == 3 && queue.Idle, () => $"attempts {Volatile.Read(ref attempts)}, retries {retries.Count}");
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);

        Assert.Equal(
            [
                ("a", null, "conflict 1", WorkQueue.RetryDelay(1)),
                ("a", null, "conflict 2", WorkQueue.RetryDelay(2)),
            ],
            retries);
        Assert.Empty(outcomes);
    }

    [Fact]
    public void Keys_that_wait_while_no_worker_runs_are_not_a_wedge()
    {
        // A follower, a replica waiting for its first token and an ex-leader queue keys but run no workers.
        var clock = new ManualClock();
        var queue = new WorkQueue(clock);
        queue.Add("a");
        queue.Add("b");

        clock.Advance(TimeSpan.FromHours(1));

        Assert.Null(queue.Wedged(TimeSpan.FromMinutes(5)));
        Assert.Equal(0, queue.Workers);
    }

    [Fact]
    public async Task A_key_processing_past_the_timeout_is_a_wedge_and_a_new_term_counts_the_wait_from_its_start()
    {
        var clock = new ManualClock();
        var queue = new WorkQueue(clock);
        var timeout = TimeSpan.FromMinutes(5);
        queue.Add("a");
        clock.Advance(TimeSpan.FromHours(1)); // waited long before any worker ran (a follower that becomes leader)

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(1, Work(async (key, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
        }), (_, _, _, _) => { }, stop.Token);
        await started.Task.WaitAsync(Deadline);
        Assert.Equal(1, queue.Workers);
        Assert.Null(queue.Wedged(timeout)); // the hour of waiting before the term does not count

        clock.Advance(timeout + TimeSpan.FromSeconds(1));
        Assert.StartsWith("namespace a has been reconciling since", queue.Wedged(timeout), StringComparison.Ordinal);

        release.TrySetResult();
        await Poll.Until(() => queue.Idle, () => $"depth {queue.Depth}");
        Assert.Null(queue.Wedged(timeout));
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);
        Assert.Equal(0, queue.Workers);
    }

    [Fact]
    public async Task A_long_run_that_reports_progress_is_not_a_wedge_until_it_stops_reporting()
    {
        var clock = new ManualClock();
        var queue = new WorkQueue(clock);
        var timeout = TimeSpan.FromMinutes(5);
        queue.Add("big");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(1, Work(async (key, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
        }), (_, _, _, _) => { }, stop.Token);
        await started.Task.WaitAsync(Deadline);

        // Three timeouts of one run, with progress every minute (a write per ServiceAccount, say).
        for (var minute = 0; minute < 15; minute++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            queue.Progressed("big");
            Assert.Null(queue.Wedged(timeout));
        }

        queue.Progressed("other"); // not processing: ignored
        clock.Advance(timeout + TimeSpan.FromSeconds(1));
        Assert.StartsWith("namespace big has been reconciling since", queue.Wedged(timeout), StringComparison.Ordinal);

        release.TrySetResult();
        await Poll.Until(() => queue.Idle, () => $"depth {queue.Depth}");
        await stop.CancelAsync();
        await run.WaitAsync(Deadline);
    }

    /// <summary>A clock the test moves by hand (timers still run on real time).</summary>
    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
