using System.Diagnostics.Metrics;
using EcrDaemon.Diagnostics;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The reconciler's instruments: how long a reconcile takes, why one failed, and the two sets whose
/// sizes are gauges (namespaces out of sync, per profile; secrets blocked by one the daemon does not own),
/// which <see cref="ReconcileStatus"/> keeps.
/// </summary>
internal sealed class ReconcileMetrics
{
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _errors;

    public ReconcileMetrics(IMeterFactory meters, ReconcileStatus status, PullSecretProfiles profiles)
    {
        var meter = meters.Create(DaemonMeter.Name);
        _duration = meter.CreateHistogram("ecr_daemon_reconcile_duration", unit: "s", description: "Time to reconcile one namespace.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _errors = meter.CreateCounter<long>("ecr_daemon_reconcile_errors", description: "Reconciles that failed and were retried, by reason.");
        meter.CreateObservableGauge("ecr_daemon_namespaces_out_of_sync", () => PerProfile(status.OutOfSyncPerProfile(), profiles),
            description: "Namespaces a profile selects whose last reconcile did not bring that profile's secret to the desired state, per profile.");
        meter.CreateObservableGauge("ecr_daemon_unmanaged_secret_conflicts", () => PerProfile(status.ConflictsPerProfile(), profiles),
            description: "Namespaces where a same-named secret the daemon does not own blocks the profile's secret, per profile.");
    }

    /// <summary>One measurement per profile, labelled with its name: counts by profile index.</summary>
    public static IEnumerable<Measurement<int>> PerProfile(int[] counts, PullSecretProfiles profiles) =>
        counts.Select((count, i) => new Measurement<int>(count, new KeyValuePair<string, object?>("profile", profiles[i].Name)));

    public void Reconciled(TimeSpan duration) => _duration.Record(duration.TotalSeconds);

    public void ReconcileFailed(string reason) => _errors.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
