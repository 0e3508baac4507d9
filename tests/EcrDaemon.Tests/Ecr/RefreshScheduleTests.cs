using EcrDaemon.Ecr;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

public sealed class RefreshScheduleTests
{
    private static readonly DateTimeOffset FetchedAt = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly TimeSpan Minimum = TimeSpan.FromMinutes(1);

    [Fact]
    public void A_12_hour_token_fetched_now_is_due_halfway_through_its_life()
    {
        var delay = RefreshSchedule.Next(FetchedAt, FetchedAt, FetchedAt.AddHours(12), refreshAt: 0.5, Minimum, jitter: 0);

        Assert.Equal(TimeSpan.FromHours(6), delay);
    }

    [Fact]
    public void Time_already_passed_since_the_fetch_is_subtracted()
    {
        var delay = RefreshSchedule.Next(FetchedAt.AddHours(1), FetchedAt, FetchedAt.AddHours(12), refreshAt: 0.5, Minimum, jitter: 0);

        Assert.Equal(TimeSpan.FromHours(5), delay);
    }

    [Fact]
    public void Jitter_adds_at_most_five_minutes_to_a_long_lived_token()
    {
        var delay = RefreshSchedule.Next(FetchedAt, FetchedAt, FetchedAt.AddHours(12), refreshAt: 0.5, Minimum, jitter: 0.999);

        Assert.InRange(delay, TimeSpan.FromHours(6) + TimeSpan.FromMinutes(4.9), TimeSpan.FromHours(6) + TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Jitter_adds_at_most_a_tenth_of_a_short_token_life()
    {
        // 20 minutes of life: the window is 2 minutes, less than the 5-minute cap.
        var delay = RefreshSchedule.Next(FetchedAt, FetchedAt, FetchedAt.AddMinutes(20), refreshAt: 0.5, Minimum, jitter: 0.999);

        Assert.InRange(delay, TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(119), TimeSpan.FromMinutes(12));
    }

    [Theory]
    [InlineData(-3600)]
    [InlineData(-1)]
    [InlineData(0)]
    public void A_token_that_expired_before_it_was_fetched_gives_exactly_the_minimum(int lifeSeconds)
    {
        // moto returns an expiresAt before the fetch time.
        var delay = RefreshSchedule.Next(FetchedAt, FetchedAt, FetchedAt.AddSeconds(lifeSeconds), refreshAt: 0.5, Minimum, jitter: 0.5);

        Assert.Equal(Minimum, delay);
    }

    [Theory]
    [InlineData(660.0)]
    [InlineData(360.0)]
    [InlineData(359.5)]
    public void A_due_time_in_the_past_or_within_the_minimum_gives_the_minimum(double minutesSinceFetch)
    {
        var now = FetchedAt.AddMinutes(minutesSinceFetch);

        var delay = RefreshSchedule.Next(now, FetchedAt, FetchedAt.AddHours(12), refreshAt: 0.5, Minimum, jitter: 0);

        Assert.Equal(Minimum, delay);
    }

    [Theory]
    [InlineData(1, 30)]
    [InlineData(2, 60)]
    [InlineData(3, 120)]
    [InlineData(4, 240)]
    [InlineData(5, 300)]
    [InlineData(6, 300)]
    [InlineData(50, 300)]
    [InlineData(int.MaxValue, 300)]
    public void Failures_back_off_from_30_seconds_doubling_up_to_5_minutes(int failures, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), RefreshSchedule.AfterFailure(failures));
    }

    [Theory]
    [InlineData(3, 7200.0, 120)]    // 2 h left: the plain backoff
    [InlineData(3, 100.0, 50)]      // 100 s left: half of it
    [InlineData(1, 30.0, 15)]       // 30 s left: 15 s, sooner than 30
    [InlineData(1, 1.0, 1)]         // nearly expired: never below the minimum (1 s here)
    public void A_failure_never_waits_past_half_the_held_tokens_remaining_life(int failures, double? secondsLeft, int expected)
    {
        var now = FetchedAt;
        DateTimeOffset? expiry = secondsLeft is { } s ? now.AddSeconds(s) : null;

        Assert.Equal(TimeSpan.FromSeconds(expected), RefreshSchedule.AfterFailure(failures, now, expiry, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_token_that_expires_in_the_year_2100_gets_a_delay_that_a_timer_accepts()
    {
        var expiresAt = new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

        var delay = RefreshSchedule.Next(FetchedAt, FetchedAt, expiresAt, refreshAt: 0.5, Minimum, jitter: 0.5);
        var afterFailure = RefreshSchedule.AfterFailure(1, FetchedAt, expiresAt, Minimum);
        var hugeMinimum = RefreshSchedule.Next(FetchedAt, FetchedAt, FetchedAt.AddHours(12), refreshAt: 0.5, TimeSpan.FromDays(3650), jitter: 0);

        // Timers take at most uint.MaxValue - 1 milliseconds (about 49.7 days).
        using var timer = new CancellationTokenSource(delay);
        using var failureTimer = new CancellationTokenSource(afterFailure);
        using var minimumTimer = new CancellationTokenSource(hugeMinimum);
        Assert.InRange(delay, TimeSpan.FromDays(1), TimeSpan.FromDays(49));
        Assert.InRange(afterFailure, TimeSpan.FromSeconds(30), TimeSpan.FromDays(49));
        Assert.InRange(hugeMinimum, TimeSpan.FromDays(1), TimeSpan.FromDays(49));
    }

    /// <summary>
    /// A replica that holds no token cannot be Ready nor compete for the Lease, so it is as urgent as
    /// one whose token has expired: after the first 30 s it retries every MinRefreshInterval, never
    /// 2, 4 or 5 minutes later (the soak's leader kills during an ECR outage left no replica able to lead).
    /// </summary>
    [Theory]
    [InlineData(1, 60, 30)]
    [InlineData(3, 60, 60)]
    [InlineData(50, 60, 60)]
    [InlineData(5, 1, 1)]
    public void Without_a_token_held_a_failure_waits_at_most_the_minimum_interval(int failures, int minimumSeconds, int expected)
    {
        Assert.Equal(TimeSpan.FromSeconds(expected), RefreshSchedule.AfterFailure(failures, FetchedAt, soonestExpiry: null, TimeSpan.FromSeconds(minimumSeconds)));
    }
}
