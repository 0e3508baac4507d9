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
        using var client = new KubernetesApi(config, recorder);

        await client.ListNamespacesAsync(null, null, CancellationToken.None);
        await foreach (var _ in new WatchStream(client).WatchAsync(
            "/api/v1/namespaces", ApiJson.Default.V1Namespace, "7", 60, null, _ => { }, CancellationToken.None))
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

/// <summary>Review of issue 20: thousands of watches ended every way a watch ends leave no response open.</summary>
public sealed class WatchStreamRestartReview20Tests
{
    private sealed class TrackedBody(byte[] bytes, bool hang) : MemoryStream(bytes)
    {
        public static int Open;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await base.ReadAsync(buffer, cancellationToken);
            if (n == 0 && hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                Interlocked.Decrement(ref Open);
            }

            base.Dispose(disposing);
        }

        private bool _disposed;
    }

    private sealed class Server : DelegatingHandler
    {
        private int _n;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var ev = """{"type":"ADDED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"8"}}}""" + "\n";
            var (code, body, hang) = (Interlocked.Increment(ref _n) % 5) switch
            {
                0 => (HttpStatusCode.OK, ev, false), // the server ends it
                1 => (HttpStatusCode.OK, ev + "not json\n" + ev, false), // a bad line
                2 => (HttpStatusCode.OK, ev + """{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}""" + "\n", false),
                3 => (HttpStatusCode.OK, ev, true), // silent after one event: cancelled
                _ => (HttpStatusCode.Forbidden, """{"kind":"Status","code":403}""", false),
            };
            Interlocked.Increment(ref TrackedBody.Open);
            return Task.FromResult(new HttpResponseMessage(code) { Content = new StreamContent(new TrackedBody(Encoding.UTF8.GetBytes(body), hang)), RequestMessage = request });
        }
    }

    [Fact]
    public async Task Thousands_of_watches_ended_every_way_leave_no_response_open()
    {
        using var client = new KubernetesApi(new KubernetesClientConfiguration { Host = "https://kubernetes.test", AccessToken = "t" }, new Server());
        var watches = new WatchStream(client);
        for (var i = 0; i < 2_000; i++)
        {
            using var cancel = new CancellationTokenSource();
            try
            {
                await foreach (var _ in watches.WatchAsync("/api/v1/namespaces", ApiJson.Default.V1Namespace, "7", 60, null, _ => { }, cancel.Token))
                {
                    await cancel.CancelAsync(); // only the silent stream is still read after this
                }
            }
            catch (Exception e) when (e is OperationCanceledException or k8s.Autorest.HttpOperationException)
            {
            }
        }

        Assert.Equal(0, Volatile.Read(ref TrackedBody.Open));
    }
}
