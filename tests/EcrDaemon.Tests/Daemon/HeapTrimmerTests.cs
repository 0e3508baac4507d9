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
        await using var probe = await Probe.StartAsync();
        var queue = probe.Queue;

        // A burst: 50 MB allocated while the leader's worker reconciles a key.
        using var stop = new CancellationTokenSource();
        var release = new TaskCompletionSource<WorkResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = queue.RunAsync(1, (_, _) => release.Task, (_, _, _, _) => { }, stop.Token);
        queue.Add("team-a");
        await Poll.Until(() => queue.Depth == 0 && !queue.Idle, () => $"depth {queue.Depth}");
        probe.Allocated = 50 * MB;
        await probe.TickAsync(2);
        Assert.Equal(0, probe.Trims);

        // The queue drains (the key is done); a whole idle interval later, one trim.
        release.SetResult(WorkResult.Done);
        await Poll.Until(() => queue.Idle, () => $"depth {queue.Depth}");
        await probe.TickAsync(4);
        Assert.Equal(1, probe.Trims);

        // Quiet, allocating little: no more trims.
        probe.Allocated += MB;
        await probe.TickAsync(8);
        Assert.Equal(1, probe.Trims);

        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task A_follower_whose_queue_holds_keys_for_a_term_it_may_never_get_trims_after_its_cold_start()
    {
        // A standby replica: its informers queue every namespace for the leader it may become, and it runs no workers.
        // Those keys are no work in progress, so the memory of its cold start is given back like the leader's.
        await using var probe = await Probe.StartAsync();
        var queue = probe.Queue;

        queue.Add("team-a");
        queue.Add("team-b");
        probe.Allocated = 50 * MB;
        await probe.TickAsync(2);

        Assert.Equal(1, probe.Trims);
    }

    [Fact]
    public async Task Nothing_is_trimmed_before_the_informers_have_synced()
    {
        // A cold start: the lists of a large cluster are being read; no key is queued yet, no worker runs.
        var synced = false;
        await using var probe = await Probe.StartAsync(() => Volatile.Read(ref synced));

        probe.Allocated = 50 * MB;
        await probe.TickAsync(4);
        Assert.Equal(0, probe.Trims);

        Volatile.Write(ref synced, true);
        await probe.TickAsync(6);
        Assert.Equal(1, probe.Trims);
    }

    /// <summary>A started <see cref="HeapTrimmer"/> on a fake clock and queue, with the allocation count it reads and the trims it makes.</summary>
    private sealed class Probe : IAsyncDisposable
    {
        private long _allocated;
        private int _checks;
        private int _trims;
        private HeapTrimmer _trimmer = null!;

        private Probe()
        {
            Queue = new WorkQueue(Time);
        }

        public FakeTimeProvider Time { get; } = new();

        public WorkQueue Queue { get; }

        public long Allocated
        {
            get => Interlocked.Read(ref _allocated);
            set => Interlocked.Exchange(ref _allocated, value);
        }

        public int Trims => Volatile.Read(ref _trims);

        public static async Task<Probe> StartAsync(Func<bool>? synced = null)
        {
            var probe = new Probe();
            probe._trimmer = new HeapTrimmer(probe.Queue, synced ?? (() => true), probe.Time, NullLogger<HeapTrimmer>.Instance)
            {
                AllocatedBytes = () =>
                {
                    Interlocked.Increment(ref probe._checks);
                    return probe.Allocated;
                },
                Trim = () => Interlocked.Increment(ref probe._trims),
            };
            await probe._trimmer.StartAsync(CancellationToken.None);
            return probe;
        }

        /// <summary>Advances the clock one interval at a time until the service has checked <paramref name="count"/> times in all.</summary>
        public async Task TickAsync(int count)
        {
            while (Volatile.Read(ref _checks) < count)
            {
                var before = Volatile.Read(ref _checks);
                Time.Advance(HeapTrimmer.Interval);
                await Poll.Until(() => Volatile.Read(ref _checks) > before, () => $"{Volatile.Read(ref _checks)} checks");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _trimmer.StopAsync(CancellationToken.None);
            _trimmer.Dispose();
        }
    }
}
