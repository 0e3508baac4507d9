using System.Net;
using System.Text;
using System.Text.Json;
using EcrDaemon.Kubernetes;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// Least privilege beyond RBAC, proven under the rendered chart: the whole <c>helm template</c> output,
/// ValidatingAdmissionPolicy included, is loaded into the test cluster (which enforces policies on a real
/// CEL library). The daemon's full workflow makes no refused request; the daemon's identity is refused
/// everything RBAC would let a stolen token do beyond that; another identity with the same RBAC is not
/// affected. Also what the policy and the NetworkPolicy render.
/// </summary>
public sealed class ChartAdmissionPolicyTests
{
    /// <summary>What a cluster that serves ValidatingAdmissionPolicy reports to helm.</summary>
    private static readonly string[] ServesPolicies = ["--api-versions", "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"];

    private const string Policy = "ValidatingAdmissionPolicy 'ecr-daemon' with binding 'ecr-daemon' denied request: ";

    private static async Task<List<object>> Render(string values, params string[] arguments) =>
        HelmChart.LoadStrict(await HelmChart.RenderAsync(values, arguments));

    [ToolFact("helm")]
    public async Task The_policy_is_on_when_the_cluster_serves_the_API_and_can_be_forced_on_or_off()
    {
        Assert.Empty((await Render("")).OfType<V1ValidatingAdmissionPolicy>());                                   // auto, API not served
        Assert.Single((await Render("", ServesPolicies)).OfType<V1ValidatingAdmissionPolicy>());                  // auto, API served
        Assert.Single((await Render("admissionPolicy: { enabled: true }")).OfType<V1ValidatingAdmissionPolicy>());
        Assert.Empty((await Render("admissionPolicy: { enabled: false }", ServesPolicies)).OfType<V1ValidatingAdmissionPolicy>());
        Assert.Empty((await Render("admissionPolicy: { enabled: false }", ServesPolicies)).OfType<V1ValidatingAdmissionPolicyBinding>());

        var bad = await HelmChart.TryRenderAsync("admissionPolicy: { enabled: maybe }");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("admissionPolicy", bad.ToString(), StringComparison.Ordinal);

        var on = await Render("", ServesPolicies);
        var policy = on.OfType<V1ValidatingAdmissionPolicy>().Single();
        var binding = on.OfType<V1ValidatingAdmissionPolicyBinding>().Single();
        Assert.Equal(policy.Metadata.Name, binding.Spec.PolicyName);
        Assert.Equal(["Deny"], binding.Spec.ValidationActions);
        Assert.Equal("Fail", policy.Spec.FailurePolicy);
        Assert.Equal("request.userInfo.username == 'system:serviceaccount:ecr-daemon:ecr-daemon'", Assert.Single(policy.Spec.MatchConditions).Expression);

        // The identity and the secret name follow the chart's values.
        var custom = (await Render("serviceAccount: { name: puller }\nconfig: { secretName: ecr-pull }", ServesPolicies)).OfType<V1ValidatingAdmissionPolicy>().Single();
        Assert.Equal("request.userInfo.username == 'system:serviceaccount:ecr-daemon:puller'", Assert.Single(custom.Spec.MatchConditions).Expression);
        Assert.Equal("['ecr-pull']", custom.Spec.Variables.Single(v => v.Name == "secretNames").Expression);

        // The ClusterRole grants the same with the policy on and off.
        static string Role(IEnumerable<object> objects) => ModelJson.Serialize(objects.OfType<V1ClusterRole>().Single().Rules);
        Assert.Equal(Role(await Render("admissionPolicy: { enabled: false }")), Role(on));
    }

    [ToolFact("helm")]
    public async Task The_install_notes_say_whether_the_policy_is_on_and_warn_when_it_is_not()
    {
        // helm install (client-side dry run) renders NOTES.txt; its capabilities do not include the
        // ValidatingAdmissionPolicy API, so "auto" is the case of a cluster older than 1.30.
        async Task<string> Notes(params string[] set)
        {
            var result = await Tools.RunAsync(Tools.Require("helm"),
                ["install", "notes", HelmChart.ChartDirectory, "--dry-run=client", .. set.SelectMany(v => new[] { "--set", v })]);
            Assert.True(result.ExitCode == 0, result.ToString());
            return result.StandardOutput[result.StandardOutput.IndexOf("NOTES:", StringComparison.Ordinal)..];
        }

        var forcedOn = await Notes("admissionPolicy.enabled=true");
        Assert.Contains("Admission policy: on.", forcedOn, StringComparison.Ordinal);
        Assert.DoesNotContain("WARNING", forcedOn, StringComparison.Ordinal);
        Assert.Contains("WARNING: no admission policy was installed", await Notes(), StringComparison.Ordinal);
        Assert.Contains("WARNING: admissionPolicy.enabled=false", await Notes("admissionPolicy.enabled=false"), StringComparison.Ordinal);
    }

    [ToolFact("helm")]
    public async Task Helm_lint_strict_passes_with_the_policy_on_off_and_auto_and_with_the_NetworkPolicy_on()
    {
        foreach (var values in new[]
                 {
                     "admissionPolicy: { enabled: true }",
                     "admissionPolicy: { enabled: false }",
                     "admissionPolicy: { enabled: auto }",
                     "admissionPolicy: { enabled: true }\nconfig: { adoptUnmanagedSecrets: true }",
                     "networkPolicy: { enabled: true, metricsNamespace: monitoring, metricsPodSelector: { app.kubernetes.io/name: prometheus } }",
                 })
        {
            var file = Path.GetTempFileName();
            try
            {
                await File.WriteAllTextAsync(file, values);
                var lint = await Tools.RunAsync(Tools.Require("helm"), ["lint", "--strict", HelmChart.ChartDirectory, "-f", file]);
                Assert.True(lint.ExitCode == 0, $"{values}: {lint}");
            }
            finally
            {
                File.Delete(file);
            }
        }
    }

    [ToolFact("helm")]
    public async Task The_NetworkPolicy_admits_only_the_metrics_namespace_to_the_HTTP_port()
    {
        Assert.Empty((await Render("")).OfType<V1NetworkPolicy>());

        var objects = await Render("port: 9090\nnetworkPolicy: { enabled: true, metricsNamespace: observability }");
        var policy = objects.OfType<V1NetworkPolicy>().Single();
        var deployment = objects.OfType<V1Deployment>().Single();
        Assert.Equal("ecr-daemon", policy.Metadata.NamespaceProperty);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, policy.Spec.PodSelector.MatchLabels);
        Assert.Equal(["Ingress"], policy.Spec.PolicyTypes);
        var rule = Assert.Single(policy.Spec.Ingress);
        var from = Assert.Single(rule.FromProperty);
        Assert.Equal(new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = "observability" }, from.NamespaceSelector.MatchLabels);
        Assert.Null(from.PodSelector);
        Assert.Null(from.IpBlock);
        var port = Assert.Single(rule.Ports);
        Assert.Equal("TCP", port.Protocol);
        Assert.Equal("9090", port.Port.Value);
        Assert.Equal(9090, deployment.Spec.Template.Spec.Containers.Single().Ports.Single().ContainerPort);

        var narrowed = (await Render("networkPolicy: { enabled: true, metricsPodSelector: { app.kubernetes.io/name: prometheus } }")).OfType<V1NetworkPolicy>().Single();
        var scraper = Assert.Single(Assert.Single(narrowed.Spec.Ingress).FromProperty);
        Assert.Equal("monitoring", scraper.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]);
        Assert.Equal(new Dictionary<string, string> { ["app.kubernetes.io/name"] = "prometheus" }, scraper.PodSelector.MatchLabels);
        Assert.Equal("8080", Assert.Single(Assert.Single(narrowed.Spec.Ingress).Ports).Port.Value);
    }

    [ToolTheory("helm")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Under_the_whole_rendered_chart_with_its_policy_the_full_workflow_is_never_denied(bool adopt)
    {
        var chart = await HelmChart.RenderAsync(adopt ? "config: { adoptUnmanagedSecrets: true }" : "", ServesPolicies);
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = chart });
        Assert.Equal(1, h.Cluster.AdmissionPolicies.PolicyCount);
        Assert.Equal(1, h.Cluster.AdmissionPolicies.BindingCount);

        // "a" has a second ServiceAccount with everything the policy compares set, which must all stay as they are.
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.CreateNamespaceAsync("b", optedIn: false);
        await h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(Builder(), "a");
        if (adopt)
        {
            // Seed-style secrets: a dockercfg one (adopted by delete and create) and a dockerconfigjson one (patched).
            await h.CreateNamespaceAsync("seed", optedIn: true);
            await h.Admin.CoreV1.CreateNamespacedSecretAsync(Unlabelled("kubernetes.io/dockercfg", ".dockercfg"), "seed");
            await h.CreateNamespaceAsync("handover", optedIn: true);
            await h.Admin.CoreV1.CreateNamespacedSecretAsync(Unlabelled(Markers.DockerConfigJsonType, Markers.DockerConfigJsonKey), "handover");
        }

        string[] synced = adopt ? ["a", "seed", "handover"] : ["a"];
        await h.StartDaemonAsync(new Dictionary<string, string?>
        {
            ["EcrDaemon:ServiceAccounts:0"] = "default",
            ["EcrDaemon:ServiceAccounts:1"] = "builder",
            ["EcrDaemon:AdoptUnmanagedSecrets"] = adopt ? "true" : "false",
        });                                                                        // cold start (and adoption)
        await h.WaitInSyncAsync(synced);
        await Poll.Until(() => h.InSync("a", "builder"), () => h.Describe(["a"]));
        Assert.Equal(["other-registry", DaemonHarness.SecretName], h.PullSecrets("a", "builder")!);

        await h.LabelAsync("b", optedIn: true);                                    // label added
        await h.WaitInSyncAsync("b");
        await h.LabelAsync("a", optedIn: false);                                   // label removed
        await Poll.Until(() => h.Secret("a") is null && h.PullSecrets("a", "builder")!.SequenceEqual(["other-registry"]), () => h.Describe(["a"]));
        AssertUntouched(await h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "a"));

        h.Ecr.Generation = 1;                                                      // rotation
        h.Refresher.RequestRefresh();
        await h.WaitInSyncAsync(["b", .. synced.Skip(1)]);

        await h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(                // repair: data
            """{"data":{".dockerconfigjson":"e30="}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "b");
        await h.WaitInSyncAsync("b");
        await h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(        // repair: the ServiceAccount's entry
            """{"imagePullSecrets":null}""", V1Patch.PatchType.MergePatch), "default", "b");
        await h.WaitInSyncAsync("b");
        await h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(                // repair: immutable (delete and create)
            """{"immutable":true,"data":{".dockerconfigjson":"e30="}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "b");
        await h.WaitInSyncAsync("b");
        await h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "b"); // repair: deleted
        await h.WaitInSyncAsync("b");
        await h.IdleAsync();
        Assert.Equal(0, await h.StopDaemonAsync());

        var cleanup = await h.RunProgramAsync("cleanup");                          // cleanup, as the same identity
        Assert.True(cleanup.ExitCode == 0, cleanup.ToString());
        Assert.Null(h.Secret("b"));

        var daemon = h.Requests.All.Where(r => r.Identity == DaemonHarness.Identity).ToList();
        Assert.Contains(daemon, r => r is { Verb: "create", Resource: "secrets", Code: 201 });
        Assert.Contains(daemon, r => r is { Verb: "patch", Resource: "secrets", Code: 200 });
        Assert.Contains(daemon, r => r is { Verb: "delete", Resource: "secrets", Code: 200 });
        Assert.Contains(daemon, r => r is { Verb: "patch", Resource: "serviceaccounts", Code: 200 });
        Assert.Contains(daemon, r => r is { Verb: "create", Resource: "events", Code: 201 });

        // Denials: a policy denial is a 403 (every validation has reason Forbidden) or a 422 (a runtime error
        // under failurePolicy Fail); the request log has no messages, so every 401/403/422 of the daemon counts.
        var denied = daemon.Where(r => r.Code is 401 or 403 or 422).ToList();
        Assert.True(denied.Count == 0, "denied: " + DaemonHarness.Summary(denied));
        Assert.DoesNotContain("ValidatingAdmissionPolicy", h.Logs.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain("ValidatingAdmissionPolicy", cleanup.ToString(), StringComparison.Ordinal);

        // The count sees a policy denial: one refused write of the same identity is counted.
        using var asDaemon = DaemonHarness.Client(h.Cluster, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
        var mark = h.Requests.Mark();
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(Secret("Opaque", labelled: true), "b"),
            "ecr-daemon may write only secrets of type kubernetes.io/dockerconfigjson: refused CREATE of Secret b/aws-registry of type Opaque");
        Assert.Equal([403], h.DaemonRequests(mark).Select(r => r.Code));
    }

    [ToolFact("helm")]
    public async Task The_daemons_identity_is_denied_everything_beyond_the_daemons_writes_with_the_reason()
    {
        var chart = await HelmChart.RenderAsync("", ServesPolicies);
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = chart });
        await h.CreateNamespaceAsync("apps", optedIn: true);
        await h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(Builder(), "apps");
        using var asDaemon = DaemonHarness.Client(h.Cluster, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");

        // A service-account-token secret for a privileged ServiceAccount: what would turn the token into cluster-admin.
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(TokenSecret(), "kube-system"),
            "ecr-daemon may write only secrets of type kubernetes.io/dockerconfigjson: refused CREATE of Secret kube-system/aws-registry of type kubernetes.io/service-account-token");
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(Secret("Opaque", labelled: true), "apps"),
            "ecr-daemon may write only secrets of type kubernetes.io/dockerconfigjson: refused CREATE of Secret apps/aws-registry of type Opaque");
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(Secret(Markers.DockerConfigJsonType, labelled: false), "apps"),
            "ecr-daemon may write only secrets labelled app.kubernetes.io/managed-by=ecr-daemon: refused CREATE of Secret apps/aws-registry without that label");
        var stolen = Secret(Markers.DockerConfigJsonType, labelled: true);
        stolen.Metadata.Name = "stolen";
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(stolen, "apps"),
            "ecr-daemon may write only the secrets named aws-registry: refused CREATE of Secret apps/stolen");
        // A generated name: the request has no name (request.name is absent), the message names the object.
        var generated = Secret(Markers.DockerConfigJsonType, labelled: true);
        generated.Metadata.Name = null;
        generated.Metadata.GenerateName = "aws-registry-";
        var e = await Assert.ThrowsAnyAsync<HttpOperationException>(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(generated, "apps"));
        Assert.Equal(HttpStatusCode.Forbidden, e.Response.StatusCode);
        Assert.Matches(
            "^secrets \"aws-registry-[a-z0-9]{5}\" is forbidden: " + System.Text.RegularExpressions.Regex.Escape(Policy)
            + "ecr-daemon may write only the secrets named aws-registry: refused CREATE of Secret apps/aws-registry-[a-z0-9]{5}$",
            JsonSerializer.Deserialize<JsonElement>(e.Response.Content).GetProperty("message").GetString());
        Assert.Null(h.Cluster.Store.Get(TestCluster.Api.ResourceType.Secrets, "kube-system", DaemonHarness.SecretName));
        Assert.Null(h.Secret("apps"));
        Assert.Null(h.Secret("apps", "stolen"));

        // ServiceAccounts: only imagePullSecrets and the marker annotations may change.
        var before = ModelJson.Serialize((await h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "apps")).Metadata.Labels);
        await Denied(() => PatchBuilder(asDaemon, """{"secrets":[{"name":"token"},{"name":"aws-registry"}]}"""),
            "ecr-daemon may change only imagePullSecrets and its marker annotations of a ServiceAccount: refused to change secrets of ServiceAccount apps/builder");
        await Denied(() => PatchBuilder(asDaemon, """{"automountServiceAccountToken":true}"""),
            "ecr-daemon may change only imagePullSecrets and its marker annotations of a ServiceAccount: refused to change automountServiceAccountToken of ServiceAccount apps/builder");
        await Denied(() => PatchBuilder(asDaemon, """{"metadata":{"labels":{"team":"admins"}}}"""),
            "ecr-daemon may change only imagePullSecrets and its marker annotations of a ServiceAccount: refused to change metadata.labels of ServiceAccount apps/builder");
        await Denied(() => PatchBuilder(asDaemon, """{"metadata":{"labels":{"extra":"x"}}}"""),
            "ecr-daemon may change only imagePullSecrets and its marker annotations of a ServiceAccount: refused to change metadata.labels of ServiceAccount apps/builder");
        await Denied(() => PatchBuilder(asDaemon, """{"metadata":{"annotations":{"note":null}}}"""),
            "ecr-daemon may change only imagePullSecrets and its marker annotations of a ServiceAccount: refused to change other annotations of ServiceAccount apps/builder");
        await Denied(() => PatchBuilder(asDaemon, """{"metadata":{"finalizers":["example.com/hold"]}}"""),
            "ecr-daemon may change only imagePullSecrets and its marker annotations of a ServiceAccount: refused to change metadata.finalizers of ServiceAccount apps/builder");
        var builder = await h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "apps");
        AssertUntouched(builder);
        Assert.Equal(before, ModelJson.Serialize(builder.Metadata.Labels));

        // What the daemon does passes: the entry and the marker annotation.
        await PatchBuilder(asDaemon, """{"imagePullSecrets":[{"name":"other-registry"},{"name":"aws-registry"}],"metadata":{"annotations":{"ecr-daemon.io/added-image-pull-secret":"aws-registry"}}}""");
        await PatchBuilder(asDaemon, """{"imagePullSecrets":[{"name":"other-registry"}],"metadata":{"annotations":{"ecr-daemon.io/added-image-pull-secret":null}}}""");
        AssertUntouched(await h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "apps"));

        // Delete: only a labelled secret. An unlabelled aws-registry (the seed's, a namespace owner's) stays.
        await h.Admin.CoreV1.CreateNamespacedSecretAsync(Unlabelled(Markers.DockerConfigJsonType, Markers.DockerConfigJsonKey), "apps");
        await Denied(() => asDaemon.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "apps"),
            "ecr-daemon may delete only secrets labelled app.kubernetes.io/managed-by=ecr-daemon: refused DELETE of Secret apps/aws-registry, which lacks that label");
        // Nor may it be taken over by an update while adoptUnmanagedSecrets is off.
        await Denied(() => asDaemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
                """{"metadata":{"labels":{"app.kubernetes.io/managed-by":"ecr-daemon"}}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps"),
            "ecr-daemon may update only secrets already labelled app.kubernetes.io/managed-by=ecr-daemon (adoptUnmanagedSecrets is off): refused UPDATE of Secret apps/aws-registry");
        Assert.NotNull(h.Secret("apps"));
        Assert.Null(h.Secret("apps")!["metadata"]!["labels"]);

        // A labelled one may go.
        await h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"metadata":{"labels":{"app.kubernetes.io/managed-by":"ecr-daemon"}}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps");
        await asDaemon.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "apps");
        Assert.Null(h.Secret("apps"));
    }

    [ToolFact("helm")]
    public async Task The_daemons_identity_cannot_pin_a_secret_with_finalizers_or_ownerReferences()
    {
        // A finalizer on an aws-registry secret, which the token may create in any namespace, keeps that
        // namespace Terminating for ever; an ownerReference with blockOwnerDeletion holds up its owner's
        // foreground deletion. The daemon never sets either.
        var chart = await HelmChart.RenderAsync("", ServesPolicies);
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = chart });
        await h.CreateNamespaceAsync("apps", optedIn: false);
        using var asDaemon = DaemonHarness.Client(h.Cluster, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");

        var pinned = Secret(Markers.DockerConfigJsonType, labelled: true);
        pinned.Metadata.Finalizers = ["example.com/hold"];
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(pinned, "apps"),
            "ecr-daemon may not set or change metadata.finalizers of a secret: refused CREATE of Secret apps/aws-registry");
        var owned = Secret(Markers.DockerConfigJsonType, labelled: true);
        owned.Metadata.OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "ServiceAccount", Name = "default", Uid = "0d5e8a4c-1111-4222-8333-444455556666", BlockOwnerDeletion = true }];
        await Denied(() => asDaemon.CoreV1.CreateNamespacedSecretAsync(owned, "apps"),
            "ecr-daemon may not set or change metadata.ownerReferences of a secret: refused CREATE of Secret apps/aws-registry");
        Assert.Null(h.Secret("apps"));

        // Nor by a patch of its own secret.
        await asDaemon.CoreV1.CreateNamespacedSecretAsync(Secret(Markers.DockerConfigJsonType, labelled: true), "apps");
        await Denied(() => asDaemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
                """{"metadata":{"finalizers":["example.com/hold"]}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps"),
            "ecr-daemon may not set or change metadata.finalizers of a secret: refused UPDATE of Secret apps/aws-registry");
        await Denied(() => asDaemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
                """{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ServiceAccount","name":"default","uid":"0d5e8a4c-1111-4222-8333-444455556666","blockOwnerDeletion":true}]}}""",
                V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps"),
            "ecr-daemon may not set or change metadata.ownerReferences of a secret: refused UPDATE of Secret apps/aws-registry");
        Assert.Null(h.Secret("apps")!["metadata"]!["finalizers"]);
        Assert.Null(h.Secret("apps")!["metadata"]!["ownerReferences"]);

        // Someone else's finalizer stays, and the daemon's data patch, which leaves it as it is, passes.
        await h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"metadata":{"finalizers":["example.com/keep"]}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps");
        await asDaemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"data":{".dockerconfigjson":"e30="}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps");
        await Denied(() => asDaemon.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
                """{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "apps"),
            "ecr-daemon may not set or change metadata.finalizers of a secret: refused UPDATE of Secret apps/aws-registry");
        Assert.Equal("e30=", h.Secret("apps")!["data"]![".dockerconfigjson"]!.GetValue<string>());
    }

    [ToolFact("helm")]
    public async Task Were_its_RBAC_widened_the_daemons_identity_could_still_only_create_Events_and_update_ServiceAccounts()
    {
        // The policy's own rules for what RBAC already refuses today (ServiceAccount create and delete,
        // Event update and delete): a second ClusterRole gives the daemon's identity those verbs, as a
        // careless edit of the chart or a cluster-wide grant might, and the policy still says no.
        var chart = await HelmChart.RenderAsync("", ServesPolicies) + """

            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: ecr-daemon-widened
            rules:
              - apiGroups: [""]
                resources: ["serviceaccounts", "events"]
                verbs: ["get", "create", "update", "patch", "delete"]
            """ + RbacYaml.ClusterRoleBinding("ecr-daemon-widened", "ecr-daemon-widened", "ecr-daemon", "ecr-daemon");
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = chart });
        await h.CreateNamespaceAsync("apps", optedIn: false);
        await h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(Builder(), "apps");
        using var asDaemon = DaemonHarness.Client(h.Cluster, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");

        await Denied(() => asDaemon.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "minted" } }, "apps"),
            "ecr-daemon may only update ServiceAccounts: refused CREATE of ServiceAccount apps/minted");
        await Denied(() => asDaemon.CoreV1.DeleteNamespacedServiceAccountAsync("builder", "apps"),
            "ecr-daemon may only update ServiceAccounts: refused DELETE of ServiceAccount apps/builder");
        Assert.Null(h.Cluster.Store.Get(TestCluster.Api.ResourceType.ServiceAccounts, "apps", "minted"));
        AssertUntouched(await h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "apps"));

        // Events: a create passes (the daemon records them); changing or deleting one, its own or another's, does not.
        var recorded = await asDaemon.CoreV1.CreateNamespacedEventAsync(new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = "recorded" },
            InvolvedObject = new V1ObjectReference { Kind = "Namespace", Name = "apps" },
            Reason = "Test",
            Message = "created by the daemon's identity",
            Type = "Normal",
        }, "apps");
        recorded.Message = "rewritten";
        recorded.Metadata.ManagedFields = null; // KubernetesClient.Aot cannot write a read fieldsV1 back
        await Denied(() => asDaemon.CoreV1.ReplaceNamespacedEventAsync(recorded, "recorded", "apps"),
            "ecr-daemon may only create Events: refused UPDATE of Event apps/recorded");
        await Denied(() => asDaemon.CoreV1.DeleteNamespacedEventAsync("recorded", "apps"),
            "ecr-daemon may only create Events: refused DELETE of Event apps/recorded");
        Assert.Equal("created by the daemon's identity", (await h.Admin.CoreV1.ReadNamespacedEventAsync("recorded", "apps")).Message);
    }

    [ToolFact("helm")]
    public async Task Another_identity_bound_to_the_same_ClusterRole_is_not_affected_by_the_policy()
    {
        var chart = await HelmChart.RenderAsync("", ServesPolicies) + RbacYaml.ClusterRoleBinding("ecr-daemon-other", "ecr-daemon", "ecr-daemon", "other");
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = chart });
        Assert.Equal(1, h.Cluster.AdmissionPolicies.PolicyCount);
        await h.CreateNamespaceAsync("apps", optedIn: true);
        await h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(Builder(), "apps");
        using var other = DaemonHarness.Client(h.Cluster, h.Cluster.ServiceAccountToken("ecr-daemon", "other"), "ecr-daemon");
        var mark = h.Requests.Mark();

        // Everything the daemon's identity is denied above, this one's RBAC allows, and the policy does not see it.
        await other.CoreV1.CreateNamespacedSecretAsync(TokenSecret(), "kube-system");
        await other.CoreV1.CreateNamespacedSecretAsync(Secret("Opaque", labelled: false), "apps");
        await other.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "apps");
        await PatchBuilder(other, """{"secrets":[{"name":"aws-registry"}]}""");
        await PatchBuilder(other, """{"automountServiceAccountToken":true}""");
        await PatchBuilder(other, """{"metadata":{"labels":{"team":"admins"}}}""");

        var builder = await h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("builder", "apps");
        Assert.True(builder.AutomountServiceAccountToken);
        Assert.Equal("admins", builder.Metadata.Labels["team"]);
        Assert.Equal(["aws-registry"], builder.Secrets.Select(s => s.Name));
        Assert.NotNull(h.Cluster.Store.Get(TestCluster.Api.ResourceType.Secrets, "kube-system", DaemonHarness.SecretName));
        Assert.All(h.Requests.Since(mark).Where(r => r.Identity == "system:serviceaccount:ecr-daemon:other"), r => Assert.InRange(r.Code, 200, 299));
    }

    private static V1ServiceAccount Builder() => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "builder",
            Labels = new Dictionary<string, string> { ["team"] = "a" },
            Annotations = new Dictionary<string, string> { ["note"] = "keep" },
        },
        Secrets = [new V1ObjectReference { Name = "token" }],
        AutomountServiceAccountToken = false,
        ImagePullSecrets = [new V1LocalObjectReference { Name = "other-registry" }],
    };

    /// <summary>Everything but imagePullSecrets and the marker annotations is as <see cref="Builder"/> made it.</summary>
    private static void AssertUntouched(V1ServiceAccount sa)
    {
        Assert.Equal(new Dictionary<string, string> { ["team"] = "a" }, sa.Metadata.Labels);
        Assert.Equal("keep", sa.Metadata.Annotations["note"]);
        Assert.Equal(["token"], sa.Secrets.Select(s => s.Name));
        Assert.False(sa.AutomountServiceAccountToken);
        Assert.Null(sa.Metadata.Finalizers);
    }

    private static Task<V1ServiceAccount> PatchBuilder(k8s.Kubernetes client, string mergePatch) =>
        client.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(mergePatch, V1Patch.PatchType.MergePatch), "builder", "apps");

    private static V1Secret Secret(string type, bool labelled) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = DaemonHarness.SecretName,
            Labels = labelled ? new Dictionary<string, string> { [Markers.ManagedByLabel] = Markers.ManagedByValue } : null,
        },
        Type = type,
        Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = Encoding.UTF8.GetBytes("""{"auths":{}}""") },
    };

    private static V1Secret Unlabelled(string type, string key) => new()
    {
        Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName },
        Type = type,
        Data = new Dictionary<string, byte[]> { [key] = Encoding.UTF8.GetBytes(key == ".dockercfg" ? """{"example.com":{"auth":"eDp5"}}""" : """{"auths":{}}""") },
    };

    /// <summary>The secret the token controller would fill with a privileged ServiceAccount's token; labelled, so that only its type is wrong.</summary>
    private static V1Secret TokenSecret() => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = DaemonHarness.SecretName,
            Labels = new Dictionary<string, string> { [Markers.ManagedByLabel] = Markers.ManagedByValue },
            Annotations = new Dictionary<string, string> { ["kubernetes.io/service-account.name"] = "clusterrole-aggregation-controller" },
        },
        Type = "kubernetes.io/service-account-token",
    };

    /// <summary>The call is refused with 403 and exactly the policy's message for <paramref name="reason"/>.</summary>
    private static async Task Denied(Func<Task> call, string reason)
    {
        var e = await Assert.ThrowsAnyAsync<HttpOperationException>(call);
        Assert.True(e.Response.StatusCode == HttpStatusCode.Forbidden, $"{(int)e.Response.StatusCode}: {e.Response.Content}");
        var status = JsonSerializer.Deserialize<JsonElement>(e.Response.Content);
        var resource = status.GetProperty("details").GetProperty("kind").GetString();
        var name = status.GetProperty("details").GetProperty("name").GetString();
        Assert.Equal($"{resource} \"{name}\" is forbidden: {Policy}{reason}", status.GetProperty("message").GetString());
    }
}
