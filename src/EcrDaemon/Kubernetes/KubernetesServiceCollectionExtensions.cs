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
    /// commands that never talk to Kubernetes (<c>check</c>) need no cluster. Any problem with the
    /// configuration is a <see cref="KubeConfigException"/> with a one-line message naming its source.
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
            try
            {
                return new k8s.Kubernetes(config, new ApiRequestHandler(
                    options.KubernetesQps, options.KubernetesBurst, RequestTimeout, sp.GetRequiredService<DaemonMetrics>()));
            }
            catch (Exception e) when (e is not KubeConfigException)
            {
                throw new KubeConfigException($"the configuration for {config.Host} ({Source()}) is not usable: {OneLine(e)}");
            }
        });
        return services;
    }

    /// <summary>
    /// In-cluster, else the KUBECONFIG files, else ~/.kube/config. Unlike BuildDefaultConfig, a
    /// missing file is an error rather than a silent fallback to http://localhost:8080; a KUBECONFIG
    /// with an empty element, or a file that is not a kubeconfig, is an error naming it.
    /// </summary>
    private static KubernetesClientConfiguration Configuration()
    {
        if (KubernetesClientConfiguration.IsInCluster())
        {
            try
            {
                return KubernetesClientConfiguration.InClusterConfig();
            }
            catch (Exception e) when (e is not KubeConfigException)
            {
                throw new KubeConfigException($"the in-cluster configuration could not be read: {OneLine(e)}");
            }
        }

        var paths = KubeconfigPaths();
        var missing = paths.Where(p => !File.Exists(p)).ToList();
        if (missing.Count == paths.Length)
        {
            throw new KubeConfigException($"not running in a cluster, and no kubeconfig at {string.Join(", ", paths)} ({Source()})");
        }

        if (missing.Count > 0)
        {
            throw new KubeConfigException($"{Source()}: no such file {string.Join(", ", missing)}");
        }

        foreach (var path in paths)
        {
            try
            {
                KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(path));
            }
            catch (Exception e)
            {
                throw new KubeConfigException($"{Source()}: {path} is not a valid kubeconfig: {OneLine(e)}");
            }
        }

        try
        {
            // Every file exists and parses; several (KUBECONFIG) are merged as kubectl merges them.
            return paths.Length == 1
                ? KubernetesClientConfiguration.BuildConfigFromConfigFile(new FileInfo(paths[0]))
                : KubernetesClientConfiguration.BuildDefaultConfig();
        }
        catch (Exception e)
        {
            throw new KubeConfigException($"{Source()}: {string.Join(", ", paths)} is not a usable kubeconfig: {OneLine(e)}");
        }
    }

    /// <summary>The KUBECONFIG list (unset or empty: ~/.kube/config, as kubectl does); an empty element is an error.</summary>
    private static string[] KubeconfigPaths()
    {
        var variable = Environment.GetEnvironmentVariable("KUBECONFIG");
        if (string.IsNullOrEmpty(variable))
        {
            return [Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")];
        }

        var elements = variable.Split(Path.PathSeparator, StringSplitOptions.TrimEntries);
        if (elements.Any(e => e.Length == 0))
        {
            throw new KubeConfigException($"KUBECONFIG '{variable}' has an empty element; list kubeconfig files separated by '{Path.PathSeparator}'");
        }

        return elements;
    }

    private static string Source() =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBECONFIG")) ? "KUBECONFIG is not set" : $"KUBECONFIG={Environment.GetEnvironmentVariable("KUBECONFIG")}";

    private static string OneLine(Exception e) => $"{e.GetType().Name}: {e.Message}".ReplaceLineEndings(" ");
}
