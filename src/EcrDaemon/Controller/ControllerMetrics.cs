using System.Diagnostics.Metrics;
using System.Reflection;
using EcrDaemon.Diagnostics;
using EcrDaemon.LeaderElection;
using EcrDaemon.Queues;
using EcrDaemon.Reconciliation;

namespace EcrDaemon.Controller;

/// <summary>
/// The controller's gauges, read when scraped: the namespaces opted in per profile, the queue's depth, whether
/// this replica leads, and the build. What they read is handed in, never looked up.
/// </summary>
internal sealed class ControllerMetrics
{
    public ControllerMetrics(IMeterFactory meters, ClusterState state, WorkQueue queue, Leadership leadership)
    {
        var meter = meters.Create(DaemonMeter.Name);
        meter.CreateObservableGauge("ecr_daemon_namespaces_managed", () => ReconcileMetrics.PerProfile(state.SelectedPerProfile(), state.Profiles),
            description: "Namespaces opted in, per profile (a namespace that several profiles select counts in each).");
        meter.CreateObservableGauge("ecr_daemon_workqueue_depth", () => queue.Depth,
            description: "Namespaces waiting to be reconciled.");
        meter.CreateObservableGauge("ecr_daemon_leader", () => leadership.IsLeader ? 1 : 0,
            description: "1 on the replica that holds the Lease and writes (always 1 while leader election is off).");
        var version = typeof(ControllerMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        meter.CreateObservableGauge("ecr_daemon_build_info", () => new Measurement<int>(1, new KeyValuePair<string, object?>("version", version)),
            description: "Always 1; the label carries the version.");
    }
}
