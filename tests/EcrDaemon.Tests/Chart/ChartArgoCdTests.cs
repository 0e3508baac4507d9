using EcrDaemon.Configuration;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// A profile with <c>format: ArgoCdRepositoryCredentials</c> in the chart: its environment, the RBAC and admission
/// policy for its per-registry secret names, and the real daemon writing them under exactly those rules.
/// </summary>
public sealed class ChartArgoCdTests
{
    private const string Values = """
        registries:
          - { name: acct-a, region: us-west-2, accountId: "111111111111" }
          - { name: acct-b, region: us-west-2, accountId: "222222222222" }
        profiles:
          - { name: argocd, namespaceSelector: argocd=true, secretName: ecr-helm, registries: [acct-a, acct-b], format: ArgoCdRepositoryCredentials }
          - { name: team-a, namespaceSelector: team=a, secretName: ecr-team-a, registries: [acct-a] }
        """;

    [ToolFact("helm")]
    public async Task The_chart_renders_the_format_and_grants_one_secret_name_per_registry()
    {
        var rendered = HelmChart.LoadStrict(await HelmChart.RenderAsync(Values, "--set", "admissionPolicy.enabled=true"));
        var env = rendered.OfType<V1Deployment>().Single().Spec.Template.Spec.Containers[0].Env.ToDictionary(e => e.Name, e => e.Value);
        var role = rendered.OfType<V1ClusterRole>().Single();

        Assert.Equal("ArgoCdRepositoryCredentials", env["EcrDaemon__Profiles__0__Format"]);
        Assert.False(env.ContainsKey("EcrDaemon__Profiles__1__Format"));
        Assert.Contains(role.Rules, r => r.ResourceNames?.SequenceEqual(["ecr-helm-acct-a", "ecr-helm-acct-b", "ecr-team-a"]) == true);
        var settings = env.ToDictionary(e => e.Key.Replace("__", ":", StringComparison.Ordinal), e => (string?)e.Value);
        using var services = EcrTestServices.Build(settings);
        Assert.Equal(SecretFormat.ArgoCdRepositoryCredentials, services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value.Profiles[0].Format);
    }

    [ToolFact("helm")]
    public async Task The_chart_refuses_serviceAccounts_on_an_Argo_CD_profile_and_a_format_it_does_not_know()
    {
        var withAccounts = await HelmChart.TryRenderAsync(Values.Replace("format: ArgoCdRepositoryCredentials }", "format: ArgoCdRepositoryCredentials, serviceAccounts: [default] }", StringComparison.Ordinal));
        var unknown = await HelmChart.TryRenderAsync(Values.Replace("ArgoCdRepositoryCredentials", "ArgoCD", StringComparison.Ordinal));

        Assert.True(withAccounts.ExitCode != 0 && withAccounts.StandardError.Contains("profiles[0].serviceAccounts", StringComparison.Ordinal), withAccounts.ToString());
        Assert.True(unknown.ExitCode != 0 && unknown.StandardError.Contains("format", StringComparison.Ordinal), unknown.ToString());
    }

    [ToolFact("helm")]
    public async Task Under_the_charts_RBAC_and_policy_the_daemon_writes_and_rotates_the_Argo_CD_credentials_without_a_refused_request()
    {
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = await HelmChart.RbacAsync(Values, admissionPolicy: true) });
        Assert.Equal(1, h.Cluster.AdmissionPolicies.PolicyCount);
        await h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "argocd", Labels = new Dictionary<string, string> { ["argocd"] = "true" } } });
        var settings = new Dictionary<string, string?>
        {
            ["EcrDaemon:Registries:0:Name"] = "acct-a",
            ["EcrDaemon:Registries:0:AccountId"] = "111111111111",
            ["EcrDaemon:Registries:1:Name"] = "acct-b",
            ["EcrDaemon:Registries:1:Region"] = h.Ecr.Region,
            ["EcrDaemon:Registries:1:AccountId"] = "222222222222",
            ["EcrDaemon:Registries:1:Endpoint"] = h.Ecr.Endpoint.ToString(),
            ["EcrDaemon:Profiles:0:Name"] = "argocd",
            ["EcrDaemon:Profiles:0:NamespaceSelector"] = "argocd=true",
            ["EcrDaemon:Profiles:0:SecretName"] = "ecr-helm",
            ["EcrDaemon:Profiles:0:Registries:0"] = "acct-a",
            ["EcrDaemon:Profiles:0:Registries:1"] = "acct-b",
            ["EcrDaemon:Profiles:0:Format"] = "ArgoCdRepositoryCredentials",
            ["EcrDaemon:Profiles:1:Name"] = "team-a",
            ["EcrDaemon:Profiles:1:NamespaceSelector"] = "team=a",
            ["EcrDaemon:Profiles:1:SecretName"] = "ecr-team-a",
            ["EcrDaemon:Profiles:1:Registries:0"] = "acct-a",
        };

        await h.StartDaemonAsync(settings);
        await Poll.Until(() => h.Secret("argocd", "ecr-helm-acct-a") is not null && h.Secret("argocd", "ecr-helm-acct-b") is not null, () => h.Describe(["argocd"]));
        await h.IdleAsync();
        var mark = h.Requests.Mark();
        h.Ecr.Generation = 1;
        h.Refresher.RequestRefresh();
        await Poll.Until(() => h.DaemonWrites(mark).Count(w => w is { Verb: "patch", Resource: "secrets", Code: 200 }) == 2, () => DaemonHarness.Summary(h.DaemonWrites(mark)));
        await h.IdleAsync();
        Assert.Equal(0, await h.StopDaemonAsync());

        var daemon = h.Requests.All.Where(r => r.Identity == DaemonHarness.Identity).ToList();
        var denied = daemon.Where(r => r.Code is 401 or 403 or 422).ToList();
        Assert.True(denied.Count == 0, "denied: " + DaemonHarness.Summary(denied));
        Assert.DoesNotContain(daemon, r => r is { Resource: "serviceaccounts", Verb: "patch" });
    }
}
