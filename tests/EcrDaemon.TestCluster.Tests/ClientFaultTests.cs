using System.Diagnostics;
using System.Net;
using System.Text.Json;
using EcrDaemon.TestCluster.Hooks;
using k8s;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>Fault injection (statuses, latency, cut watches, downtime, broken watch lines) and the request log, through KubernetesClient.</summary>
public sealed class ClientFaultTests : IAsyncLifetime
{
    private const string Ns = "f";
    private const string Admin = "kubernetes-admin";
    private TestClusterServer _server = null!;
    private Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync();
        _client = Cluster.Client(_server);
        await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace(Ns));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private static V1Patch Label(string value) =>
        new("{\"metadata\":{\"labels\":{\"attempt\":\"" + value + "\"}}}", V1Patch.PatchType.StrategicMergePatch);

    [Fact]
    public async Task FailNext_fails_matching_requests_that_many_times_then_lets_them_through()
    {
        var mark = _server.Requests.Mark();
        _server.Faults.FailNext(2, 500, verb: "patch", resource: "serviceaccounts");
        Assert.Equal(2, _server.Faults.Pending);

        // Requests that do not match are untouched.
        await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns);
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.PatchNamespacedSecretAsync(Label("x"), "missing", Ns));

        var first = await Cluster.FailsWith(HttpStatusCode.InternalServerError, () => _client.CoreV1.PatchNamespacedServiceAccountAsync(Label("1"), "default", Ns));
        Assert.Equal("InternalError", first.Reason);
        Assert.Equal("Internal error occurred: injected fault", first.Message);
        Assert.Equal(1, _server.Faults.Pending);
        await Cluster.FailsWith(HttpStatusCode.InternalServerError, () => _client.CoreV1.PatchNamespacedServiceAccountAsync(Label("2"), "default", Ns));
        Assert.Equal(0, _server.Faults.Pending);
        var third = await _client.CoreV1.PatchNamespacedServiceAccountAsync(Label("3"), "default", Ns);
        Assert.Equal("3", third.Metadata.Labels["attempt"]);

        Assert.Equal(2, _server.Requests.Count(verb: "patch", resource: "serviceaccounts", code: 500, since: mark));
        Assert.Equal(1, _server.Requests.Count(verb: "patch", resource: "serviceaccounts", code: 200, since: mark));
        Assert.Equal(1, _server.Requests.Count(verb: "patch", resource: "secrets", code: 404, since: mark));
    }

    [Fact]
    public async Task FailNext_can_target_one_identity_and_namespace()
    {
        var sa = _server.ServiceAccountToken("f", "robot");
        using var robot = Cluster.Client(_server, sa);
        _server.Faults.FailNext(1, 503, ns: Ns, identity: "system:serviceaccount:f:robot", retryAfterSeconds: 3);

        await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns); // admin: not matched
        await Cluster.FailsWith(HttpStatusCode.Forbidden, () => robot.CoreV1.ReadNamespacedServiceAccountAsync("default", "default")); // other namespace: RBAC, not the fault
        var status = await Cluster.FailsWith(HttpStatusCode.ServiceUnavailable, () => robot.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns));
        Assert.Equal("ServiceUnavailable", status.Reason);
        Assert.Equal(0, _server.Faults.Pending);
        await Cluster.FailsWith(HttpStatusCode.Forbidden, () => robot.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns));
    }

    [Fact]
    public async Task A_429_carries_Retry_After_and_reason_TooManyRequests()
    {
        _server.Faults.FailNext(2, 429, verb: "list", resource: "secrets", retryAfterSeconds: 7);

        using var http = Cluster.RawClient(_server);
        using var response = await http.GetAsync(new Uri($"/api/v1/namespaces/{Ns}/secrets", UriKind.Relative));
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Status", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal("TooManyRequests", doc.RootElement.GetProperty("reason").GetString());
        Assert.Equal(429, doc.RootElement.GetProperty("code").GetInt32());
        Assert.Equal(7, doc.RootElement.GetProperty("details").GetProperty("retryAfterSeconds").GetInt32());

        // KubernetesClient does not retry: it surfaces the 429 with the Status.
        var status = await Cluster.FailsWith(HttpStatusCode.TooManyRequests, () => _client.CoreV1.ListNamespacedSecretAsync(Ns));
        Assert.Equal("TooManyRequests", status.Reason);
        Assert.Equal(7, status.Details.RetryAfterSeconds);

        Assert.Empty((await _client.CoreV1.ListNamespacedSecretAsync(Ns)).Items);
        Assert.Equal(2, _server.Requests.Count(verb: "list", resource: "secrets", code: 429));
    }

    [Fact]
    public async Task AddLatency_delays_matching_requests()
    {
        var latency = TimeSpan.FromMilliseconds(400);
        _server.Faults.AddLatency(latency, verb: "get", resource: "serviceaccounts", count: 2);

        var watch = Stopwatch.StartNew();
        await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns);
        await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", "default");
        watch.Stop();

        // A lower bound only: a loaded machine can make it slower, never faster. (Timer slack: 20 ms per request.)
        Assert.True(watch.Elapsed >= 2 * latency - TimeSpan.FromMilliseconds(40), $"two delayed gets took {watch.Elapsed}");
        Assert.Equal(2, _server.Requests.Count(verb: "get", resource: "serviceaccounts", code: 200));
    }

    [Fact]
    public async Task A_request_that_is_delayed_does_not_block_others_and_can_be_cancelled()
    {
        _server.Faults.AddLatency(TimeSpan.FromMinutes(10), verb: "get", resource: "secrets", count: 1);
        using var cts = new CancellationTokenSource();
        var slow = _client.CoreV1.ReadNamespacedSecretAsync("x", Ns, cancellationToken: cts.Token);

        await _client.CoreV1.ListNamespacedSecretAsync(Ns);
        await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns);
        Assert.False(slow.IsCompleted, "a get under ten minutes of latency finished early");

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
    }

    [Fact]
    public async Task CloseAllWatches_ends_open_streams_and_new_watches_work()
    {
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), Ns);
        await using var secrets = WatchRecorder<V1Secret>.Start((onError, ct) => _client.CoreV1.WatchListNamespacedSecretAsync(Ns, onError: onError, cancellationToken: ct));
        await using var namespaces = WatchRecorder<V1Namespace>.Start((onError, ct) => _client.CoreV1.WatchListNamespaceAsync(onError: onError, cancellationToken: ct));
        await secrets.WaitForEvent(WatchEventType.Added, "s");
        await namespaces.WaitForEvent(WatchEventType.Added, Ns);
        Assert.Equal(2, _server.Store.WatcherCount);

        Assert.Equal(2, _server.Store.CloseAllWatches());
        await secrets.WaitForEnd();
        await namespaces.WaitForEnd();
        Assert.Null(secrets.StreamException);
        Assert.Null(namespaces.StreamException);
        await Cluster.Until(() => _server.Store.WatcherCount == 0, () => $"{_server.Store.WatcherCount} watchers");

        await using var again = WatchRecorder<V1Secret>.Start((onError, ct) => _client.CoreV1.WatchListNamespacedSecretAsync(Ns, onError: onError, cancellationToken: ct));
        await again.WaitForEvent(WatchEventType.Added, "s");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("t", data: "x"), Ns);
        await again.WaitForEvent(WatchEventType.Added, "t");
        Assert.Equal(["Added s"], secrets.Names());
    }

    [Fact]
    public async Task CloseWatchesAfter_ends_each_open_stream_after_that_many_more_events()
    {
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), Ns);
        await using var watch = WatchRecorder<V1Secret>.Start((onError, ct) => _client.CoreV1.WatchListNamespacedSecretAsync(Ns, onError: onError, cancellationToken: ct));
        await watch.WaitForEvent(WatchEventType.Added, "s");

        _server.Store.CloseWatchesAfter(2);
        foreach (var name in new[] { "a", "b", "c" })
        {
            await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret(name, data: "x"), Ns);
        }

        await watch.WaitForEnd();
        Assert.Null(watch.StreamException);
        Assert.Equal(["Added s", "Added a", "Added b"], watch.Names());
        await Cluster.Until(() => _server.Store.WatcherCount == 0, () => $"{_server.Store.WatcherCount} watchers");
    }

    [Fact]
    public async Task SetDown_fails_requests_at_the_connection_level_and_SetDown_false_recovers()
    {
        await using var watch = WatchRecorder<V1Namespace>.Start((onError, ct) => _client.CoreV1.WatchListNamespaceAsync(onError: onError, cancellationToken: ct));
        await watch.WaitForEvent(WatchEventType.Added, Ns);
        var mark = _server.Requests.Mark();

        _server.SetDown(true);
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => _client.CoreV1.ListNamespaceAsync());
        Assert.Null(e.StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => _client.CoreV1.ReadNamespaceAsync(Ns));
        using (var http = Cluster.RawClient(_server))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("/version", UriKind.Relative)));
        }

        await watch.WaitForEnd();
        Assert.IsAssignableFrom<IOException>(watch.StreamException); // cut, not ended cleanly
        Assert.Equal(0, _server.Requests.Count(since: mark)); // nothing was served
        await using var refused = WatchRecorder<V1Namespace>.Start((onError, ct) => _client.CoreV1.WatchListNamespaceAsync(onError: onError, cancellationToken: ct));
        await refused.WaitForEnd();
        Assert.IsType<HttpRequestException>(refused.StreamException);
        Assert.Empty(refused.Events);

        _server.SetDown(false);
        Assert.Contains(Ns, (await _client.CoreV1.ListNamespaceAsync()).Items.Select(n => n.Metadata.Name));
        await using var back = WatchRecorder<V1Namespace>.Start((onError, ct) => _client.CoreV1.WatchListNamespaceAsync(onError: onError, cancellationToken: ct));
        await back.WaitForEvent(WatchEventType.Added, Ns);
    }

    [Fact]
    public async Task BreakWatchEvents_BadJson_puts_an_unparsable_line_on_the_stream_and_the_stream_goes_on()
    {
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("before", data: "x"), Ns);
        await using var watch = WatchRecorder<V1Secret>.Start((onError, ct) => _client.CoreV1.WatchListNamespacedSecretAsync(Ns, onError: onError, cancellationToken: ct));
        await watch.WaitForEvent(WatchEventType.Added, "before");

        _server.Faults.BreakWatchEvents(WatchBreak.BadJson);
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("after", data: "x"), Ns);
        await watch.WaitForEvent(WatchEventType.Added, "after");

        // KubernetesClient reports the bad line on onError and keeps reading.
        var error = Assert.Single(watch.Errors);
        Assert.IsAssignableFrom<JsonException>(error);
        Assert.Equal(["Added before", "Added after"], watch.Names());
        Assert.False(watch.Ended);
    }

    [Fact]
    public async Task BreakWatchEvents_ResetMidEvent_cuts_the_stream_mid_line()
    {
        await using var watch = WatchRecorder<V1Secret>.Start((onError, ct) => _client.CoreV1.WatchListNamespacedSecretAsync(Ns, onError: onError, cancellationToken: ct));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("first", data: "x"), Ns);
        await watch.WaitForEvent(WatchEventType.Added, "first");

        _server.Faults.BreakWatchEvents(WatchBreak.ResetMidEvent);
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("cut", data: "x"), Ns);
        await watch.WaitForEnd();
        Assert.Equal(["Added first"], watch.Names());
        // Over HTTP/2 the abort is a stream reset, which KubernetesClient lets escape the enumeration.
        Assert.IsAssignableFrom<IOException>(watch.StreamException);
        Assert.Empty(watch.Errors);
    }

    [Fact]
    public async Task Request_log_counts_a_scripted_sequence_exactly()
    {
        var sa = _server.ServiceAccountToken(Ns, "reader");
        using var reader = Cluster.Client(_server, sa);
        var mark = _server.Requests.Mark();

        for (var i = 0; i < 3; i++)
        {
            await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret($"s{i}", data: "x"), Ns);
        }

        await _client.CoreV1.PatchNamespacedSecretAsync(Label("p"), "s1", Ns);
        await _client.CoreV1.ReadNamespacedSecretAsync("s2", Ns);
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.ReadNamespacedSecretAsync("nope", Ns));
        await Cluster.FailsWith(HttpStatusCode.Forbidden, () => reader.CoreV1.ListNamespacedSecretAsync(Ns));
        await _client.CoreV1.ListNamespaceAsync();

        var counters = _server.Requests.Counters(mark);
        var expected = new Dictionary<(string, string, string, int, string), int>
        {
            [("create", "secrets", Ns, 201, Admin)] = 3,
            [("patch", "secrets", Ns, 200, Admin)] = 1,
            [("get", "secrets", Ns, 200, Admin)] = 1,
            [("get", "secrets", Ns, 404, Admin)] = 1,
            [("list", "secrets", Ns, 403, $"system:serviceaccount:{Ns}:reader")] = 1,
            [("list", "namespaces", "", 200, Admin)] = 1,
        };
        Assert.Equal(expected.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal), counters.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal));

        Assert.Equal(8, _server.Requests.Since(mark).Count);
        Assert.Equal(4, _server.Requests.Since(mark).Count(r => r.IsWrite));
        Assert.Equal(3, _server.Requests.Count(verb: "create", since: mark));
        Assert.Equal(6, _server.Requests.Count(resource: "secrets", identity: Admin, since: mark));
        Assert.Equal(7, _server.Requests.Count(ns: Ns, since: mark));
        Assert.Equal(["", "", "", "s1", "s2", "nope", "", ""], _server.Requests.Since(mark).Select(r => r.Name));
        Assert.Equal(_server.Requests.Since(mark).Select(r => r.Sequence).Order(), _server.Requests.Since(mark).Select(r => r.Sequence));
    }
}
