using System.Net;
using System.Text;
using k8s;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>Create, update, patch, delete, validation and the namespace lifecycle through KubernetesClient.</summary>
public sealed class ClientWriteTests : IAsyncLifetime
{
    private const string Ns = "w";
    private TestClusterServer _server = null!;
    private Kubernetes _client = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(new TestClusterOptions { NamespaceDeletionDelay = TimeSpan.FromMilliseconds(300) });
        _client = Cluster.Client(_server);
        await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace(Ns));
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Create_with_generateName_picks_a_fresh_name_with_the_prefix()
    {
        var template = new V1Secret { Metadata = new V1ObjectMeta { GenerateName = "gen-" }, StringData = new Dictionary<string, string> { ["k"] = "v" } };
        var a = await _client.CoreV1.CreateNamespacedSecretAsync(template, Ns);
        var b = await _client.CoreV1.CreateNamespacedSecretAsync(template, Ns);

        Assert.Matches("^gen-[a-z0-9]{5}$", a.Metadata.Name);
        Assert.Matches("^gen-[a-z0-9]{5}$", b.Metadata.Name);
        Assert.NotEqual(a.Metadata.Name, b.Metadata.Name);
        Assert.Equal("gen-", a.Metadata.GenerateName);
        Assert.False(string.IsNullOrEmpty(a.Metadata.Uid));
        Assert.NotNull(a.Metadata.CreationTimestamp);
        Assert.Equal("Opaque", a.Type);
        Assert.Equal("v", Encoding.UTF8.GetString(a.Data["k"]));
        Assert.Null(a.StringData);
        var read = await _client.CoreV1.ReadNamespacedSecretAsync(a.Metadata.Name, Ns);
        Assert.Equal(a.Metadata.ResourceVersion, read.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Create_of_an_existing_name_is_409_AlreadyExists()
    {
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("dup", data: "x"), Ns);
        var status = await Cluster.FailsWith(HttpStatusCode.Conflict, () => _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("dup", data: "y"), Ns));
        Assert.Equal("AlreadyExists", status.Reason);
        Assert.Equal("secrets \"dup\" already exists", status.Message);
        Assert.Equal("dup", status.Details.Name);
        Assert.Equal("secrets", status.Details.Kind);
        Assert.Equal("x", Encoding.UTF8.GetString((await _client.CoreV1.ReadNamespacedSecretAsync("dup", Ns)).Data["key"]));
    }

    [Fact]
    public async Task Create_in_a_missing_namespace_is_404_and_get_of_a_missing_object_is_404()
    {
        var status = await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), "nope"));
        Assert.Equal("NotFound", status.Reason);
        Assert.Equal("namespaces \"nope\" not found", status.Message);

        var missing = await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.ReadNamespacedSecretAsync("absent", Ns));
        Assert.Equal("secrets \"absent\" not found", missing.Message);
        var lease = await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoordinationV1.ReadNamespacedLeaseAsync("absent", Ns));
        Assert.Equal("leases.coordination.k8s.io \"absent\" not found", lease.Message);
    }

    [Fact]
    public async Task Create_in_a_Terminating_namespace_is_403_with_the_real_message()
    {
        await using var server = await TestClusterServer.StartAsync(new TestClusterOptions { NamespaceDeletionDelay = TimeSpan.FromHours(1) });
        using var client = Cluster.Client(server);
        await client.CoreV1.CreateNamespaceAsync(Cluster.Namespace("going"));
        await client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("kept", data: "x"), "going");

        await client.CoreV1.DeleteNamespaceAsync("going");
        var ns = await client.CoreV1.ReadNamespaceAsync("going");
        Assert.Equal("Terminating", ns.Status.Phase);
        Assert.NotNull(ns.Metadata.DeletionTimestamp);

        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden, () => client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("new", data: "x"), "going"));
        Assert.Equal("Forbidden", status.Reason);
        Assert.Equal("secrets \"new\" is forbidden: unable to create new content in namespace going because it is being terminated", status.Message);
        var cause = Assert.Single(status.Details.Causes);
        Assert.Equal("NamespaceTerminating", cause.Reason);
        Assert.Equal("metadata.namespace", cause.Field);

        // Existing content is still readable and writable until the namespace is gone; deleting again is harmless.
        await client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"a":"b"}}}""", V1Patch.PatchType.MergePatch), "kept", "going");
        await client.CoreV1.DeleteNamespaceAsync("going");
        Assert.Equal("Terminating", (await client.CoreV1.ReadNamespaceAsync("going")).Status.Phase);
    }

    [Fact]
    public async Task A_deleted_namespace_and_its_contents_disappear_after_the_delay_and_watchers_see_DELETED()
    {
        await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace("doomed"));
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), "doomed");
        await _client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "sa" } }, "doomed");
        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("survivor", data: "x"), Ns);

        await using var secrets = WatchRecorder<V1Secret>.Start((onError, ct) =>
            _client.CoreV1.WatchListSecretForAllNamespacesAsync(onError: onError, cancellationToken: ct));
        await using var accounts = WatchRecorder<V1ServiceAccount>.Start((onError, ct) =>
            _client.CoreV1.WatchListNamespacedServiceAccountAsync("doomed", onError: onError, cancellationToken: ct));
        await secrets.WaitForEvent(WatchEventType.Added, "s");
        await accounts.WaitFor(e => e.Count(x => x.Type == WatchEventType.Added) == 2);

        await _client.CoreV1.DeleteNamespaceAsync("doomed");
        await secrets.WaitForEvent(WatchEventType.Deleted, "s");
        await accounts.WaitFor(e => e.Count(x => x.Type == WatchEventType.Deleted) == 2);
        await Cluster.UntilAsync(async () => (await _client.CoreV1.ListNamespaceAsync(fieldSelector: "metadata.name=doomed")).Items.Count == 0, () => "namespace doomed still listed");

        Assert.Empty((await _client.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "metadata.namespace=doomed")).Items);
        Assert.Empty((await _client.CoreV1.ListServiceAccountForAllNamespacesAsync(fieldSelector: "metadata.namespace=doomed")).Items);
        Assert.Equal(["Added s", "Deleted s"], secrets.Names().Where(n => n.EndsWith(" s", StringComparison.Ordinal)));
        Assert.DoesNotContain("Deleted survivor", secrets.Names());
        Assert.Equal(["default", "sa"], accounts.Events.Where(e => e.Type == WatchEventType.Deleted).Select(e => e.Object.Metadata.Name).Order(StringComparer.Ordinal));
        await _client.CoreV1.ReadNamespacedSecretAsync("survivor", Ns);

        // The name can be used again, and the new namespace gets its own "default" ServiceAccount.
        await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace("doomed"));
        Assert.Equal(["default"], (await _client.CoreV1.ListNamespacedServiceAccountAsync("doomed")).Items.Select(s => s.Metadata.Name));
    }

    [Fact]
    public async Task Every_new_namespace_gets_a_default_ServiceAccount_which_comes_back_when_deleted()
    {
        await _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace("fresh"));
        var sa = await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", "fresh");
        Assert.Equal("fresh", sa.Metadata.NamespaceProperty);
        foreach (var system in new[] { "default", "kube-system", "kube-public", "kube-node-lease", Ns })
        {
            await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", system);
        }

        await _client.CoreV1.DeleteNamespacedServiceAccountAsync("default", "fresh");
        var again = await _client.CoreV1.ReadNamespacedServiceAccountAsync("default", "fresh");
        Assert.NotEqual(sa.Metadata.Uid, again.Metadata.Uid);
    }

    [Fact]
    public async Task Update_with_a_stale_resourceVersion_is_409_and_without_one_succeeds()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "one"), Ns);
        var stale = await _client.CoreV1.ReadNamespacedSecretAsync("s", Ns);
        created.Data["key"] = Encoding.UTF8.GetBytes("two");
        var updated = await _client.CoreV1.ReplaceNamespacedSecretAsync(created, "s", Ns);
        Assert.NotEqual(created.Metadata.ResourceVersion, updated.Metadata.ResourceVersion);

        stale.Data["key"] = Encoding.UTF8.GetBytes("lost update");
        var status = await Cluster.FailsWith(HttpStatusCode.Conflict, () => _client.CoreV1.ReplaceNamespacedSecretAsync(stale, "s", Ns));
        Assert.Equal("Conflict", status.Reason);
        Assert.Equal("Operation cannot be fulfilled on secrets \"s\": the object has been modified; please apply your changes to the latest version and try again", status.Message);
        Assert.Equal("two", Encoding.UTF8.GetString((await _client.CoreV1.ReadNamespacedSecretAsync("s", Ns)).Data["key"]));

        stale.Metadata.ResourceVersion = null;
        var forced = await _client.CoreV1.ReplaceNamespacedSecretAsync(stale, "s", Ns);
        Assert.Equal("lost update", Encoding.UTF8.GetString(forced.Data["key"]));
        Assert.Equal(created.Metadata.Uid, forced.Metadata.Uid);
        Assert.Equal(created.Metadata.CreationTimestamp, forced.Metadata.CreationTimestamp);
    }

    [Fact]
    public async Task A_no_op_update_or_patch_keeps_the_resourceVersion_and_emits_no_event()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", new Dictionary<string, string> { ["a"] = "b" }, "one"), Ns);
        await using var watch = WatchRecorder<V1Secret>.Start((onError, ct) =>
            _client.CoreV1.WatchListNamespacedSecretAsync(Ns, resourceVersion: created.Metadata.ResourceVersion, onError: onError, cancellationToken: ct));

        var same = await _client.CoreV1.ReplaceNamespacedSecretAsync(created, "s", Ns);
        Assert.Equal(created.Metadata.ResourceVersion, same.Metadata.ResourceVersion);
        var patched = await _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"a":"b"}}}""", V1Patch.PatchType.MergePatch), "s", Ns);
        Assert.Equal(created.Metadata.ResourceVersion, patched.Metadata.ResourceVersion);
        var changed = await _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"a":"c"}}}""", V1Patch.PatchType.MergePatch), "s", Ns);
        Assert.NotEqual(created.Metadata.ResourceVersion, changed.Metadata.ResourceVersion);

        await watch.WaitForEvent(WatchEventType.Modified, "s");
        Assert.Equal(["Modified s"], watch.Names());
        Assert.Equal(changed.Metadata.ResourceVersion, watch.Events.Single().Object.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Json_patch_with_a_failing_test_op_is_422_and_changes_nothing()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", new Dictionary<string, string> { ["v"] = "1" }, "one"), Ns);
        var status = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """[{"op":"test","path":"/metadata/labels/v","value":"2"},{"op":"replace","path":"/metadata/labels/v","value":"3"}]""",
            V1Patch.PatchType.JsonPatch), "s", Ns));
        Assert.Equal("Invalid", status.Reason);
        var after = await _client.CoreV1.ReadNamespacedSecretAsync("s", Ns);
        Assert.Equal(created.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.Equal("1", after.Metadata.Labels["v"]);

        var ok = await _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """[{"op":"test","path":"/metadata/labels/v","value":"1"},{"op":"replace","path":"/metadata/labels/v","value":"3"},{"op":"add","path":"/metadata/labels/w","value":"4"}]""",
            V1Patch.PatchType.JsonPatch), "s", Ns);
        Assert.Equal("3", ok.Metadata.Labels["v"]);
        Assert.Equal("4", ok.Metadata.Labels["w"]);
    }

    [Fact]
    public async Task Strategic_merge_patch_replaces_imagePullSecrets_and_merges_secrets_by_name()
    {
        await _client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount
        {
            Metadata = new V1ObjectMeta { Name = "sa" },
            ImagePullSecrets = [new V1LocalObjectReference { Name = "old-1" }, new V1LocalObjectReference { Name = "old-2" }],
            Secrets = [new V1ObjectReference { Name = "tok-1" }, new V1ObjectReference { Name = "tok-2" }],
        }, Ns);

        var patched = await _client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(
            """{"imagePullSecrets":[{"name":"aws-registry"}],"secrets":[{"name":"tok-3"},{"name":"tok-1"}]}""",
            V1Patch.PatchType.StrategicMergePatch), "sa", Ns);

        Assert.Equal(["aws-registry"], patched.ImagePullSecrets.Select(r => r.Name));
        Assert.Equal(["tok-1", "tok-2", "tok-3"], patched.Secrets.Select(r => r.Name).Order(StringComparer.Ordinal));

        // A merge patch replaces any list; a JSON patch can append.
        var merged = await _client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(
            """{"secrets":[{"name":"only"}]}""", V1Patch.PatchType.MergePatch), "sa", Ns);
        Assert.Equal(["only"], merged.Secrets.Select(r => r.Name));
        var appended = await _client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(
            """[{"op":"add","path":"/imagePullSecrets/-","value":{"name":"second"}}]""", V1Patch.PatchType.JsonPatch), "sa", Ns);
        Assert.Equal(["aws-registry", "second"], appended.ImagePullSecrets.Select(r => r.Name));
    }

    [Fact]
    public async Task Delete_with_a_uid_precondition_mismatch_is_409_and_a_match_deletes()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), Ns);
        var status = await Cluster.FailsWith(HttpStatusCode.Conflict, () => _client.CoreV1.DeleteNamespacedSecretAsync(
            "s", Ns, new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = "00000000-0000-0000-0000-000000000000" } }));
        Assert.Equal("Conflict", status.Reason);
        Assert.Equal($"Operation cannot be fulfilled on secrets \"s\": Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: {created.Metadata.Uid}", status.Message);
        await _client.CoreV1.ReadNamespacedSecretAsync("s", Ns);

        await Cluster.FailsWith(HttpStatusCode.Conflict, () => _client.CoreV1.DeleteNamespacedSecretAsync(
            "s", Ns, new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = "1" } }));

        var deleted = await _client.CoreV1.DeleteNamespacedSecretAsync(
            "s", Ns, new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = created.Metadata.Uid, ResourceVersion = created.Metadata.ResourceVersion } });
        Assert.Equal("Success", deleted.Status);
        Assert.Equal(created.Metadata.Uid, deleted.Details.Uid);
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.ReadNamespacedSecretAsync("s", Ns));
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.DeleteNamespacedSecretAsync("s", Ns));
    }

    [Fact]
    public async Task Invalid_names_are_422_with_the_field_in_the_causes()
    {
        var secret = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("Bad_Name", data: "x"), Ns));
        Assert.Equal("Invalid", secret.Reason);
        Assert.StartsWith("Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain", secret.Message, StringComparison.Ordinal);
        Assert.Equal("metadata.name", Assert.Single(secret.Details.Causes).Field);
        Assert.Equal("Secret", secret.Details.Kind);

        var ns = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.CreateNamespaceAsync(Cluster.Namespace("has.dot")));
        Assert.StartsWith("Namespace \"has.dot\" is invalid: metadata.name: Invalid value: \"has.dot\": a lowercase RFC 1123 label", ns.Message, StringComparison.Ordinal);

        var label = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.CreateNamespacedSecretAsync(
            Cluster.Secret("ok", new Dictionary<string, string> { ["app"] = "not ok" }, "x"), Ns));
        Assert.Equal("metadata.labels", Assert.Single(label.Details.Causes).Field);
    }

    [Fact]
    public async Task A_dockerconfigjson_secret_needs_valid_json_under_the_right_key()
    {
        const string type = "kubernetes.io/dockerconfigjson";
        var missing = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.CreateNamespacedSecretAsync(
            Cluster.Secret("reg", data: "{}", type: type), Ns));
        Assert.Equal("Secret \"reg\" is invalid: data[.dockerconfigjson]: Required value", missing.Message);
        Assert.Equal("FieldValueRequired", Assert.Single(missing.Details.Causes).Reason);

        var badJson = new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "reg" },
            Type = type,
            Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = Encoding.UTF8.GetBytes("{not json") },
        };
        var invalid = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.CreateNamespacedSecretAsync(badJson, Ns));
        var cause = Assert.Single(invalid.Details.Causes);
        Assert.Equal("data[.dockerconfigjson]", cause.Field);
        Assert.Equal("FieldValueInvalid", cause.Reason);
        Assert.DoesNotContain("{not json", invalid.Message, StringComparison.Ordinal);

        badJson.Data[".dockerconfigjson"] = Encoding.UTF8.GetBytes("""{"auths":{"1.dkr.ecr.eu-west-1.amazonaws.com":{"auth":"QVdTOnRva2Vu"}}}""");
        var good = await _client.CoreV1.CreateNamespacedSecretAsync(badJson, Ns);
        Assert.Equal(type, good.Type);

        // An update that breaks the JSON is rejected too.
        var broken = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            "{\"data\":{\".dockerconfigjson\":\"" + Convert.ToBase64String(Encoding.UTF8.GetBytes("[oops")) + "\"}}", V1Patch.PatchType.MergePatch), "reg", Ns));
        Assert.Equal("data[.dockerconfigjson]", Assert.Single(broken.Details.Causes).Field);
    }

    [Fact]
    public async Task A_secrets_type_is_immutable()
    {
        var created = await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), Ns);
        Assert.Equal("Opaque", created.Type);
        var status = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"type":"kubernetes.io/basic-auth"}""", V1Patch.PatchType.MergePatch), "s", Ns));
        Assert.Equal("Secret \"s\" is invalid: type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable", status.Message);
        created.Type = "kubernetes.io/tls";
        await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity, () => _client.CoreV1.ReplaceNamespacedSecretAsync(created, "s", Ns));
        Assert.Equal("Opaque", (await _client.CoreV1.ReadNamespacedSecretAsync("s", Ns)).Type);
    }

    [Fact]
    public async Task Non_base64_secret_data_is_400()
    {
        using var http = Cluster.RawClient(_server);
        using var body = new StringContent("""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"raw"},"data":{"k":"%%% not base64"}}""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri($"/api/v1/namespaces/{Ns}/secrets", UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var status = KubernetesJson.Deserialize<V1Status>(await response.Content.ReadAsStringAsync());
        Assert.Equal("BadRequest", status.Reason);
        Assert.Equal("Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[k]", status.Message);
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _client.CoreV1.ReadNamespacedSecretAsync("raw", Ns));

        await _client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), Ns);
        var patch = await Cluster.FailsWith(HttpStatusCode.BadRequest, () => _client.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"data":{"key":"!!!"}}""", V1Patch.PatchType.MergePatch), "s", Ns));
        Assert.Contains("illegal base64 data in data[key]", patch.Message, StringComparison.Ordinal);
    }
}
