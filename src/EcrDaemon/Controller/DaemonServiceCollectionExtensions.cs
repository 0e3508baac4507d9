using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.LeaderElection;
using EcrDaemon.Queues;
using EcrDaemon.Reconciliation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace EcrDaemon.Controller;

/// <summary>The composition root: every registration of the daemon is made here, or by an <c>AddX</c> of a lower layer called from here.</summary>
internal static class DaemonServiceCollectionExtensions
{
    /// <summary>
    /// Registers everything: the options, the clock, ECR tokens (AddEcr), the Kubernetes client
    /// (AddKubernetesClient), the projected cluster state and its informers, the queue, the
    /// reconciler, the refresher, the Lease and the leader-gated controller, metrics and health.
    /// </summary>
    public static IServiceCollection AddEcrDaemon(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddDaemonOptions(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddEcr();
        services.AddKubernetesClient();
        services.TryAddSingleton<WorkQueue>();

        // The event → key mapping: every change a cache sees enqueues the namespace it touched.
        services.AddDaemonInformers();
        services.TryAddSingleton(sp => new ClusterState(sp.GetRequiredService<PullSecretProfiles>(), sp.GetRequiredService<WorkQueue>().Add));
        services.TryAddSingleton<EventRecorder>();
        services.TryAddSingleton<DesiredPullSecret>();
        services.TryAddSingleton<NamespaceReconciler>();
        services.TryAddSingleton<TokenMetrics>();
        services.TryAddSingleton<TokenRefresher>();
        services.TryAddSingleton<ControllerMetrics>();
        services.TryAddSingleton<PullSecretController>();
        services.AddDaemonHealthChecks();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(DaemonMeter.Name)
            // The runtime's own metrics (GC heap, allocations, working set), so that memory can be watched in
            // production; the .NET 9+ System.Runtime meter works the same under Native AOT.
            .AddMeter("System.Runtime")
            // Gauges whose names end in _count, which Prometheus reserves for histograms and summaries (promtool
            // refuses them); none of them is about memory.
            .AddView("dotnet.assembly.count", MetricStreamConfiguration.Drop)
            .AddView("dotnet.process.cpu.count", MetricStreamConfiguration.Drop)
            .AddView("dotnet.thread_pool.thread.count", MetricStreamConfiguration.Drop)
            .AddView("dotnet.timer.count", MetricStreamConfiguration.Drop)
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        // Hosted services stop in reverse order: Leadership stops last, releasing the Lease after the writers stopped.
        services.TryAddSingleton<Leadership>();
        services.AddHostedService(sp => sp.GetRequiredService<Leadership>());
        services.AddHostedService(sp => sp.GetRequiredService<TokenRefresher>());
        services.AddHostedService(sp => sp.GetRequiredService<PullSecretController>());
        services.TryAddSingleton(sp => new HeapTrimmer(sp.GetRequiredService<WorkQueue>(), () => sp.GetRequiredService<PullSecretController>().Synced,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<HeapTrimmer>>()));
        services.AddHostedService(sp => sp.GetRequiredService<HeapTrimmer>());
        return services;
    }

    /// <summary>The <c>EcrDaemon</c> options, bound, completed from the seed's environment, and validated at start.</summary>
    public static IServiceCollection AddDaemonOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EcrDaemonOptions>()
            .Bind(configuration.GetSection(EcrDaemonOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IPostConfigureOptions<EcrDaemonOptions>>(new SeedEnvironmentDefaults(configuration));
        services.AddSingleton<IPostConfigureOptions<EcrDaemonOptions>>(new EmptyLists(configuration));
        services.AddSingleton<IValidateOptions<EcrDaemonOptions>>(new EcrDaemonOptionsValidator(configuration));
        return services;
    }
}
