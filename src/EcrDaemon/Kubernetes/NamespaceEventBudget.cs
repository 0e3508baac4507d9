namespace EcrDaemon.Kubernetes;

/// <summary>How an Event fared against the budgets.</summary>
internal enum EventBudgetResult
{
    Granted,

    /// <summary>Its namespace spent its own share.</summary>
    NamespaceSpent,

    /// <summary>The daemon-wide budget is spent.</summary>
    GlobalSpent,
}

/// <summary>
/// Each namespace's own small share of the Event budget, inside the daemon-wide one: a burst of
/// <see cref="Burst"/>, refilled at one per <see cref="RefillEvery"/>, so that one namespace that
/// churns cannot spend the daemon-wide budget that everyone else's Warnings need. A namespace
/// whose share is spent is refused before it spends from the daemon-wide budget. Only namespaces that
/// spent recently are remembered: a full share is the same as none, so full shares are swept out,
/// and memory stays bounded by how many namespaces the daemon-wide rate lets record an Event
/// within one refill period, however many namespaces there are.
/// </summary>
internal sealed class NamespaceEventBudget(TimeProvider time)
{
    public const int Burst = 5;
    public static readonly TimeSpan RefillEvery = TimeSpan.FromSeconds(12);
    private const int MinimumSweep = 256;

    private readonly Dictionary<string, Share> _shares = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _sweepAbove = MinimumSweep;

    /// <summary>Namespaces remembered now (for tests: it must stay bounded).</summary>
    public int Remembered
    {
        get
        {
            lock (_lock)
            {
                return _shares.Count;
            }
        }
    }

    /// <summary>Spends one from <paramref name="ns"/>'s share and one from <paramref name="global"/> (tried only when the share has one).</summary>
    public EventBudgetResult TrySpend(string ns, Func<bool> global)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (!_shares.TryGetValue(ns, out var share))
            {
                share = new Share { Left = Burst, Stamp = now };
            }

            share.Refill(now, time);
            if (share.Left < 1)
            {
                return EventBudgetResult.NamespaceSpent;
            }

            if (!global())
            {
                return EventBudgetResult.GlobalSpent;
            }

            share.Left--;
            if (_shares.TryAdd(ns, share) && _shares.Count > _sweepAbove)
            {
                Sweep(now);
            }

            return EventBudgetResult.Granted;
        }
    }

    private void Sweep(long now)
    {
        foreach (var (ns, share) in _shares)
        {
            share.Refill(now, time);
            if (share.Left >= Burst)
            {
                _shares.Remove(ns);
            }
        }

        _sweepAbove = Math.Max(MinimumSweep, _shares.Count * 2); // amortised: a sweep per as many new namespaces as are kept
    }

    private sealed class Share
    {
        public double Left { get; set; }

        public long Stamp { get; set; }

        public void Refill(long now, TimeProvider time)
        {
            Left = Math.Min(Burst, Left + (time.GetElapsedTime(Stamp, now) / RefillEvery));
            Stamp = now;
        }
    }
}
