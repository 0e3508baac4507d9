namespace EcrDaemon.Ecr;

/// <summary>When the token refresher runs next: pure arithmetic, unit-tested.</summary>
internal static class RefreshSchedule
{
    public static readonly TimeSpan FailureBackoffStart = FailureBackoff.Default.Start;
    public static readonly TimeSpan FailureBackoffCap = FailureBackoff.Default.Cap;

    /// <summary>
    /// The longest delay ever computed: timers take at most about 49.7 days (and an int of
    /// milliseconds, about 24.8 days, in places), so a token that claims to live for years is
    /// fetched again after this long instead of overflowing a timer.
    /// </summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromDays(24);

    /// <summary><paramref name="delay"/> within [0, <see cref="MaxDelay"/>].</summary>
    public static TimeSpan Clamp(TimeSpan delay) => delay < TimeSpan.Zero ? TimeSpan.Zero : delay > MaxDelay ? MaxDelay : delay;

    /// <summary>
    /// The earliest time a token fetched at <paramref name="fetchedAt"/> may be fetched again: when
    /// <paramref name="refreshAt"/> of its life has passed, at least <paramref name="minimum"/> and at
    /// most <see cref="MaxDelay"/> after the fetch. <see cref="Next"/> (called at the fetch) is never earlier.
    /// </summary>
    public static DateTimeOffset DueAt(DateTimeOffset fetchedAt, DateTimeOffset expiresAt, double refreshAt, TimeSpan minimum)
    {
        var life = expiresAt - fetchedAt;
        var wait = life <= TimeSpan.Zero ? minimum : life * refreshAt;
        return fetchedAt + Clamp(wait < minimum ? minimum : wait);
    }

    /// <summary>
    /// The delay until a token fetched at <paramref name="fetchedAt"/> and expiring at
    /// <paramref name="expiresAt"/> is due: when <paramref name="refreshAt"/> of its life has
    /// passed, plus up to 10 % of that life (at most 5 minutes) of jitter, and never less than
    /// <paramref name="minimum"/> (so an already-expired token does not loop).
    /// </summary>
    /// <param name="jitter">A number in [0, 1) choosing the point within the jitter window.</param>
    public static TimeSpan Next(DateTimeOffset now, DateTimeOffset fetchedAt, DateTimeOffset expiresAt, double refreshAt, TimeSpan minimum, double jitter)
    {
        var life = expiresAt - fetchedAt;
        if (life <= TimeSpan.Zero)
        {
            return Clamp(minimum);
        }

        var window = TimeSpan.FromTicks(Math.Min(life.Ticks / 10, TimeSpan.FromMinutes(5).Ticks));
        var due = fetchedAt + (life * refreshAt) + (window * jitter);
        var delay = due - now;
        return Clamp(delay < minimum ? minimum : delay);
    }

    /// <summary>
    /// The delay after a failed round: <see cref="AfterFailure(int)"/>, but never past half the time
    /// the held token has left (and never below <paramref name="minimum"/>), so that retries
    /// quicken as the last good token nears its expiry. Holding no token (null) counts as holding an
    /// expired one: such a replica is neither Ready nor able to lead, so it retries every <paramref name="minimum"/>.
    /// </summary>
    public static TimeSpan AfterFailure(int failures, DateTimeOffset now, DateTimeOffset? soonestExpiry, TimeSpan minimum, FailureBackoff? backoffs = null)
    {
        var backoff = (backoffs ?? FailureBackoff.Default).After(failures);
        var half = ((soonestExpiry ?? now) - now) / 2;
        var bound = half < minimum ? minimum : half;
        return Clamp(backoff < bound ? backoff : bound);
    }

    /// <summary>The delay after the <paramref name="failures"/>-th failure in a row: 30 s, doubling, capped at 5 minutes.</summary>
    public static TimeSpan AfterFailure(int failures) => FailureBackoff.Default.After(failures);
}
