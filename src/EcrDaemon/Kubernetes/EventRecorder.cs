using EcrDaemon.Diagnostics;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// Writes core/v1 Events (component <c>ecr-daemon</c>) on the objects the daemon acts on, so that
/// <c>kubectl describe</c> and <c>kubectl get events</c> show why. A failure to record an Event
/// is logged and never fails the work it describes.
/// </summary>
internal sealed class EventRecorder(IKubernetes client, TimeProvider time, ILogger<EventRecorder> logger)
{
    public Task WarningAsync(string ns, string kind, string name, string reason, string message, CancellationToken cancellationToken) =>
        RecordAsync("Warning", ns, kind, name, reason, message, cancellationToken);

    private async Task RecordAsync(string type, string ns, string kind, string name, string reason, string message, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var ev = new Corev1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = $"{name}.", NamespaceProperty = ns },
            InvolvedObject = new V1ObjectReference { ApiVersion = "v1", Kind = kind, Name = name, NamespaceProperty = ns },
            Reason = reason,
            Message = message,
            Type = type,
            Source = new V1EventSource { Component = Markers.Component },
            ReportingComponent = Markers.Component,
            ReportingInstance = Environment.MachineName,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
        try
        {
            await client.CoreV1.CreateNamespacedEventAsync(ev, ns, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.EventFailed(reason, ns, ApiErrors.Describe(e));
        }
    }
}
