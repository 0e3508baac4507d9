using EcrDaemon.Testing;
using System.Net;
using System.Text;
using k8s;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// ValidatingAdmissionPolicies enforced by the test cluster: matching (resourceRules, operations,
/// binding namespaceSelector), matchConditions, variables, the bindings object/oldObject/request on
/// every write, failurePolicy, validationActions, and the denial status of the real dispatcher.
/// </summary>
public sealed class AdmissionPolicyTests : IAsyncLifetime
{
    private const string Daemon = "system:serviceaccount:ecr-daemon:ecr-daemon";
    private const string Ns = "apps";

    /// <summary>RBAC as the daemon's, and a second ServiceAccount ("other") bound to the same ClusterRole.</summary>
    private static readonly string Rbac = ClientRbacTests.DaemonRbac + RbacYaml.ClusterRoleBinding("ecr-daemon-other", "ecr-daemon", "ecr-daemon", "other");

    private const string RegistryPolicy = """
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicy
        metadata:
          name: registry-secrets
        spec:
          failurePolicy: Fail
          matchConstraints:
            resourceRules:
              - apiGroups: [""]
                apiVersions: ["v1"]
                resources: ["secrets"]
                operations: ["CREATE", "UPDATE"]
          matchConditions:
            - name: is-daemon
              expression: "request.userInfo.username == 'system:serviceaccount:ecr-daemon:ecr-daemon'"
          variables:
            - name: wanted
              expression: "'kubernetes.io/dockerconfigjson'"
          validations:
            - expression: "object.type == variables.wanted"
              messageExpression: "'secret ' + object.metadata.name + ' has type ' + object.type + ', not ' + variables.wanted"
              reason: Forbidden
            - expression: "object.metadata.name in ['aws-registry']"
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicyBinding
        metadata:
          name: registry-secrets-binding
        spec:
          policyName: registry-secrets
          validationActions: [Deny]
        """;

    private TestClusterServer _server = null!;
    private Kubernetes _admin = null!;
    private Kubernetes _daemon = null!;
    private Kubernetes _other = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(new TestClusterOptions { RbacYaml = Rbac + "\n---\n" + RegistryPolicy });
        _admin = Cluster.Client(_server);
        _daemon = Cluster.Client(_server, _server.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
        _other = Cluster.Client(_server, _server.ServiceAccountToken("ecr-daemon", "other"), "ecr-daemon");
        await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace("ecr-daemon"));
        await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace(Ns));
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        _daemon.Dispose();
        _other.Dispose();
        await _server.DisposeAsync();
    }

    private static V1Secret DockerSecret(string name, string? type = "kubernetes.io/dockerconfigjson") => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Type = type,
        Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = Encoding.UTF8.GetBytes("""{"auths":{}}""") },
    };

    [Fact]
    public void The_policies_and_bindings_are_loaded_from_the_same_manifests_as_RBAC_and_other_kinds_are_ignored()
    {
        Assert.Equal(1, _server.AdmissionPolicies.PolicyCount);
        Assert.Equal(1, _server.AdmissionPolicies.BindingCount);
        Assert.Equal(4, _server.Rbac.RuleCount);
    }

    [Fact]
    public async Task A_policy_denies_the_matched_user_with_the_dispatchers_status_and_passes_everyone_else()
    {
        // The daemon's identity, wrong type: refused with the validation's reason (Forbidden, so 403).
        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden,
            () => _daemon.CoreV1.CreateNamespacedSecretAsync(DockerSecret("aws-registry", "Opaque"), Ns));
        const string Denial = "ValidatingAdmissionPolicy 'registry-secrets' with binding 'registry-secrets-binding' denied request: " +
                              "secret aws-registry has type Opaque, not kubernetes.io/dockerconfigjson";
        Assert.Equal($"secrets \"aws-registry\" is forbidden: {Denial}", status.Message);
        Assert.Equal("Forbidden", status.Reason);
        Assert.Equal("aws-registry", status.Details.Name);
        Assert.Equal("secrets", status.Details.Kind);
        Assert.Equal(Denial, Assert.Single(status.Details.Causes).Message);
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _admin.CoreV1.ReadNamespacedSecretAsync("aws-registry", Ns));

        // The same request from another identity with the same RBAC, and from the admin, is not matched.
        await _other.CoreV1.CreateNamespacedSecretAsync(DockerSecret("aws-registry", "Opaque"), Ns);
        await _admin.CoreV1.CreateNamespacedSecretAsync(DockerSecret("admins", "Opaque"), Ns);

        // The right type passes the daemon.
        await _daemon.CoreV1.CreateNamespacedSecretAsync(DockerSecret("aws-registry"), "ecr-daemon");
    }

    [Fact]
    public async Task A_validation_without_reason_is_Invalid_422_and_without_message_names_its_expression()
    {
        // The daemon may create any name (RBAC cannot limit a create); the second validation may not.
        var status = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity,
            () => _daemon.CoreV1.CreateNamespacedSecretAsync(DockerSecret("stolen"), Ns));
        Assert.Equal("Invalid", status.Reason);
        Assert.Equal("secrets \"stolen\" is forbidden: ValidatingAdmissionPolicy 'registry-secrets' with binding 'registry-secrets-binding' " +
                     "denied request: failed expression: object.metadata.name in ['aws-registry']", status.Message);
    }

    [Fact]
    public async Task An_update_or_patch_is_evaluated_as_UPDATE_on_the_new_object()
    {
        // The daemon's patch and replace of a dockerconfigjson aws-registry pass the policy.
        await _admin.CoreV1.CreateNamespacedSecretAsync(DockerSecret("aws-registry"), Ns);
        await _daemon.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch("""{"metadata":{"labels":{"a":"b"}}}""", V1Patch.PatchType.MergePatch), "aws-registry", Ns);
        var secret = await _admin.CoreV1.ReadNamespacedSecretAsync("aws-registry", Ns);
        Assert.Equal("b", secret.Metadata.Labels["a"]);
        secret.Metadata.Labels["a"] = "c";
        await _daemon.CoreV1.ReplaceNamespacedSecretAsync(secret, "aws-registry", Ns);
        Assert.Equal("c", (await _admin.CoreV1.ReadNamespacedSecretAsync("aws-registry", Ns)).Metadata.Labels["a"]);

        // An Opaque aws-registry (made by another identity) cannot be touched by the daemon: the
        // policy sees the patched object, whose type is still Opaque.
        await _other.CoreV1.CreateNamespacedSecretAsync(DockerSecret("aws-registry", "Opaque"), "ecr-daemon");
        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden, () => _daemon.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch("""{"metadata":{"labels":{"a":"b"}}}""", V1Patch.PatchType.MergePatch), "aws-registry", "ecr-daemon"));
        Assert.EndsWith("denied request: secret aws-registry has type Opaque, not kubernetes.io/dockerconfigjson", status.Message, StringComparison.Ordinal);
        Assert.Null((await _admin.CoreV1.ReadNamespacedSecretAsync("aws-registry", "ecr-daemon")).Metadata.Labels);
    }

    private const string ProbePolicy = """
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicy
        metadata:
          name: probe
        spec:
          matchConstraints:
            objectSelector:
              matchLabels:
                probe: "yes"
            resourceRules:
              - apiGroups: ["*"]
                apiVersions: ["*"]
                resources: ["*"]
                operations: ["*"]
          validations:
            - expression: "false"
              messageExpression: >-
                request.operation + ' ' + request.name + ' ' + request.namespace + ' ' +
                request.resource.group + '/' + request.resource.version + '/' + request.resource.resource + ' ' +
                request.kind.kind + ' by ' + request.userInfo.username + ' in ' + request.userInfo.groups[0] +
                ' dryRun=' + string(request.dryRun) + ' ns=' + namespaceObject.metadata.name +
                ' old=' + (oldObject == null ? 'null' : oldObject.metadata.labels.v) +
                ' new=' + (object == null ? 'null' : object.metadata.labels.v)
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicyBinding
        metadata:
          name: probe-warn
        spec:
          policyName: probe
          validationActions: [Warn]
        """;

    [Fact]
    public async Task Object_oldObject_and_request_are_bound_on_create_update_patch_and_delete()
    {
        _server.LoadAdmissionPolicies(ProbePolicy);
        using var http = Cluster.RawClient(_server);
        var url = new Uri($"/api/v1/namespaces/{Ns}/secrets", UriKind.Relative);
        var item = new Uri($"/api/v1/namespaces/{Ns}/secrets/probe", UriKind.Relative);

        static string Body(string v) => $$$"""{"metadata":{"name":"probe","labels":{"probe":"yes","v":"{{{v}}}"}},"data":{"k":"eA=="}}""";
        async Task<string> Warning(HttpResponseMessage response)
        {
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return Assert.Single(response.Headers.GetValues("Warning"));
        }

        const string Prefix = "299 - \"Validation failed for ValidatingAdmissionPolicy 'probe' with binding 'probe-warn': ";
        const string Who = "/v1/secrets Secret by kubernetes-admin in system:masters dryRun=false ns=apps";

        using (var response = await http.PostAsync(url, new StringContent(Body("1"), Encoding.UTF8, "application/json")))
        {
            Assert.Equal($"{Prefix}CREATE probe apps {Who} old=null new=1\"", await Warning(response));
        }

        using (var response = await http.PutAsync(item, new StringContent(Body("2"), Encoding.UTF8, "application/json")))
        {
            Assert.Equal($"{Prefix}UPDATE probe apps {Who} old=1 new=2\"", await Warning(response));
        }

        using (var patch = new HttpRequestMessage(HttpMethod.Patch, item)
               {
                   Content = new StringContent("""{"metadata":{"labels":{"v":"3"}}}""", Encoding.UTF8, "application/merge-patch+json"),
               })
        using (var response = await http.SendAsync(patch))
        {
            Assert.Equal($"{Prefix}UPDATE probe apps {Who} old=2 new=3\"", await Warning(response));
        }

        using (var response = await http.DeleteAsync(item))
        {
            Assert.Equal($"{Prefix}DELETE probe apps {Who} old=3 new=null\"", await Warning(response));
        }

        // An object outside the objectSelector meets no policy at all.
        using (var response = await http.PostAsync(url, new StringContent("""{"metadata":{"name":"plain"}}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            Assert.False(response.Headers.Contains("Warning"));
        }
    }

    [Fact]
    public async Task A_create_with_generateName_has_no_request_name_while_object_carries_the_generated_one()
    {
        // The create handler takes the admission name from the body before the registry generates one
        // (handlers/create.go; AdmissionRequest.name: "the client may omit name and rely on the server
        // to generate the name. If that is the case, this field will contain an empty string"), and
        // request omits an empty name; object has the generated name (rest.BeforeCreate runs first).
        _server.LoadAdmissionPolicies(ProbePolicy.Replace(
            "request.operation + ' ' + request.name + ' ' +",
            "'request.name set=' + string(has(request.name)) + ' object.metadata.name=' + object.metadata.name + ' ' +",
            StringComparison.Ordinal));
        using var http = Cluster.RawClient(_server);
        using var response = await http.PostAsync(new Uri($"/api/v1/namespaces/{Ns}/secrets", UriKind.Relative),
            new StringContent("""{"metadata":{"generateName":"probe-","labels":{"probe":"yes","v":"1"}}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var name = (await _admin.CoreV1.ListNamespacedSecretAsync(Ns, labelSelector: "probe=yes")).Items.Single().Metadata.Name;
        Assert.StartsWith("probe-", name, StringComparison.Ordinal);
        var warning = Assert.Single(response.Headers.GetValues("Warning"));
        var expected = $"299 - \"Validation failed for ValidatingAdmissionPolicy 'probe' with binding 'probe-warn': request.name set=false object.metadata.name={name} apps ";
        Assert.True(warning.StartsWith(expected, StringComparison.Ordinal), warning);
    }

    private const string ServiceAccountPolicy = """
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicy
        metadata:
          name: serviceaccounts
        spec:
          matchConstraints:
            resourceRules:
              - apiGroups: [""]
                apiVersions: ["v1"]
                resources: ["serviceaccounts"]
                operations: ["UPDATE"]
              - apiGroups: [""]
                apiVersions: ["v1"]
                resources: ["secrets"]
                operations: ["DELETE"]
          matchConditions:
            - name: is-daemon
              expression: "request.userInfo.username == 'system:serviceaccount:ecr-daemon:ecr-daemon'"
          validations:
            - expression: >-
                request.resource.resource != 'serviceaccounts' ||
                (has(object.automountServiceAccountToken) == has(oldObject.automountServiceAccountToken) &&
                 (!has(object.automountServiceAccountToken) || object.automountServiceAccountToken == oldObject.automountServiceAccountToken))
              message: only imagePullSecrets may change
              reason: Forbidden
            - expression: >-
                request.operation != 'DELETE' ||
                (has(oldObject.metadata.labels) && 'managed-by' in oldObject.metadata.labels)
              messageExpression: "'secret ' + oldObject.metadata.name + ' is not labelled'"
              reason: Forbidden
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicyBinding
        metadata:
          name: serviceaccounts
        spec:
          policyName: serviceaccounts
          validationActions: [Deny]
        """;

    [Fact]
    public async Task A_patch_is_compared_with_the_stored_object_and_a_delete_sees_only_oldObject()
    {
        _server.LoadAdmissionPolicies(ServiceAccountPolicy);
        await _daemon.CoreV1.PatchNamespacedServiceAccountAsync(
            new V1Patch("""{"imagePullSecrets":[{"name":"aws-registry"}]}""", V1Patch.PatchType.StrategicMergePatch), "default", Ns);

        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden, () => _daemon.CoreV1.PatchNamespacedServiceAccountAsync(
            new V1Patch("""{"automountServiceAccountToken":false}""", V1Patch.PatchType.MergePatch), "default", Ns));
        Assert.Equal("serviceaccounts \"default\" is forbidden: ValidatingAdmissionPolicy 'serviceaccounts' with binding 'serviceaccounts' " +
                     "denied request: only imagePullSecrets may change", status.Message);
        Assert.Null((await _admin.CoreV1.ReadNamespacedServiceAccountAsync("default", Ns)).AutomountServiceAccountToken);

        await _admin.CoreV1.CreateNamespacedSecretAsync(DockerSecret("aws-registry"), Ns);
        status = await Cluster.FailsWith(HttpStatusCode.Forbidden, () => _daemon.CoreV1.DeleteNamespacedSecretAsync("aws-registry", Ns));
        Assert.Equal("secrets \"aws-registry\" is forbidden: ValidatingAdmissionPolicy 'serviceaccounts' with binding 'serviceaccounts' " +
                     "denied request: secret aws-registry is not labelled", status.Message);
        await _admin.CoreV1.ReadNamespacedSecretAsync("aws-registry", Ns);

        await _admin.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch("""{"metadata":{"labels":{"managed-by":"ecr-daemon"}}}""", V1Patch.PatchType.MergePatch), "aws-registry", Ns);
        await _daemon.CoreV1.DeleteNamespacedSecretAsync("aws-registry", Ns);
        await Cluster.FailsWith(HttpStatusCode.NotFound, () => _admin.CoreV1.ReadNamespacedSecretAsync("aws-registry", Ns));
    }

    private static string ErrorPolicy(string failurePolicy, string matchCondition = "true") => $$"""
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicy
        metadata:
          name: broken
        spec:
          failurePolicy: {{failurePolicy}}
          matchConstraints:
            resourceRules:
              - apiGroups: [""]
                apiVersions: ["v1"]
                resources: ["secrets"]
                operations: ["CREATE"]
          matchConditions:
            - name: condition
              expression: "{{matchCondition}}"
          validations:
            - expression: "1 / (size(object.metadata.name) - size(object.metadata.name)) == 1"
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicyBinding
        metadata:
          name: broken
        spec:
          policyName: broken
          validationActions: [Deny]
        """;

    [Fact]
    public async Task A_runtime_error_denies_under_failurePolicy_Fail_and_admits_under_Ignore()
    {
        _server.LoadAdmissionPolicies(ErrorPolicy("Fail"));
        var status = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity,
            () => _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s1", data: "x"), Ns));
        Assert.StartsWith("secrets \"s1\" is forbidden: ValidatingAdmissionPolicy 'broken' with binding 'broken' denied request: " +
                          "expression '1 / (size(object.metadata.name) - size(object.metadata.name)) == 1' resulted in error: ",
            status.Message, StringComparison.Ordinal);
        Assert.Contains("zero", status.Message, StringComparison.OrdinalIgnoreCase);

        _server.LoadAdmissionPolicies(ErrorPolicy("Ignore"));
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s1", data: "x"), Ns);
    }

    [Fact]
    public async Task A_false_matchCondition_skips_the_policy_and_an_erroring_one_follows_failurePolicy()
    {
        _server.LoadAdmissionPolicies(ErrorPolicy("Fail", matchCondition: "object.metadata.name != 'skipped'"));
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("skipped", data: "x"), Ns);
        await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity,
            () => _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("matched", data: "x"), Ns));

        _server.LoadAdmissionPolicies(ErrorPolicy("Fail", matchCondition: "object.metadata.name.size() / 0 == 1"));
        var status = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity,
            () => _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("errs", data: "x"), Ns));
        Assert.Contains("denied request: failed to evaluate matchCondition 'condition': expression 'object.metadata.name.size() / 0 == 1' resulted in error",
            status.Message, StringComparison.Ordinal);

        _server.LoadAdmissionPolicies(ErrorPolicy("Ignore", matchCondition: "object.metadata.name.size() / 0 == 1"));
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("errs", data: "x"), Ns);
    }

    [Fact]
    public async Task A_binding_namespaceSelector_limits_the_policy_to_the_selected_namespaces()
    {
        await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace("locked", new Dictionary<string, string> { ["team"] = "locked" }));
        _server.LoadAdmissionPolicies("""
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicy
            metadata:
              name: no-secrets
            spec:
              matchConstraints:
                resourceRules:
                  - apiGroups: [""]
                    apiVersions: ["v1"]
                    resources: ["secrets"]
                    operations: ["CREATE"]
              validations:
                - expression: "false"
                  messageExpression: "'no secrets in ' + namespaceObject.metadata.labels.team"
                  reason: Forbidden
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicyBinding
            metadata:
              name: locked-only
            spec:
              policyName: no-secrets
              validationActions: [Deny]
              matchResources:
                namespaceSelector:
                  matchExpressions:
                    - key: team
                      operator: In
                      values: [locked]
            """);

        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), Ns);
        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden,
            () => _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("s", data: "x"), "locked"));
        Assert.EndsWith("denied request: no secrets in locked", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_without_a_binding_or_a_binding_without_its_policy_does_nothing()
    {
        _server.LoadAdmissionPolicies(ErrorPolicy("Fail").Replace("policyName: broken", "policyName: missing", StringComparison.Ordinal));
        await _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("free", data: "x"), Ns);
        Assert.Equal(1, _server.AdmissionPolicies.PolicyCount);
        Assert.Equal(1, _server.AdmissionPolicies.BindingCount);
    }

    [Fact]
    public async Task An_expression_that_does_not_compile_fails_the_requests_its_policy_matches()
    {
        _server.LoadAdmissionPolicies(ErrorPolicy("Fail").Replace("1 / (size(object.metadata.name) - size(object.metadata.name)) == 1", "object.metadata.name ==", StringComparison.Ordinal));
        var status = await Cluster.FailsWith(HttpStatusCode.UnprocessableEntity,
            () => _admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("c", data: "x"), Ns));
        Assert.Contains("denied request: expression 'object.metadata.name ==' resulted in error: compilation failed", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_namespace_is_matched_by_its_own_labels_and_deleted_namespaces_bind_oldObject()
    {
        _server.LoadAdmissionPolicies("""
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicy
            metadata:
              name: keep
            spec:
              matchConstraints:
                namespaceSelector:
                  matchLabels:
                    keep: "true"
                resourceRules:
                  - apiGroups: [""]
                    apiVersions: ["v1"]
                    resources: ["namespaces"]
                    operations: ["DELETE"]
              validations:
                - expression: "object == null && oldObject.metadata.name == request.name && !has(request.namespace)"
                  message: kept
                  reason: Forbidden
                - expression: "false"
                  message: namespace is kept
                  reason: Forbidden
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicyBinding
            metadata:
              name: keep
            spec:
              policyName: keep
              validationActions: [Deny]
            """);
        await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace("kept", new Dictionary<string, string> { ["keep"] = "true" }));
        await _admin.CoreV1.CreateNamespaceAsync(Cluster.Namespace("gone"));
        var status = await Cluster.FailsWith(HttpStatusCode.Forbidden, () => _admin.CoreV1.DeleteNamespaceAsync("kept"));
        Assert.Equal("namespaces \"kept\" is forbidden: ValidatingAdmissionPolicy 'keep' with binding 'keep' denied request: namespace is kept", status.Message);
        await _admin.CoreV1.DeleteNamespaceAsync("gone");
    }

    [Fact]
    public void The_whole_manifest_loader_takes_RBAC_and_policies_together()
    {
        _server.LoadManifests(Rbac);
        Assert.Equal(0, _server.AdmissionPolicies.PolicyCount);
        Assert.Equal(4, _server.Rbac.RuleCount);
        _server.LoadManifests(RegistryPolicy);
        Assert.Equal(1, _server.AdmissionPolicies.PolicyCount);
        Assert.Equal(0, _server.Rbac.RuleCount);
    }
}
