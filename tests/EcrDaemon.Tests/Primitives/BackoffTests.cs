using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.Primitives;
using EcrDaemon.Queues;
using Xunit;

namespace EcrDaemon.Tests.Primitives;

/// <summary>
/// The one backoff gives each of its three users the delays it computed before it was shared: a
/// table of literal delays per user, and each user's former formula (kept here verbatim as the
/// reference) against the shared one over every failure count that matters.
/// </summary>
public sealed class BackoffTests
{
    private static readonly InformerSettings DefaultInformers = new();

    /// <summary>Start and cap of every informer configuration in use: the default, the tests' fast one and the watch-expiry test's.</summary>
    public static TheoryData<int, int> InformerConfigurations => new() { { 1_000, 30_000 }, { 50, 500 }, { 1_000, 4_000 } };

    /// <summary>Start and cap of every refresher configuration in use: the default and the tests' short one.</summary>
    public static TheoryData<int, int> RefresherConfigurations => new() { { 30_000, 300_000 }, { 200, 400 } };

    private static readonly double[] Jitters = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999_999];

    [Theory]
    [InlineData(1, 0.0, 800)]
    [InlineData(1, 0.5, 1_000)]
    [InlineData(2, 0.0, 1_600)]
    [InlineData(2, 0.5, 2_000)]
    [InlineData(3, 0.5, 4_000)]
    [InlineData(4, 0.5, 8_000)]
    [InlineData(5, 0.5, 16_000)]
    [InlineData(6, 0.0, 24_000)]
    [InlineData(6, 0.5, 30_000)]
    [InlineData(6, 0.75, 33_000)]
    [InlineData(40, 0.5, 30_000)]
    public void Informer_delays_are_1_s_doubling_to_30_s_times_0_8_to_1_2(int failures, double jitter, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), DefaultInformers.RetryDelay(failures, jitter));
    }

    [Theory]
    [InlineData(0, 200)]
    [InlineData(1, 200)]
    [InlineData(2, 400)]
    [InlineData(3, 800)]
    [InlineData(10, 102_400)]
    [InlineData(11, 120_000)]
    [InlineData(int.MaxValue, 120_000)]
    public void Work_queue_delays_are_200_ms_doubling_to_2_minutes(int failures, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), WorkQueue.RetryDelay(failures));
    }

    [Theory]
    [InlineData(0, 30)]
    [InlineData(1, 30)]
    [InlineData(2, 60)]
    [InlineData(3, 120)]
    [InlineData(4, 240)]
    [InlineData(5, 300)]
    [InlineData(int.MaxValue, 300)]
    public void Refresher_delays_are_30_s_doubling_to_5_minutes(int failures, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), FailureBackoff.Default.After(failures));
        Assert.Equal(TimeSpan.FromSeconds(seconds), RefreshSchedule.AfterFailure(failures));
    }

    [Theory]
    [MemberData(nameof(InformerConfigurations))]
    public void Informer_delays_equal_the_former_formula(int startMilliseconds, int capMilliseconds)
    {
        var settings = new InformerSettings { InitialBackoff = TimeSpan.FromMilliseconds(startMilliseconds), MaxBackoff = TimeSpan.FromMilliseconds(capMilliseconds) };
        for (var failures = 1; failures <= 64; failures++)
        {
            foreach (var jitter in Jitters)
            {
                Assert.Equal(FormerInformerBackoff(settings, failures, jitter), settings.RetryDelay(failures, jitter));
            }
        }
    }

    [Fact]
    public void Work_queue_delays_equal_the_former_formula()
    {
        foreach (var failures in FailureCounts())
        {
            Assert.Equal(FormerDoubling(WorkQueue.BaseRetryDelay, WorkQueue.MaxRetryDelay, failures), WorkQueue.RetryDelay(failures));
        }
    }

    [Theory]
    [MemberData(nameof(RefresherConfigurations))]
    public void Refresher_delays_equal_the_former_formula(int startMilliseconds, int capMilliseconds)
    {
        var backoff = new FailureBackoff(TimeSpan.FromMilliseconds(startMilliseconds), TimeSpan.FromMilliseconds(capMilliseconds));
        foreach (var failures in FailureCounts())
        {
            Assert.Equal(FormerDoubling(backoff.Start, backoff.Cap, failures), backoff.After(failures));
        }
    }

    [Fact]
    public void The_shared_formula_starts_at_start_doubles_and_stops_at_the_cap()
    {
        var start = TimeSpan.FromMilliseconds(3);
        var cap = TimeSpan.FromMilliseconds(20);
        Assert.Equal(
            [3, 3, 3, 6, 12, 20, 20],
            new[] { -1, 0, 1, 2, 3, 4, 5 }.Select(f => Backoff.Exponential(start, cap, f).TotalMilliseconds));
        Assert.Equal(TimeSpan.FromMilliseconds(80), Backoff.Jittered(TimeSpan.FromMilliseconds(100), 0));
        Assert.Equal(TimeSpan.FromMilliseconds(110), Backoff.Jittered(TimeSpan.FromMilliseconds(100), 0.75));
    }

    private static IEnumerable<int> FailureCounts() => Enumerable.Range(-2, 70).Append(int.MaxValue).Append(int.MinValue);

    /// <summary>Informer.Backoff before the backoff was shared (it is only called with failures ≥ 1).</summary>
    private static TimeSpan FormerInformerBackoff(InformerSettings settings, int failures, double jitter)
    {
        var exponential = settings.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 16));
        var capped = Math.Min(exponential, settings.MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.8 + (0.4 * jitter)));
    }

    /// <summary>WorkQueue.RetryDelay and FailureBackoff.After before the backoff was shared (the same code twice).</summary>
    private static TimeSpan FormerDoubling(TimeSpan start, TimeSpan cap, int failures)
    {
        var doubled = start * Math.Pow(2, Math.Clamp(failures - 1, 0, 20));
        return doubled > cap ? cap : doubled;
    }
}
