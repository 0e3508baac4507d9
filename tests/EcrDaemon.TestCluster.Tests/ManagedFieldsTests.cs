using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// Field managers as kube-apiserver keeps them for non-apply writes: the <c>fieldManager</c>
/// parameter of create, update and patch (validated by <c>ValidateFieldManager</c>, defaulted from
/// the User-Agent by <c>managerOrUserAgent</c>), and the <c>metadata.managedFields</c> entries the
/// field manager records (k8s.io/apimachinery/pkg/util/managedfields/internal,
/// sigs.k8s.io/structured-merge-diff). Requests are sent raw so that the query, the User-Agent
/// and the body are exactly what each test says; the server's clock is a manual one.
/// </summary>
public sealed class ManagedFieldsTests : IAsyncLifetime
{
    private const string Secrets = "/api/v1/namespaces/default/secrets";
    private readonly ManualTime _time = new(new DateTimeOffset(2026, 3, 1, 10, 0, 0, 250, TimeSpan.Zero));
    private TestClusterServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(time: _time);
        _http = Cluster.RawClient(_server);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed record Answer(HttpStatusCode Code, string Body)
    {
        public JsonObject Json => (JsonObject)JsonNode.Parse(Body)!;

        public override string ToString() => $"{(int)Code}: {Body}";
    }

    private async Task<Answer> SendAsync(HttpMethod method, string pathAndQuery, string? body = null, string contentType = "application/json",
        string? userAgent = "test-suite/1.0")
    {
        using var request = new HttpRequestMessage(method, pathAndQuery);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        }

        if (userAgent is not null)
        {
            request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        }

        using var response = await Cluster.Within(_http.SendAsync(request), pathAndQuery);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task<Answer> CreateAsync(string body, string query = "?fieldManager=creator", string? userAgent = "test-suite/1.0") =>
        SendAsync(HttpMethod.Post, Secrets + query, body, userAgent: userAgent);

    private Task<Answer> PatchAsync(string name, string body, string query, string contentType = "application/merge-patch+json") =>
        SendAsync(HttpMethod.Patch, $"{Secrets}/{name}{query}", body, contentType);

    private async Task<JsonObject> GetAsync(string name)
    {
        var answer = await SendAsync(HttpMethod.Get, $"{Secrets}/{name}");
        Assert.True(answer.Code == HttpStatusCode.OK, answer.ToString());
        return answer.Json;
    }

    private static JsonArray Entries(JsonObject obj) => (JsonArray)obj["metadata"]!["managedFields"]!;

    private static string[] Managers(JsonObject obj) => Entries(obj).Select(e => (string?)e!["manager"] ?? "").ToArray();

    private static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\nactual   {actual?.ToJsonString()}");

    private const string LabelledSecret = """
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","labels":{"app.kubernetes.io/managed-by":"ecr-daemon"}},
         "data":{"key":"dmFsdWU="}}
        """;

    [Fact]
    public async Task Create_records_one_Update_entry_with_the_fields_it_set_and_get_list_and_watch_return_it()
    {
        var created = await CreateAsync(LabelledSecret, "?fieldManager=ecr-daemon");
        Assert.True(created.Code == HttpStatusCode.Created, created.ToString());

        // The data map, the label and the defaulted type (SetDefaults_Secret runs before the field
        // manager); never name, namespace, uid, resourceVersion or creationTimestamp. A map the
        // write created is itself a member ("."); metadata never is.
        const string expected = """
            [{"manager":"ecr-daemon","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{".":{},"f:key":{}},"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/managed-by":{}}},"f:type":{}}}]
            """;
        AssertJson(expected, Entries(created.Json));
        AssertJson(expected, Entries(await GetAsync("s")));

        var list = await SendAsync(HttpMethod.Get, Secrets);
        AssertJson(expected, Entries((JsonObject)list.Json["items"]!.AsArray().Single(i => (string?)i!["metadata"]!["name"] == "s")!));

        // A watch that ends at once (timeoutSeconds=-1 would not send the initial ADDED; 1 s does).
        var watch = await SendAsync(HttpMethod.Get, Secrets + "?watch=1&fieldSelector=metadata.name%3Ds&timeoutSeconds=1");
        var added = (JsonObject)JsonNode.Parse(watch.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0])!;
        Assert.Equal("ADDED", (string?)added["type"]);
        AssertJson(expected, Entries((JsonObject)added["object"]!));

        // The wire form of the entry, in metav1.ManagedFieldsEntry's field order.
        Assert.Contains("\"managedFields\":[{\"manager\":\"ecr-daemon\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":\"2026-03-01T10:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\".\":{},\"f:key\":{}},",
            created.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_manager_gets_its_own_entry_and_takes_over_the_fields_it_changed()
    {
        await CreateAsync("""{"metadata":{"name":"s","labels":{"a":"1"}},"data":{"key":"dmFsdWU="}}""", "?fieldManager=alpha");
        _time.Now += TimeSpan.FromMinutes(5);

        var patched = await PatchAsync("s", """{"metadata":{"labels":{"a":"2","b":"1"}}}""", "?fieldManager=beta");
        Assert.True(patched.Code == HttpStatusCode.OK, patched.ToString());

        // Ordered by operation, then time: alpha (10:00) before beta (10:05). Alpha keeps the labels
        // map itself (a member with no children is {}) and loses the label beta changed; beta owns
        // exactly what it set.
        AssertJson("""
            [{"manager":"alpha","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{".":{},"f:key":{}},"f:metadata":{"f:labels":{}},"f:type":{}}},
             {"manager":"beta","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:05:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:metadata":{"f:labels":{"f:a":{},"f:b":{}}}}}]
            """, Entries(patched.Json));
    }

    [Fact]
    public async Task The_same_manager_updates_its_one_entry_and_a_write_that_changes_nothing_touches_none()
    {
        await CreateAsync("""{"metadata":{"name":"s"},"data":{"key":"dmFsdWU="}}""", "?fieldManager=ecr-daemon");
        _time.Now += TimeSpan.FromMinutes(1);

        var first = await PatchAsync("s", """{"metadata":{"labels":{"x":"1"}}}""", "?fieldManager=ecr-daemon");
        var entry = Assert.Single(Entries(first.Json))!;
        Assert.Equal("2026-03-01T10:01:00Z", (string?)entry["time"]);
        AssertJson("""{"f:data":{".":{},"f:key":{}},"f:metadata":{"f:labels":{".":{},"f:x":{}}},"f:type":{}}""", entry["fieldsV1"]);

        // A strategic merge patch and a JSON patch by the same manager: still one entry.
        _time.Now += TimeSpan.FromMinutes(1);
        var second = await PatchAsync("s", """{"data":{"other":"eA=="}}""", "?fieldManager=ecr-daemon", "application/strategic-merge-patch+json");
        var third = await PatchAsync("s", """[{"op":"remove","path":"/metadata/labels/x"}]""", "?fieldManager=ecr-daemon", "application/json-patch+json");
        entry = Assert.Single(Entries(third.Json))!;
        Assert.Equal("2026-03-01T10:02:00Z", (string?)Assert.Single(Entries(second.Json))!["time"]);
        // Removing a field changes the owner's set but is no change of its own: the time stays.
        Assert.Equal("2026-03-01T10:02:00Z", (string?)entry["time"]);
        AssertJson("""{"f:data":{".":{},"f:key":{},"f:other":{}},"f:metadata":{"f:labels":{}},"f:type":{}}""", entry["fieldsV1"]);

        // A no-op by another manager: nothing is written, no entry appears.
        _time.Now += TimeSpan.FromMinutes(1);
        var rv = (string?)third.Json["metadata"]!["resourceVersion"];
        var noop = await PatchAsync("s", """{"data":{"other":"eA=="}}""", "?fieldManager=bystander");
        Assert.Equal(rv, (string?)noop.Json["metadata"]!["resourceVersion"]);
        Assert.Equal(["ecr-daemon"], Managers(noop.Json));
    }

    [Fact]
    public async Task An_update_keeps_the_entries_it_was_read_with_or_the_live_ones_when_it_sends_none()
    {
        var created = (await CreateAsync("""{"metadata":{"name":"s"},"data":{"key":"dmFsdWU="}}""", "?fieldManager=creator")).Json;
        _time.Now += TimeSpan.FromMinutes(1);

        // A read-modify-write (the body carries the managedFields it read).
        created["data"]!["key"] = "Y2hhbmdlZA==";
        var put = await SendAsync(HttpMethod.Put, $"{Secrets}/s?fieldManager=updater", created.ToJsonString());
        Assert.True(put.Code == HttpStatusCode.OK, put.ToString());
        AssertJson("""
            [{"manager":"creator","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:00:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{},"f:type":{}}},
             {"manager":"updater","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:01:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:data":{"f:key":{}}}}]
            """, Entries(put.Json));

        // A client unaware of managedFields (none in the body) cannot drop them: the live ones stay.
        var body = put.Json;
        ((JsonObject)body["metadata"]!).Remove("managedFields");
        body["metadata"]!["labels"] = new JsonObject { ["l"] = "v" };
        _time.Now += TimeSpan.FromMinutes(1);
        var unaware = await SendAsync(HttpMethod.Put, $"{Secrets}/s?fieldManager=unaware", body.ToJsonString());
        Assert.Equal(["creator", "updater", "unaware"], Managers(unaware.Json));

        // So can a body whose managedFields do not decode (an unknown operation): the live ones stay.
        var bogus = unaware.Json;
        bogus["metadata"]!["managedFields"] = JsonNode.Parse("""[{"manager":"forged","operation":"Bogus","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{}}]""");
        bogus["metadata"]!["labels"]!["l"] = "w";
        var kept = await SendAsync(HttpMethod.Put, $"{Secrets}/s?fieldManager=unaware", bogus.ToJsonString());
        Assert.Equal(["creator", "updater", "unaware"], Managers(kept.Json));
    }

    [Fact]
    public async Task Managed_fields_sent_by_a_client_replace_the_live_ones_and_an_empty_list_resets_them()
    {
        await CreateAsync("""{"metadata":{"name":"s","labels":{"a":"1"}},"data":{"key":"dmFsdWU="}}""", "?fieldManager=creator");

        // managedFields: [] (or [{}]) resets them (fieldmanager.go isResetManagedFields): only this
        // write's own entry remains.
        _time.Now += TimeSpan.FromMinutes(1);
        var reset = await PatchAsync("s", """{"metadata":{"managedFields":[],"labels":{"b":"1"}}}""", "?fieldManager=resetter");
        AssertJson("""
            [{"manager":"resetter","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:01:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:metadata":{"f:labels":{"f:b":{}}}}}]
            """, Entries(reset.Json));

        // [{}] with no other change clears them all: the object has no managedFields left.
        var cleared = await PatchAsync("s", """{"metadata":{"managedFields":[{}]}}""", "?fieldManager=resetter");
        Assert.True(cleared.Code == HttpStatusCode.OK, cleared.ToString());
        Assert.Null(cleared.Json["metadata"]!["managedFields"]);
        Assert.Null((await GetAsync("s"))["metadata"]!["managedFields"]);

        // Valid entries in the body are taken as they are (this is how a user edits managedFields),
        // and the write's own change is recorded on top.
        var edited = await PatchAsync("s", """
            {"metadata":{"labels":{"c":"1"},"managedFields":[{"manager":"someone","operation":"Update","apiVersion":"v1",
              "time":"2020-01-02T03:04:05Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:a":{}}}}}]}}
            """, "?fieldManager=editor");
        AssertJson("""
            [{"manager":"someone","operation":"Update","apiVersion":"v1","time":"2020-01-02T03:04:05Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:metadata":{"f:labels":{"f:a":{}}}}},
             {"manager":"editor","operation":"Update","apiVersion":"v1","time":"2026-03-01T10:01:00Z","fieldsType":"FieldsV1",
              "fieldsV1":{"f:metadata":{"f:labels":{"f:c":{}}}}}]
            """, Entries(edited.Json));
    }

    [Fact]
    public async Task Without_fieldManager_the_manager_is_the_User_Agent_up_to_its_first_slash()
    {
        var created = await CreateAsync(LabelledSecret, "", userAgent: "kubectl-ish/v1.32.0 (linux/amd64) kubernetes/abc");
        Assert.True(created.Code == HttpStatusCode.Created, created.ToString());
        Assert.Equal("kubectl-ish", (string?)Assert.Single(Entries(created.Json))!["manager"]);

        // An empty fieldManager is no fieldManager.
        var patched = await SendAsync(HttpMethod.Patch, $"{Secrets}/s?fieldManager=", """{"metadata":{"labels":{"z":"1"}}}""",
            "application/merge-patch+json", userAgent: "other-tool");
        Assert.Equal(["kubectl-ish", "other-tool"], Managers(patched.Json));

        // Non-printable runes are dropped and the prefix is cut at 128 bytes.
        Assert.Equal("ab", FieldManagerOf("a\u0007b/1"));
        Assert.Equal(new string('m', 128), FieldManagerOf(new string('m', 200) + "/1"));
        Assert.Equal(new string('é', 64), FieldManagerOf(new string('é', 65)));
        Assert.Equal("", FieldManagerOf(""));

        // The request log shows both the parameter as sent and the manager recorded.
        var writes = _server.Requests.All.Where(r => r.IsWrite).ToArray();
        Assert.Equal([("create", "", "kubectl-ish"), ("patch", "", "other-tool")], writes.Select(r => (r.Verb, r.FieldManager, r.Manager)).ToArray());
    }

    private static string FieldManagerOf(string userAgent) => Api.FieldManager.FromUserAgent(userAgent);

    [Fact]
    public async Task An_invalid_fieldManager_is_422_on_the_write_options_and_nothing_is_written()
    {
        // ValidateFieldManager (apimachinery 0.32): more than 128 bytes is field.TooLong, which
        // omits the value; each non-printable rune is field.Invalid with %#U and its byte offset, the
        // value printed with %q (so BEL is \a).
        var tooLong = await CreateAsync(LabelledSecret, "?fieldManager=" + new string('a', 129));
        AssertInvalid(tooLong, "CreateOptions", "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes",
            ("FieldValueTooLong", "Too long: may not be more than 128 bytes"));
        Assert.Null(_server.Store.Get(Api.ResourceType.Secrets, "default", "s"));

        // 65 two-byte runes are 130 bytes: the limit is in bytes, not characters.
        var wide = await CreateAsync(LabelledSecret, "?fieldManager=" + Uri.EscapeDataString(new string('é', 65)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wide.Code);

        // Exactly 128 bytes is fine.
        var longest = await CreateAsync(LabelledSecret, "?fieldManager=" + new string('a', 128));
        Assert.True(longest.Code == HttpStatusCode.Created, longest.ToString());

        var bell = await PatchAsync("s", """{"metadata":{"labels":{"x":"1"}}}""", "?fieldManager=a%07b%C3%A9%0A");
        AssertInvalid(bell, "PatchOptions",
            "PatchOptions.meta.k8s.io \"\" is invalid: [fieldManager: Invalid value: \"a\\abé\\n\": invalid character U+0007 (at position 1), "
            + "fieldManager: Invalid value: \"a\\abé\\n\": invalid character U+000A (at position 5)]",
            ("FieldValueInvalid", "Invalid value: \"a\\abé\\n\": invalid character U+0007 (at position 1)"),
            ("FieldValueInvalid", "Invalid value: \"a\\abé\\n\": invalid character U+000A (at position 5)"));

        var current = await GetAsync("s");
        current["metadata"]!["labels"]!["y"] = "1";
        var put = await SendAsync(HttpMethod.Put, $"{Secrets}/s?fieldManager=%7F", current.ToJsonString());
        AssertInvalid(put, "UpdateOptions", "UpdateOptions.meta.k8s.io \"\" is invalid: fieldManager: Invalid value: \"\\x7f\": invalid character U+007F (at position 0)",
            ("FieldValueInvalid", "Invalid value: \"\\x7f\": invalid character U+007F (at position 0)"));
        Assert.Null((await GetAsync("s"))["metadata"]!["labels"]!["x"]);
        Assert.Null((await GetAsync("s"))["metadata"]!["labels"]!["y"]);

        // A patch type the server does not serve is 415 before the options are looked at.
        var apply = await PatchAsync("s", "{}", "?fieldManager=" + new string('a', 129), "application/apply-patch+yaml");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, apply.Code);

        // Verbs without write options ignore the parameter.
        var get = await SendAsync(HttpMethod.Get, $"{Secrets}/s?fieldManager=" + new string('a', 129));
        Assert.Equal(HttpStatusCode.OK, get.Code);

        // The refused writes are in the request log with the parameter they carried.
        var refused = _server.Requests.All.Where(r => r.Code == 422).ToArray();
        Assert.Equal(4, refused.Length);
        Assert.Equal(new string('a', 129), refused[0].FieldManager);
        Assert.Equal("a\u0007bé\n", refused[2].FieldManager);
    }

    private static void AssertInvalid(Answer answer, string kind, string message, params (string Reason, string Message)[] causes)
    {
        Assert.True(answer.Code == HttpStatusCode.UnprocessableEntity, answer.ToString());
        var status = answer.Json;
        Assert.Equal("Invalid", (string?)status["reason"]);
        Assert.True(message == (string?)status["message"], $"expected {message}\nactual   {status["message"]}");
        var details = (JsonObject)status["details"]!;
        // metav1.StatusDetails.Name is omitempty: an options object has none.
        Assert.False(details.ContainsKey("name"), details.ToJsonString());
        Assert.Equal("meta.k8s.io", (string?)details["group"]);
        Assert.Equal(kind, (string?)details["kind"]);
        Assert.Equal(causes, details["causes"]!.AsArray().Select(c => ((string)c!["reason"]!, (string)c["message"]!)).ToArray());
        Assert.All(details["causes"]!.AsArray(), c => Assert.Equal("fieldManager", (string?)c!["field"]));
    }

    [Fact]
    public async Task Keyed_and_atomic_lists_and_namespaces_are_recorded_as_the_real_schema_says()
    {
        // ServiceAccount.secrets merges by name (items are atomic ObjectReferences);
        // imagePullSecrets is atomic.
        var sa = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/serviceaccounts?fieldManager=sa-maker",
            """{"metadata":{"name":"builder"},"secrets":[{"name":"token"}],"imagePullSecrets":[{"name":"a"},{"name":"b"}]}""");
        Assert.True(sa.Code == HttpStatusCode.Created, sa.ToString());
        AssertJson("""{"f:imagePullSecrets":{},"f:secrets":{".":{},"k:{\"name\":\"token\"}":{}}}""", Assert.Single(Entries(sa.Json))!["fieldsV1"]);

        // A namespace: the defaulted kubernetes.io/metadata.name label is the creator's; spec and
        // status are not (status is reset by the strategy, spec.finalizers set after the field manager).
        var ns = await SendAsync(HttpMethod.Post, "/api/v1/namespaces?fieldManager=kubectl-create", """{"metadata":{"name":"team-a"}}""");
        Assert.True(ns.Code == HttpStatusCode.Created, ns.ToString());
        AssertJson("""{"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{}}}}""", Assert.Single(Entries(ns.Json))!["fieldsV1"]);

        // Finalizers are a set, ownerReferences a list keyed by uid.
        var owned = await CreateAsync("""
            {"metadata":{"name":"owned","finalizers":["example.com/keep"],
              "ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"u-1"}]},"type":"Opaque"}
            """, "?fieldManager=owner");
        AssertJson("""
            {"f:metadata":{"f:finalizers":{".":{},"v:\"example.com/keep\"":{}},
              "f:ownerReferences":{".":{},"k:{\"uid\":\"u-1\"}":{".":{},"f:apiVersion":{},"f:kind":{},"f:name":{},"f:uid":{}}}},"f:type":{}}
            """, Assert.Single(Entries(owned.Json))!["fieldsV1"]);

        // The test cluster's own seeding (the namespaces it starts with, the default ServiceAccount)
        // records no entry, as the default ServiceAccount has none on a real cluster.
        Assert.Null(_server.Store.Get(Api.ResourceType.ServiceAccounts, "team-a", "default")!.Node["metadata"]!["managedFields"]);
    }

    [Fact]
    public async Task Beyond_ten_update_managers_the_oldest_merge_into_ancient_changes()
    {
        await CreateAsync("""{"metadata":{"name":"s"},"data":{"k0":"eA=="}}""", "?fieldManager=m00");
        for (var i = 1; i <= 10; i++)
        {
            _time.Now += TimeSpan.FromSeconds(10);
            var answer = await PatchAsync("s", "{\"data\":{\"k" + i + "\":\"eA==\"}}", $"?fieldManager=m{i:00}");
            Assert.True(answer.Code == HttpStatusCode.OK, answer.ToString());
        }

        // capmanagers.go: 11 entries, the two oldest (m00, m01) become one "ancient-changes" entry
        // with both field sets and the newer one's time.
        var entries = Entries(await GetAsync("s"));
        Assert.Equal(10, entries.Count);
        var ancient = entries.Single(e => (string?)e!["manager"] == "ancient-changes")!;
        Assert.Equal("2026-03-01T10:00:10Z", (string?)ancient["time"]);
        AssertJson("""{"f:data":{".":{},"f:k0":{},"f:k1":{}},"f:type":{}}""", ancient["fieldsV1"]);
        Assert.DoesNotContain(entries, e => (string?)e!["manager"] is "m00" or "m01");
    }

    [Fact]
    public async Task KubernetesClient_writes_carry_their_fieldManager_into_entries_and_the_request_log()
    {
        using var client = Cluster.Client(_server);
        var mark = _server.Requests.Mark();
        await client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("kc", data: "x"), "default", fieldManager: "ecr-daemon");
        var patch = new V1Patch("""{"metadata":{"labels":{"p":"1"}}}""", V1Patch.PatchType.MergePatch);
        await client.CoreV1.PatchNamespacedSecretAsync(patch, "kc", "default", fieldManager: "ecr-daemon");
        var read = await client.CoreV1.ReadNamespacedSecretAsync("kc", "default");
        read.Metadata.Labels["q"] = "1";
        var replaced = await client.CoreV1.ReplaceNamespacedSecretAsync(read, "kc", "default", fieldManager: "replacer");
        await client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"r":"1"}}}""", V1Patch.PatchType.MergePatch), "kc", "default");

        var entries = (await client.CoreV1.ReadNamespacedSecretAsync("kc", "default")).Metadata.ManagedFields;
        Assert.Equal("ecr-daemon", entries[0].Manager);
        Assert.Equal("Update", entries[0].Operation);
        Assert.Equal("v1", entries[0].ApiVersion);
        Assert.Equal("FieldsV1", entries[0].FieldsType);
        Assert.Equal(new DateTime(2026, 3, 1, 10, 0, 0, DateTimeKind.Utc), entries[0].Time!.Value.ToUniversalTime());
        Assert.Contains(replaced.Metadata.ManagedFields, e => e.Manager == "replacer");

        var writes = _server.Requests.Since(mark).Where(r => r.IsWrite).ToArray();
        Assert.Equal(
            [("create", "ecr-daemon"), ("patch", "ecr-daemon"), ("update", "replacer"), ("patch", "")],
            writes.Select(r => (r.Verb, r.FieldManager)).ToArray());
        // KubernetesClient's own User-Agent names the last patch's manager.
        var unnamed = writes[^1].Manager;
        Assert.False(string.IsNullOrEmpty(unnamed));
        Assert.Contains(entries, e => e.Manager == unnamed);
        Assert.All(_server.Requests.Since(mark).Where(r => !r.IsWrite), r => Assert.Equal(("", ""), (r.FieldManager, r.Manager)));
    }
}
