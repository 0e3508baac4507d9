using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using k8s;
using k8s.Exceptions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Kubernetes;

internal static class KubernetesServiceCollectionExtensions
{
    /// <summary>The per-request timeout of every non-watch Kubernetes request.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Registers the one <see cref="IKubernetes"/> client: in-cluster configuration when running in
    /// a pod, else <c>KUBECONFIG</c> or <c>~/.kube/config</c>. It is created on first use, so
    /// commands that never talk to Kubernetes (<c>check</c>) need no cluster.
    /// </summary>
    public static IServiceCollection AddKubernetesClient(this IServiceCollection services)
    {
        services.TryAddSingleton(_ => Configuration());
        services.TryAddSingleton<DaemonMetrics>();
        services.TryAddSingleton<IKubernetes>(sp =>
        {
            var config = sp.GetRequiredService<KubernetesClientConfiguration>();

            // Watches must not be cut by HttpClient's timeout; ApiRequestHandler times everything else.
            config.HttpClientTimeout = Timeout.InfiniteTimeSpan;
            var options = sp.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;
            return new k8s.Kubernetes(config, new ApiRequestHandler(
                options.KubernetesQps, options.KubernetesBurst, RequestTimeout, sp.GetRequiredService<DaemonMetrics>()));
        });
        return services;
    }

    /// <summary>
    /// In-cluster, else the KUBECONFIG files, else ~/.kube/config. Unlike BuildDefaultConfig, a
    /// missing file is an error rather than a silent fallback to http://localhost:8080.
    /// </summary>
    private static KubernetesClientConfiguration Configuration()
    {
        if (KubernetesClientConfiguration.IsInCluster())
        {
            return KubernetesClientConfiguration.InClusterConfig();
        }

        var variable = Environment.GetEnvironmentVariable("KUBECONFIG");
        var paths = string.IsNullOrWhiteSpace(variable)
            ? [Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")]
            : variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!paths.Any(File.Exists))
        {
            throw new KubeConfigException(
                $"not running in a cluster, and no kubeconfig at {string.Join(", ", paths)} ({(variable is null ? "KUBECONFIG is not set" : "from KUBECONFIG")})");
        }

        return KubernetesClientConfiguration.BuildDefaultConfig();
    }
}
