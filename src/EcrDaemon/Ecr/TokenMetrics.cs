using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EcrDaemon.Diagnostics;

namespace EcrDaemon.Ecr;

/// <summary>The token refresher's instruments: fetches by result and failure reason, and per registry the held token's expiry, its age and the last success.</summary>
internal sealed class TokenMetrics
{
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _refreshFailures;
    private readonly ConcurrentDictionary<string, (DateTimeOffset Expiry, DateTimeOffset FetchedAt)> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSuccess = new(StringComparer.Ordinal);

    public TokenMetrics(IMeterFactory meters, TimeProvider time)
    {
        var meter = meters.Create(DaemonMeter.Name);
        _refreshes = meter.CreateCounter<long>("ecr_daemon_token_refreshes", description: "Token fetches per registry, by result (success, failure).");
        _refreshFailures = meter.CreateCounter<long>("ecr_daemon_token_refresh_failures", description: "Failed token fetches per registry, by reason.");
        meter.CreateObservableGauge("ecr_daemon_token_expiry_timestamp", () => _tokens.Select(t =>
            new Measurement<double>(t.Value.Expiry.ToUnixTimeMilliseconds() / 1000.0, Registry(t.Key))), unit: "s", description: "Expiry of the token currently held, per registry.");
        meter.CreateObservableGauge("ecr_daemon_token_age", () => _tokens.Select(t =>
            new Measurement<double>((time.GetUtcNow() - t.Value.FetchedAt).TotalSeconds, Registry(t.Key))), unit: "s", description: "Time since the held token was fetched, per registry.");
        meter.CreateObservableGauge("ecr_daemon_last_successful_refresh_timestamp", () => _lastSuccess.Select(t =>
            new Measurement<double>(t.Value.ToUnixTimeMilliseconds() / 1000.0, Registry(t.Key))), unit: "s", description: "When a token was last fetched successfully, per registry.");
    }

    /// <summary>Starts a registry's counters at 0 for every result and reason, so that rates and alerts see a series before the first failure.</summary>
    public void RegistryConfigured(string registry)
    {
        _refreshes.Add(0, Registry(registry), new("result", "success"));
        _refreshes.Add(0, Registry(registry), new("result", "failure"));
        foreach (var reason in Enum.GetValues<EcrFailureReason>())
        {
            _refreshFailures.Add(0, Registry(registry), new("reason", reason.ToLabel()));
        }
    }

    public void TokenRefreshed(string registry, DateTimeOffset expiresAt, DateTimeOffset fetchedAt)
    {
        _tokens[registry] = (expiresAt, fetchedAt);
        _lastSuccess[registry] = fetchedAt;
        _refreshes.Add(1, Registry(registry), new("result", "success"));
    }

    public void TokenRefreshFailed(string registry, string reason)
    {
        _refreshes.Add(1, Registry(registry), new("result", "failure"));
        _refreshFailures.Add(1, Registry(registry), new("reason", reason));
    }

    private static KeyValuePair<string, object?> Registry(string host) => new("registry", host);
}
