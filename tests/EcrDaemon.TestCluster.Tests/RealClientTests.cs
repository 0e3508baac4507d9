using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Auth;
using EcrDaemon.TestCluster.Hooks;
using k8s;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// The test cluster as the official Python and JavaScript clients see it (scripts in Clients/, see
/// <see cref="RealClients"/>). Each test seeds the cluster with KubernetesClient, runs one scenario
/// in the real client, asserts what the client got, and asserts what the server saw from it: the
/// verb, the raw query string and the Content-Type, in the exact form that client sends them.
/// </summary>
public sealed class RealClientTests : IAsyncLifetime
{
    /// <summary>The scripts authenticate as this user (an admin), so their requests are told apart from the seeding.</summary>
    private const string ClientUser = "real-client";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ecr-daemon-realclient-" + Guid.NewGuid().ToString("N")[..8]);
    private TestClusterServer _server = null!;
    private Kubernetes _admin = null!;
    private string _kubeconfig = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(new TestClusterOptions
        {
            BookmarkInterval = TimeSpan.FromMilliseconds(200),
            // A deleted namespace stays Terminating for the whole test.
            NamespaceDeletionDelay = TimeSpan.FromMinutes(10),
        });
        _admin = Cluster.Client(_server);
        Directory.CreateDirectory(_dir);
        _kubeconfig = Path.Combine(_dir, "kubeconfig");
        var token = _server.IssueToken(new Identity(ClientUser, ["system:masters", "system:authenticated"], true));
        _server.WriteKubeconfig(_kubeconfig, token);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The requests the client script made, in order.</summary>
    private RequestRecord[] ClientRequests(long since) =>
        _server.Requests.Since(since).Where(r => r.Identity == ClientUser).ToArray();

    private static string Describe(IEnumerable<RequestRecord> records) =>
        string.Join("\n", records.Select(r => $"{r.Verb} {r.Resource} ns={r.Namespace} name={r.Name} {r.Code} query={r.Query} type={r.ContentType}"));

    private static string Describe(IEnumerable<JsonObject> lines) => string.Join("\n", lines.Select(l => l.ToJsonString()));

    private static void AssertJson(string expected, JsonNode actual, string context)
    {
        var want = JsonNode.Parse(expected);
        Assert.True(JsonNode.DeepEquals(want, actual), $"expected {want!.ToJsonString()}\ngot      {actual.ToJsonString()}\n{context}");
    }

    /// <summary>A query value as the client escapes it (both percent-encode what a form encoding must; space is '+').</summary>
    private static string Escaped(string value) => Uri.EscapeDataString(value).Replace("%20", "+", StringComparison.Ordinal);

    private async Task Namespace(string name) => await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace(name));

    private async Task<V1Secret> Secret(string ns, string name, IDictionary<string, string>? labels = null, string? type = null) =>
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret(name, labels, data: "x", type: type), ns);

    private Task<V1Secret> Label(string ns, string name, string key, string value) =>
        _admin.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch(new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [key] = value } } }.ToJsonString(),
                V1Patch.PatchType.MergePatch), name, ns);

    private string CurrentRv => _server.Store.CurrentResourceVersion.ToString(CultureInfo.InvariantCulture);

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task List_pages_follow_continue_and_return_every_item_once(string client)
    {
        await Namespace("paged");
        await Namespace("elsewhere");
        for (var i = 0; i < 7; i++)
        {
            await Secret("paged", $"p-{i:D2}");
        }

        await Secret("elsewhere", "p-99");
        var rv = CurrentRv;
        var mark = _server.Requests.Mark();

        var lines = await RealClients.RunAsync(client, _kubeconfig, "list-pages", "paged", "3");

        var context = Describe(lines);
        Assert.True(lines.Count == 4, context);
        string[][] pages = [["p-00", "p-01", "p-02"], ["p-03", "p-04", "p-05"], ["p-06"]];
        var tokens = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(pages[i], lines[i]["page"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray());
            // Every page is read at the first page's resourceVersion: one consistent snapshot.
            Assert.Equal(rv, lines[i]["resourceVersion"]!.GetValue<string>());
            if (i < 2)
            {
                var token = lines[i]["continue"]?.GetValue<string>();
                Assert.False(string.IsNullOrEmpty(token), context);
                tokens.Add(token);
            }
            else
            {
                Assert.Null(lines[i]["continue"]);
            }
        }

        AssertJson("""{"done":true}""", lines[3], context);

        // What the server saw: one list per page; the limit on each, the continue token from the previous page.
        // Both clients send the same form: parameters in the generated method's order (continue before
        // limit), the token percent-encoded ('=' as %3D).
        var seen = ClientRequests(mark);
        Assert.True(seen.All(r => r is { Verb: "list", Resource: "secrets", Namespace: "paged", Code: 200 }), Describe(seen));
        Assert.Equal(
            ["?limit=3", $"?continue={Escaped(tokens[0])}&limit=3", $"?continue={Escaped(tokens[1])}&limit=3"],
            seen.Select(r => r.Query).ToArray());
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Set_based_label_selector_selects_exactly_the_matches(string client)
    {
        await Namespace("labels");
        await Secret("labels", "a", new Dictionary<string, string> { ["tier"] = "a" });
        await Secret("labels", "b", new Dictionary<string, string> { ["tier"] = "b" });
        await Secret("labels", "c", new Dictionary<string, string> { ["tier"] = "c" });
        await Secret("labels", "a-legacy", new Dictionary<string, string> { ["tier"] = "a", ["legacy"] = "true" });
        await Secret("labels", "b-legacy-empty", new Dictionary<string, string> { ["tier"] = "b", ["legacy"] = "" });
        await Secret("labels", "none");
        var mark = _server.Requests.Mark();

        const string selector = "tier in (a,b),!legacy";
        var lines = await RealClients.RunAsync(client, _kubeconfig, "list-labels", "labels", selector);

        Assert.Single(lines);
        AssertJson("""{"names":["a","b"]}""", lines[0], Describe(lines));

        // Both clients form-encode the selector: space as '+', the rest percent-encoded.
        var seen = Assert.Single(ClientRequests(mark));
        Assert.Equal(("list", "secrets", "labels", 200), (seen.Verb, seen.Resource, seen.Namespace, seen.Code));
        Assert.Equal("?labelSelector=tier+in+%28a%2Cb%29%2C%21legacy", seen.Query);
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Field_selectors_select_across_namespaces(string client)
    {
        await Namespace("f1");
        await Namespace("f2");
        await Secret("f1", "x");
        await Secret("f1", "y", type: "example.com/special");
        await Secret("f2", "x", type: "example.com/special");
        await Secret("f2", "z");
        await Secret("default", "y");
        var mark = _server.Requests.Mark();

        var byName = await RealClients.RunAsync(client, _kubeconfig, "list-fields", "metadata.name=x");
        var byType = await RealClients.RunAsync(client, _kubeconfig, "list-fields", "type=example.com/special");
        var byBoth = await RealClients.RunAsync(client, _kubeconfig, "list-fields", "metadata.namespace=f1,metadata.name!=x");

        AssertJson("""{"items":[["f1","x"],["f2","x"]]}""", Assert.Single(byName), Describe(byName));
        AssertJson("""{"items":[["f1","y"],["f2","x"]]}""", Assert.Single(byType), Describe(byType));
        AssertJson("""{"items":[["f1","y"]]}""", Assert.Single(byBoth), Describe(byBoth));

        // All-namespace lists (/api/v1/secrets, no namespace), the selector form-encoded.
        var seen = ClientRequests(mark);
        Assert.True(seen.All(r => r is { Verb: "list", Resource: "secrets", Namespace: "", Code: 200 }), Describe(seen));
        Assert.Equal(
            ["?fieldSelector=metadata.name%3Dx", "?fieldSelector=type%3Dexample.com%2Fspecial", "?fieldSelector=metadata.namespace%3Df1%2Cmetadata.name%21%3Dx"],
            seen.Select(r => r.Query).ToArray());
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Watch_from_a_list_sees_exactly_the_later_changes_in_order(string client)
    {
        await Namespace("watched");
        await Secret("watched", "before");
        await Label("watched", "before", "touched", "1");
        var mark = _server.Requests.Mark();

        using var watch = RealClients.Start(client, _kubeconfig, "watch", "watched", "3");
        var listedLine = await watch.WaitForLineAsync(l => l.Contains("\"listed\"", StringComparison.Ordinal), "the listed line", Cluster.Deadline);
        var listed = JsonNode.Parse(listedLine)!;
        var listedRv = listed["listed"]!.GetValue<string>();
        Assert.Equal(CurrentRv, listedRv);
        AssertJson("""["before"]""", listed["names"]!, listedLine);

        await Secret("default", "outside"); // another namespace: not this watch's
        var created = await Secret("watched", "after");
        var modified = await Label("watched", "after", "step", "2");
        await _admin.CoreV1.DeleteNamespacedSecretAsync("after", "watched");
        var deletedRv = CurrentRv;

        await watch.WaitForLineAsync(l => l.Contains("\"done\"", StringComparison.Ordinal), "the done line", Cluster.Deadline);
        var lines = RealClients.Parse(watch.Lines, string.Join("\n", watch.Lines));
        var context = Describe(lines);
        var events = lines.Where(l => l.ContainsKey("type")).ToArray();
        Assert.True(events.All(e => e["type"]!.GetValue<string>() is "ADDED" or "MODIFIED" or "DELETED" or "BOOKMARK"), context);
        Assert.True(events.Where(e => e["type"]!.GetValue<string>() == "BOOKMARK").All(e => e["name"] is null), context);
        var changes = events.Where(e => e["type"]!.GetValue<string>() != "BOOKMARK").ToArray();
        // Nothing from before the list (the "before" secret's create and label), nothing twice.
        Assert.Equal(
            [("ADDED", "after", created.Metadata.ResourceVersion), ("MODIFIED", "after", modified.Metadata.ResourceVersion), ("DELETED", "after", deletedRv)],
            changes.Select(e => (e["type"]!.GetValue<string>(), e["name"]!.GetValue<string>(), e["resourceVersion"]!.GetValue<string>())).ToArray());
        Assert.Equal(listedLine, watch.Lines[0]);
        AssertJson("""{"done":true}""", lines[^1], context);

        // What the server saw: the list, then one watch from the list's resourceVersion. Python sends
        // booleans as str(True), so watch=True and allowWatchBookmarks=True (only Python does), its
        // parameters in the generated method's (alphabetical) order. Node's Watch helper writes
        // watch=true first, then the parameters in the order the script passes them.
        var seen = ClientRequests(mark);
        string[] expected = client == "python"
            ? ["list ", $"watch ?allowWatchBookmarks=True&resourceVersion={listedRv}&timeoutSeconds=60&watch=True"]
            : ["list ", $"watch ?watch=true&resourceVersion={listedRv}&allowWatchBookmarks=true&timeoutSeconds=60"];
        Assert.Equal(expected, seen.Select(r => $"{r.Verb} {r.Query}").ToArray());
        Assert.True(seen.All(r => r is { Resource: "secrets", Namespace: "watched", Code: 200 }), Describe(seen));
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Watch_from_a_compacted_resource_version_is_410_Expired(string client)
    {
        await Namespace("compacted");
        var old = (await Secret("compacted", "c1")).Metadata.ResourceVersion;
        await Label("compacted", "c1", "n", "1");
        await Label("compacted", "c1", "n", "2");
        _server.Store.Compact();
        var compacted = _server.Store.CompactedResourceVersion;
        var mark = _server.Requests.Mark();

        var lines = await RealClients.RunAsync(client, _kubeconfig, "watch-from", "compacted", old);

        // The server answers 200 and an ERROR event carrying the Status, as kube-apiserver does.
        Assert.Single(lines);
        AssertJson(
            $$"""{"error":{"code":410,"reason":"Expired","message":"too old resource version: {{old}} ({{compacted}})"},"surfaced":"event"}""",
            lines[0], Describe(lines));

        var seen = Assert.Single(ClientRequests(mark));
        Assert.Equal(("watch", "secrets", "compacted", 200), (seen.Verb, seen.Resource, seen.Namespace, seen.Code));
        // Python: watch=True last (str(True), generated order); Node: watch=true first (its Watch helper).
        Assert.Equal(
            client == "python" ? $"?resourceVersion={old}&timeoutSeconds=10&watch=True" : $"?watch=true&resourceVersion={old}&timeoutSeconds=10",
            seen.Query);
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Merge_patch_with_a_stale_resource_version_is_409_Conflict(string client)
    {
        await Namespace("merge");
        var stale = (await Secret("merge", "m1")).Metadata.ResourceVersion;
        var fresh = (await Label("merge", "m1", "moved", "on")).Metadata.ResourceVersion;
        var mark = _server.Requests.Mark();

        var conflict = await RealClients.RunAsync(client, _kubeconfig, "merge-patch", "merge", "m1", stale);
        var rvAfterConflict = _server.Store.Get(Api.ResourceType.Secrets, "merge", "m1")!.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        var patched = await RealClients.RunAsync(client, _kubeconfig, "merge-patch", "merge", "m1", fresh);

        AssertJson(
            """{"error":{"code":409,"reason":"Conflict","message":"Operation cannot be fulfilled on secrets \"m1\": the object has been modified; please apply your changes to the latest version and try again"},"surfaced":"exception"}""",
            Assert.Single(conflict), Describe(conflict));
        Assert.Equal(fresh, rvAfterConflict);
        var stored = await _admin.CoreV1.ReadNamespacedSecretAsync("m1", "merge");
        AssertJson($$"""{"resourceVersion":"{{stored.Metadata.ResourceVersion}}"}""", Assert.Single(patched), Describe(patched));
        Assert.NotEqual(fresh, stored.Metadata.ResourceVersion);
        Assert.Equal("yes", stored.Metadata.Labels["patched"]);
        Assert.Equal("on", stored.Metadata.Labels["moved"]);

        // Both patches went out as JSON merge patches (Python: set as the ApiClient's default header).
        var seen = ClientRequests(mark);
        Assert.Equal(
            [("patch", 409, "", "application/merge-patch+json"), ("patch", 200, "", "application/merge-patch+json")],
            seen.Select(r => (r.Verb, r.Code, r.Query, r.ContentType)).ToArray());
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Strategic_merge_patch_replaces_image_pull_secrets_wholesale(string client)
    {
        await Namespace("strategic");
        await _admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount
        {
            Metadata = new V1ObjectMeta { Name = "builder" },
            ImagePullSecrets = [new() { Name = "old-1" }, new() { Name = "keep" }, new() { Name = "old-2" }],
        }, "strategic");
        var mark = _server.Requests.Mark();

        var lines = await RealClients.RunAsync(client, _kubeconfig, "strategic-patch", "strategic", "builder", "new-b,keep,new-a");

        // imagePullSecrets has no patch merge key: the list sent replaces the stored one, in its order.
        AssertJson("""{"imagePullSecrets":["new-b","keep","new-a"]}""", Assert.Single(lines), Describe(lines));
        var stored = await _admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "strategic");
        Assert.Equal(["new-b", "keep", "new-a"], stored.ImagePullSecrets.Select(r => r.Name).ToArray());

        var seen = Assert.Single(ClientRequests(mark));
        Assert.Equal(("patch", "serviceaccounts", "strategic", "builder", 200, "", "application/strategic-merge-patch+json"),
            (seen.Verb, seen.Resource, seen.Namespace, seen.Name, seen.Code, seen.Query, seen.ContentType));
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Create_in_a_terminating_namespace_is_403_Forbidden(string client)
    {
        await Namespace("doomed");
        await _admin.CoreV1.DeleteNamespaceAsync("doomed");
        Assert.Equal("Terminating", (await _admin.CoreV1.ReadNamespaceAsync("doomed")).Status.Phase);
        var mark = _server.Requests.Mark();

        var lines = await RealClients.RunAsync(client, _kubeconfig, "create", "doomed", "late");
        var fine = await RealClients.RunAsync(client, _kubeconfig, "create", "default", "on-time");

        AssertJson(
            """{"error":{"code":403,"reason":"Forbidden","message":"secrets \"late\" is forbidden: unable to create new content in namespace doomed because it is being terminated"},"surfaced":"exception"}""",
            Assert.Single(lines), Describe(lines));
        AssertJson("""{"created":"on-time"}""", Assert.Single(fine), Describe(fine));
        Assert.Null(_server.Store.Get(Api.ResourceType.Secrets, "doomed", "late"));
        Assert.Equal("Opaque", (await _admin.CoreV1.ReadNamespacedSecretAsync("on-time", "default")).Type);

        var seen = ClientRequests(mark);
        Assert.Equal(
            [("create", "doomed", 403, "", "application/json"), ("create", "default", 201, "", "application/json")],
            seen.Select(r => (r.Verb, r.Namespace, r.Code, r.Query, r.ContentType)).ToArray());
    }

    [ClientTheory]
    [ClientData("python")]
    [ClientData("node")]
    public async Task Field_managers_name_the_entries_the_client_reads_back_and_a_too_long_one_is_422(string client)
    {
        await Namespace("managers");
        var mark = _server.Requests.Mark();

        var lines = await RealClients.RunAsync(client, _kubeconfig, "field-managers", "managers", "owned");

        Assert.True(lines.Count == 2, Describe(lines));
        var entries = lines[0]["managedFields"]!.AsArray();
        // The time as the client parsed it (a datetime, a Date) is the stored one.
        var stored = _server.Store.Get(Api.ResourceType.Secrets, "managers", "owned")!.Node["metadata"]!["managedFields"]!.AsArray();
        Assert.Equal(stored.Select(e => DateTimeOffset.Parse((string)e!["time"]!, CultureInfo.InvariantCulture)).ToArray(),
            entries.Select(e => DateTimeOffset.Parse((string)e!["time"]!, CultureInfo.InvariantCulture)).ToArray());
        foreach (var entry in entries)
        {
            entry!.AsObject().Remove("time");
        }

        AssertJson("""
            [{"manager":"creator","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{".":{},"f:key":{}},"f:type":{}}},
             {"manager":"labeller","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1",
              "fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:l":{}}}}}]
            """, entries, Describe(lines));
        AssertJson("""
            {"error":{"code":422,"reason":"Invalid","message":"CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"},"surfaced":"exception"}
            """, lines[1], Describe(lines));

        var writes = ClientRequests(mark).Where(r => r.IsWrite).ToArray();
        Assert.Equal(
            [("create", 201, "creator"), ("patch", 200, "labeller"), ("create", 422, new string('m', 129))],
            writes.Select(r => (r.Verb, r.Code, r.FieldManager)).ToArray());
    }
}
