using System.Text.RegularExpressions;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// The alert rules as the Helm chart renders them (files/alerts.yaml in its PrometheusRule) are
/// valid, behave as their promtool unit tests (helm/ecr-daemon/tests/) say, and keep to the README:
/// documented metric names, and runbook links to its headings.
/// </summary>
public sealed partial class AlertRulesTests : IDisposable
{
    private const string RunbookBase = "https://github.com/ecr-daemon/ecr-daemon/blob/main/README.md#";

    private static readonly string TestsDirectory = Path.Combine(HelmChart.ChartDirectory, "tests");

    private static readonly string[] Enabled = ["--set", "prometheusRule.enabled=true"];

    // The no-leader rule is rendered only with more than one replica.
    private static readonly string[] SeveralReplicas = [.. Enabled, "--set", "replicaCount=2"];

    private static readonly string[] Severities = ["critical", "warning", "info"];

    private static readonly string[] AnnotationKeys = ["description", "runbook", "summary"];

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("ecr-daemon-alerts-");

    public void Dispose() => _temp.Delete(recursive: true);

    [ToolFact("promtool", "helm")]
    public async Task The_rendered_rules_pass_promtool_check_and_their_unit_tests()
    {
        var spec = await RenderedSpecAsync(Enabled);

        Assert.Equal(
            ["EcrDaemonTokenExpiringSoon", "EcrDaemonTokenRefreshFailing", "EcrDaemonAbsent", "EcrDaemonNamespacesOutOfSync",
             "EcrDaemonUnmanagedSecretConflict", "EcrDaemonKubernetesRequestsFailing"],
            Rules(spec).Select(r => r.Scalar("alert")));
        await PromtoolAsync(spec, "alerts.test.yaml", expectedRules: 6);
    }

    [ToolFact("promtool", "helm")]
    public async Task The_no_leader_rule_comes_only_with_several_replicas_and_passes_its_unit_tests()
    {
        var spec = await RenderedSpecAsync(SeveralReplicas);

        Assert.Equal(["ecr-daemon", "ecr-daemon-leader"], Groups(spec).Select(g => g.Scalar("name")));
        Assert.Equal("EcrDaemonNoLeader", Assert.Single(Groups(spec)[1].At("rules") as YamlSequenceNode ?? [])!.Scalar("alert"));
        await PromtoolAsync(spec, "alerts-leader.test.yaml", expectedRules: 7);
    }

    [ToolFact("helm")]
    public async Task There_is_no_PrometheusRule_unless_enabled()
    {
        Assert.Empty((await HelmChart.TemplateAsync()).OfKind("PrometheusRule"));
    }

    [ToolFact("helm")]
    public async Task The_PrometheusRule_carries_the_chart_labels_and_the_configured_ones()
    {
        var rule = Assert.Single((await HelmChart.TemplateAsync([.. Enabled, "--set", "prometheusRule.labels.release=kube-prometheus-stack"])).OfKind("PrometheusRule"));

        Assert.Equal("monitoring.coreos.com/v1", rule.Scalar("apiVersion"));
        Assert.Equal("t-ecr-daemon", rule.Scalar("metadata", "name"));
        Assert.Equal("default", rule.Scalar("metadata", "namespace"));
        Assert.Equal("ecr-daemon", rule.Scalar("metadata", "labels", "app.kubernetes.io/name"));
        Assert.Equal("t", rule.Scalar("metadata", "labels", "app.kubernetes.io/instance"));
        Assert.Equal("kube-prometheus-stack", rule.Scalar("metadata", "labels", "release"));
    }

    [ToolFact("helm")]
    public async Task The_Prometheus_templates_pass_through_Helm_and_the_job_is_the_Services_name()
    {
        var rules = Rules(await RenderedSpecAsync([.. Enabled, "--namespace", "monitoring"]));

        Assert.Equal(
            """absent(ecr_daemon_build_info) or max(up{job="t-ecr-daemon", namespace="monitoring"}) == 0""",
            rules.Single(r => r.Scalar("alert") == "EcrDaemonAbsent").Scalar("expr"));
        Assert.StartsWith(
            "The ECR token for {{ $labels.registry }} expires",
            rules.Single(r => r.Scalar("alert") == "EcrDaemonTokenExpiringSoon").Scalar("annotations", "summary"), StringComparison.Ordinal);
        Assert.Contains(
            "of profile {{ $labels.profile }}",
            rules.Single(r => r.Scalar("alert") == "EcrDaemonNamespacesOutOfSync").Scalar("annotations", "summary"), StringComparison.Ordinal);
        Assert.All(rules, r => Assert.DoesNotMatch(Placeholder(), r.ToYaml()));
    }

    [ToolFact("helm")]
    public async Task Every_alert_has_a_severity_a_summary_a_description_and_a_runbook_that_is_a_README_heading()
    {
        foreach (var rule in Rules(await RenderedSpecAsync(SeveralReplicas)))
        {
            var alert = rule.Scalar("alert")!;
            var annotations = Assert.IsType<YamlMappingNode>(rule.At("annotations"));
            Assert.Contains(rule.Scalar("labels", "severity"), Severities);
            Assert.Equal(AnnotationKeys, annotations.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Order(StringComparer.Ordinal));
            Assert.All(AnnotationKeys, k => Assert.False(string.IsNullOrWhiteSpace(annotations.Scalar(k)), $"{alert}: {k} is empty"));
            Assert.Equal(RunbookBase + Readme.Anchor("Runbook: " + alert), annotations.Scalar("runbook"));
            Assert.Contains(Readme.Anchor("Runbook: " + alert), Readme.Anchors);
        }
    }

    [ToolFact("helm")]
    public async Task The_rules_use_only_metrics_from_the_README_and_its_table_names_only_these_alerts()
    {
        var rules = Rules(await RenderedSpecAsync(SeveralReplicas));
        var alerts = rules.Select(r => r.Scalar("alert")!).ToHashSet(StringComparer.Ordinal);

        var used = rules.SelectMany(r => Readme.MetricNames(r.ToYaml())).Distinct().ToList();
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(Readme.IsDocumentedSeries(name), $"{name} is not in the README's metrics table"));

        var named = Readme.Metrics.Values.SelectMany(m => AlertName().Matches(m.Alerts).Select(a => a.Value)).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(alerts.Order(StringComparer.Ordinal), named.Order(StringComparer.Ordinal));
    }

    private static async Task<YamlMappingNode> RenderedSpecAsync(string[] arguments) =>
        Assert.IsType<YamlMappingNode>(Assert.Single((await HelmChart.TemplateAsync(arguments)).OfKind("PrometheusRule")).At("spec"));

    private static List<YamlMappingNode> Groups(YamlMappingNode spec) =>
        [.. (spec.At("groups") as YamlSequenceNode ?? []).OfType<YamlMappingNode>()];

    private static List<YamlMappingNode> Rules(YamlMappingNode spec) =>
        [.. Groups(spec).SelectMany(g => (g.At("rules") as YamlSequenceNode ?? []).OfType<YamlMappingNode>())];

    /// <summary>The spec as a Prometheus rule file alerts.yaml, next to a copy of the unit-test file: promtool check and test.</summary>
    private async Task PromtoolAsync(YamlMappingNode spec, string testFile, int expectedRules)
    {
        var rules = Path.Combine(_temp.FullName, "alerts.yaml");
        var tests = Path.Combine(_temp.FullName, testFile);
        await File.WriteAllTextAsync(rules, spec.ToYaml());
        File.Copy(Path.Combine(TestsDirectory, testFile), tests);

        var check = await Tools.RunAsync(Tools.Require("promtool"), ["check", "rules", rules]);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains($"SUCCESS: {expectedRules} rules found", check.StandardOutput, StringComparison.Ordinal);

        var test = await Tools.RunAsync(Tools.Require("promtool"), ["test", "rules", tests]);
        Assert.True(test.ExitCode == 0, test.ToString());
        Assert.Contains("SUCCESS", test.StandardOutput, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\bEcrDaemon[A-Za-z]+\b")]
    private static partial Regex AlertName();

    [GeneratedRegex("__[A-Z]+__")]
    private static partial Regex Placeholder();
}
