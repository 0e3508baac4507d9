using System.Net;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// Least privilege, proven: the daemon runs as the chart's ServiceAccount under exactly the RBAC
/// the chart renders, through a full scenario, without one 403; and that identity cannot read
/// any other secret.
/// </summary>
public sealed class ChartRbacProofTests
{
    [ToolFact("helm")]
    public async Task The_RBAC_the_tests_load_is_exactly_what_the_chart_renders()
    {
        var rendered = await HelmChart.RbacAsync();

        Assert.True(rendered == DaemonHarness.RbacYaml, "tests/EcrDaemon.Tests/Daemon/daemon-rbac.yaml differs from the chart; run bash scripts/render-rbac.sh");
    }

    [ToolFact("helm")]
    public async Task Under_the_charts_RBAC_a_full_scenario_makes_no_refused_request_and_other_secrets_stay_unreadable()
    {
        var rbac = await HelmChart.RenderAsync(); // the whole chart: the test cluster takes its Roles and bindings
        await using var h = await DaemonHarness.StartAsync(new TestCluster.TestClusterOptions { RbacYaml = rbac });
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.CreateNamespaceAsync("b", optedIn: false);
        await h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "other" }, StringData = new Dictionary<string, string> { ["k"] = "v" } }, "a");

        await h.StartDaemonAsync();                       // cold start
        await h.WaitInSyncAsync("a");
        await h.LabelAsync("b", optedIn: true);          // label added
        await h.WaitInSyncAsync("b");
        await h.LabelAsync("a", optedIn: false);         // label removed
        await Poll.Until(() => h.Secret("a") is null, () => h.Describe(["a"]));
        h.Ecr.Generation = 1;                            // rotation
        h.Refresher.RequestRefresh();
        await h.WaitInSyncAsync("b");
        await h.IdleAsync();
        Assert.Equal(0, await h.StopDaemonAsync());

        var cleanup = await h.RunProgramAsync("cleanup");       // cleanup, as the same identity
        Assert.True(cleanup.ExitCode == 0, cleanup.ToString());

        var daemon = h.Requests.All.Where(r => r.Identity == DaemonHarness.Identity).ToList();
        Assert.Contains(daemon, r => r is { Verb: "create", Resource: "secrets" });
        Assert.Contains(daemon, r => r is { Verb: "delete", Resource: "secrets" });
        Assert.Contains(daemon, r => r is { Verb: "patch", Resource: "serviceaccounts" });
        var refused = daemon.Where(r => r.Code is 401 or 403).ToList();
        Assert.True(refused.Count == 0, "refused: " + DaemonHarness.Summary(refused));

        // The same identity is refused any other secret, and an unfiltered list or watch of secrets.
        using var asDaemon = DaemonHarness.Client(h.Cluster, h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
        await Refused(() => asDaemon.CoreV1.ReadNamespacedSecretAsync("other", "a"));
        await Refused(() => asDaemon.CoreV1.ListSecretForAllNamespacesAsync());
        await Refused(() => asDaemon.CoreV1.ListNamespacedSecretAsync("a", fieldSelector: "metadata.name=other"));
        await Refused(() => asDaemon.CoreV1.DeleteNamespacedSecretAsync("other", "a"));
    }

    private static async Task Refused(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.Equal(HttpStatusCode.Forbidden, e.Response.StatusCode);
    }
}
