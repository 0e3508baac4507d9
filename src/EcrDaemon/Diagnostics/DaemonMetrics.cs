using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Reflection;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.LeaderElection;
using EcrDaemon.Queues;
using EcrDaemon.Reconciliation;
using Microsoft.Extensions.DependencyInjection;

namespace EcrDaemon.Diagnostics;

/// <summary>
/// Every metric of the daemon, on one meter from <see cref="IMeterFactory"/>. The Prometheus
/// exporter adds the unit (<c>_seconds</c>) and <c>_total</c> to these names; the exported names
/// are a public contract (README, alert rules) and tests check them. No label ever holds a token:
/// <c>registry</c> is a registry host, the others are small fixed sets.
/// </summary>
internal sealed class DaemonMetrics
{
    public const string MeterName = "EcrDaemon";

    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _refreshFailures;
    private readonly Counter<long> _kubernetesRequests;
    private readonly Histogram<double> _reconcileDuration;
    private readonly Counter<long> _reconcileErrors;
    private readonly Counter<long> _watchRestarts;
    private readonly ConcurrentDictionary<string, (DateTimeOffset Expiry, DateTimeOffset FetchedAt)> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastSuccess = new(StringComparer.Ordinal);

    public DaemonMetrics(IMeterFactory meters, TimeProvider time, IServiceProvider services)
    {
        // Gauges read the live state when scraped; resolved lazily, because those services record here too.
        var meter = meters.Create(MeterName);
        _refreshes = meter.CreateCounter<long>("ecr_daemon_token_refreshes", description: "Token fetches per registry, by result (success, failure).");
        _refreshFailures = meter.CreateCounter<long>("ecr_daemon_token_refresh_failures", description: "Failed token fetches per registry, by reason.");
        _kubernetesRequests = meter.CreateCounter<long>("ecr_daemon_kubernetes_requests", description: "Kubernetes API requests the daemon made, by verb, resource and status code.");
        _reconcileDuration = meter.CreateHistogram("ecr_daemon_reconcile_duration", unit: "s", description: "Time to reconcile one namespace.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _reconcileErrors = meter.CreateCounter<long>("ecr_daemon_reconcile_errors", description: "Reconciles that failed and were retried, by reason.");
        _watchRestarts = meter.CreateCounter<long>("ecr_daemon_watch_restarts", description: "Watch streams started again, by resource and reason.");

        meter.CreateObservableGauge("ecr_daemon_token_expiry_timestamp", () => _tokens.Select(t =>
            new Measurement<double>(t.Value.Expiry.ToUnixTimeMilliseconds() / 1000.0, Registry(t.Key))), unit: "s", description: "Expiry of the token currently held, per registry.");
        meter.CreateObservableGauge("ecr_daemon_token_age", () => _tokens.Select(t =>
            new Measurement<double>((time.GetUtcNow() - t.Value.FetchedAt).TotalSeconds, Registry(t.Key))), unit: "s", description: "Time since the held token was fetched, per registry.");
        meter.CreateObservableGauge("ecr_daemon_last_successful_refresh_timestamp", () => _lastSuccess.Select(t =>
            new Measurement<double>(t.Value.ToUnixTimeMilliseconds() / 1000.0, Registry(t.Key))), unit: "s", description: "When a token was last fetched successfully, per registry.");
        meter.CreateObservableGauge("ecr_daemon_namespaces_managed", () => services.GetRequiredService<ClusterState>().OptedIn().Count(),
            description: "Namespaces opted in.");
        meter.CreateObservableGauge("ecr_daemon_namespaces_out_of_sync", () => services.GetRequiredService<NamespaceReconciler>().OutOfSync,
            description: "Opted-in namespaces whose last reconcile did not reach the desired state.");
        meter.CreateObservableGauge("ecr_daemon_unmanaged_secret_conflicts", () => services.GetRequiredService<NamespaceReconciler>().UnmanagedSecretConflicts,
            description: "Namespaces where a same-named secret the daemon does not own blocks it.");
        meter.CreateObservableGauge("ecr_daemon_workqueue_depth", () => services.GetRequiredService<WorkQueue>().Depth,
            description: "Namespaces waiting to be reconciled.");
        meter.CreateObservableGauge("ecr_daemon_leader", () => services.GetRequiredService<Leadership>().IsLeader ? 1 : 0,
            description: "1 on the replica that holds the Lease and writes (always 1 while leader election is off).");
        var version = typeof(DaemonMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        meter.CreateObservableGauge("ecr_daemon_build_info", () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", version)),
            description: "Always 1; the label carries the version.");
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

    public void KubernetesRequest(string verb, string resource, string code) =>
        _kubernetesRequests.Add(1, new("verb", verb), new("resource", resource), new("code", code));

    public void Reconciled(TimeSpan duration) => _reconcileDuration.Record(duration.TotalSeconds);

    public void ReconcileFailed(string reason) => _reconcileErrors.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void WatchRestarted(string resource, string reason) => _watchRestarts.Add(1, new("resource", resource), new("reason", reason));

    private static KeyValuePair<string, object?> Registry(string host) => new("registry", host);
}
