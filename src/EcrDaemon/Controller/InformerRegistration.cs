using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Controller;

/// <summary>
/// The informers, one registration per resource: each lists and watches one resource across all
/// namespaces into its cache of <see cref="ClusterState"/>. They are resolved as
/// <see cref="IInformer"/>, in registration order, by the controller (which runs them) and by the
/// health checks (which watch them).
/// </summary>
internal static class InformerRegistration
{
    public static IServiceCollection AddDaemonInformers(this IServiceCollection services)
    {
        services.TryAddSingleton(new InformerSettings());
        services.AddInformer<V1Namespace>("namespaces", state => state.Namespaces,
            (client, _) => async (limit, next, ct) => Page(await client.CoreV1.ListNamespaceAsync(limit: limit, continueParameter: next, cancellationToken: ct)),
            (client, _) => (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespaceAsync(
                allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));
        services.AddInformer<V1ServiceAccount>("serviceaccounts", state => state.ServiceAccounts,
            (client, _) => async (limit, next, ct) => Page(await client.CoreV1.ListServiceAccountForAllNamespacesAsync(limit: limit, continueParameter: next, cancellationToken: ct)),
            (client, _) => (rv, timeout, onError, ct) => client.CoreV1.WatchListServiceAccountForAllNamespacesAsync(
                allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));

        // Only the managed secrets, by field selector metadata.name=<SecretName> (Markers.SecretNameSelector), so that no other secret is ever read.
        services.AddInformer<V1Secret>("secrets", state => state.Secrets,
            (client, options) => async (limit, next, ct) => Page(await client.CoreV1.ListSecretForAllNamespacesAsync(
                fieldSelector: Markers.SecretNameSelector(options.SecretName), limit: limit, continueParameter: next, cancellationToken: ct)),
            (client, options) => (rv, timeout, onError, ct) => client.CoreV1.WatchListSecretForAllNamespacesAsync(
                allowWatchBookmarks: true, fieldSelector: Markers.SecretNameSelector(options.SecretName), resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: ct));
        return services;
    }

    /// <summary>Registers one informer of <typeparamref name="T"/>: its list and watch calls (given the client and the options) and the cache it fills.</summary>
    public static IServiceCollection AddInformer<T>(
        this IServiceCollection services,
        string resource,
        Func<ClusterState, IInformerSink<T>> sink,
        Func<IKubernetes, EcrDaemonOptions, Informer<T>.ListPage> list,
        Func<IKubernetes, EcrDaemonOptions, Informer<T>.Watch> watch)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        services.AddSingleton<IInformer>(sp =>
        {
            var client = sp.GetRequiredService<IKubernetes>();
            var options = sp.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;
            return new Informer<T>(resource, list(client, options), watch(client, options), sink(sp.GetRequiredService<ClusterState>()),
                sp.GetRequiredService<InformerSettings>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<KubernetesMetrics>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("EcrDaemon.Kubernetes.Informer"));
        });
        return services;
    }

    private static (IList<T> Items, string ResourceVersion, string? Continue) Page<T>(IKubernetesObject<V1ListMeta> list, IList<T> items) =>
        (items, list.Metadata.ResourceVersion, list.Metadata.ContinueProperty);

    private static (IList<V1Namespace>, string, string?) Page(V1NamespaceList list) => Page(list, list.Items);

    private static (IList<V1ServiceAccount>, string, string?) Page(V1ServiceAccountList list) => Page(list, list.Items);

    private static (IList<V1Secret>, string, string?) Page(V1SecretList list) => Page(list, list.Items);
}
