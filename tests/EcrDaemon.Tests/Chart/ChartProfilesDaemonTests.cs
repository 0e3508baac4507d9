using System.Text.Json.Nodes;
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
/// The chart's profiles against the real daemon: the environment the chart renders binds and validates as the
/// daemon's configuration, and the daemon runs two profiles under exactly the RBAC and admission policy the chart
/// renders for them without one refused request.
/// </summary>
public sealed class ChartProfilesDaemonTests
{
    [ToolFact("helm")]
    public async Task The_rendered_profile_environment_is_a_valid_daemon_configuration()
    {
        static async Task<EcrDaemonOptions> OptionsAsync(string values)
        {
            var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(values)).OfType<V1Deployment>().Single();
            var settings = deployment.Spec.Template.Spec.Containers[0].Env.ToDictionary(e => e.Name.Replace("__", ":", StringComparison.Ordinal), e => (string?)e.Value);
            using var services = EcrTestServices.Build(settings);
            return services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;
        }

        var profiles = await OptionsAsync(ChartProfilesTests.ThreeProfiles);
        var secretOnly = await OptionsAsync("config: { serviceAccounts: [] }\naws: { region: us-west-2, account: \"123456789012\" }");

        Assert.Equal(["team-a", "team-b"], profiles.Registries.Select(r => r.Name));
        Assert.Equal(["team-a", "team-b", "platform"], profiles.Profiles.Select(p => p.Name));
        Assert.Equal(["team=a", "team in (b)", "platform=true"], profiles.Profiles.Select(p => p.NamespaceSelector));
        Assert.Equal(["ecr-team-a", "ecr-team-b", "ecr-platform"], profiles.Profiles.Select(p => p.SecretName));
        Assert.Equal(["team-a", "team-b"], profiles.Profiles[2].Registries);
        Assert.Null(profiles.Profiles[0].ServiceAccounts);                  // omitted: the daemon's default ["default"]
        Assert.Equal([], profiles.Profiles[1].ServiceAccounts!);             // []: the secret only
        Assert.Equal(["*", "builder"], profiles.Profiles[2].ServiceAccounts!);
        Assert.Equal(["sandbox"], profiles.Profiles[2].ExcludedNamespaces!);
        Assert.Equal([], secretOnly.ServiceAccounts!);
        Assert.Empty(secretOnly.Profiles);
    }

    private const string TwoProfiles = """
        registries:
          - { name: team-a, region: us-west-2, accountId: "111111111111" }
          - { name: shared, region: us-west-2, accountId: "123456789012" }
        profiles:
          - { name: team-a, namespaceSelector: team=a, secretName: ecr-team-a, registries: [team-a, shared] }
          - { name: shared, namespaceSelector: ecr-daemon.io/enabled=true, secretName: aws-registry, registries: [shared], serviceAccounts: [] }
        """;

    [ToolFact("helm")]
    public async Task Under_the_charts_RBAC_and_policy_for_two_profiles_the_daemon_writes_and_removes_both_secrets_without_a_refused_request()
    {
        var rbac = await HelmChart.RbacAsync(TwoProfiles, admissionPolicy: true);
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = rbac });
        Assert.Equal(1, h.Cluster.AdmissionPolicies.PolicyCount);
        await h.CreateNamespaceAsync("a", optedIn: false);
        await h.CreateNamespaceAsync("s", optedIn: true);
        await h.CreateNamespaceAsync("both", optedIn: true);
        await TeamAsync(h, "a", "a");
        await TeamAsync(h, "both", "a");

        // The settings the chart renders for TwoProfiles, with the stand-in's endpoint and account ids.
        var teamA = "111111111111";
        var shared = h.Ecr.DefaultAccountId;
        await h.StartDaemonAsync(new Dictionary<string, string?>
        {
            ["EcrDaemon:Registries:0:Name"] = "team-a",
            ["EcrDaemon:Registries:0:AccountId"] = teamA,
            ["EcrDaemon:Registries:1:Name"] = "shared",
            ["EcrDaemon:Registries:1:Region"] = h.Ecr.Region,
            ["EcrDaemon:Registries:1:AccountId"] = shared,
            ["EcrDaemon:Registries:1:Endpoint"] = h.Ecr.Endpoint.ToString(),
            ["EcrDaemon:Profiles:0:Name"] = "team-a",
            ["EcrDaemon:Profiles:0:NamespaceSelector"] = "team=a",
            ["EcrDaemon:Profiles:0:SecretName"] = "ecr-team-a",
            ["EcrDaemon:Profiles:0:Registries:0"] = "team-a",
            ["EcrDaemon:Profiles:0:Registries:1"] = "shared",
            ["EcrDaemon:Profiles:1:Name"] = "shared",
            ["EcrDaemon:Profiles:1:NamespaceSelector"] = "ecr-daemon.io/enabled=true",
            ["EcrDaemon:Profiles:1:SecretName"] = "aws-registry",
            ["EcrDaemon:Profiles:1:Registries:0"] = "shared",
            ["EcrDaemon:Profiles:1:ServiceAccounts"] = "",
        });

        await Poll.Until(() => Hosts(h, "a", "ecr-team-a").Length == 2 && Hosts(h, "both", "ecr-team-a").Length == 2
            && Hosts(h, "s", "aws-registry").Length == 1 && Hosts(h, "both", "aws-registry").Length == 1
            && h.PullSecrets("both")!.SequenceEqual(["ecr-team-a"]), () => h.Describe(["a", "s", "both"]));
        Assert.Equal([h.Ecr.HostFor(teamA), h.Ecr.HostFor(shared)], Hosts(h, "a", "ecr-team-a"));
        Assert.Equal([h.Ecr.HostFor(shared)], Hosts(h, "s", "aws-registry"));
        Assert.Empty(h.PullSecrets("s")!);                                   // profile shared is secret only

        await TeamAsync(h, "both", null);                                    // "both" leaves profile team-a
        await Poll.Until(() => h.Secret("both", "ecr-team-a") is null && h.PullSecrets("both")!.Length == 0, () => h.Describe(["both"]));
        Assert.NotNull(h.Secret("both", "aws-registry"));
        await h.IdleAsync();
        Assert.Equal(0, await h.StopDaemonAsync());

        var daemon = h.Requests.All.Where(r => r.Identity == DaemonHarness.Identity).ToList();
        Assert.Contains(daemon, r => r is { Verb: "create", Resource: "secrets", Code: 201 });
        Assert.Contains(daemon, r => r is { Verb: "delete", Resource: "secrets", Code: 200 });
        Assert.Contains(daemon, r => r is { Verb: "patch", Resource: "serviceaccounts", Code: 200 });
        var denied = daemon.Where(r => r.Code is 401 or 403 or 422).ToList();
        Assert.True(denied.Count == 0, "denied: " + DaemonHarness.Summary(denied));
    }

    private static async Task TeamAsync(DaemonHarness h, string ns, string? team) =>
        await h.Admin.CoreV1.PatchNamespaceAsync(new V1Patch(
            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["team"] = team } } }.ToJsonString(), V1Patch.PatchType.MergePatch), ns);

    /// <summary>The registry hosts in a stored secret's .dockerconfigjson, sorted; empty when there is no such secret.</summary>
    private static string[] Hosts(DaemonHarness h, string ns, string secret)
    {
        var data = h.Secret(ns, secret)?["data"]?[".dockerconfigjson"]?.GetValue<string>();
        return data is null ? [] : [.. (JsonNode.Parse(Convert.FromBase64String(data))!["auths"]?.AsObject() ?? []).Select(a => a.Key).Order(StringComparer.Ordinal)];
    }
}
