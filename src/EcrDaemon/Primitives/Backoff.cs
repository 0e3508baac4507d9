namespace EcrDaemon.Primitives;

/// <summary>
/// The one capped exponential backoff: the informers (<c>Kubernetes/Informer</c>, with jitter), the
/// work queue (<c>Queues/WorkQueue.RetryDelay</c>) and the token refresher (<c>Ecr/FailureBackoff</c>)
/// each pass their own start and cap.
/// </summary>
internal static class Backoff
{
    /// <summary>The exponent stops here, so that no failure count overflows a <see cref="TimeSpan"/>; every cap in use is reached long before.</summary>
    public const int MaxDoublings = 20;

    /// <summary>
    /// The delay after the <paramref name="failures"/>-th failure in a row: <paramref name="start"/>,
    /// doubling with every further failure, at most <paramref name="cap"/>. A count below 1 counts as 1.
    /// </summary>
    public static TimeSpan Exponential(TimeSpan start, TimeSpan cap, int failures)
    {
        var doubled = start * Math.Pow(2, Math.Clamp(failures - 1, 0, MaxDoublings));
        return doubled > cap ? cap : doubled;
    }

    /// <summary><paramref name="delay"/> times a factor in [0.8, 1.2), chosen by <paramref name="sample"/> in [0, 1).</summary>
    public static TimeSpan Jittered(TimeSpan delay, double sample) =>
        TimeSpan.FromMilliseconds(delay.TotalMilliseconds * (0.8 + (0.4 * sample)));
}
