using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// The chart values that let it install anywhere: IDs left to the platform (OpenShift restricted-v2),
/// scheduling, pod metadata, an image digest, proxies and extra environment variables. Each renders,
/// deserializes strictly into the Kubernetes models, and is checked by the schema.
/// </summary>
public sealed class ChartInstallAnywhereTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static async Task<V1Deployment> DeploymentAsync(string values = "") =>
        Assert.Single(HelmChart.LoadStrict(await HelmChart.RenderAsync(values)).OfType<V1Deployment>());

    private static V1Container Container(V1Deployment deployment) => Assert.Single(deployment.Spec.Template.Spec.Containers);

    private static void AssertHardened(V1Deployment deployment)
    {
        var pod = deployment.Spec.Template.Spec.SecurityContext;
        var container = Container(deployment).SecurityContext;
        Assert.True(pod.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", pod.SeccompProfile.Type);
        Assert.True(container.RunAsNonRoot);
        Assert.True(container.ReadOnlyRootFilesystem);
        Assert.False(container.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.Capabilities.Drop);
        Assert.Null(container.Capabilities.Add);
        Assert.Equal("RuntimeDefault", container.SeccompProfile.Type);
    }

    [ToolFact("helm")]
    public async Task Defaults_run_as_1654_on_linux_nodes_without_proxy_variables()
    {
        var deployment = await DeploymentAsync();

        var pod = deployment.Spec.Template.Spec;
        AssertHardened(deployment);
        Assert.Equal((1654L, 1654L, 1654L), (pod.SecurityContext.RunAsUser!.Value, pod.SecurityContext.RunAsGroup!.Value, pod.SecurityContext.FsGroup!.Value));
        Assert.Equal((1654L, 1654L), (Container(deployment).SecurityContext.RunAsUser!.Value, Container(deployment).SecurityContext.RunAsGroup!.Value));
        Assert.Equal(new Dictionary<string, string> { ["kubernetes.io/os"] = "linux" }, pod.NodeSelector);
        Assert.Null(pod.TopologySpreadConstraints);
        Assert.Null(pod.Tolerations);
        Assert.Null(pod.Affinity);
        Assert.Null(pod.PriorityClassName);
        Assert.StartsWith("ghcr.io/ecr-daemon/ecr-daemon:", Container(deployment).Image, StringComparison.Ordinal);
        Assert.DoesNotContain(Container(deployment).Env, e => e.Name.Contains("PROXY", StringComparison.OrdinalIgnoreCase));
    }

    [ToolTheory("helm")]
    [InlineData("securityContext: { runAsUser: null, runAsGroup: null, fsGroup: null }", null, null, null)]
    [InlineData("securityContext: { runAsUser: null }", null, 1654L, 1654L)]
    [InlineData("securityContext: { fsGroup: null }", 1654L, 1654L, null)]
    [InlineData("securityContext: { runAsUser: 1000700000, runAsGroup: 1000700000, fsGroup: 1000700000 }", 1000700000L, 1000700000L, 1000700000L)]
    public async Task The_ids_can_be_left_to_the_platform_and_the_pod_stays_non_root_read_only_and_without_capabilities(
        string values, long? user, long? group, long? fsGroup)
    {
        var deployment = await DeploymentAsync(values);

        var pod = deployment.Spec.Template.Spec.SecurityContext;
        var container = Container(deployment).SecurityContext;
        AssertHardened(deployment);
        Assert.Equal((user, group, fsGroup), (pod.RunAsUser, pod.RunAsGroup, pod.FsGroup));
        Assert.Equal((user, group), (container.RunAsUser, container.RunAsGroup));
    }

    [ToolFact("helm")]
    public async Task The_OpenShift_restricted_v2_example_of_the_README_renders_no_fixed_id()
    {
        var section = Readme.Text[Readme.Text.IndexOf("### OpenShift (restricted-v2)", StringComparison.Ordinal)..];
        var yaml = section[(section.IndexOf("```yaml\n", StringComparison.Ordinal) + 8)..];
        yaml = yaml[..yaml.IndexOf("```", StringComparison.Ordinal)];

        var rendered = await HelmChart.RenderAsync(yaml);

        Assert.DoesNotContain("runAsUser", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("runAsGroup", rendered, StringComparison.Ordinal);
        Assert.DoesNotContain("fsGroup", rendered, StringComparison.Ordinal);
        AssertHardened(Assert.Single(HelmChart.LoadStrict(rendered).OfType<V1Deployment>()));
    }

    [ToolFact("helm")]
    public async Task An_image_digest_pins_the_image_and_replaces_the_tag()
    {
        var deployment = await DeploymentAsync($"image: {{ repository: registry.example/ecr-daemon, tag: \"1.2.3\", digest: \"{Digest}\" }}");

        Assert.Equal($"registry.example/ecr-daemon@{Digest}", Container(deployment).Image);
    }

    [ToolFact("helm")]
    public async Task Scheduling_values_render_into_the_pod()
    {
        var deployment = await DeploymentAsync("""
            nodeSelector: { node-role.example/infra: "true" }
            tolerations:
              - { key: dedicated, operator: Equal, value: infra, effect: NoSchedule }
            affinity:
              nodeAffinity:
                requiredDuringSchedulingIgnoredDuringExecution:
                  nodeSelectorTerms:
                    - matchExpressions: [ { key: kubernetes.io/arch, operator: In, values: [amd64, arm64] } ]
            topologySpreadConstraints:
              - maxSkew: 1
                topologyKey: topology.kubernetes.io/zone
                whenUnsatisfiable: ScheduleAnyway
                labelSelector: { matchLabels: { app.kubernetes.io/name: ecr-daemon } }
            priorityClassName: system-cluster-critical
            """);

        var pod = deployment.Spec.Template.Spec;
        // Helm merges maps: the default kubernetes.io/os stays next to the added key.
        Assert.Equal(new Dictionary<string, string> { ["kubernetes.io/os"] = "linux", ["node-role.example/infra"] = "true" }, pod.NodeSelector);
        var toleration = Assert.Single(pod.Tolerations);
        Assert.Equal(("dedicated", "Equal", "infra", "NoSchedule"), (toleration.Key, toleration.OperatorProperty, toleration.Value, toleration.Effect));
        var term = Assert.Single(pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms);
        Assert.Equal(["amd64", "arm64"], Assert.Single(term.MatchExpressions).Values);
        var spread = Assert.Single(pod.TopologySpreadConstraints);
        Assert.Equal((1, "topology.kubernetes.io/zone", "ScheduleAnyway"), (spread.MaxSkew, spread.TopologyKey, spread.WhenUnsatisfiable));
        Assert.Equal("ecr-daemon", spread.LabelSelector.MatchLabels["app.kubernetes.io/name"]);
        Assert.Equal("system-cluster-critical", pod.PriorityClassName);
    }

    [ToolFact("helm")]
    public async Task The_linux_node_selector_can_be_dropped_with_null()
    {
        var deployment = await DeploymentAsync("nodeSelector: { kubernetes.io/os: null }");

        Assert.Null(deployment.Spec.Template.Spec.NodeSelector);
    }

    [ToolFact("helm")]
    public async Task Pod_labels_and_annotations_are_added_next_to_the_charts_own()
    {
        var deployment = await DeploymentAsync("""
            podLabels: { team: platform, sidecar.istio.io/inject: "false" }
            podAnnotations: { example.com/owner: platform }
            """);

        var metadata = deployment.Spec.Template.Metadata;
        Assert.Equal("platform", metadata.Labels["team"]);
        Assert.Equal("false", metadata.Labels["sidecar.istio.io/inject"]);
        Assert.Equal("ecr-daemon", metadata.Labels["app.kubernetes.io/name"]); // the selector's labels stay
        Assert.Equal("platform", metadata.Annotations["example.com/owner"]);
        Assert.Contains("checksum/config", metadata.Annotations.Keys);
    }

    [ToolFact("helm")]
    public async Task Proxy_values_render_the_proxy_variables_only_when_a_proxy_is_set()
    {
        var httpsOnly = Container(await DeploymentAsync("proxy: { https: \"http://proxy.corp.example:3128\" }")).Env;
        var both = Container(await DeploymentAsync("proxy: { https: \"http://p:3128\", http: \"http://p:3128\", noProxy: \"localhost,.corp.example\" }")).Env;
        var noProxyOnly = Container(await DeploymentAsync("proxy: { noProxy: \"localhost\" }")).Env;

        Assert.Equal("http://proxy.corp.example:3128", Assert.Single(httpsOnly, e => e.Name == "HTTPS_PROXY").Value);
        Assert.DoesNotContain(httpsOnly, e => e.Name == "HTTP_PROXY");
        Assert.Equal(
            "localhost,127.0.0.1,169.254.169.254,169.254.170.2,169.254.170.23,[fd00:ec2::254],[fd00:ec2::23],kubernetes.default.svc,.svc,.cluster.local",
            Assert.Single(httpsOnly, e => e.Name == "NO_PROXY").Value);
        Assert.Equal("http://p:3128", Assert.Single(both, e => e.Name == "HTTPS_PROXY").Value);
        Assert.Equal("http://p:3128", Assert.Single(both, e => e.Name == "HTTP_PROXY").Value);
        Assert.Equal("localhost,.corp.example", Assert.Single(both, e => e.Name == "NO_PROXY").Value);
        Assert.DoesNotContain(noProxyOnly, e => e.Name.Contains("PROXY", StringComparison.Ordinal));
    }

    [ToolFact("helm")]
    public async Task Extra_environment_variables_are_added_with_value_or_valueFrom()
    {
        var env = Container(await DeploymentAsync("""
            extraEnv:
              - { name: DOTNET_gcServer, value: "0" }
              - name: NODE_NAME
                valueFrom: { fieldRef: { fieldPath: spec.nodeName } }
            """)).Env;

        Assert.Equal("0", Assert.Single(env, e => e.Name == "DOTNET_gcServer").Value);
        Assert.Equal("spec.nodeName", Assert.Single(env, e => e.Name == "NODE_NAME").ValueFrom.FieldRef.FieldPath);
        Assert.Contains(env, e => e.Name == "POD_NAME"); // the chart's own stay
    }

    [ToolTheory("helm")]
    [InlineData("securityContext: { runAsUser: 0 }", "/securityContext/runAsUser")]
    [InlineData("securityContext: { fsGroup: \"1000\" }", "/securityContext/fsGroup")]
    [InlineData("securityContext: { runAsNonRoot: false }", "additional properties 'runAsNonRoot' not allowed")]
    [InlineData("image: { repository: x, digest: \"sha256:abc\" }", "/image/digest")]
    [InlineData("image: { repository: x, digest: \"1.2.3\" }", "/image/digest")]
    [InlineData("proxy: { https: \"http://a:1, http://b:2\" }", "/proxy/https")]
    [InlineData("proxy: { noProxy: \"a, b\" }", "/proxy/noProxy")]
    [InlineData("proxy: { socks: \"x\" }", "additional properties 'socks' not allowed")]
    [InlineData("extraEnv: [ { value: x } ]", "missing property 'name'")]
    [InlineData("extraEnv: [ { name: A, value: 1 } ]", "/extraEnv/0/value")]
    [InlineData("tolerations: [ \"NoSchedule\" ]", "/tolerations/0")]
    [InlineData("topologySpreadConstraints: [ { maxSkew: 1, whenUnsatisfiable: DoNotSchedule } ]", "missing property 'topologyKey'")]
    [InlineData("priorityClassName: High", "/priorityClassName")]
    [InlineData("nodeSelector: { kubernetes.io/os: 1 }", "/nodeSelector/kubernetes.io~1os")]
    public async Task Bad_values_are_rejected_by_the_schema_naming_the_value(string values, string expected)
    {
        var result = await HelmChart.TryRenderAsync(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.StandardError.Contains(expected, StringComparison.Ordinal), result.StandardError);
    }
}
