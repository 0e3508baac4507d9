using EcrDaemon.Configuration;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>helm lint, strict rendering, schema rejection and what the templates render.</summary>
public sealed class ChartTests
{
    [ToolFact("helm")]
    public async Task Helm_lint_strict_passes_with_defaults_and_with_every_feature_on()
    {
        var values = Path.GetTempFileName();
        await File.WriteAllTextAsync(values, HelmChart.AllFeatures);
        try
        {
            var defaults = await Tools.RunAsync(Tools.Require("helm"), ["lint", "--strict", HelmChart.ChartDirectory]);
            var all = await Tools.RunAsync(Tools.Require("helm"), ["lint", "--strict", HelmChart.ChartDirectory, "-f", values]);

            Assert.True(defaults.ExitCode == 0, defaults.ToString());
            Assert.True(all.ExitCode == 0, all.ToString());
        }
        finally
        {
            File.Delete(values);
        }
    }

    [ToolFact("helm")]
    public async Task Every_rendered_manifest_deserializes_strictly_into_KubernetesClient_models()
    {
        var defaults = HelmChart.LoadStrict(await HelmChart.RenderAsync());
        var all = HelmChart.LoadStrict(await HelmChart.RenderAsync(HelmChart.AllFeatures));

        Assert.Equal(["V1ClusterRole", "V1ClusterRoleBinding", "V1Deployment", "V1Service", "V1ServiceAccount"],
            defaults.Select(o => o.GetType().Name).Order(StringComparer.Ordinal));
        Assert.Contains(all, o => o is V1Secret);
        Assert.Contains(all, o => o is V1ConfigMap);
        Assert.Contains(all, o => o is V1Role);
        Assert.Contains(all, o => o is V1RoleBinding);
        Assert.Contains(all, o => o is V1PodDisruptionBudget);
        Assert.Contains(all, o => o is V1ValidatingAdmissionPolicy);
        Assert.Contains(all, o => o is V1ValidatingAdmissionPolicyBinding);
        Assert.Contains(all, o => o is V1NetworkPolicy);
    }

    [Fact]
    public void Strict_loading_rejects_an_unknown_field()
    {
        const string Bad = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n";

        Assert.ThrowsAny<Exception>(() => HelmChart.LoadStrict(Bad));
        Assert.Single(HelmChart.LoadStrict(Bad.Replace("portz", "ports", StringComparison.Ordinal)));
    }

    [ToolTheory("helm")]
    [InlineData("config: { refreshAt: 1.5 }", "/config/refreshAt")]
    [InlineData("config: { refreshAt: 0 }", "/config/refreshAt")]
    [InlineData("replicaCount: 0", "/replicaCount")]
    [InlineData("leaderElection: { leaseDuration: 15 }", "/leaderElection/leaseDuration")]
    [InlineData("registries: [ { accountId: \"111111111111\" } ]", "missing property 'region'")]
    [InlineData("registries: [ { region: us-west-2, accountId: \"12\" } ]", "/registries/0/accountId")]
    [InlineData("config: { secretName: AWS_Registry }", "/config/secretName")]
    [InlineData("config: { serviceAccounts: [\"Default\"] }", "/config/serviceAccounts/0")]
    [InlineData("config: { refresh: 0.5 }", "additional properties 'refresh' not allowed")]
    [InlineData("port: 80", "/port")]
    [InlineData("aws: { account: \"12ab\" }", "/aws/account")]
    public async Task Bad_values_are_rejected_by_the_schema_naming_the_value(string values, string expected)
    {
        var result = await HelmChart.TryRenderAsync(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("helm")]
    public async Task The_Deployment_passes_the_restricted_profile_and_probes_livez_and_readyz()
    {
        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync()).OfType<V1Deployment>().Single();
        var pod = deployment.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);

        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        var security = container.SecurityContext;
        Assert.True(security.RunAsNonRoot);
        Assert.True(security.RunAsUser > 0);
        Assert.True(security.ReadOnlyRootFilesystem);
        Assert.False(security.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], security.Capabilities.Drop);
        Assert.Equal("RuntimeDefault", security.SeccompProfile.Type);
        Assert.Equal("/livez", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.NotNull(container.Resources.Requests);
        Assert.Equal(8080, Assert.Single(container.Ports).ContainerPort);
    }

    [ToolFact("helm")]
    public async Task A_changed_configuration_changes_the_checksum_that_rolls_the_pods()
    {
        static string Checksum(string rendered) =>
            HelmChart.LoadStrict(rendered).OfType<V1Deployment>().Single().Spec.Template.Metadata.Annotations["checksum/config"];

        var before = Checksum(await HelmChart.RenderAsync());
        var same = Checksum(await HelmChart.RenderAsync());
        var after = Checksum(await HelmChart.RenderAsync("config: { secretName: ecr-pull }"));

        Assert.Equal(before, same);
        Assert.NotEqual(before, after);
    }

    [ToolFact("helm")]
    public async Task IRSA_annotates_the_ServiceAccount_and_the_seeds_existing_secret_is_used_unchanged()
    {
        var irsa = HelmChart.LoadStrict(await HelmChart.RenderAsync(
            "serviceAccount: { annotations: { eks.amazonaws.com/role-arn: \"arn:aws:iam::123456789012:role/ecr-daemon\" } }"));
        var seed = HelmChart.LoadStrict(await HelmChart.RenderAsync("aws: { existingSecret: aws-account-creds }"));

        Assert.Equal("arn:aws:iam::123456789012:role/ecr-daemon", irsa.OfType<V1ServiceAccount>().Single().Metadata.Annotations["eks.amazonaws.com/role-arn"]);
        Assert.Null(irsa.OfType<V1Deployment>().Single().Spec.Template.Spec.Containers[0].EnvFrom);
        Assert.DoesNotContain(seed, o => o is V1Secret);
        Assert.Equal("aws-account-creds", Assert.Single(seed.OfType<V1Deployment>().Single().Spec.Template.Spec.Containers[0].EnvFrom).SecretRef.Name);
    }

    [ToolFact("helm")]
    public async Task The_rendered_environment_is_a_valid_daemon_configuration_with_every_value()
    {
        var objects = HelmChart.LoadStrict(await HelmChart.RenderAsync(HelmChart.AllFeatures + """

            config:
              namespaceSelector: "team in (a,b)"
              serviceAccounts: ["default", "builder"]
              refreshAt: 0.25
              adoptUnmanagedSecrets: true
            """));
        var env = objects.OfType<V1Deployment>().Single().Spec.Template.Spec.Containers[0].Env;
        var settings = env.ToDictionary(e => e.Name.Replace("__", ":", StringComparison.Ordinal), e => (string?)e.Value);

        // The daemon's own binding and validation (ValidateOnStart) accept exactly this.
        using var services = EcrTestServices.Build(settings);
        var options = services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;

        Assert.Equal("team in (a,b)", options.NamespaceSelector);
        Assert.Equal(["default", "builder"], options.TargetServiceAccounts);
        Assert.Equal(0.25, options.RefreshAt);
        Assert.True(options.AdoptUnmanagedSecrets);
        Assert.Equal([("us-west-2", "111111111111", null), ("eu-central-1", "333333333333", "arn:aws:iam::333333333333:role/ecr-pull")],
            options.Registries.Select(r => (r.Region, r.AccountId, r.RoleArn)));
        Assert.Equal("my-cluster", options.Registries[1].ExternalId);
        var secret = objects.OfType<V1Secret>().Single();
        Assert.Equal(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], secret.StringData.Keys.Order(StringComparer.Ordinal));
    }
}
