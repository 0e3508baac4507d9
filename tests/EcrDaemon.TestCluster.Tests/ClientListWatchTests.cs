using System.Globalization;
using System.Net;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>List (selectors, paging) and watch (selectors, bookmarks, timeouts, 410 Expired) through KubernetesClient.</summary>
public sealed class ClientListWatchTests : IAsyncLifetime
{
    private TestClusterServer _server = null!;
    private Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(new TestClusterOptions
        {
            BookmarkInterval = TimeSpan.FromMilliseconds(200),
            NamespaceDeletionDelay = TimeSpan.FromMilliseconds(200),
        });
        _client = Cluster.Client(_server);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private async Task CreateNamespaces(params (string Name, string? Env, string? Tier)[] namespaces)
    {
        foreach (var (name, env, tier) in namespaces)
        {
            var labels = new Dictionary<string, string> { ["suite"] = "t" };
            if (env is not null)
            {
                labels["env"] = env;
            }

            if (tier is not null)
            {
                labels["tier"] = tier;
            }

            await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace(name, labels));
        }
    }

    private async Task<string[]> NamespaceNames(string? labelSelector = null, string? fieldSelector = null)
    {
        var list = await _client.CoreV1.ListNamespaceAsync(labelSelector: labelSelector, fieldSelector: fieldSelector);
        Assert.False(string.IsNullOrEmpty(list.Metadata.ResourceVersion), "a list carries its resourceVersion");
        return list.Items.Select(n => n.Metadata.Name).Order(StringComparer.Ordinal).ToArray();
    }

    [Fact]
    public async Task Namespace_label_selectors_equality_and_set_based()
    {
        await CreateNamespaces(("a", "prod", "web"), ("b", "dev", null), ("c", "staging", "db"), ("d", null, null));

        Assert.Equal(["a", "b", "c", "d"], await NamespaceNames("suite=t"));
        Assert.Equal(["a"], await NamespaceNames("suite=t,env=prod"));
        Assert.Equal(["a"], await NamespaceNames("suite==t,env==prod"));
        Assert.Equal(["b", "c", "d"], await NamespaceNames("suite=t,env!=prod"));
        Assert.Equal(["a", "b"], await NamespaceNames("suite=t,env in (prod, dev)"));
        Assert.Equal(["c", "d"], await NamespaceNames("suite=t,env notin (prod,dev)"));
        Assert.Equal(["b", "d"], await NamespaceNames("suite=t,!tier"));
        Assert.Equal(["a", "c"], await NamespaceNames("suite=t,tier"));
        Assert.Equal(["c"], await NamespaceNames("tier in (db),env"));
        Assert.Empty(await NamespaceNames("suite=t,env=nope"));
        Assert.Equal(["b"], await NamespaceNames("kubernetes.io/metadata.name=b"));
        Assert.Contains("kube-system", await NamespaceNames("!suite"));
    }

    [Fact]
    public async Task Field_selectors_on_name_and_namespace()
    {
        await CreateNamespaces(("a", null, null), ("b", null, null));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s1", data: "x"), "a");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s2", data: "x"), "a");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s1", data: "x"), "b");

        Assert.Equal(["b"], await NamespaceNames(fieldSelector: "metadata.name=b"));
        Assert.DoesNotContain("b", await NamespaceNames(fieldSelector: "metadata.name!=b"));

        static string[] Keys(V1SecretList l) =>
            l.Items.Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}").Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(["a/s1", "a/s2"], Keys(await _client.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "metadata.namespace=a")));
        Assert.Equal(["a/s1", "b/s1"], Keys(await _client.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "metadata.name=s1")));
        Assert.Equal(["b/s1"], Keys(await _client.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "metadata.name=s1,metadata.namespace=b")));
        Assert.Equal(["a/s2"], Keys(await _client.CoreV1.ListNamespacedSecretAsync("a", fieldSelector: "metadata.name!=s1")));
        Assert.Equal(["a/s1", "a/s2", "b/s1"], Keys(await _client.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "type=Opaque")));
    }

    [Fact]
    public async Task Limit_and_continue_page_through_every_item_exactly_once()
    {
        await CreateNamespaces(("a", null, null), ("b", null, null), ("c", null, null));
        var expected = new List<string>();
        foreach (var ns in new[] { "a", "b", "c" })
        {
            for (var i = 0; i < 8; i++)
            {
                var name = $"s-{i:D2}";
                await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret(name, data: "x"), ns);
                expected.Add($"{ns}/{name}");
            }
        }

        var seen = new List<string>();
        string? continueToken = null;
        var pages = 0;
        do
        {
            var page = await _client.CoreV1.ListSecretForAllNamespacesAsync(limit: 5, continueParameter: continueToken);
            pages++;
            Assert.False(string.IsNullOrEmpty(page.Metadata.ResourceVersion));
            Assert.True(page.Items.Count <= 5, $"page {pages} has {page.Items.Count} items");
            seen.AddRange(page.Items.Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}"));
            continueToken = page.Metadata.ContinueProperty;
            if (continueToken is not null)
            {
                Assert.Equal(24 - seen.Count, page.Metadata.RemainingItemCount);
            }
        }
        while (!string.IsNullOrEmpty(continueToken) && pages < 100);

        Assert.Equal(5, pages);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(expected.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));

        // Paging with a label selector pages over the matches only.
        var namespaces = new List<string>();
        continueToken = null;
        do
        {
            var page = await _client.CoreV1.ListNamespaceAsync(limit: 1, continueParameter: continueToken, labelSelector: "kubernetes.io/metadata.name in (a,c)");
            namespaces.AddRange(page.Items.Select(n => n.Metadata.Name));
            continueToken = page.Metadata.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(continueToken) && namespaces.Count < 10);

        Assert.Equal(["a", "c"], namespaces);
    }

    [Theory]
    [InlineData("labelSelector", "env in prod")]
    [InlineData("labelSelector", "env in ()")]
    [InlineData("labelSelector", "Bad Key=x")]
    [InlineData("fieldSelector", "spec.nope=x")]
    [InlineData("fieldSelector", "metadata.name")]
    public async Task A_bad_selector_is_400(string which, string selector)
    {
        var status = await Cluster.FailsWith(HttpStatusCode.BadRequest, () => which == "labelSelector"
            ? _client.CoreV1.ListNamespaceAsync(labelSelector: selector)
            : _client.CoreV1.ListNamespaceAsync(fieldSelector: selector));
        Assert.Equal("BadRequest", status.Reason);
        Assert.False(string.IsNullOrEmpty(status.Message));
    }

    [Fact]
    public async Task A_bad_continue_token_is_400_and_a_compacted_one_is_410()
    {
        var bad = await Cluster.FailsWith(HttpStatusCode.BadRequest, () => _client.CoreV1.ListNamespaceAsync(limit: 1, continueParameter: "not-a-token"));
        Assert.StartsWith("continue key is not valid", bad.Message, StringComparison.Ordinal);

        var first = await _client.CoreV1.ListNamespaceAsync(limit: 1);
        Assert.NotNull(first.Metadata.ContinueProperty);
        await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace("later"));
        _server.Store.Compact();
        var expired = await Cluster.FailsWith(HttpStatusCode.Gone, () => _client.CoreV1.ListNamespaceAsync(limit: 1, continueParameter: first.Metadata.ContinueProperty));
        Assert.Equal("Expired", expired.Reason);
    }

    private WatchRecorder<V1Secret> WatchSecrets(string ns, string? labelSelector = null, string? fieldSelector = null,
        string? resourceVersion = null, bool? bookmarks = null, int? timeoutSeconds = null) =>
        WatchRecorder<V1Secret>.Start((onError, ct) => _client.CoreV1.WatchListNamespacedSecretAsync(
            ns, allowWatchBookmarks: bookmarks, fieldSelector: fieldSelector, labelSelector: labelSelector,
            resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, onError: onError, cancellationToken: ct));

    private Task<V1Secret> Relabel(string ns, string name, string app) =>
        _client.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch("{\"metadata\":{\"labels\":{\"app\":\"" + app + "\"}}}", V1Patch.PatchType.MergePatch), name, ns);

    [Fact]
    public async Task Watch_with_a_label_selector_sees_relabelling_as_DELETED_then_ADDED()
    {
        await CreateNamespaces(("w", null, null));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("before", new Dictionary<string, string> { ["app"] = "a" }, "x"), "w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("other-before", new Dictionary<string, string> { ["app"] = "b" }, "x"), "w");
        await using var watch = WatchSecrets("w", labelSelector: "app=a");
        await watch.WaitForEvent(WatchEventType.Added, "before");

        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", new Dictionary<string, string> { ["app"] = "a" }, "one"), "w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("other", new Dictionary<string, string> { ["app"] = "b" }, "x"), "w");
        await _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"data":{"key":"dHdv"}}""", V1Patch.PatchType.MergePatch), "s", "w");
        var movedOut = await Relabel("w", "s", "b");
        await Relabel("w", "other", "c"); // never matched: invisible
        var movedIn = await Relabel("w", "s", "a");
        await _client.CoreV1.DeleteNamespacedSecretAsync("other", "w");
        await _client.CoreV1.DeleteNamespacedSecretAsync("s", "w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("done", new Dictionary<string, string> { ["app"] = "a" }, "x"), "w");
        await watch.WaitForEvent(WatchEventType.Added, "done");

        Assert.Equal(
            ["Added before", "Added s", "Modified s", "Deleted s", "Added s", "Deleted s", "Added done"],
            watch.Names());
        var events = watch.Events.Where(e => e.Type != WatchEventType.Bookmark).ToArray();

        // The DELETED for a relabel carries the last state that matched, at the new resourceVersion.
        Assert.Equal("a", events[3].Object.Metadata.Labels["app"]);
        Assert.Equal(movedOut.Metadata.ResourceVersion, events[3].Object.Metadata.ResourceVersion);
        Assert.Equal("a", events[4].Object.Metadata.Labels["app"]);
        Assert.Equal(movedIn.Metadata.ResourceVersion, events[4].Object.Metadata.ResourceVersion);
        Assert.Equal("two", Encoding.UTF8.GetString(events[2].Object.Data["key"]));
        Assert.Empty(watch.Errors);

        // Resource versions on the stream only go up.
        var rvs = events.Skip(1).Select(e => long.Parse(e.Object.Metadata.ResourceVersion, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(rvs.Order(), rvs);
    }

    [Fact]
    public async Task Watch_with_a_field_selector_sees_only_that_object()
    {
        await CreateNamespaces(("w", null, null));
        await using var watch = WatchSecrets("w", fieldSelector: "metadata.name=target");

        // A watch without a resourceVersion starts with the current state; under load it could open
        // after the patch below and see one ADDED of the patched object. Changes start once it is open.
        await Cluster.Until(() => _server.Store.WatcherCount >= 1, () => $"{_server.Store.WatcherCount} watchers");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("noise", data: "x"), "w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("target", data: "x"), "w");
        await _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"x":"y"}}}""", V1Patch.PatchType.MergePatch), "noise", "w");
        await _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"x":"y"}}}""", V1Patch.PatchType.MergePatch), "target", "w");
        await _client.CoreV1.DeleteNamespacedSecretAsync("noise", "w");
        await _client.CoreV1.DeleteNamespacedSecretAsync("target", "w");
        await watch.WaitForEvent(WatchEventType.Deleted, "target");

        Assert.Equal(["Added target", "Modified target", "Deleted target"], watch.Names());
        Assert.Empty(watch.Errors);
    }

    [Fact]
    public async Task Watch_in_one_namespace_does_not_see_another()
    {
        await CreateNamespaces(("w", null, null), ("x", null, null));
        await using var watch = WatchSecrets("w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("elsewhere", data: "x"), "x");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("here", data: "x"), "w");
        await watch.WaitForEvent(WatchEventType.Added, "here");
        Assert.Equal(["Added here"], watch.Names());
    }

    [Fact]
    public async Task Watch_bookmarks_arrive_with_a_resourceVersion_when_asked_for()
    {
        await CreateNamespaces(("w", null, null));
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), "w");
        await using var watch = WatchSecrets("w", bookmarks: true);
        await watch.WaitFor(events => events.Count(e => e.Type == WatchEventType.Bookmark) >= 2);

        var bookmarks = watch.Events.Where(e => e.Type == WatchEventType.Bookmark).ToArray();
        foreach (var (_, obj) in bookmarks)
        {
            Assert.False(string.IsNullOrEmpty(obj.Metadata.ResourceVersion), watch.Describe());
            Assert.True(long.Parse(obj.Metadata.ResourceVersion, CultureInfo.InvariantCulture) >= long.Parse(created.Metadata.ResourceVersion, CultureInfo.InvariantCulture));
            Assert.Null(obj.Metadata.Name);
        }

        Assert.Equal(["Added s"], watch.Names());

        // Without allowWatchBookmarks there are none: a second watch sees a later event but no bookmark.
        await using var plain = WatchSecrets("w");
        await plain.WaitForEvent(WatchEventType.Added, "s");
        await watch.WaitFor(events => events.Count(e => e.Type == WatchEventType.Bookmark) >= bookmarks.Length + 2);
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("t", data: "x"), "w");
        await plain.WaitForEvent(WatchEventType.Added, "t");
        Assert.DoesNotContain(plain.Events, e => e.Type == WatchEventType.Bookmark);
    }

    [Fact]
    public async Task Watch_ends_after_timeoutSeconds()
    {
        await CreateNamespaces(("w", null, null), ("empty", null, null));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), "w");
        await using var watch = WatchSecrets("w", timeoutSeconds: 1);
        await watch.WaitForEnd();
        Assert.Null(watch.StreamException);
        Assert.Empty(watch.Errors);
        Assert.Equal(["Added s"], watch.Names());

        // A watch that times out before its first event: the server ends an empty 200 stream (as the
        // real one does), and KubernetesClient, which reads the first line before returning the
        // response, throws HttpRequestException (EndOfStreamException inside) from the enumeration.
        await using var empty = WatchSecrets("empty", timeoutSeconds: 1);
        await empty.WaitForEnd();
        var e = Assert.IsType<HttpRequestException>(empty.StreamException);
        Assert.IsType<EndOfStreamException>(e.InnerException);
        Assert.Empty(empty.Events);
        await Cluster.Until(() => _server.Store.WatcherCount == 0, () => $"{_server.Store.WatcherCount} watchers");
    }

    [Fact]
    public async Task Watch_from_a_compacted_resourceVersion_yields_410_Expired()
    {
        await CreateNamespaces(("w", null, null));
        var list = await _client.CoreV1.ListNamespacedSecretAsync("w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), "w");
        _server.Store.Compact();

        await using var watch = WatchSecrets("w", resourceVersion: list.Metadata.ResourceVersion);
        await watch.WaitFor(_ => watch.Errors.Count > 0 || watch.Ended);
        await watch.WaitForEnd();

        // KubernetesClient turns the ERROR event into a KubernetesException on the onError path and
        // yields no event for it; the stream then ends.
        Assert.Empty(watch.Events);
        var error = Assert.Single(watch.Errors);
        var kex = Assert.IsType<KubernetesException>(error);
        Assert.NotNull(kex.Status);
        Assert.Equal(410, kex.Status.Code);
        Assert.Equal("Expired", kex.Status.Reason);
        Assert.StartsWith("too old resource version: " + list.Metadata.ResourceVersion, kex.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_with_a_small_history_expires_old_resourceVersions_but_not_recent_ones()
    {
        await using var server = await TestClusterServer.StartAsync(new TestClusterOptions { HistoryLimit = 3 });
        using var client = Cluster.Client(server);
        var start = await client.CoreV1.ListNamespacedSecretAsync("default");
        for (var i = 0; i < 5; i++)
        {
            await client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret($"s{i}", data: "x"), "default");
        }

        var recent = await client.CoreV1.ReadNamespacedSecretAsync("s3", "default");

        await using var old = WatchRecorder<V1Secret>.Start((onError, ct) => client.CoreV1.WatchListNamespacedSecretAsync(
            "default", resourceVersion: start.Metadata.ResourceVersion, onError: onError, cancellationToken: ct));
        await old.WaitForEnd();
        Assert.Equal(410, Assert.IsType<KubernetesException>(Assert.Single(old.Errors)).Status.Code);

        await using var fresh = WatchRecorder<V1Secret>.Start((onError, ct) => client.CoreV1.WatchListNamespacedSecretAsync(
            "default", resourceVersion: recent.Metadata.ResourceVersion, onError: onError, cancellationToken: ct));
        await fresh.WaitForEvent(WatchEventType.Added, "s4");
        Assert.Equal(["Added s4"], fresh.Names());
        Assert.Empty(fresh.Errors);
    }

    [Fact]
    public async Task Watch_from_the_list_resourceVersion_delivers_only_later_events()
    {
        await CreateNamespaces(("w", null, null));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("old", data: "x"), "w");
        var list = await _client.CoreV1.ListNamespacedSecretAsync("w");
        Assert.Equal(["old"], list.Items.Select(s => s.Metadata.Name));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("new1", data: "x"), "w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("other", data: "x"), "default");

        await using var watch = WatchSecrets("w", resourceVersion: list.Metadata.ResourceVersion);
        await watch.WaitForEvent(WatchEventType.Added, "new1");
        await _client.CoreV1.DeleteNamespacedSecretAsync("old", "w");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("new2", data: "x"), "w");
        await watch.WaitForEvent(WatchEventType.Added, "new2");

        Assert.Equal(["Added new1", "Deleted old", "Added new2"], watch.Names());
        Assert.Empty(watch.Errors);
    }

    [Fact]
    public async Task Watch_of_a_namespace_deletion_sees_MODIFIED_Terminating_then_DELETED_for_it_and_its_contents()
    {
        await CreateNamespaces(("doomed", null, null));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("inside", data: "x"), "doomed");
        await using var secrets = WatchSecrets("doomed");
        await using var namespaces = WatchRecorder<V1Namespace>.Start((onError, ct) => _client.CoreV1.WatchListNamespaceAsync(
            fieldSelector: "metadata.name=doomed", onError: onError, cancellationToken: ct));
        await namespaces.WaitForEvent(WatchEventType.Added, "doomed");
        await secrets.WaitForEvent(WatchEventType.Added, "inside");

        await _client.CoreV1.DeleteNamespaceAsync("doomed");
        await namespaces.WaitForEvent(WatchEventType.Deleted, "doomed");
        await secrets.WaitForEvent(WatchEventType.Deleted, "inside");

        Assert.Equal(["Added doomed", "Modified doomed", "Deleted doomed"], namespaces.Names());
        Assert.Equal("Terminating", namespaces.Events.Single(e => e.Type == WatchEventType.Modified).Object.Status.Phase);
        Assert.NotNull(namespaces.Events.Single(e => e.Type == WatchEventType.Modified).Object.Metadata.DeletionTimestamp);
        Assert.Equal(["Added inside", "Deleted inside"], secrets.Names());
        var e404 = await Assert.ThrowsAsync<HttpOperationException>(() => _client.CoreV1.ReadNamespaceAsync("doomed"));
        Assert.Equal(HttpStatusCode.NotFound, e404.Response.StatusCode);
    }
}
