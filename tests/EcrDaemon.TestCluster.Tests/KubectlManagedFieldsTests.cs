using System.Text.Json.Nodes;
using EcrDaemon.Testing;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// Fidelity: real kubectl names each command's writes (<c>fieldManager=kubectl-create</c>,
/// <c>kubectl-label</c>, <c>kubectl-patch</c>, <c>kubectl-client-side-apply</c>), and the entries
/// the test cluster records are the ones a real cluster shows for the same commands
/// (<c>kubectl get -o json --show-managed-fields</c>).
/// </summary>
public sealed class KubectlManagedFieldsTests
{
    private static JsonArray ManagedFields(string json) => (JsonArray)JsonNode.Parse(json)!["metadata"]!["managedFields"]!;

    private static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\nactual   {actual?.ToJsonString()}");

    [ToolFact("kubectl")]
    public async Task Create_label_and_patch_each_record_their_kubectl_manager()
    {
        await using var k = await KubectlSession.StartAsync();
        var mark = k.Server.Requests.Mark();
        foreach (var args in new[]
                 {
                     new[] { "create", "namespace", "team-a" },
                     ["create", "secret", "generic", "creds", "-n", "team-a", "--from-literal=user=me"],
                     ["label", "secret", "creds", "-n", "team-a", "app.kubernetes.io/managed-by=ecr-daemon"],
                     ["patch", "secret", "creds", "-n", "team-a", "-p", """{"data":{"token":"dA=="}}"""],
                 })
        {
            var run = await k.RunAsync(args);
            Assert.True(run.ExitCode == 0, run.ToString());
        }

        var get = await k.RunAsync("get", "secret", "creds", "-n", "team-a", "-o", "json", "--show-managed-fields");
        Assert.True(get.ExitCode == 0, get.ToString());
        var entries = ManagedFields(get.StandardOutput);
        Assert.Equal(["kubectl-create", "kubectl-label", "kubectl-patch"], entries.Select(e => (string)e!["manager"]!).ToArray());
        Assert.All(entries, e => Assert.Equal(("Update", "v1", "FieldsV1"), ((string)e!["operation"]!, (string)e["apiVersion"]!, (string)e["fieldsType"]!)));
        AssertJson("""{"f:data":{".":{},"f:user":{}},"f:type":{}}""", entries[0]!["fieldsV1"]);
        AssertJson("""{"f:metadata":{"f:labels":{".":{},"f:app.kubernetes.io/managed-by":{}}}}""", entries[1]!["fieldsV1"]);
        AssertJson("""{"f:data":{"f:token":{}}}""", entries[2]!["fieldsV1"]);

        // kubectl hides managedFields unless asked, as it does against a real server.
        var plain = await k.RunAsync("get", "secret", "creds", "-n", "team-a", "-o", "json");
        Assert.Null(JsonNode.Parse(plain.StandardOutput)!["metadata"]!["managedFields"]);

        // The namespace: kubectl-create owns the defaulted kubernetes.io/metadata.name label.
        var ns = ManagedFields((await k.RunAsync("get", "namespace", "team-a", "-o", "json", "--show-managed-fields")).StandardOutput);
        Assert.Equal("kubectl-create", (string?)Assert.Single(ns)!["manager"]);
        AssertJson("""{"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{}}}}""", ns[0]!["fieldsV1"]);

        // What kubectl sent, from the request log.
        var writes = k.Server.Requests.Since(mark).Where(r => r.IsWrite).ToArray();
        Assert.Equal(
            [("create", "namespaces", "kubectl-create"), ("create", "secrets", "kubectl-create"), ("patch", "secrets", "kubectl-label"), ("patch", "secrets", "kubectl-patch")],
            writes.Select(r => (r.Verb, r.Resource, r.FieldManager)).ToArray());
    }

    [ToolFact("kubectl")]
    public async Task Client_side_apply_records_kubectl_client_side_apply_with_the_last_applied_annotation()
    {
        await using var k = await KubectlSession.StartAsync();
        var file = Path.Combine(Path.GetTempPath(), $"managed-{Guid.NewGuid():N}.yaml");
        try
        {
            await File.WriteAllTextAsync(file, """
                apiVersion: v1
                kind: Secret
                metadata:
                  name: plain
                  namespace: default
                stringData:
                  greeting: hello
                """);
            var apply = await k.RunAsync("apply", "-f", file);
            Assert.True(apply.ExitCode == 0, apply.ToString());

            var entry = Assert.Single(ManagedFields(k.Get(ResourceType.Secrets, "default", "plain").Json!.ToJsonString()))!;
            Assert.Equal(("kubectl-client-side-apply", "Update"), ((string)entry["manager"]!, (string)entry["operation"]!));
            AssertJson("""
                {"f:data":{".":{},"f:greeting":{}},
                 "f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}},"f:type":{}}
                """, entry["fieldsV1"]);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
