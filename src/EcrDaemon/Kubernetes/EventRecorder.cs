using System.Threading.RateLimiting;
using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Kubernetes;

/// <summary>What became of an Event.</summary>
internal enum EventOutcome
{
    Recorded,

    /// <summary><c>Events=false</c>.</summary>
    Off,

    /// <summary>Its namespace spent its own share; other namespaces may still record.</summary>
    NamespaceSpent,

    /// <summary>The daemon-wide budget is spent: any further Event now would be dropped too.</summary>
    BudgetSpent,

    /// <summary>The API refused it (e.g. a quota on Events in that namespace), or it could not be sent.</summary>
    Failed,
}

/// <summary>
/// Writes core/v1 Events (component <c>ecr-daemon</c>) on the objects the daemon acts on, so that
/// <c>kubectl describe</c> and <c>kubectl get events</c> show why. Events are rate-limited (a
/// burst of 25, then 5 per second; beyond that they are dropped and logged at debug), so a
/// cold start or an outage over 10,000 namespaces does not become an event storm. Routine token
/// rotations record none. Inside that budget each namespace has its own small share (5, then one
/// per 12 seconds; <see cref="NamespaceEventBudget"/>), so one namespace that churns cannot starve
/// the others' Warnings. <c>Events=false</c> turns them off. A failure to record an Event is
/// logged and never fails the work it describes.
/// </summary>
internal sealed class EventRecorder : IDisposable
{
    private readonly KubernetesApi _client;
    private readonly TimeProvider _time;
    private readonly ILogger<EventRecorder> _logger;
    private readonly bool _enabled;
    private readonly NamespaceEventBudget _namespaces;
    private readonly TokenBucketRateLimiter _limiter = new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = 25,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromMilliseconds(200),
        QueueLimit = 0,
        AutoReplenishment = true,
    });

    public EventRecorder(KubernetesApi client, TimeProvider time, IOptions<EcrDaemonOptions> options, ILogger<EventRecorder> logger)
    {
        _client = client;
        _time = time;
        _logger = logger;
        _enabled = options.Value.Events;
        _namespaces = new NamespaceEventBudget(time);
    }

    /// <returns>Whether the Event was recorded, and if not, why.</returns>
    public Task<EventOutcome> NormalAsync(string ns, string kind, string name, string reason, string message, CancellationToken cancellationToken) =>
        RecordAsync("Normal", ns, kind, name, reason, message, cancellationToken);

    public Task<EventOutcome> WarningAsync(string ns, string kind, string name, string reason, string message, CancellationToken cancellationToken) =>
        RecordAsync("Warning", ns, kind, name, reason, message, cancellationToken);

    private async Task<EventOutcome> RecordAsync(string type, string ns, string kind, string name, string reason, string message, CancellationToken cancellationToken)
    {
        if (!_enabled)
        {
            return EventOutcome.Off;
        }

        switch (_namespaces.TrySpend(ns, TakeGlobal))
        {
            case EventBudgetResult.NamespaceSpent:
                _logger.EventDroppedForNamespace(type, reason, ns);
                return EventOutcome.NamespaceSpent;
            case EventBudgetResult.GlobalSpent:
                _logger.EventDropped(type, reason, ns);
                return EventOutcome.BudgetSpent;
        }

        var now = _time.GetUtcNow().UtcDateTime;
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
            await _client.CreateEventAsync(ns, ev, cancellationToken);
            return EventOutcome.Recorded;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.EventFailed(reason, ns, ApiErrors.Describe(e));
            return EventOutcome.Failed;
        }
    }

    private bool TakeGlobal()
    {
        using var lease = _limiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
