using System.Text.Json.Nodes;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// The Grafana dashboard the chart ships (files/dashboard.json in a ConfigMap for Grafana's sidecar)
/// is a valid dashboard on a Prometheus data source variable, and queries only metrics the README documents.
/// </summary>
public sealed class DashboardTests
{
    private static readonly string[] Enabled = ["--set", "grafanaDashboard.enabled=true"];

    // What the dashboard must show: token expiry and age, refresh outcomes and failure reasons,
    // namespaces managed and out of sync, API requests by code, and reconcile latency.
    private static readonly string[] Required =
    [
        "ecr_daemon_token_expiry_timestamp_seconds", "ecr_daemon_token_age_seconds",
        "ecr_daemon_token_refreshes_total", "ecr_daemon_token_refresh_failures_total",
        "ecr_daemon_namespaces_managed", "ecr_daemon_namespaces_out_of_sync",
        "ecr_daemon_kubernetes_requests_total", "ecr_daemon_reconcile_duration_seconds_bucket",
    ];

    [ToolFact("helm")]
    public async Task There_is_no_dashboard_unless_enabled()
    {
        Assert.DoesNotContain((await HelmChart.TemplateAsync()).OfKind("ConfigMap"), c => c.At("metadata", "labels", "grafana_dashboard") is not null);
    }

    [ToolFact("helm")]
    public async Task The_dashboard_ConfigMap_has_the_sidecar_label_and_the_configured_labels_and_annotations()
    {
        var map = Assert.Single((await HelmChart.TemplateAsync(
            [.. Enabled, "--set", "grafanaDashboard.labels.team=platform", "--set", "grafanaDashboard.annotations.grafana_folder=Infrastructure"])).OfKind("ConfigMap"));

        Assert.Equal("1", map.Scalar("metadata", "labels", "grafana_dashboard"));
        Assert.Equal("platform", map.Scalar("metadata", "labels", "team"));
        Assert.Equal("ecr-daemon", map.Scalar("metadata", "labels", "app.kubernetes.io/name"));
        Assert.Equal("Infrastructure", map.Scalar("metadata", "annotations", "grafana_folder"));
        Assert.Equal(["ecr-daemon.json"], Assert.IsType<YamlMappingNode>(map.At("data")).Children.Keys.Select(k => ((YamlScalarNode)k).Value));
    }

    [ToolFact("helm")]
    public async Task The_dashboard_is_valid_JSON_on_a_Prometheus_datasource_variable_and_queries_only_README_metrics()
    {
        var dashboard = await RenderedDashboardAsync();

        Assert.Equal("ecr-daemon", dashboard["uid"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(dashboard["title"]?.GetValue<string>()));
        Assert.True(dashboard["schemaVersion"]?.GetValue<int>() > 0);
        var variables = dashboard["templating"]?["list"]?.AsArray() ?? [];
        var datasource = Assert.Single(variables, v => v?["name"]?.GetValue<string>() == "datasource")!;
        Assert.Equal("datasource", datasource["type"]?.GetValue<string>());
        Assert.Equal("prometheus", datasource["query"]?.GetValue<string>());

        var ids = Panels(dashboard["panels"]?.AsArray() ?? [], includeRows: true).Select(p => p["id"]?.GetValue<int>()).ToList();
        Assert.Equal(ids.Count, ids.OfType<int>().Distinct().Count());
        var panels = Panels(dashboard["panels"]!.AsArray()).ToList();
        Assert.NotEmpty(panels);
        var queries = new List<string>();
        foreach (var panel in panels)
        {
            var title = panel["title"]?.GetValue<string>();
            Assert.False(string.IsNullOrEmpty(title));
            Assert.NotNull(panel["gridPos"]);
            Assert.Equal("${datasource}", panel["datasource"]?["uid"]?.GetValue<string>());
            var targets = panel["targets"]?.AsArray() ?? [];
            Assert.True(targets.Count > 0, $"panel '{title}' has no query");
            foreach (var target in targets)
            {
                var expr = target?["expr"]?.GetValue<string>();
                Assert.False(string.IsNullOrWhiteSpace(expr), $"panel '{title}' has an empty query");
                Assert.Equal("${datasource}", target!["datasource"]?["uid"]?.GetValue<string>());
                Assert.NotEmpty(Readme.MetricNames(expr!));
                queries.Add(expr!);
            }
        }

        queries.AddRange(variables.Select(v => v?["definition"]?.GetValue<string>()).OfType<string>());
        var used = queries.SelectMany(Readme.MetricNames).ToHashSet(StringComparer.Ordinal);
        Assert.All(used, name => Assert.True(Readme.IsDocumentedSeries(name), $"{name} is not in the README's metrics table"));
        Assert.All(Required, name => Assert.Contains(name, used));
    }

    [ToolFact("helm")]
    public async Task Grafana_legend_templates_pass_through_Helm()
    {
        var legends = Panels((await RenderedDashboardAsync())["panels"]!.AsArray())
            .SelectMany(p => p["targets"]!.AsArray())
            .Select(t => t?["legendFormat"]?.GetValue<string>());

        Assert.Contains("{{registry}}", legends);
    }

    [ToolFact("helm")]
    public async Task The_namespace_series_are_per_profile()
    {
        var targets = Panels((await RenderedDashboardAsync())["panels"]!.AsArray())
            .SelectMany(p => p["targets"]!.AsArray())
            .Select(t => (Expr: t?["expr"]?.GetValue<string>() ?? "", Legend: t?["legendFormat"]?.GetValue<string>()))
            .Where(t => t.Legend is not null)
            .ToList();

        foreach (var metric in new[] { "ecr_daemon_namespaces_managed", "ecr_daemon_namespaces_out_of_sync", "ecr_daemon_unmanaged_secret_conflicts" })
        {
            var series = Assert.Single(targets, t => t.Expr.Contains(metric, StringComparison.Ordinal));
            Assert.StartsWith("sum by (profile) (", series.Expr, StringComparison.Ordinal);
            Assert.Contains("{{profile}}", series.Legend, StringComparison.Ordinal);
        }
    }

    private static async Task<JsonObject> RenderedDashboardAsync()
    {
        var map = Assert.Single((await HelmChart.TemplateAsync(Enabled)).OfKind("ConfigMap"), c => c.At("metadata", "labels", "grafana_dashboard") is not null);
        return Assert.IsType<JsonObject>(JsonNode.Parse(map.Scalar("data", "ecr-daemon.json")!));
    }

    /// <summary>The panels, those inside collapsed rows included; the rows themselves only when asked.</summary>
    private static IEnumerable<JsonNode> Panels(JsonArray panels, bool includeRows = false)
    {
        foreach (var panel in panels.OfType<JsonNode>())
        {
            if (panel["type"]?.GetValue<string>() == "row")
            {
                if (includeRows)
                {
                    yield return panel;
                }

                foreach (var inner in Panels(panel["panels"]?.AsArray() ?? [], includeRows))
                {
                    yield return inner;
                }
            }
            else
            {
                yield return panel;
            }
        }
    }
}
