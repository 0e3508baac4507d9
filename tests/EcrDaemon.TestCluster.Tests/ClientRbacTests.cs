using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>The daemon's RBAC (a ClusterRole with resourceNames) enforced on a ServiceAccount token, through KubernetesClient.</summary>
public sealed class ClientRbacTests : IAsyncLifetime
{
    internal const string DaemonRbac = """
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: ecr-daemon
          namespace: ecr-daemon
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: ecr-daemon
        rules:
          - apiGroups: [""]
            resources: ["namespaces"]
            verbs: ["get", "list", "watch"]
          - apiGroups: [""]
            resources: ["serviceaccounts"]
            verbs: ["get", "list", "watch", "patch"]
          - apiGroups: [""]
            resources: ["secrets"]
            verbs: ["create"]
          - apiGroups: [""]
            resources: ["secrets"]
            resourceNames: ["aws-registry"]
            verbs: ["get", "list", "watch", "update", "patch", "delete"]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: ecr-daemon
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: ecr-daemon
        subjects:
          - kind: ServiceAccount
            name: ecr-daemon
            namespace: ecr-daemon
        """;

    private const string Sa = "system:serviceaccount:ecr-daemon:ecr-daemon";
    private TestClusterServer _server = null!;
    private Kubernetes _admin = null!;
    private Kubernetes _daemon = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(new TestClusterOptions { RbacYaml = DaemonRbac });
        _admin = Cluster.Client(_server);
        _daemon = Cluster.Client(_server, _server.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
        foreach (var ns in new[] { "ecr-daemon", "ns", "ns2" })
        {
            await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace(ns));
        }

        foreach (var ns in new[] { "ns", "ns2" })
        {
            await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("aws-registry", data: "x"), ns);
            await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("other", data: "x"), ns);
        }
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        _daemon.Dispose();
        await _server.DisposeAsync();
    }

    private static async Task<V1Status> Forbidden(Func<Task> call, string expectedMessage)
    {
        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden, call);
        Assert.Equal("Forbidden", status.Reason);
        Assert.Equal(expectedMessage, status.Message);
        return status;
    }

    [Fact]
    public async Task Secrets_are_held_to_resourceNames()
    {
        var mark = _server.Requests.Mark();
        var secret = await _daemon.CoreV1.ReadNamespacedSecretAsync("aws-registry", "ns");
        Assert.Equal("aws-registry", secret.Metadata.Name);

        var status = await Forbidden(() => _daemon.CoreV1.ReadNamespacedSecretAsync("other", "ns"),
            $"secrets \"other\" is forbidden: User \"{Sa}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns\"");
        Assert.Equal("other", status.Details.Name);
        Assert.Equal("secrets", status.Details.Kind);

        // Allowed verbs on the named secret, forbidden on any other name.
        secret.Metadata.Labels = new Dictionary<string, string> { ["managed-by"] = "ecr-daemon" };
        secret = await _daemon.CoreV1.ReplaceNamespacedSecretAsync(secret, "aws-registry", "ns");
        await _daemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"x":"y"}}}""", V1Patch.PatchType.MergePatch), "aws-registry", "ns");
        await Forbidden(() => _daemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"metadata":{"labels":{"x":"y"}}}""", V1Patch.PatchType.MergePatch), "other", "ns"),
            $"secrets \"other\" is forbidden: User \"{Sa}\" cannot patch resource \"secrets\" in API group \"\" in the namespace \"ns\"");
        await Forbidden(() => _daemon.CoreV1.DeleteNamespacedSecretAsync("other", "ns"),
            $"secrets \"other\" is forbidden: User \"{Sa}\" cannot delete resource \"secrets\" in API group \"\" in the namespace \"ns\"");
        await _daemon.CoreV1.DeleteNamespacedSecretAsync("aws-registry", "ns");

        // Authorization comes before existence: a permitted name that is missing is 404, a forbidden one 403.
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _daemon.CoreV1.ReadNamespacedSecretAsync("aws-registry", "ns"));
        await Forbidden(() => _daemon.CoreV1.ReadNamespacedSecretAsync("missing", "ns"),
            $"secrets \"missing\" is forbidden: User \"{Sa}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns\"");

        // Create has no name at authorization time, so the unrestricted create rule allows any secret.
        await _daemon.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("aws-registry", data: "new"), "ns");
        await _daemon.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("anything", data: "x"), "ns2");
        await Forbidden(() => _daemon.CoreV1.ReadNamespacedSecretAsync("anything", "ns2"),
            $"secrets \"anything\" is forbidden: User \"{Sa}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns2\"");

        var denials = _server.Requests.Since(mark).Where(r => r.Code == 403).ToArray();
        Assert.Equal(5, denials.Length);
        Assert.All(denials, r => Assert.Equal(Sa, r.Identity));
        Assert.All(denials, r => Assert.Equal("secrets", r.Resource));
        Assert.Equal(["get other", "patch other", "delete other", "get missing", "get anything"], denials.Select(r => $"{r.Verb} {r.Name}"));
        Assert.Equal(5, _server.Requests.Count(code: 403, identity: Sa, since: mark));
        Assert.Equal(0, _server.Requests.Count(code: 403, identity: "kubernetes-admin", since: mark));
    }

    [Fact]
    public async Task Listing_and_watching_secrets_needs_a_metadata_name_field_selector()
    {
        await Forbidden(() => _daemon.CoreV1.ListSecretForAllNamespacesAsync(),
            $"secrets is forbidden: User \"{Sa}\" cannot list resource \"secrets\" in API group \"\" at the cluster scope");
        await Forbidden(() => _daemon.CoreV1.ListNamespacedSecretAsync("ns"),
            $"secrets is forbidden: User \"{Sa}\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns\"");
        await Forbidden(() => _daemon.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "metadata.name=other"),
            $"secrets is forbidden: User \"{Sa}\" cannot list resource \"secrets\" in API group \"\" at the cluster scope");
        await Forbidden(() => _daemon.CoreV1.ListSecretForAllNamespacesAsync(labelSelector: "app=aws-registry"),
            $"secrets is forbidden: User \"{Sa}\" cannot list resource \"secrets\" in API group \"\" at the cluster scope");

        var list = await _daemon.CoreV1.ListSecretForAllNamespacesAsync(fieldSelector: "metadata.name=aws-registry");
        Assert.Equal(["ns/aws-registry", "ns2/aws-registry"], list.Items.Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}").Order(StringComparer.Ordinal));
        var namespaced = await _daemon.CoreV1.ListNamespacedSecretAsync("ns", fieldSelector: "metadata.name=aws-registry");
        Assert.Equal("aws-registry", Assert.Single(namespaced.Items).Metadata.Name);

        await using var allowed = WatchRecorder<V1Secret>.Start((onError, ct) => _daemon.CoreV1.WatchListSecretForAllNamespacesAsync(
            fieldSelector: "metadata.name=aws-registry", onError: onError, cancellationToken: ct));
        await allowed.WaitFor(e => e.Count == 2);
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("aws-registry", data: "x"), "default");
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("not-it", data: "x"), "default");
        await _admin.CoreV1.DeleteNamespacedSecretAsync("aws-registry", "ns2");
        await allowed.WaitFor(e => e.Any(x => x.Type == WatchEventType.Deleted));
        Assert.Equal(["Added aws-registry", "Added aws-registry", "Added aws-registry", "Deleted aws-registry"], allowed.Names());
        Assert.Equal("ns2", allowed.Events[^1].Object.Metadata.NamespaceProperty);

        await using var denied = WatchRecorder<V1Secret>.Start((onError, ct) => _daemon.CoreV1.WatchListSecretForAllNamespacesAsync(
            onError: onError, cancellationToken: ct));
        await denied.WaitForEnd();
        var e = Assert.IsType<HttpOperationException>(denied.StreamException);
        Assert.Equal(HttpStatusCode.Forbidden, e.Response.StatusCode);
        Assert.Equal($"secrets is forbidden: User \"{Sa}\" cannot watch resource \"secrets\" in API group \"\" at the cluster scope",
            KubernetesJson.Deserialize<V1Status>(e.Response.Content).Message);
        Assert.Empty(denied.Events);

        Assert.Equal(1, _server.Requests.Count(verb: "watch", resource: "secrets", identity: Sa, code: 403));
        Assert.Equal(1, _server.Requests.Count(verb: "watch", resource: "secrets", identity: Sa, code: 200));
        Assert.Equal(4, _server.Requests.Count(verb: "list", resource: "secrets", identity: Sa, code: 403));
        Assert.Equal(2, _server.Requests.Count(verb: "list", resource: "secrets", identity: Sa, code: 200));
    }

    [Fact]
    public async Task Namespaces_are_read_only_and_serviceaccounts_patchable_for_the_daemon()
    {
        var namespaces = await _daemon.CoreV1.ListNamespaceAsync();
        Assert.Contains("ns", namespaces.Items.Select(n => n.Metadata.Name));
        await _daemon.CoreV1.ReadNamespaceAsync("ns2");
        await Forbidden(() => _daemon.CoreV1.DeleteNamespaceAsync("ns"),
            $"namespaces \"ns\" is forbidden: User \"{Sa}\" cannot delete resource \"namespaces\" in API group \"\" at the cluster scope");
        await Forbidden(() => _daemon.CoreV1.CreateNamespaceAsync(Cluster.Namespace("mine")),
            $"namespaces is forbidden: User \"{Sa}\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope");
        Assert.Equal("Active", (await _admin.CoreV1.ReadNamespaceAsync("ns")).Status.Phase);

        var sa = await _daemon.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(
            """{"imagePullSecrets":[{"name":"aws-registry"}]}""", V1Patch.PatchType.StrategicMergePatch), "default", "ns");
        Assert.Equal("aws-registry", Assert.Single(sa.ImagePullSecrets).Name);
        await Forbidden(() => _daemon.CoreV1.ReplaceNamespacedServiceAccountAsync(sa, "default", "ns"),
            $"serviceaccounts \"default\" is forbidden: User \"{Sa}\" cannot update resource \"serviceaccounts\" in API group \"\" in the namespace \"ns\"");
        await Forbidden(() => _daemon.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "x" } }, "ns"),
            $"serviceaccounts is forbidden: User \"{Sa}\" cannot create resource \"serviceaccounts\" in API group \"\" in the namespace \"ns\"");
        Assert.NotEmpty((await _daemon.CoreV1.ListServiceAccountForAllNamespacesAsync()).Items);

        await Forbidden(() => _daemon.CoordinationV1.ListNamespacedLeaseAsync("ecr-daemon"),
            $"leases.coordination.k8s.io is forbidden: User \"{Sa}\" cannot list resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"ecr-daemon\"");
        await Forbidden(() => _daemon.CoreV1.CreateNamespacedEventAsync(new Corev1Event { Metadata = new V1ObjectMeta { Name = "e" }, InvolvedObject = new V1ObjectReference() }, "ns"),
            $"events is forbidden: User \"{Sa}\" cannot create resource \"events\" in API group \"\" in the namespace \"ns\"");
    }

    [Fact]
    public async Task Other_identities_the_admin_and_unknown_tokens()
    {
        using var stranger = Cluster.Client(_server, _server.ServiceAccountToken("ns", "default"));
        await Forbidden(() => stranger.CoreV1.ReadNamespacedSecretAsync("aws-registry", "ns"),
            "secrets \"aws-registry\" is forbidden: User \"system:serviceaccount:ns:default\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns\"");
        await Forbidden(() => stranger.CoreV1.ListNamespaceAsync(),
            "namespaces is forbidden: User \"system:serviceaccount:ns:default\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope");

        // The admin is unrestricted.
        Assert.Equal(4, (await _admin.CoreV1.ListSecretForAllNamespacesAsync()).Items.Count);
        await _admin.CoreV1.ReadNamespacedSecretAsync("other", "ns");
        await _admin.CoreV1.DeleteNamespacedSecretAsync("other", "ns");
        await _admin.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease { Metadata = new V1ObjectMeta { Name = "l" }, Spec = new V1LeaseSpec { HolderIdentity = "me" } }, "ns");
        await _admin.CoreV1.DeleteNamespaceAsync("ns2");

        using var nobody = Cluster.Client(_server, "not-a-token");
        var status = await Cluster.FailsWith(HttpStatusCode.Unauthorized, () => nobody.CoreV1.ListNamespaceAsync());
        Assert.Equal("Unauthorized", status.Reason);
        Assert.Equal(1, _server.Requests.Count(identity: "anonymous", code: 401));
    }

    [Fact]
    public async Task Rules_can_be_replaced_at_run_time()
    {
        await Forbidden(() => _daemon.CoreV1.ReadNamespacedSecretAsync("other", "ns"),
            $"secrets \"other\" is forbidden: User \"{Sa}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns\"");
        _server.LoadRbac("""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: reader, namespace: ns}
            rules:
              - apiGroups: [""]
                resources: ["secrets"]
                verbs: ["get"]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: reader, namespace: ns}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
            subjects:
              - {kind: ServiceAccount, name: ecr-daemon, namespace: ecr-daemon}
            """);
        await _daemon.CoreV1.ReadNamespacedSecretAsync("other", "ns");
        await Forbidden(() => _daemon.CoreV1.ReadNamespacedSecretAsync("other", "ns2"),
            $"secrets \"other\" is forbidden: User \"{Sa}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns2\"");
        await Forbidden(() => _daemon.CoreV1.ListNamespaceAsync(),
            $"namespaces is forbidden: User \"{Sa}\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope");
    }
}
