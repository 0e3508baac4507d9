using EcrDaemon.Controller;
using EcrDaemon.Queues;
using EcrDaemon.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

public sealed class HeapTrimmerTests
{
    private const long MB = 1024 * 1024;

    [Fact]
    public void It_trims_after_a_whole_quiet_interval_and_enough_allocation_then_not_again_until_as_much_more()
    {
        var policy = new TrimPolicy(8 * MB);

        Assert.False(policy.ShouldTrim(20 * MB, idle: false)); // busy
        Assert.False(policy.ShouldTrim(20 * MB, idle: true)); // idle now, but not for a whole interval yet
        Assert.True(policy.ShouldTrim(20 * MB, idle: true)); // quiet since the last check, 20 MB allocated
        Assert.False(policy.ShouldTrim(21 * MB, idle: true)); // trimmed; 1 MB since is not worth a pause
        Assert.False(policy.ShouldTrim(27 * MB, idle: true)); // 7 MB since
        Assert.True(policy.ShouldTrim(28 * MB, idle: true)); // 8 MB since
    }

    [Fact]
    public void Work_in_between_checks_puts_the_trim_off_until_the_queue_has_been_idle_for_a_whole_interval()
    {
        var policy = new TrimPolicy(8 * MB);

        Assert.False(policy.ShouldTrim(10 * MB, idle: true));
        Assert.False(policy.ShouldTrim(30 * MB, idle: false)); // a rotation started
        Assert.False(policy.ShouldTrim(40 * MB, idle: true)); // done, but only just
        Assert.True(policy.ShouldTrim(40 * MB, idle: true));
    }

    [Fact]
    public async Task The_service_trims_once_the_queue_has_drained_and_leaves_a_quiet_daemon_alone()
    {
        var time = new FakeTimeProvider();
        var queue = new WorkQueue(time);
        var allocated = 0L;
        var checks = 0;
        var trims = 0;
        using var trimmer = new HeapTrimmer(queue, () => true, time, NullLogger<HeapTrimmer>.Instance)
        {
            AllocatedBytes = () =>
            {
                Interlocked.Increment(ref checks);
                return Interlocked.Read(ref allocated);
            },
            Trim = () => Interlocked.Increment(ref trims),
        };
        await trimmer.StartAsync(CancellationToken.None);

        // A burst: 50 MB allocated while the leader's worker reconciles a key.
        using var stop = new CancellationTokenSource();
        var release = new TaskCompletionSource<WorkResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = queue.RunAsync(1, (_, _) => release.Task, (_, _, _, _) => { }, stop.Token);
        queue.Add("team-a");
        await Poll.Until(() => queue.Depth == 0 && !queue.Idle, () => $"depth {queue.Depth}");
        Interlocked.Exchange(ref allocated, 50 * MB);
        await TickAsync(time, () => checks, 2);
        Assert.Equal(0, Volatile.Read(ref trims));

        // The queue drains (the key is done); a whole idle interval later, one trim.
        release.SetResult(WorkResult.Done);
        await Poll.Until(() => queue.Idle, () => $"depth {queue.Depth}");
        await TickAsync(time, () => checks, 4);
        Assert.Equal(1, Volatile.Read(ref trims));

        // Quiet, allocating little: no more trims.
        Interlocked.Add(ref allocated, MB);
        await TickAsync(time, () => checks, 8);
        Assert.Equal(1, Volatile.Read(ref trims));

        await stop.CancelAsync();
        await run;
        await trimmer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_follower_whose_queue_holds_keys_for_a_term_it_may_never_get_trims_after_its_cold_start()
    {
        // A standby replica: its informers queue every namespace for the leader it may become, and it runs no workers.
        // Those keys are no work in progress, so the memory of its cold start is given back like the leader's.
        var time = new FakeTimeProvider();
        var queue = new WorkQueue(time);
        var allocated = 0L;
        var checks = 0;
        var trims = 0;
        using var trimmer = new HeapTrimmer(queue, () => true, time, NullLogger<HeapTrimmer>.Instance)
        {
            AllocatedBytes = () =>
            {
                Interlocked.Increment(ref checks);
                return Interlocked.Read(ref allocated);
            },
            Trim = () => Interlocked.Increment(ref trims),
        };
        await trimmer.StartAsync(CancellationToken.None);

        queue.Add("team-a");
        queue.Add("team-b");
        Interlocked.Exchange(ref allocated, 50 * MB);
        await TickAsync(time, () => checks, 2);

        Assert.Equal(1, Volatile.Read(ref trims));
        await trimmer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Nothing_is_trimmed_before_the_informers_have_synced()
    {
        // A cold start: the lists of a large cluster are being read; no key is queued yet, no worker runs.
        var time = new FakeTimeProvider();
        var queue = new WorkQueue(time);
        var synced = false;
        var checks = 0;
        var trims = 0;
        using var trimmer = new HeapTrimmer(queue, () => Volatile.Read(ref synced), time, NullLogger<HeapTrimmer>.Instance)
        {
            AllocatedBytes = () => 50 * MB * Interlocked.Increment(ref checks),
            Trim = () => Interlocked.Increment(ref trims),
        };
        await trimmer.StartAsync(CancellationToken.None);

        await TickAsync(time, () => checks, 4);
        Assert.Equal(0, Volatile.Read(ref trims));

        Volatile.Write(ref synced, true);
        await TickAsync(time, () => checks, 6);
        Assert.Equal(1, Volatile.Read(ref trims));
        await trimmer.StopAsync(CancellationToken.None);
    }

    /// <summary>Advances the clock one interval at a time until the service has checked <paramref name="count"/> times.</summary>
    private static async Task TickAsync(FakeTimeProvider time, Func<int> checks, int count)
    {
        while (checks() < count)
        {
            var before = checks();
            time.Advance(HeapTrimmer.Interval);
            await Poll.Until(() => checks() > before, () => $"{checks()} checks");
        }
    }
}
