using EcrDaemon.Diagnostics;
using EcrDaemon.Queues;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Controller;

/// <summary>
/// Gives the memory of a burst of work back once the work is done. A cold start or a token rotation
/// allocates megabytes that the GC keeps committed long after (its budgets are sized for the burst);
/// the daemon then sits idle for hours. Every <see cref="Interval"/>, when the work queue has been idle
/// for a whole interval and at least <see cref="Threshold"/> bytes were allocated since the last trim,
/// one compacting collection in <see cref="GCCollectionMode.Aggressive"/> mode returns the free memory
/// to the system (5 namespaces: 50 MB idle without it, 46 with it; docs/benchmarks.md). A quiet cluster
/// allocates little (scrapes, watch bookmarks), so it trims rarely; a busy queue is never interrupted.
/// Nothing is trimmed before the informers have synced (<c>synced</c>): a cold start's lists are work too,
/// though no worker runs yet. A standby replica (no workers, its queue holding keys for a term it may never
/// get) is not <see cref="WorkQueue.Working"/>, so it gives its cold start's memory back like the leader.
/// </summary>
internal sealed class HeapTrimmer(WorkQueue queue, Func<bool> synced, TimeProvider time, ILogger<HeapTrimmer> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>Bytes allocated since the last trim that make another one worth its pause.</summary>
    public const long Threshold = 8 * 1024 * 1024;

    private readonly TrimPolicy _policy = new(Threshold);

    /// <summary>Started with the service, so that its first tick is one interval after it is created.</summary>
    private readonly PeriodicTimer _timer = new(Interval, time);

    /// <summary>How the service reads the allocation count and trims; tests replace them.</summary>
    internal Func<long> AllocatedBytes { get; init; } = () => GC.GetTotalAllocatedBytes();

    internal Action Trim { get; init; } = () => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken))
            {
                if (_policy.ShouldTrim(AllocatedBytes(), synced() && !queue.Working))
                {
                    var before = GC.GetGCMemoryInfo().TotalCommittedBytes;
                    Trim();
                    var after = GC.GetGCMemoryInfo().TotalCommittedBytes;
                    logger.HeapTrimmed(before, after);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override void Dispose()
    {
        _timer.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// When to trim: the queue idle at this check and the one before (a whole interval with no work), and
/// <c>threshold</c> bytes allocated since the last trim (or since the start).
/// </summary>
internal sealed class TrimPolicy(long threshold)
{
    private long _trimmedAt;
    private bool _wasIdle;

    public bool ShouldTrim(long allocated, bool idle)
    {
        var quiet = idle && _wasIdle;
        _wasIdle = idle;
        if (!quiet || allocated - _trimmedAt < threshold)
        {
            return false;
        }

        _trimmedAt = allocated;
        return true;
    }
}
