using EcrDaemon.Configuration;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
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
}
