using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Authentication;
using k8s.Autorest;
using k8s.Exceptions;
using k8s.Models;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// The daemon's Kubernetes client: the calls it makes and nothing else. KubernetesClient.Aot gives it
/// the configuration (in-cluster, kubeconfig, exec plugins), the credentials and the models; the
/// requests are sent here and their JSON is read and written with <see cref="ApiJson"/>, so that the
/// native image holds none of that package's generated operations and serializers (see ApiJson).
/// <list type="bullet">
/// <item>The connection is set up as KubernetesClient sets up its own: the configuration's CA (or
/// <c>insecure-skip-tls-verify</c>), client certificate, <c>tls-server-name</c>, HTTP/2 unless disabled, and
/// its credentials (a token, a refreshed token file, an exec plugin, or basic auth) on every request.</item>
/// <item>The <paramref name="handlers"/> sit in front of the connection, the first outermost
/// (<see cref="ApiRequestHandler"/>: metrics, rate limit, timeout, the retry of a 429, the field manager).</item>
/// <item>A non-2xx answer is thrown as <see cref="HttpOperationException"/> with its status and body,
/// as KubernetesClient's calls did, so that <see cref="ApiErrors"/> reads it.</item>
/// <item>The answers to writes the daemon never reads (an Event, a delete) are not decoded.</item>
/// </list>
/// </summary>
internal sealed class KubernetesApi : IDisposable
{
    private const string Json = "application/json";
    private const string MergePatch = "application/merge-patch+json";

    private readonly ServiceClientCredentials? _credentials;

    /// <summary>As KubernetesClient sends its own calls: HTTP/2 unless the configuration disables it.</summary>
    private readonly Version _version;

    /// <summary>The kubeconfig's <c>tls-server-name</c>, sent as the Host (SNI and the certificate's name check).</summary>
    private readonly string? _tlsServerName;

    private readonly string _server;

    /// <summary>The client every request goes through (the watches' too).</summary>
    private readonly HttpClient _http;

    /// <param name="config">Where the API server is and how to reach it.</param>
    /// <param name="handlers">Handlers in front of the connection, the first outermost.</param>
    public KubernetesApi(KubernetesClientConfiguration config, params DelegatingHandler[] handlers)
    {
        if (string.IsNullOrWhiteSpace(config.Host) || !Uri.TryCreate(config.Host, UriKind.Absolute, out var server))
        {
            throw new KubeConfigException($"the API server address '{config.Host}' is not a URL");
        }

        _server = server.AbsoluteUri.TrimEnd('/');
        _version = config.DisableHttp2 ? HttpVersion.Version11 : HttpVersion.Version20;
        _tlsServerName = string.IsNullOrWhiteSpace(config.TlsServerName) ? null : config.TlsServerName;
        _credentials = k8s.Kubernetes.CreateCredentials(config);

        var connection = new SocketsHttpHandler
        {
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            KeepAlivePingDelay = TimeSpan.FromMinutes(3),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            EnableMultipleHttp2Connections = true,
        };
        if (server.Scheme == Uri.UriSchemeHttps)
        {
            Secure(connection.SslOptions, config);
        }

        config.FirstMessageHandlerSetup?.Invoke(connection);
        HttpMessageHandler first = connection;
        for (var i = handlers.Length - 1; i >= 0; i--)
        {
            handlers[i].InnerHandler = first;
            first = handlers[i];
        }

        _http = new HttpClient(first) { Timeout = config.HttpClientTimeout };
        if (!string.IsNullOrWhiteSpace(config.UserAgent))
        {
            _http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", config.UserAgent);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The configuration's trust: skip verification, or its CA bundle as the only roots; and its client certificate.</summary>
    private static void Secure(SslClientAuthenticationOptions ssl, KubernetesClientConfiguration config)
    {
        if (config.SkipTlsVerify)
        {
            // The kubeconfig's insecure-skip-tls-verify: its owner asked for no verification, as kubectl does.
#pragma warning disable CA5359
            ssl.RemoteCertificateValidationCallback = (_, _, _, _) => true;
#pragma warning restore CA5359
        }
        else if (config.SslCaCerts is { Count: > 0 } authorities)
        {
            ssl.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => IssuedFor(authorities, certificate, chain, errors);
        }

        if (ClientCertificate(config) is { } clientCertificate)
        {
            ssl.ClientCertificates = [clientCertificate];
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
    }

    /// <summary>
    /// The configuration's CA bundle as the only roots, as kubectl trusts <c>certificate-authority(-data)</c>: the server's
    /// certificate must chain to one of them and be issued for the name the client asked for (the host, or
    /// <c>tls-server-name</c>). KubernetesClient's own check looks at the chain alone once the system does not trust the
    /// root, so any certificate the cluster CA ever issued (a node's, a user's) would pass for the API server's.
    /// </summary>
    internal static bool IssuedFor(X509Certificate2Collection authorities, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        // The name check and the presence of a certificate are the platform's; only the chain is checked here.
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.ExtraStore.AddRange(authorities);
        if (presented is not null)
        {
            // The intermediates the server sent.
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        return certificate is X509Certificate2 leaf ? chain.Build(leaf) : BuildCopy(chain, certificate);

        static bool BuildCopy(X509Chain chain, X509Certificate certificate)
        {
            using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return chain.Build(leaf);
        }
    }

    /// <summary>
    /// The configuration's client certificate and key (PEM, given inline or as files), or null when it has neither.
    /// One without the other, or a pair that cannot be loaded (not PEM, not base64, a missing file, a key that is not
    /// the certificate's), is a <see cref="KubeConfigException"/> at start, as kubectl refuses such a kubeconfig: the
    /// daemon never runs without the identity it was given. The messages name no key material.
    /// </summary>
    private static X509Certificate2? ClientCertificate(KubernetesClientConfiguration config)
    {
        var hasCertificate = !string.IsNullOrWhiteSpace(config.ClientCertificateData) || !string.IsNullOrWhiteSpace(config.ClientCertificateFilePath);
        var hasKey = !string.IsNullOrWhiteSpace(config.ClientCertificateKeyData) || !string.IsNullOrWhiteSpace(config.ClientKeyFilePath);
        if (hasCertificate != hasKey)
        {
            throw new KubeConfigException(hasCertificate
                ? "the configuration has a client certificate but no client key (client-key-data or client-key)"
                : "the configuration has a client key but no client certificate (client-certificate-data or client-certificate)");
        }

        if (!hasCertificate)
        {
            return null;
        }

        try
        {
            return X509Certificate2.CreateFromPem(
                Pem(config.ClientCertificateData, config.ClientCertificateFilePath), Pem(config.ClientCertificateKeyData, config.ClientKeyFilePath));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new KubeConfigException($"the client certificate and key of the configuration could not be loaded: {e.GetType().Name}: {e.Message}");
        }

        static string Pem(string? base64, string? path) =>
            !string.IsNullOrWhiteSpace(base64) ? Encoding.UTF8.GetString(Convert.FromBase64String(base64)) : File.ReadAllText(path!);
    }

    // ---- The calls the daemon makes ----

    public Task<V1NamespaceList> ListNamespacesAsync(int? limit, string? continueToken, CancellationToken cancellationToken) =>
        GetAsync(List("/api/v1/namespaces", null, limit, continueToken), ApiJson.Default.V1NamespaceList, cancellationToken);

    public Task<V1ServiceAccountList> ListServiceAccountsAsync(int? limit, string? continueToken, CancellationToken cancellationToken) =>
        GetAsync(List("/api/v1/serviceaccounts", null, limit, continueToken), ApiJson.Default.V1ServiceAccountList, cancellationToken);

    /// <summary>Secrets of every namespace that match <paramref name="fieldSelector"/> (the daemon never lists others).</summary>
    public Task<V1SecretList> ListSecretsAsync(string fieldSelector, string? labelSelector, int? limit, string? continueToken, CancellationToken cancellationToken) =>
        GetAsync(List("/api/v1/secrets", fieldSelector, limit, continueToken, labelSelector), ApiJson.Default.V1SecretList, cancellationToken);

    public Task<V1Secret> ReadSecretAsync(string ns, string name, CancellationToken cancellationToken) =>
        GetAsync(Named(ns, "secrets", name), ApiJson.Default.V1Secret, cancellationToken);

    public Task<V1Secret> CreateSecretAsync(string ns, V1Secret secret, CancellationToken cancellationToken) =>
        CallAsync(HttpMethod.Post, Collection(ns, "secrets"), Body(secret, ApiJson.Default.V1Secret), ApiJson.Default.V1Secret, cancellationToken);

    public Task<V1Secret> PatchSecretAsync(string ns, string name, V1Patch patch, CancellationToken cancellationToken) =>
        CallAsync(HttpMethod.Patch, Named(ns, "secrets", name), Body(patch), ApiJson.Default.V1Secret, cancellationToken);

    /// <summary>Deletes a secret, with <paramref name="options"/> (its preconditions). The answer is not read.</summary>
    public Task DeleteSecretAsync(string ns, string name, V1DeleteOptions options, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Delete, Named(ns, "secrets", name), Body(options, ApiJson.Default.V1DeleteOptions), cancellationToken);

    public Task<V1ServiceAccount> ReadServiceAccountAsync(string ns, string name, CancellationToken cancellationToken) =>
        GetAsync(Named(ns, "serviceaccounts", name), ApiJson.Default.V1ServiceAccount, cancellationToken);

    public Task<V1ServiceAccount> PatchServiceAccountAsync(string ns, string name, V1Patch patch, CancellationToken cancellationToken) =>
        CallAsync(HttpMethod.Patch, Named(ns, "serviceaccounts", name), Body(patch), ApiJson.Default.V1ServiceAccount, cancellationToken);

    public Task<V1Lease> ReadLeaseAsync(string ns, string name, CancellationToken cancellationToken) =>
        GetAsync(Named(ns, "leases", name, "/apis/coordination.k8s.io/v1"), ApiJson.Default.V1Lease, cancellationToken);

    public Task<V1Lease> CreateLeaseAsync(string ns, V1Lease lease, CancellationToken cancellationToken) =>
        CallAsync(HttpMethod.Post, Collection(ns, "leases", "/apis/coordination.k8s.io/v1"), Body(lease, ApiJson.Default.V1Lease), ApiJson.Default.V1Lease, cancellationToken);

    /// <summary>Replaces a Lease; the resourceVersion in its metadata makes it conditional.</summary>
    public Task<V1Lease> ReplaceLeaseAsync(string ns, string name, V1Lease lease, CancellationToken cancellationToken) =>
        CallAsync(HttpMethod.Put, Named(ns, "leases", name, "/apis/coordination.k8s.io/v1"), Body(lease, ApiJson.Default.V1Lease), ApiJson.Default.V1Lease, cancellationToken);

    /// <summary>Records an Event. The answer is not read.</summary>
    public Task CreateEventAsync(string ns, Corev1Event ev, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, Collection(ns, "events"), Body(ev, ApiJson.Default.Corev1Event), cancellationToken);

    // ---- The reads of `explain` (one namespace, as a person asks about it) ----

    public Task<V1Namespace> ReadNamespaceAsync(string name, CancellationToken cancellationToken) =>
        GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(name)}", ApiJson.Default.V1Namespace, cancellationToken);

    public Task<V1ServiceAccountList> ListNamespacedServiceAccountsAsync(string ns, CancellationToken cancellationToken) =>
        GetAsync(Collection(ns, "serviceaccounts"), ApiJson.Default.V1ServiceAccountList, cancellationToken);

    /// <summary>The namespace's Events that match <paramref name="fieldSelector"/> (e.g. <c>source=ecr-daemon</c>).</summary>
    public Task<Corev1EventList> ListEventsAsync(string ns, string fieldSelector, CancellationToken cancellationToken) =>
        GetAsync(List(Collection(ns, "events"), fieldSelector, null, null), ApiJson.Default.Corev1EventList, cancellationToken);

    // ---- Requests ----

    /// <summary>
    /// Sends one request with the credentials, and returns the response, its body unread, for a 2xx
    /// answer; any other answer is read and thrown as <see cref="HttpOperationException"/>.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, HttpContent? content, HttpCompletionOption completion,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(_server + pathAndQuery)) { Version = _version, Content = content };
        request.Headers.Accept.ParseAdd(Json);
        if (_tlsServerName is not null)
        {
            request.Headers.Host = _tlsServerName;
        }

        if (_credentials is not null)
        {
            await _credentials.ProcessHttpRequestAsync(request, cancellationToken);
        }

        var response = await _http.SendAsync(request, completion, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpOperationException($"{method} {request.RequestUri!.AbsolutePath} was answered {(int)response.StatusCode} ({response.StatusCode})")
            {
                Response = new HttpResponseMessageWrapper(response, body),
            };
        }
    }

    /// <summary>A request whose answer is read whole and dropped, so that the connection is reused.</summary>
    private async Task SendAsync(HttpMethod method, string path, HttpContent content, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, path, content, HttpCompletionOption.ResponseContentRead, cancellationToken);
    }

    private async Task<T> GetAsync<T>(string pathAndQuery, JsonTypeInfo<T> answer, CancellationToken cancellationToken) =>
        await CallAsync(HttpMethod.Get, pathAndQuery, null, answer, cancellationToken);

    /// <summary>
    /// Sends a request and decodes its answer. A 2xx answer that is not the object (not JSON, <c>null</c>, a value the
    /// model refuses) is an <see cref="InvalidDataException"/> naming the request, with the decoder's position but never
    /// a value of the body: a model's converter (the timestamps') quotes the text it refused, and this may be a Secret.
    /// </summary>
    private async Task<T> CallAsync<T>(HttpMethod method, string pathAndQuery, HttpContent? content, JsonTypeInfo<T> answer, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(method, pathAndQuery, content, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var answered = $"{method} {pathAndQuery.Split('?')[0]} was answered {(int)response.StatusCode}";
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync(stream, answer, cancellationToken);
        }
        catch (JsonException e)
        {
            // The reader's and serializer's own messages name a position or a JSON path, never a value.
            throw new InvalidDataException($"{answered} with a body that is not a {typeof(T).Name}: {e.Message}");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NotSupportedException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"{answered} with a {typeof(T).Name} whose values could not be decoded ({e.GetType().Name})");
        }

        return value ?? throw new InvalidDataException($"{answered} with no object");
    }

    private static ByteArrayContent Body<T>(T value, JsonTypeInfo<T> type) => Content(JsonSerializer.SerializeToUtf8Bytes(value, type), Json);

    /// <summary>A JSON merge patch (the only kind the daemon sends).</summary>
    private static ByteArrayContent Body(V1Patch patch) =>
        patch.Type == V1Patch.PatchType.MergePatch && patch.Content is string json
            ? Content(Encoding.UTF8.GetBytes(json), MergePatch)
            : throw new ArgumentException($"only JSON merge patches given as text are sent, not {patch.Type}", nameof(patch));

    private static ByteArrayContent Content(byte[] bytes, string mediaType) =>
        new(bytes) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

    // ---- Paths ----

    private static string Collection(string ns, string resource, string group = "/api/v1") =>
        $"{group}/namespaces/{Uri.EscapeDataString(ns)}/{resource}";

    private static string Named(string ns, string resource, string name, string group = "/api/v1") =>
        $"{Collection(ns, resource, group)}/{Uri.EscapeDataString(name)}";

    private static string List(string path, string? fieldSelector, int? limit, string? continueToken, string? labelSelector = null)
    {
        var query = new StringBuilder(path);
        var separator = '?';
        Add("fieldSelector", fieldSelector);
        Add("labelSelector", labelSelector);
        Add("limit", limit?.ToString(CultureInfo.InvariantCulture));
        Add("continue", continueToken);
        return query.ToString();

        void Add(string key, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                query.Append(separator).Append(key).Append('=').Append(Uri.EscapeDataString(value));
                separator = '&';
            }
        }
    }
}
