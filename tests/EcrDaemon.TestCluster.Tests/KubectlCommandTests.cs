using System.Text.Json.Nodes;
using EcrDaemon.Testing;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>Fidelity: the rest of the kubectl commands the project's docs and scripts use.</summary>
public sealed class KubectlCommandTests
{
    private const string Manifest = """
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: builder
          namespace: default
          labels: {team: LABEL}
        imagePullSecrets:
        - name: team-registry
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: plain
          namespace: default
        stringData:
          greeting: hello
        """;

    [ToolFact("kubectl")]
    public async Task Apply_creates_then_configures_plain_manifests()
    {
        await using var k = await KubectlSession.StartAsync();
        var file = Path.Combine(Path.GetTempPath(), $"manifest-{Guid.NewGuid():N}.yaml");
        try
        {
            await File.WriteAllTextAsync(file, Manifest.Replace("LABEL", "a", StringComparison.Ordinal));
            var first = await k.RunAsync("apply", "-f", file);
            Assert.True(first.ExitCode == 0, first.ToString());
            Assert.Contains("serviceaccount/builder created", first.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("secret/plain created", first.StandardOutput, StringComparison.Ordinal);
            var secret = k.Get(ResourceType.Secrets, "default", "plain").Json!;
            Assert.Equal("aGVsbG8=", secret["data"]!["greeting"]!.GetValue<string>());
            Assert.Null(secret["stringData"]);

            await File.WriteAllTextAsync(file, Manifest.Replace("LABEL", "b", StringComparison.Ordinal));
            var second = await k.RunAsync("apply", "-f", file);
            Assert.True(second.ExitCode == 0, second.ToString());
            Assert.Contains("serviceaccount/builder configured", second.StandardOutput, StringComparison.Ordinal);
            var sa = k.Get(ResourceType.ServiceAccounts, "default", "builder").Json!;
            Assert.Equal("b", sa["metadata"]!["labels"]!["team"]!.GetValue<string>());
            Assert.NotNull(sa["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [ToolFact("kubectl")]
    public async Task Annotate_and_merge_patch_and_create_serviceaccount()
    {
        await using var k = await KubectlSession.StartAsync();
        var create = await k.RunAsync("create", "serviceaccount", "builder");
        Assert.True(create.ExitCode == 0, create.ToString());

        Assert.Equal(0, (await k.RunAsync("annotate", "sa", "builder", "owner=platform")).ExitCode);
        var merge = await k.RunAsync("patch", "sa", "builder", "--type=merge", "-p", """{"imagePullSecrets":[{"name":"a"},{"name":"b"}]}""");
        Assert.True(merge.ExitCode == 0, merge.ToString());

        var sa = k.Get(ResourceType.ServiceAccounts, "default", "builder").Json!;
        Assert.Equal("platform", sa["metadata"]!["annotations"]!["owner"]!.GetValue<string>());
        Assert.Equal(["a", "b"], ((JsonArray)sa["imagePullSecrets"]!).Select(n => n!["name"]!.GetValue<string>()));
    }

    [ToolFact("kubectl")]
    public async Task Deleted_namespace_is_Terminating_refuses_new_content_then_wait_for_delete_returns()
    {
        await using var k = await KubectlSession.StartAsync(new TestClusterOptions { NamespaceDeletionDelay = TimeSpan.FromSeconds(2) });
        Assert.Equal(0, (await k.RunAsync("create", "namespace", "leaving")).ExitCode);
        Assert.Equal(0, (await k.RunAsync("create", "secret", "generic", "kept", "-n", "leaving", "--from-literal=a=b")).ExitCode);

        var delete = await k.RunAsync("delete", "namespace", "leaving", "--wait=false");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains("Terminating", (await k.RunAsync("get", "ns", "leaving")).StandardOutput, StringComparison.Ordinal);

        var refused = await k.RunAsync("create", "secret", "generic", "late", "-n", "leaving", "--from-literal=a=b");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("unable to create new content in namespace leaving because it is being terminated", refused.StandardError, StringComparison.Ordinal);

        var wait = await k.RunAsync("wait", "--for=delete", "namespace/leaving", "--timeout=30s");
        Assert.True(wait.ExitCode == 0, wait.ToString());
        Assert.False(k.Get(ResourceType.Namespaces, "", "leaving").Exists);
        Assert.False(k.Get(ResourceType.Secrets, "leaving", "kept").Exists);
    }

    [ToolFact("kubectl")]
    public async Task An_immutable_secrets_data_is_refused_with_the_real_message_and_the_secret_can_still_be_deleted()
    {
        await using var k = await KubectlSession.StartAsync();
        Assert.Equal(0, (await k.RunAsync("create", "secret", "generic", "frozen", "--from-literal=a=b")).ExitCode);
        var freeze = await k.RunAsync("patch", "secret", "frozen", "--type=merge", "-p", """{"immutable":true}""");
        Assert.True(freeze.ExitCode == 0, freeze.ToString());

        var change = await k.RunAsync("patch", "secret", "frozen", "--type=merge", "-p", """{"data":{"a":"Yw=="}}""");
        Assert.NotEqual(0, change.ExitCode);
        Assert.Contains("The Secret \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set", change.StandardError, StringComparison.Ordinal);
        Assert.Equal("Yg==", k.Get(ResourceType.Secrets, "default", "frozen").Json!["data"]!["a"]!.GetValue<string>());

        var delete = await k.RunAsync("delete", "secret", "frozen");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.False(k.Get(ResourceType.Secrets, "default", "frozen").Exists);
    }

    [ToolFact("kubectl")]
    public async Task Invalid_objects_are_refused_with_the_real_messages()
    {
        await using var k = await KubectlSession.StartAsync();
        var badName = await k.RunAsync("create", "namespace", "Bad_Name");
        Assert.NotEqual(0, badName.ExitCode);
        Assert.Contains("The Namespace \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label", badName.StandardError, StringComparison.Ordinal);

        var exists = await k.RunAsync("create", "serviceaccount", "default");
        Assert.NotEqual(0, exists.ExitCode);
        Assert.Contains("serviceaccounts \"default\" already exists", exists.StandardError, StringComparison.Ordinal);

        var noNamespace = await k.RunAsync("create", "secret", "generic", "x", "-n", "missing", "--from-literal=a=b");
        Assert.NotEqual(0, noNamespace.ExitCode);
        Assert.Contains("namespaces \"missing\" not found", noNamespace.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("kubectl")]
    public async Task A_serviceaccount_identity_is_held_to_the_loaded_rbac_rules()
    {
        await using var k = await KubectlSession.StartAsync(new TestClusterOptions
        {
            RbacYaml = """
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: reader}
                rules:
                - apiGroups: [""]
                  resources: [secrets]
                  verbs: [get]
                  resourceNames: [aws-registry]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: reader}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
                subjects:
                - {kind: ServiceAccount, name: ecr-daemon, namespace: ecr-daemon}
                """,
        });
        Assert.Equal(0, (await k.RunAsync("create", "secret", "generic", "aws-registry", "--from-literal=a=b")).ExitCode);
        Assert.Equal(0, (await k.RunAsync("create", "secret", "generic", "other", "--from-literal=a=b")).ExitCode);
        var saConfig = Path.Combine(Path.GetTempPath(), $"sa-{Guid.NewGuid():N}.kubeconfig");
        try
        {
            k.Server.WriteKubeconfig(saConfig, k.Server.ServiceAccountToken("ecr-daemon", "ecr-daemon"));

            Assert.Equal(0, (await k.RunAsAsync(saConfig, "get", "secret", "aws-registry", "-n", "default", "-o", "name")).ExitCode);
            var denied = await k.RunAsAsync(saConfig, "get", "secret", "other", "-n", "default");
            Assert.NotEqual(0, denied.ExitCode);
            Assert.Contains("Error from server (Forbidden): secrets \"other\" is forbidden: User \"system:serviceaccount:ecr-daemon:ecr-daemon\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\"",
                denied.StandardError, StringComparison.Ordinal);
            var list = await k.RunAsAsync(saConfig, "get", "secrets", "-n", "default");
            Assert.NotEqual(0, list.ExitCode);
            Assert.Contains("cannot list resource \"secrets\"", list.StandardError, StringComparison.Ordinal);
            Assert.True(k.Server.Requests.Count(verb: "get", resource: "secrets", identity: "system:serviceaccount:ecr-daemon:ecr-daemon", code: 403) >= 1);
        }
        finally
        {
            File.Delete(saConfig);
        }
    }
}
