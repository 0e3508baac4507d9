using EcrDaemon.Kubernetes;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>Each namespace's share of the Event budget (issue 14, item 11): the arithmetic and the memory bound.</summary>
public sealed class NamespaceEventBudgetTests
{
    private sealed class ManualTime : TimeProvider
    {
        public long Ticks { get; set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Ticks;

        public void Advance(TimeSpan by) => Ticks += by.Ticks;
    }

    [Fact]
    public void A_namespace_gets_its_burst_then_one_per_refill_period_and_a_spent_one_takes_nothing_from_the_global_budget()
    {
        var time = new ManualTime();
        var budget = new NamespaceEventBudget(time);
        var globalTaken = 0;
        bool Global() => ++globalTaken > 0;

        var first = Enumerable.Range(0, NamespaceEventBudget.Burst + 3).Select(_ => budget.TrySpend("churn", Global)).ToList();
        Assert.Equal([.. Enumerable.Repeat(EventBudgetResult.Granted, NamespaceEventBudget.Burst), .. Enumerable.Repeat(EventBudgetResult.NamespaceSpent, 3)], first);
        Assert.Equal(NamespaceEventBudget.Burst, globalTaken);
        Assert.Equal(EventBudgetResult.Granted, budget.TrySpend("other", Global));

        time.Advance(NamespaceEventBudget.RefillEvery);
        Assert.Equal(EventBudgetResult.Granted, budget.TrySpend("churn", Global));
        Assert.Equal(EventBudgetResult.NamespaceSpent, budget.TrySpend("churn", Global));
        Assert.Equal(EventBudgetResult.GlobalSpent, budget.TrySpend("third", () => false));
        Assert.Equal(EventBudgetResult.Granted, budget.TrySpend("third", Global)); // a refusal by the global budget costs the namespace nothing
    }

    [Fact]
    public void Ten_thousand_namespaces_recording_Events_at_the_global_rate_leave_a_bounded_number_remembered()
    {
        var time = new ManualTime();
        var budget = new NamespaceEventBudget(time);
        var most = 0;
        for (var i = 0; i < 10_000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(200)); // the global rate: 5 per second
            Assert.Equal(EventBudgetResult.Granted, budget.TrySpend($"ns-{i}", () => true));
            most = Math.Max(most, budget.Remembered);
        }

        Assert.True(most <= 512, $"{most} namespaces remembered at once");
    }
}
