using EcrDaemon.Configuration;
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
    /// Registers the one <see cref="KubernetesApi"/> client: in-cluster configuration when running in
    /// a pod, else <c>KUBECONFIG</c> or <c>~/.kube/config</c>. It is created on first use, so
    /// commands that never talk to Kubernetes (<c>check</c>) need no cluster. Any problem with the
    /// configuration is a <see cref="KubeConfigException"/> with a one-line message naming its source.
    /// The composition root calls it after it has registered the options.
    /// </summary>
    public static IServiceCollection AddKubernetesClient(this IServiceCollection services)
    {
        services.TryAddSingleton(_ => Configuration());
        services.TryAddSingleton<KubernetesMetrics>();
        services.TryAddSingleton(sp =>
        {
            var config = sp.GetRequiredService<KubernetesClientConfiguration>();

            // Watches must not be cut by HttpClient's timeout; ApiRequestHandler times everything else.
            config.HttpClientTimeout = Timeout.InfiniteTimeSpan;

            // The Kubernetes API is always reached directly, never through HTTPS_PROXY/HTTP_PROXY: those
            // are for the AWS calls. In a pod the API server is the kubernetes Service's cluster IP
            // (KUBERNETES_SERVICE_HOST), which .NET's NO_PROXY matching cannot exclude with a CIDR
            // (10.0.0.0/8 does not match 10.96.0.1), so honouring the proxy here would send every
            // watch through a corporate proxy that cannot reach it.
            config.FirstMessageHandlerSetup = (Action<SocketsHttpHandler>)ReachDirectly + config.FirstMessageHandlerSetup;
            var options = sp.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;
            try
            {
                return new KubernetesApi(config, new ApiRequestHandler(
                    options.KubernetesQps, options.KubernetesBurst, RequestTimeout, sp.GetRequiredService<KubernetesMetrics>()));
            }
            catch (Exception e) when (e is not KubeConfigException)
            {
                throw new KubeConfigException($"the configuration for {config.Host} ({Source()}) is not usable: {OneLine(e)}");
            }
        });
        return services;
    }

    /// <summary>Turns off the proxy (the environment's HTTPS_PROXY/HTTP_PROXY) for the client's own handler.</summary>
    internal static void ReachDirectly(SocketsHttpHandler handler)
    {
        handler.UseProxy = false;
        handler.Proxy = null;
    }

    /// <summary>
    /// In-cluster, else the KUBECONFIG files, else ~/.kube/config. Unlike BuildDefaultConfig, a
    /// missing file is an error rather than a silent fallback to http://localhost:8080; a KUBECONFIG
    /// listing no file that exists, or a file that is not a kubeconfig, is an error naming it.
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

        var listed = KubeconfigPaths();
        var paths = listed.Where(File.Exists).ToArray();
        if (paths.Length == 0)
        {
            throw new KubeConfigException($"not running in a cluster, and no kubeconfig at {(listed.Length == 0 ? "(no file listed)" : string.Join(", ", listed))} ({Source()})");
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
            if (paths.Length == 1)
            {
                return KubernetesClientConfiguration.BuildConfigFromConfigFile(new FileInfo(paths[0]));
            }

            // Several files that exist and parse: KubernetesClient merges them as kubectl does (the first
            // one wins), but only from KUBECONFIG itself, where an empty or missing element would throw.
            Environment.SetEnvironmentVariable("KUBECONFIG", string.Join(Path.PathSeparator, paths));
            return KubernetesClientConfiguration.BuildDefaultConfig();
        }
        catch (Exception e)
        {
            throw new KubeConfigException($"{Source()}: {string.Join(", ", paths)} is not a usable kubeconfig: {OneLine(e)}");
        }
    }

    /// <summary>
    /// The files to read, as kubectl reads them: KUBECONFIG's elements (unset or empty: ~/.kube/config);
    /// empty elements and files that do not exist are skipped, so <c>KUBECONFIG=$KUBECONFIG:file</c> works.
    /// </summary>
    private static string[] KubeconfigPaths()
    {
        var variable = Environment.GetEnvironmentVariable("KUBECONFIG");
        return string.IsNullOrEmpty(variable)
            ? [Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config")]
            : variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    private static string Source() =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBECONFIG")) ? "KUBECONFIG is not set" : $"KUBECONFIG={Environment.GetEnvironmentVariable("KUBECONFIG")}";

    private static string OneLine(Exception e) => $"{e.GetType().Name}: {e.Message}".ReplaceLineEndings(" ");
}
