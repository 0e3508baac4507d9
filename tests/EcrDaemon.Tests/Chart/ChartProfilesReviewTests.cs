using System.Text.RegularExpressions;
using EcrDaemon.Configuration;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// Review of the chart with profiles: the environment it renders binds to exactly what the values mean, also for
/// values at the edges (an empty list).
/// </summary>
public sealed class ChartProfilesReviewTests
{
    private static async Task<EcrDaemonOptions> OptionsAsync(string values)
    {
        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(values)).OfType<V1Deployment>().Single();
        var settings = deployment.Spec.Template.Spec.Containers[0].Env.ToDictionary(e => e.Name.Replace("__", ":", StringComparison.Ordinal), e => (string?)e.Value);
        using var services = EcrTestServices.Build(settings);
        return services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;
    }

    /// <summary>
    /// <c>config.excludedNamespaces: []</c> means "exclude none" (as <c>serviceAccounts: []</c> means "none"): the daemon must
    /// not fall back to its default kube-system, kube-public and kube-node-lease, or a profile selecting kube-system
    /// silently never writes there.
    /// </summary>
    [ToolFact("helm")]
    public async Task An_empty_excludedNamespaces_list_binds_as_no_exclusions_not_as_the_daemons_default()
    {
        const string registries = """
            registries:
              - { name: a, region: us-west-2, accountId: "111111111111" }
            """;
        var none = await OptionsAsync(registries + "\nconfig: { excludedNamespaces: [] }\nprofiles:\n  - { name: p, namespaceSelector: x=y, secretName: s, registries: [a] }");
        var byDefault = await OptionsAsync(registries + "\nprofiles:\n  - { name: p, namespaceSelector: x=y, secretName: s, registries: [a] }");
        var one = await OptionsAsync(registries + "\nconfig: { excludedNamespaces: [kube-system] }\nprofiles:\n  - { name: p, namespaceSelector: x=y, secretName: s, registries: [a] }");

        Assert.Empty(none.Excluded);
        Assert.Equal(["kube-system", "kube-public", "kube-node-lease"], byDefault.Excluded);
        Assert.Equal(["kube-system"], one.Excluded);
    }

    /// <summary>
    /// The README's uninstall runs <c>cleanup</c> with the Deployment's configuration: a pod started with only the image and
    /// the ServiceAccount (as the README said before) cleans the default name aws-registry, which with profiles is no
    /// profile's secret and not in the chart's ClusterRole (and without AWS_REGION it exits 2 at once). The jq program in
    /// the README, applied to the rendered Deployment, must give a Job that runs <c>cleanup</c> with the same environment,
    /// ServiceAccount, image and securityContext, whose configuration names every profile's secret.
    /// </summary>
    [ToolFact("helm", "jq")]
    public async Task The_READMEs_uninstall_runs_cleanup_with_the_Deployments_configuration()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(Tools.RepositoryRoot, "README.md"));
        var uninstall = readme[readme.IndexOf("### Uninstall", StringComparison.Ordinal)..];
        uninstall = uninstall[..uninstall.IndexOf("\n## ", StringComparison.Ordinal)];
        var program = Regex.Match(uninstall, @"\| jq '(?<program>[^']+)'", RegexOptions.Singleline);
        Assert.True(program.Success, $"the README's Uninstall section builds no cleanup Job from the Deployment with jq:\n{uninstall}");

        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(ChartProfilesTests.ThreeProfiles)).OfType<V1Deployment>().Single();
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, ModelJson.Serialize(deployment));
            var jq = await Tools.RunAsync("jq", [program.Groups["program"].Value, file], timeout: TimeSpan.FromSeconds(30));
            Assert.True(jq.ExitCode == 0, jq.ToString());
            var job = KubernetesJson.Deserialize<V1Job>(jq.StandardOutput);
            var (pod, daemon) = (job.Spec.Template.Spec, deployment.Spec.Template.Spec);
            var container = Assert.Single(pod.Containers);
            Assert.Equal("Job", job.Kind);
            Assert.Equal("Never", pod.RestartPolicy);
            Assert.Equal(["cleanup"], container.Args);
            Assert.Equal(daemon.Containers[0].Image, container.Image);
            Assert.Equal(daemon.ServiceAccountName, pod.ServiceAccountName);
            Assert.Equal(ModelJson.Serialize(daemon.SecurityContext), ModelJson.Serialize(pod.SecurityContext));
            Assert.Equal(ModelJson.Serialize(daemon.Containers[0].SecurityContext), ModelJson.Serialize(container.SecurityContext));
            Assert.Equal(ModelJson.Serialize(daemon.Containers[0].Env), ModelJson.Serialize(container.Env));
            Assert.Null(container.LivenessProbe);
            Assert.Null(container.ReadinessProbe);
            Assert.Empty(job.Spec.Template.Metadata?.Labels ?? new Dictionary<string, string>()); // not a pod of the Service or the PodDisruptionBudget

            var settings = container.Env.Where(e => e.Value is not null).ToDictionary(e => e.Name.Replace("__", ":", StringComparison.Ordinal), e => (string?)e.Value);
            using var services = EcrTestServices.Build(settings);
            Assert.Equal(["ecr-team-a", "ecr-team-b", "ecr-platform"], services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value.Profiles.Select(p => p.SecretName));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
