using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.Queues;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Controller;

/// <summary>
/// <c>/livez</c>: this replica's own loops make progress. It fails when the work queue is wedged (a
/// namespace reconciling for longer than <c>LivenessTimeout</c>, or keys waiting that long while
/// workers run and take none), or when an informer's loop has not got on for twice the stall
/// timeout (and at least <c>LivenessTimeout</c>). Keys waiting on a replica that runs no workers (a
/// follower, a replica without a token, an ex-leader) are not a fault, and neither is an API server
/// that does not answer: the informer loop keeps beating while it retries.
/// </summary>
internal sealed class LivenessCheck(WorkQueue queue, Informers informers, InformerSettings informerSettings,
    IOptions<EcrDaemonOptions> options, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var timeout = options.Value.LivenessTimeout;
        if (queue.Wedged(timeout) is { } wedged)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"the work loop is wedged: {wedged}"));
        }

        var silence = timeout > informerSettings.StallTimeout * 2 ? timeout : informerSettings.StallTimeout * 2;
        var now = time.GetUtcNow();
        if (informers.FirstOrDefault(i => now - i.LastProgress > silence) is { } stuck)
        {
            var heard = stuck.LastActivity == DateTimeOffset.MinValue ? "never" : $"{stuck.LastActivity:O}";
            return Task.FromResult(HealthCheckResult.Unhealthy(
                $"the {stuck.Resource} informer has made no progress since {stuck.LastProgress:O} (last heard from the API server: {heard})"));
        }

        return Task.FromResult(HealthCheckResult.Healthy(queue.Workers > 0
            ? "the workers and the informers make progress"
            : "the informers make progress; no workers run here (not leading, or not synced yet)"));
    }
}

/// <summary><c>/readyz</c>: the informers have synced once, and a token that has not expired is held.</summary>
internal sealed class ReadinessCheck(Informers informers, TokenRefresher refresher, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problem = !informers.All(i => i.Synced.IsCompletedSuccessfully) ? "the first sync has not finished"
            : refresher.Current is not { } held ? "no ECR token is held yet"
            : held.ExpiresAt <= time.GetUtcNow() ? $"the held ECR token expired at {held.Expiry}"
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
