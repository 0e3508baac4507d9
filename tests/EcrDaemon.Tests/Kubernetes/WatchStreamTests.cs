using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using EcrDaemon.Kubernetes;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>
/// The daemon's own watch client, driven by a scripted API server answer in the client's handler
/// chain: what it requests, which events it delivers, what it reports to onError, and how it ends.
/// </summary>
public sealed class WatchStreamTests
{
    private const string Token = "watch-test-token";

    /// <summary>Blocks a read until the stream is cancelled, as a silent watch does.</summary>
    private sealed class Hang
    {
        public static readonly Hang Instance = new();
    }

    /// <summary>A response body read step by step: text or bytes (each one read, possibly in parts), an exception thrown, or a hang.</summary>
    private sealed class ScriptedBody(IEnumerable<object> steps, int maxRead = int.MaxValue) : Stream
    {
        private readonly Queue<object> _steps = new(steps);
        private ReadOnlyMemory<byte> _current;

        public bool Disposed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (_current.IsEmpty)
            {
                if (!_steps.TryDequeue(out var step))
                {
                    return 0;
                }

                switch (step)
                {
                    case string text:
                        _current = Encoding.UTF8.GetBytes(text);
                        break;
                    case byte[] bytes:
                        _current = bytes;
                        break;
                    case Exception e:
                        throw e;
                    default:
                        await Task.Delay(Timeout.Infinite, cancellationToken);
                        break;
                }
            }

            var n = Math.Min(Math.Min(buffer.Length, maxRead), _current.Length);
            _current[..n].CopyTo(buffer);
            _current = _current[n..];
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read asynchronously");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    /// <summary>The API server's stand-in at the end of the client's handler chain: records each request and answers the n-th with answers[n] (the last one again after that).</summary>
    private sealed class ScriptedServer(params Func<HttpResponseMessage>[] answers) : DelegatingHandler
    {
        private int _count;

        public List<(Uri Uri, string? Authorization, string Accept)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Requests)
            {
                Requests.Add((request.RequestUri!, request.Headers.Authorization?.ToString(), request.Headers.Accept.ToString()));
            }

            var answer = answers[Math.Min(Interlocked.Increment(ref _count) - 1, answers.Length - 1)]();
            answer.RequestMessage = request;
            return Task.FromResult(answer);
        }
    }

    private static HttpResponseMessage Answer(ScriptedBody body) =>
        new(HttpStatusCode.OK) { Content = new StreamContent(body) { Headers = { ContentType = new("application/json") } } };

    private static HttpResponseMessage Answer(params object[] steps) => Answer(new ScriptedBody(steps));

    private static HttpResponseMessage Refused(HttpStatusCode code, string reason, string message) =>
        new(code) { Content = new StringContent(StatusJson((int)code, reason, message), Encoding.UTF8, "application/json") };

    private static string StatusJson(int code, string reason, string message) =>
        $$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"{{message}}","reason":"{{reason}}","code":{{code}}}""";

    private static string Ns(string name, string resourceVersion, string labels = "") =>
        "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" + name + "\",\"resourceVersion\":\"" + resourceVersion + "\"" + labels + "}}";

    private static string Line(string type, string obj) => $$"""{"type":"{{type}}","object":{{obj}}}""" + "\n";

    private static string Bookmark(string resourceVersion) => Line("BOOKMARK", "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" + resourceVersion + "\"}}");

    private static KubernetesApi Client(ScriptedServer server) =>
        new(new KubernetesClientConfiguration { Host = "https://kubernetes.test", AccessToken = Token }, server);

    private sealed record Run(List<string> Events, List<Exception> Errors, Exception? Thrown, ScriptedServer Server);

    /// <summary>Watches namespaces from resourceVersion 7 until the stream ends; each event as "TYPE name rv".</summary>
    private static async Task<Run> Watch(ScriptedServer server, string? fieldSelector = null, CancellationTokenSource? cancel = null, int cancelAfterEvents = -1)
    {
        using var client = Client(server);
        var events = new List<string>();
        var errors = new List<Exception>();
        Exception? thrown = null;
        try
        {
            var watch = new WatchStream(client).WatchAsync(
                "/api/v1/namespaces", ApiJson.Default.V1Namespace, "7", 300, fieldSelector, errors.Add, cancel?.Token ?? CancellationToken.None);
            await foreach (var (type, ns) in watch)
            {
                events.Add($"{type} {ns.Metadata.Name} {ns.Metadata.ResourceVersion}".Replace("  ", " ", StringComparison.Ordinal));
                if (events.Count == cancelAfterEvents)
                {
                    await cancel!.CancelAsync();
                }
            }
        }
        catch (Exception e)
        {
            thrown = e;
        }

        return new Run(events, errors, thrown, server);
    }

    private static Task<Run> Watch(params object[] steps) => Watch(new ScriptedServer(() => Answer(steps)));

    [Fact]
    public async Task Every_event_type_is_delivered_in_order_and_a_stream_the_server_ends_ends_without_error()
    {
        var run = await Watch(
            Line("ADDED", Ns("a", "8")),
            Line("MODIFIED", Ns("a", "9")),
            Bookmark("10"),
            Line("DELETED", Ns("a", "11")),
            "\n"); // a blank line is nothing

        Assert.Equal(["Added a 8", "Modified a 9", "Bookmark 10", "Deleted a 11"], run.Events);
        Assert.Empty(run.Errors);
        Assert.Null(run.Thrown);
    }

    [Fact]
    public async Task The_request_is_a_watch_with_bookmarks_from_the_resource_version_with_the_timeout_and_selector_and_the_clients_credentials()
    {
        var server = new ScriptedServer(() => Answer());
        var run = await Watch(server, fieldSelector: "metadata.name=aws-registry");

        var (uri, authorization, accept) = Assert.Single(server.Requests);
        Assert.Equal("https://kubernetes.test/api/v1/namespaces?watch=true&allowWatchBookmarks=true&resourceVersion=7&timeoutSeconds=300&fieldSelector=metadata.name%3Daws-registry",
            uri.AbsoluteUri);
        Assert.Equal($"Bearer {Token}", authorization);
        Assert.Equal("application/json", accept);
        Assert.Empty(run.Events);
        Assert.Empty(run.Errors);
        Assert.Null(run.Thrown);
    }

    [Fact]
    public async Task Without_a_field_selector_the_request_names_none()
    {
        var server = new ScriptedServer(() => Answer());
        await Watch(server);
        Assert.Equal("?watch=true&allowWatchBookmarks=true&resourceVersion=7&timeoutSeconds=300", Assert.Single(server.Requests).Uri.Query);
    }

    [Fact]
    public async Task An_object_before_its_type_is_decoded_too_and_unknown_fields_are_skipped()
    {
        var run = await Watch(
            $$"""{"object":{{Ns("a", "8")}},"extra":{"x":[1,2]},"type":"ADDED"}""" + "\n",
            $$"""{"type":"MODIFIED","extra":"y","object":{{Ns("a", "9")}}}""" + "\r\n");

        Assert.Equal(["Added a 8", "Modified a 9"], run.Events);
        Assert.Empty(run.Errors);
        Assert.Null(run.Thrown);
    }

    [Fact]
    public async Task Events_read_one_byte_at_a_time_and_a_line_far_longer_than_the_first_buffer_arrive_whole()
    {
        // About 190 KB: a namespace with 5,000 labels, well past the stream's first 16 KB buffer.
        var labels = new StringBuilder(",\"labels\":{");
        for (var i = 0; i < 5000; i++)
        {
            labels.Append(i == 0 ? "" : ",").Append("\"example.com/label-").Append(i).Append("\":\"value-").Append(i).Append('"');
        }

        labels.Append('}');
        var longLine = Line("ADDED", Ns("big", "8", labels.ToString()));
        Assert.True(longLine.Length > 150_000, $"{longLine.Length} bytes");

        var bytewise = await Watch(new ScriptedServer(() => Answer(new ScriptedBody([Line("ADDED", Ns("a", "8")), Bookmark("9"), Line("DELETED", Ns("a", "10"))], maxRead: 1))));
        Assert.Equal(["Added a 8", "Bookmark 9", "Deleted a 10"], bytewise.Events);
        Assert.Empty(bytewise.Errors);

        using var client = Client(new ScriptedServer(() => Answer(Line("ADDED", Ns("a", "7")), longLine, Line("MODIFIED", Ns("a", "9")))));
        var objects = new List<V1Namespace>();
        await foreach (var (_, ns) in new WatchStream(client).WatchAsync(
            "/api/v1/namespaces", ApiJson.Default.V1Namespace, "7", 300, null, e => Assert.Fail(e.ToString()), CancellationToken.None))
        {
            objects.Add(ns);
        }

        Assert.Equal(["a", "big", "a"], objects.Select(o => o.Metadata.Name));
        Assert.Equal(5000, objects[1].Metadata.Labels.Count);
        Assert.Equal("value-4999", objects[1].Metadata.Labels["example.com/label-4999"]);
    }

    [Theory]
    [InlineData(HttpStatusCode.Gone, "Expired")]
    [InlineData(HttpStatusCode.InternalServerError, "InternalError")]
    [InlineData(HttpStatusCode.Forbidden, "Forbidden")]
    public async Task A_watch_the_server_refuses_throws_HttpOperationException_with_its_status_and_body(HttpStatusCode code, string reason)
    {
        var run = await Watch(new ScriptedServer(() => Refused(code, reason, "refused for the test")));

        var e = Assert.IsType<HttpOperationException>(run.Thrown);
        Assert.Equal(code, e.Response.StatusCode);
        Assert.Contains("refused for the test", e.Response.Content, StringComparison.Ordinal);
        Assert.Equal($"HTTP {(int)code} refused for the test", ApiErrors.Describe(e));
        Assert.Empty(run.Events);
        Assert.Empty(run.Errors);
    }

    [Theory]
    [InlineData(410, "Expired")]
    [InlineData(500, "InternalError")]
    public async Task An_ERROR_event_is_reported_with_its_status_and_ends_the_stream(int code, string reason)
    {
        var run = await Watch(
            Line("ADDED", Ns("a", "8")),
            Line("ERROR", StatusJson(code, reason, "too old resource version: 7 (20)")),
            Line("ADDED", Ns("b", "21")));

        Assert.Equal(["Added a 8"], run.Events);
        var e = Assert.IsType<KubernetesException>(Assert.Single(run.Errors));
        Assert.Equal(code, e.Status.Code);
        Assert.Equal(reason, e.Status.Reason);
        Assert.Null(run.Thrown);
    }

    [Theory]
    [InlineData("{\"type\":\"MODIFIED\",\"object\":{\"kind\":\n", "not valid JSON")]
    [InlineData("not json at all\n", "not valid JSON")]
    [InlineData("[1,2]\n", "not a JSON object")]
    [InlineData("{\"type\":\"RENAMED\",\"object\":{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"x\"}}}\n", "its type is not one of")]
    [InlineData("{\"type\":7,\"object\":{}}\n", "its type is not one of")]
    [InlineData("{\"type\":\"ADDED\"}\n", "it has no object")]
    [InlineData("{\"type\":\"ADDED\",\"object\":null}\n", "it has no object")]
    [InlineData("{\"object\":{\"kind\":\"Namespace\"}}\n", "it has no type")]
    [InlineData("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":5}}}\n", "not valid JSON")]
    [InlineData("{\"type\":\"ADDED\",\"object\":{}} {}\n", "not valid JSON")]
    [InlineData("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"creationTimestamp\":\"yesterday at noon\"}}}\n", "could not be decoded (FormatException)")]
    [InlineData("{\"type\":\"ERROR\",\"object\":null}\n", "its ERROR has no status")]
    public async Task A_line_that_is_not_a_watch_event_is_reported_and_ends_the_stream(string bad, string why)
    {
        var run = await Watch(Line("ADDED", Ns("a", "8")), bad, Line("ADDED", Ns("b", "9")));

        Assert.Null(run.Thrown);
        Assert.Equal(["Added a 8"], run.Events);
        var e = Assert.IsType<InvalidDataException>(Assert.Single(run.Errors));
        Assert.StartsWith("line 2 of the watch of /api/v1/namespaces is not a watch event: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("yesterday", e.Message, StringComparison.Ordinal); // never a value from the line
        Assert.Null(run.Thrown);
    }

    [Fact]
    public async Task A_stream_that_ends_in_the_middle_of_an_event_delivers_no_half_event_and_reports_it()
    {
        var half = Line("MODIFIED", Ns("b", "9"))[..40];
        var run = await Watch(Line("ADDED", Ns("a", "8")), half);

        Assert.Equal(["Added a 8"], run.Events);
        var e = Assert.IsType<InvalidDataException>(Assert.Single(run.Errors));
        Assert.Equal("the watch of /api/v1/namespaces ended in the middle of line 2 (40 bytes without a newline)", e.Message);
        Assert.Null(run.Thrown);
    }

    [Fact]
    public async Task A_connection_reset_in_the_middle_of_an_event_delivers_no_half_event_and_throws_what_the_connection_threw()
    {
        var reset = new IOException("connection reset by peer");
        var run = await Watch(Line("ADDED", Ns("a", "8")), Line("MODIFIED", Ns("b", "9"))[..40], reset);

        Assert.Equal(["Added a 8"], run.Events);
        Assert.Empty(run.Errors);
        Assert.Same(reset, run.Thrown);
    }

    [Fact]
    public async Task Cancelling_a_silent_stream_ends_it_with_OperationCanceledException_and_closes_the_response()
    {
        var body = new ScriptedBody([Line("ADDED", Ns("a", "8")), Hang.Instance]);
        using var cancel = new CancellationTokenSource();
        var run = await Watch(new ScriptedServer(() => Answer(body)), cancel: cancel, cancelAfterEvents: 1);

        Assert.Equal(["Added a 8"], run.Events);
        Assert.Empty(run.Errors);
        Assert.IsAssignableFrom<OperationCanceledException>(run.Thrown);
        Assert.True(body.Disposed);
    }

    /// <summary>A cache that only records what it is told.</summary>
    private sealed class RecordingSink : IInformerSink<V1Namespace>
    {
        public List<string> Seen { get; } = [];

        public async Task ReplaceAsync(IAsyncEnumerable<V1Namespace> objects, CancellationToken cancellationToken)
        {
            await foreach (var o in objects.WithCancellation(cancellationToken))
            {
                Seen.Add($"listed {o.Metadata.Name}");
            }
        }

        public void Upsert(V1Namespace obj) => Seen.Add($"upsert {obj.Metadata.Name}");

        public void Remove(V1Namespace obj) => Seen.Add($"remove {obj.Metadata.Name}");
    }

    public static TheoryData<string, string> Endings => new()
    {
        { "closed", "events, then the server ends the stream" },
        { "expired", "ERROR 410" },
        { "expired", "refused 410" },
        { "dropped", "ERROR 500" },
        { "dropped", "bad line" },
        { "dropped", "cut mid-event" },
        { "dropped", "connection reset" },
        { "error", "refused 500" },
        { "stalled", "silent" },
    };

    /// <summary>
    /// The informer over this client: the first watch ends as scripted, and the <c>reason</c> label of
    /// <c>ecr_daemon_watch_restarts_total</c> it records is the one the informer always gave that ending.
    /// </summary>
    [Theory]
    [MemberData(nameof(Endings))]
    public async Task The_informer_labels_each_ending_of_the_stream_with_its_reason(string reason, string ending)
    {
        Func<HttpResponseMessage> first = ending switch
        {
            "events, then the server ends the stream" => () => Answer(Line("ADDED", Ns("a", "8")), Bookmark("9")),
            "ERROR 410" => () => Answer(Line("ERROR", StatusJson(410, "Expired", "too old resource version"))),
            "refused 410" => () => Refused(HttpStatusCode.Gone, "Expired", "too old resource version"),
            "ERROR 500" => () => Answer(Line("ERROR", StatusJson(500, "InternalError", "etcd is sad"))),
            "bad line" => () => Answer("{\"type\":\"MODIFIED\",\"object\":{\"kind\":\n"),
            "cut mid-event" => () => Answer(Line("ADDED", Ns("a", "8"))[..30]),
            "connection reset" => () => Answer(Line("ADDED", Ns("a", "8"))[..30], new IOException("connection reset by peer")),
            "refused 500" => () => Refused(HttpStatusCode.InternalServerError, "InternalError", "etcd is sad"),
            _ => () => Answer(Hang.Instance),
        };
        var server = new ScriptedServer(first, () => Answer(Hang.Instance));
        using var client = Client(server);
        var watches = new WatchStream(client);

        await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var reasons = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "ecr_daemon_watch_restarts")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    reasons.TrySetResult((string)tag.Value!);
                }
            }
        });
        listener.Start();

        var sink = new RecordingSink();
        var informer = new Informer<V1Namespace>("namespaces",
            (_, _, _) => Task.FromResult<(IList<V1Namespace>, string, string?)>(([new V1Namespace { Metadata = new V1ObjectMeta { Name = "listed" } }], "7", null)),
            (rv, timeout, onError, ct) => watches.WatchAsync("/api/v1/namespaces", ApiJson.Default.V1Namespace, rv, timeout, null, onError, ct),
            sink,
            new InformerSettings { StallTimeout = TimeSpan.FromMilliseconds(400), InitialBackoff = TimeSpan.FromMilliseconds(10), MaxBackoff = TimeSpan.FromMilliseconds(10) },
            TimeProvider.System,
            new KubernetesMetrics(meters),
            NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);

        Assert.Equal(reason, await Poll.Within(reasons.Task, "the first watch restart"));
        await Poll.Until(() => Requests(server) >= 2, () => $"{Requests(server)} watch requests");
        await stop.CancelAsync();
        await Poll.Within(run, "the informer's stop");
        Assert.Equal("listed listed", sink.Seen[0]);
        Assert.StartsWith("/api/v1/namespaces?watch=true&allowWatchBookmarks=true&resourceVersion=7&", server.Requests[0].Uri.PathAndQuery, StringComparison.Ordinal);
        if (ending == "events, then the server ends the stream")
        {
            Assert.Equal("upsert a", sink.Seen[1]);
            Assert.Contains("&resourceVersion=9&", server.Requests[1].Uri.Query, StringComparison.Ordinal); // resumed from the bookmark
        }
        else
        {
            Assert.DoesNotContain("upsert a", sink.Seen); // no half event
            Assert.Contains("&resourceVersion=7&", server.Requests[1].Uri.Query, StringComparison.Ordinal); // from where it was, or from a new list
        }

        if (reason == "expired")
        {
            Assert.Equal(["listed listed", "listed listed"], sink.Seen);
        }
    }

    private static int Requests(ScriptedServer server)
    {
        lock (server.Requests)
        {
            return server.Requests.Count;
        }
    }
}

/// <summary>The watch client against the test cluster: the real wire, its faults, and the daemon's own client and handlers.</summary>
[Collection(MetricsTestGroup.Name)]
public sealed class WatchStreamClusterTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task The_daemons_watches_go_through_its_client_authenticated_as_its_ServiceAccount_and_counted_in_its_request_metrics()
    {
        await _h.CreateNamespaceAsync("before", optedIn: true);
        await _h.StartDaemonAsync();
        await Poll.Until(() => _h.Cluster.Store.WatcherCount == 3, () => $"{_h.Cluster.Store.WatcherCount} watchers");
        await _h.CreateNamespaceAsync("after", optedIn: true); // delivered by the namespace watch
        await _h.WaitInSyncAsync("before", "after");

        var watches = _h.Requests.All.Where(r => r.Verb == "watch").ToArray();
        foreach (var resource in new[] { "namespaces", "serviceaccounts", "secrets" })
        {
            var watch = Assert.Single(watches, r => r.Resource == resource);
            Assert.Equal(DaemonHarness.Identity, watch.Identity); // the bearer token of the daemon's kubeconfig, from the client's credentials
            Assert.Equal(200, watch.Code);
            Assert.Contains("allowWatchBookmarks=true", watch.Query, StringComparison.Ordinal);
        }

        Assert.Contains($"fieldSelector=metadata.name%3D{DaemonHarness.SecretName}", Assert.Single(watches, r => r.Resource == "secrets").Query, StringComparison.Ordinal);
        Assert.Equal(1, _h.Requests.Count(verb: "list", resource: "namespaces", identity: DaemonHarness.Identity)); // one list: the new namespace came by the watch

        var metrics = PrometheusText.Parse(await Http.GetStringAsync(new Uri(await _h.BoundHttpEndpointAsync(), "/metrics")));
        foreach (var resource in new[] { "namespaces", "serviceaccounts", "secrets" })
        {
            Assert.Equal(1, metrics.Value("ecr_daemon_kubernetes_requests_total", ("verb", "watch"), ("resource", resource), ("code", "200")));
        }
    }

    private async Task<(List<string> Events, List<Exception> Errors, Exception? Thrown)> WatchNamespacesAsync(Func<IReadOnlyCollection<string>, Task> meanwhile)
    {
        var list = await _h.Admin.CoreV1.ListNamespaceAsync();
        using var api = DaemonHarness.Api(_h.Cluster, null, "default");
        var events = new List<string>();
        var errors = new List<Exception>();
        Exception? thrown = null;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var (type, ns) in new WatchStream(api).WatchAsync(
                    "/api/v1/namespaces", ApiJson.Default.V1Namespace, list.Metadata.ResourceVersion, 60, null, errors.Add, CancellationToken.None))
                {
                    events.Add($"{type} {ns.Metadata.Name}");
                }
            }
            catch (Exception e)
            {
                thrown = e;
            }
        });
        await Poll.Until(() => _h.Cluster.Store.WatcherCount == 1 || watching.IsCompleted, () => $"{_h.Cluster.Store.WatcherCount} watchers");
        await meanwhile(events);
        await Poll.Within(watching, "the end of the watch");
        return (events, errors, thrown);
    }

    [Fact]
    public async Task Against_the_cluster_events_arrive_and_the_stream_the_server_closes_ends_without_error()
    {
        var (events, errors, thrown) = await WatchNamespacesAsync(async seen =>
        {
            await _h.CreateNamespaceAsync("one", optedIn: false);
            await Poll.Until(() => seen.Count > 0, () => "no event");
            _h.Cluster.Store.CloseAllWatches();
        });

        Assert.Contains("Added one", events);
        Assert.Empty(errors);
        Assert.Null(thrown);
    }

    [Fact]
    public async Task Against_the_cluster_a_410_ERROR_event_is_reported_as_KubernetesException_410()
    {
        _h.Cluster.Faults.WatchesExpire = true;
        var (events, errors, thrown) = await WatchNamespacesAsync(_ => Task.CompletedTask);

        Assert.Empty(events);
        Assert.Equal(410, Assert.IsType<KubernetesException>(Assert.Single(errors)).Status.Code);
        Assert.Null(thrown);
    }

    [Fact]
    public async Task Against_the_cluster_a_bad_line_is_reported_and_ends_the_stream_before_the_event_after_it()
    {
        _h.Cluster.Faults.BreakWatchEvents(WatchBreak.BadJson);
        var (events, errors, thrown) = await WatchNamespacesAsync(_ => _h.CreateNamespaceAsync("one", optedIn: false));

        Assert.Empty(events);
        Assert.Contains("is not a watch event", Assert.IsType<InvalidDataException>(Assert.Single(errors)).Message, StringComparison.Ordinal);
        Assert.Null(thrown);
    }

    [Fact]
    public async Task Against_the_cluster_a_connection_reset_mid_event_throws_and_delivers_no_half_event()
    {
        _h.Cluster.Faults.BreakWatchEvents(WatchBreak.ResetMidEvent);
        var (events, errors, thrown) = await WatchNamespacesAsync(_ => _h.CreateNamespaceAsync("one", optedIn: false));

        Assert.Empty(events);
        Assert.Empty(errors);
        Assert.IsAssignableFrom<IOException>(thrown);
    }

    [Fact]
    public async Task Against_the_cluster_a_watch_refused_with_403_throws_HttpOperationException_403()
    {
        _h.Cluster.Faults.FailNext(1, 403, verb: "watch");
        var (events, errors, thrown) = await WatchNamespacesAsync(_ => Task.CompletedTask);

        Assert.Empty(events);
        Assert.Empty(errors);
        Assert.Equal(HttpStatusCode.Forbidden, Assert.IsType<HttpOperationException>(thrown).Response.StatusCode);
    }
}
