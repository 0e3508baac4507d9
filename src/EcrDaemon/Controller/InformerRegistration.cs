using System.Collections;
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
/// The informers: each lists and watches one resource across all namespaces into its cache of
/// <see cref="ClusterState"/>: namespaces, ServiceAccounts, and per profile the secrets named as its
/// secret. The controller runs them; the health checks watch them.
/// </summary>
internal sealed class Informers(IReadOnlyList<IInformer> informers) : IReadOnlyList<IInformer>
{
    public int Count => informers.Count;

    public IInformer this[int index] => informers[index];

    public IEnumerator<IInformer> GetEnumerator() => informers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Registers <see cref="Informers"/> and the <see cref="PullSecretProfiles"/> the secret informers follow.</summary>
internal static class InformerRegistration
{
    public static IServiceCollection AddDaemonInformers(this IServiceCollection services)
    {
        services.TryAddSingleton(new InformerSettings());
        services.TryAddSingleton(sp => PullSecretProfiles.From(sp.GetRequiredService<IOptions<EcrDaemonOptions>>().Value));
        services.TryAddSingleton(sp => new Informers(Create(sp)));
        return services;
    }

    private static List<IInformer> Create(IServiceProvider sp)
    {
        var client = sp.GetRequiredService<KubernetesApi>();
        var state = sp.GetRequiredService<ClusterState>();
        var watches = new WatchStream(client);
        List<IInformer> informers =
        [
            Informer(sp, "namespaces", state.Namespaces,
                async (limit, next, ct) => Page(await client.ListNamespacesAsync(limit, next, ct)),
                (rv, timeout, onError, ct) => watches.WatchAsync(
                    "/api/v1/namespaces", ApiJson.Default.V1Namespace, rv, timeout, fieldSelector: null, onError, ct)),
            Informer(sp, "serviceaccounts", state.ServiceAccounts,
                async (limit, next, ct) => Page(await client.ListServiceAccountsAsync(limit, next, ct)),
                (rv, timeout, onError, ct) => watches.WatchAsync(
                    "/api/v1/serviceaccounts", ApiJson.Default.V1ServiceAccount, rv, timeout, fieldSelector: null, onError, ct)),
        ];

        // Per profile, only the secrets named as its secret, by field selector metadata.name=<SecretName>
        // (Markers.SecretNameSelector), so that no other secret is ever read: one list and watch per secret name.
        foreach (var profile in state.Profiles)
        {
            var selector = Markers.SecretNameSelector(profile.SecretName);
            informers.Add(Informer(sp, state.Profiles.Count == 1 ? "secrets" : $"secrets {profile.SecretName}", state.Secrets(profile),
                async (limit, next, ct) => Page(await client.ListSecretsAsync(selector, null, limit, next, ct)),
                (rv, timeout, onError, ct) => watches.WatchAsync(
                    "/api/v1/secrets", ApiJson.Default.V1Secret, rv, timeout, selector, onError, ct)));
        }

        return informers;
    }

    /// <summary>One informer of <typeparamref name="T"/>: its list and watch calls and the cache it fills.</summary>
    private static Informer<T> Informer<T>(IServiceProvider sp, string resource, IInformerSink<T> sink, Informer<T>.ListPage list, Informer<T>.Watch watch)
        where T : IKubernetesObject<V1ObjectMeta> =>
        new(resource, list, watch, sink, sp.GetRequiredService<InformerSettings>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<KubernetesMetrics>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("EcrDaemon.Kubernetes.Informer"));

    private static (IList<T> Items, string ResourceVersion, string? Continue) Page<T>(IKubernetesObject<V1ListMeta> list, IList<T> items) =>
        (items, list.Metadata.ResourceVersion, list.Metadata.ContinueProperty);

    private static (IList<V1Namespace>, string, string?) Page(V1NamespaceList list) => Page(list, list.Items);

    private static (IList<V1ServiceAccount>, string, string?) Page(V1ServiceAccountList list) => Page(list, list.Items);

    private static (IList<V1Secret>, string, string?) Page(V1SecretList list) => Page(list, list.Items);
}
