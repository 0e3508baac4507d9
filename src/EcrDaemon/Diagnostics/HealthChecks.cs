using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.Queues;
using EcrDaemon.Reconciliation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Diagnostics;

/// <summary>
/// <c>/livez</c>: the loops make progress. It fails when the work queue is wedged, or when a
/// watch has been silent past its watchdog (twice the stall timeout, and at least
/// <c>LivenessTimeout</c>) without getting going again.
/// </summary>
internal sealed class LivenessCheck(WorkQueue queue, PullSecretController controller, InformerSettings informers,
    IOptions<EcrDaemonOptions> options, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var timeout = options.Value.LivenessTimeout;
        if (queue.Wedged(timeout) is { } wedged)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"the work loop is wedged: {wedged}"));
        }

        var silence = timeout > informers.StallTimeout * 2 ? timeout : informers.StallTimeout * 2;
        var now = time.GetUtcNow();
        var silent = controller.Informers.FirstOrDefault(i => now - i.LastActivity > silence);
        return Task.FromResult(silent is null
            ? HealthCheckResult.Healthy("the work loop and the watches make progress")
            : HealthCheckResult.Unhealthy($"the {silent.Resource} watch has heard nothing since {silent.LastActivity:O}"));
    }
}

/// <summary><c>/readyz</c>: the informers have synced once, and a token that has not expired is held.</summary>
internal sealed class ReadinessCheck(PullSecretController controller, TokenRefresher tokens, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problem = !controller.Synced ? "the first sync has not finished"
            : tokens.Current is not { } content ? "no ECR token is held yet"
            : content.ExpiresAt <= time.GetUtcNow() ? $"the held ECR token expired at {content.Expiry}"
            : null;
        return Task.FromResult(problem is null ? HealthCheckResult.Healthy("synced, with an unexpired token") : HealthCheckResult.Unhealthy(problem));
    }
}

internal static class HealthEndpoints
{
    public static IServiceCollection AddDaemonHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<LivenessCheck>("progress", tags: ["live"])
            .AddCheck<ReadinessCheck>("synced-with-token", tags: ["ready"]);
        return services;
    }

    /// <summary>Maps /metrics (Prometheus), /livez and /readyz. Each probe answers 200 or 503 with the reason as text.</summary>
    public static IEndpointRouteBuilder MapDaemonEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPrometheusScrapingEndpoint("/metrics");
        endpoints.MapHealthChecks("/livez", Probe("live"));
        endpoints.MapHealthChecks("/readyz", Probe("ready"));
        return endpoints;
    }

    private static HealthCheckOptions Probe(string tag) => new()
    {
        Predicate = check => check.Tags.Contains(tag),
        ResponseWriter = (context, report) =>
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            var lines = report.Entries.Select(e => $"{e.Key}: {e.Value.Status}: {e.Value.Description}");
            return context.Response.WriteAsync(string.Join('\n', lines) + "\n");
        },
    };
}
