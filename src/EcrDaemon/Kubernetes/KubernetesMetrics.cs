using System.Diagnostics.Metrics;
using EcrDaemon.Diagnostics;

namespace EcrDaemon.Kubernetes;

/// <summary>The Kubernetes layer's instruments: the API requests made (<see cref="ApiRequestHandler"/>) and the watches restarted (<see cref="Informer{T}"/>).</summary>
internal sealed class KubernetesMetrics
{
    private readonly Counter<long> _requests;
    private readonly Counter<long> _watchRestarts;

    public KubernetesMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(DaemonMeter.Name);
        _requests = meter.CreateCounter<long>("ecr_daemon_kubernetes_requests", description: "Kubernetes API requests the daemon made, by verb, resource and status code.");
        _watchRestarts = meter.CreateCounter<long>("ecr_daemon_watch_restarts", description: "Watch streams started again, by resource and reason.");
    }

    public void KubernetesRequest(string verb, string resource, string code) =>
        _requests.Add(1, new("verb", verb), new("resource", resource), new("code", code));

    public void WatchRestarted(string resource, string reason) => _watchRestarts.Add(1, new("resource", resource), new("reason", reason));
}
