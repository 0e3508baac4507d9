using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.LeaderElection;
using EcrDaemon.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;

namespace EcrDaemon.Reconciliation;

internal static class DaemonServiceCollectionExtensions
{
    /// <summary>Registers everything: ECR tokens (AddEcr), the Kubernetes client, the caches, the queue, the two loops, metrics and health.</summary>
    public static IServiceCollection AddEcrDaemon(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddEcr(configuration);
        services.AddKubernetesClient();
        services.TryAddSingleton(new InformerSettings());
        services.TryAddSingleton<WorkQueue>();
        services.TryAddSingleton<ClusterState>();
        services.TryAddSingleton<EventRecorder>();
        services.TryAddSingleton<NamespaceReconciler>();
        services.TryAddSingleton<TokenRefresher>();
        services.TryAddSingleton<PullSecretController>();
        services.AddDaemonHealthChecks();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(DaemonMetrics.MeterName)
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        // Hosted services stop in reverse order: Leadership stops last, releasing the Lease after the writers stopped.
        services.TryAddSingleton<Leadership>();
        services.AddHostedService(sp => sp.GetRequiredService<Leadership>());
        services.AddHostedService(sp => sp.GetRequiredService<TokenRefresher>());
        services.AddHostedService(sp => sp.GetRequiredService<PullSecretController>());
        return services;
    }
}
