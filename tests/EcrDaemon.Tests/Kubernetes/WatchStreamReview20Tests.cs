using System.Net;
using System.Text;
using EcrDaemon.Kubernetes;
using k8s;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>
/// Review of issue 20: the watch request must be sent the way KubernetesClient sends its own calls
/// (the list before it), over the same connection settings: HTTP/2 unless the configuration disables it,
/// and the kubeconfig's <c>tls-server-name</c> as the Host (SocketsHttpHandler takes SNI and the certificate
/// name check from it), else a watch against an API server reached by IP fails TLS while every list works.
/// </summary>
public sealed class WatchStreamReview20Tests
{
    private sealed class Recorder : DelegatingHandler
    {
        public List<(string Query, Version Version, string? Host)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add((request.RequestUri!.Query, request.Version, request.Headers.Host));
            var body = request.RequestUri.Query.Contains("watch=true", StringComparison.Ordinal)
                ? ""
                : """{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}""";
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
                RequestMessage = request,
            });
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_watch_is_sent_with_the_HTTP_version_and_TLS_server_name_of_the_clients_own_calls(bool disableHttp2)
    {
        var recorder = new Recorder();
        var config = new KubernetesClientConfiguration
        {
            Host = "https://10.96.0.1",
            AccessToken = "review-token",
            TlsServerName = "kubernetes.default.svc",
            DisableHttp2 = disableHttp2,
        };
        using var client = new k8s.Kubernetes(config, recorder);

        await client.CoreV1.ListNamespaceAsync();
        await foreach (var _ in WatchStream.For(client, config).WatchAsync(
            "/api/v1/namespaces", SourceGenerationContext.Default.V1Namespace, "7", 60, null, _ => { }, CancellationToken.None))
        {
        }

        Assert.Equal(2, recorder.Requests.Count);
        var (_, listVersion, listHost) = recorder.Requests[0];
        var (watchQuery, watchVersion, watchHost) = recorder.Requests[1];
        Assert.Contains("watch=true", watchQuery, StringComparison.Ordinal);
        Assert.Equal("kubernetes.default.svc", listHost);
        Assert.Equal(listVersion, watchVersion);
        Assert.Equal(listHost, watchHost);
    }
}
