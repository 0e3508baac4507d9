using System.Globalization;
using System.Net;
using EcrDaemon.Controller;
using EcrDaemon.Diagnostics;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>/metrics, /readyz and /livez of the running daemon, after real scenarios, by their exported names.</summary>
[Collection(MetricsTestGroup.Name)]
public sealed class ObservabilityTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private static readonly string[] Informed = ["namespaces", "serviceaccounts", "secrets"];
    private DaemonHarness _h = null!;

    private string Host => _h.Ecr.HostFor(_h.Ecr.DefaultAccountId);

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private async Task<string> GetText(string path) => await Http.GetStringAsync(new Uri(await _h.BoundHttpEndpointAsync(), path));

    private async Task<IReadOnlyList<PrometheusSample>> Scrape() => PrometheusText.Parse(await GetText("/metrics"));

    private Task Until(Func<IReadOnlyList<PrometheusSample>, bool> condition, string what) =>
        Poll.UntilAsync(async () => condition(await Scrape()), () => what);

    private async Task<(HttpStatusCode Code, string Body)> Probe(string path)
    {
        using var response = await Http.GetAsync(new Uri(await _h.BoundHttpEndpointAsync(), path));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task After_a_successful_start_every_metric_has_its_exported_name_and_value()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.CreateNamespaceAsync("b", optedIn: true);
        await _h.CreateNamespaceAsync("c", optedIn: false);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a", "b");
        await _h.IdleAsync();

        var m = await Scrape();
        var expiry = DateTimeOffset.Parse(_h.Secret("a")!["metadata"]!["annotations"]!["ecr-daemon.io/expires-at"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        Assert.Equal(1, m.Value("ecr_daemon_token_refreshes_total", ("registry", Host), ("result", "success")));
        Assert.InRange(m.Value("ecr_daemon_token_expiry_timestamp_seconds", ("registry", Host))!.Value, expiry.ToUnixTimeSeconds(), expiry.ToUnixTimeSeconds() + 1);
        Assert.InRange(m.Value("ecr_daemon_token_age_seconds", ("registry", Host))!.Value, 0, 120);
        Assert.InRange(m.Value("ecr_daemon_last_successful_refresh_timestamp_seconds", ("registry", Host))!.Value,
            DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal(2, m.Value("ecr_daemon_namespaces_managed"));
        Assert.Equal(0, m.Value("ecr_daemon_namespaces_out_of_sync"));
        Assert.Equal(0, m.Value("ecr_daemon_unmanaged_secret_conflicts"));
        Assert.Equal(0, m.Value("ecr_daemon_workqueue_depth"));
        Assert.Equal(1, m.Value("ecr_daemon_leader"));
        Assert.Equal(1, Assert.Single(m, s => s.Name == "ecr_daemon_build_info").Value);
        Assert.Equal(2, m.Value("ecr_daemon_kubernetes_requests_total", ("verb", "create"), ("resource", "secrets"), ("code", "201")));
        Assert.Equal(2, m.Value("ecr_daemon_kubernetes_requests_total", ("verb", "patch"), ("resource", "serviceaccounts"), ("code", "200")));
        Assert.Equal(1, m.Value("ecr_daemon_kubernetes_requests_total", ("verb", "list"), ("resource", "namespaces"), ("code", "200")));
        Assert.True(m.Value("ecr_daemon_reconcile_duration_seconds_count") >= 3);
        Assert.Equal(0, m.Value("ecr_daemon_token_refresh_failures_total", ("registry", Host), ("reason", "throttled")));
        Assert.Equal((HttpStatusCode.OK, "synced-with-token: Healthy: synced, with an unexpired token\n"), await Probe("/readyz"));
        Assert.Equal(HttpStatusCode.OK, (await Probe("/livez")).Code);

        // No label value anywhere holds the token's password.
        Assert.DoesNotContain(EcrStandIn.PasswordFor(_h.Ecr.DefaultAccountId), await GetText("/metrics"), StringComparison.Ordinal);
    }

    [ToolFact("promtool")]
    public async Task Promtool_accepts_the_metrics_output()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a");
        _h.Cluster.Store.CloseAllWatches();
        await Until(m => m.Any(s => s.Name == "ecr_daemon_watch_restarts_total"), "no watch restart counted");

        var result = await Tools.RunAsync(Tools.Require("promtool"), ["check", "metrics"], standardInput: await GetText("/metrics"));

        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task The_runtimes_memory_metrics_are_served_beside_the_daemons_own()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a");
        GC.Collect(); // the last-collection gauges appear once a collection has happened

        await Until(m => m.Any(s => s.Name == "dotnet_gc_last_collection_heap_size_bytes"), "no GC heap size after a collection");
        var m = await Scrape();
        foreach (var name in new[] { "dotnet_gc_heap_total_allocated_bytes_total", "dotnet_process_memory_working_set_bytes", "dotnet_gc_collections_total" })
        {
            Assert.Contains(m, s => s.Name == name && s.Labels.GetValueOrDefault("otel_scope_name") == "System.Runtime");
        }

        Assert.True(m.Where(s => s.Name == "dotnet_gc_heap_total_allocated_bytes_total").Sum(s => s.Value) > 0, "no bytes allocated?");
        Assert.DoesNotContain(m, s => s.Name.StartsWith("dotnet_", StringComparison.Ordinal) && s.Name.EndsWith("_count", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Throttling_then_recovery_and_access_denied_are_counted_by_reason_while_the_last_token_is_kept()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a");

        _h.Ecr.Enqueue(EcrFault.Throttle, 4); // every attempt of one round (MaxAttempts 4)
        _h.Refresher.RequestRefresh();
        await Until(m => m.Value("ecr_daemon_token_refresh_failures_total", ("registry", Host), ("reason", "throttled")) == 1, "no throttled failure");
        Assert.Equal(HttpStatusCode.OK, (await Probe("/readyz")).Code); // the held token has not expired

        _h.Refresher.RequestRefresh();
        await Until(m => m.Value("ecr_daemon_token_refreshes_total", ("registry", Host), ("result", "success")) == 2, "no recovery");

        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied);
        _h.Refresher.RequestRefresh();
        await Until(m => m.Value("ecr_daemon_token_refresh_failures_total", ("registry", Host), ("reason", "access_denied")) == 1, "no access_denied");
        var m = await Scrape();
        Assert.Equal(2, m.Value("ecr_daemon_token_refreshes_total", ("registry", Host), ("result", "failure")));
        Assert.Equal(0, m.Value("ecr_daemon_token_refresh_failures_total", ("registry", Host), ("reason", "timeout")));

        // The first failure of a streak puts a Warning Event on each opted-in namespace's secret.
        Assert.Contains(_h.Cluster.Store.InNamespace(ResourceType.Events, "a"), e => e.Node["reason"]!.GetValue<string>() == "TokenRefreshFailed");
    }

    [Fact]
    public async Task A_clock_off_by_more_than_SigV4_allows_is_counted_as_clock_skew_and_logged_and_recovers_once_fixed()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a");
        Assert.Equal(0, (await Scrape()).Value("ecr_daemon_token_refresh_failures_total", ("registry", Host), ("reason", "clock_skew")));
        Assert.DoesNotContain(_h.Logs.Entries, e => e.EventId.Id == LogEvents.ClockSkewed);

        _h.Ecr.ClockOffset = TimeSpan.FromMinutes(10);
        _h.Refresher.RequestRefresh();
        await Until(m => m.Value("ecr_daemon_token_refresh_failures_total", ("registry", Host), ("reason", "clock_skew")) == 1, "no clock_skew failure");
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.ClockSkewed && e.Message.Contains(_h.Ecr.Endpoint.Authority, StringComparison.Ordinal));
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.TokenFailed && e.Message.Contains("until the clock is fixed", StringComparison.Ordinal));

        _h.Ecr.ClockOffset = TimeSpan.Zero;
        _h.Refresher.RequestRefresh();
        await Until(m => m.Value("ecr_daemon_token_refreshes_total", ("registry", Host), ("result", "success")) == 2, "no recovery once the clock agrees");
    }

    [Fact]
    public async Task Namespaces_opting_in_and_out_an_unowned_secret_and_a_failed_write_move_the_gauges_and_counters()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.CreateNamespaceAsync("b", optedIn: false);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a");
        await Until(m => m.Value("ecr_daemon_namespaces_managed") == 1, "managed != 1");

        await _h.LabelAsync("b", optedIn: true);
        await Until(m => m.Value("ecr_daemon_namespaces_managed") == 2, "managed != 2");
        await _h.LabelAsync("a", optedIn: false);
        await Until(m => m.Value("ecr_daemon_namespaces_managed") == 1, "managed != 1 after opt-out");

        await _h.CreateNamespaceAsync("theirs", optedIn: false);
        await _h.Admin.CoreV1.CreateNamespacedSecretAsync(new k8s.Models.V1Secret
        {
            Metadata = new k8s.Models.V1ObjectMeta { Name = DaemonHarness.SecretName },
            StringData = new Dictionary<string, string> { ["k"] = "v" },
        }, "theirs");
        await _h.LabelAsync("theirs", optedIn: true);
        await Until(m => m.Value("ecr_daemon_unmanaged_secret_conflicts") == 1 && m.Value("ecr_daemon_namespaces_out_of_sync") == 1, "no conflict counted");

        _h.Cluster.Faults.FailNext(1, 500, verb: "create", resource: "secrets", identity: DaemonHarness.Identity);
        await _h.CreateNamespaceAsync("flaky", optedIn: true);
        await _h.WaitInSyncAsync("flaky");
        await Until(m => m.Value("ecr_daemon_namespaces_out_of_sync") == 1, "out of sync != 1 (only \"theirs\" should be: \"flaky\" recovered)");
        var m = await Scrape();
        Assert.Equal(1, m.Value("ecr_daemon_reconcile_errors_total", ("reason", "server_error")));
        Assert.Equal(1, m.Value("ecr_daemon_kubernetes_requests_total", ("verb", "create"), ("resource", "secrets"), ("code", "500")));
    }

    [Fact]
    public async Task A_forced_watch_restart_is_counted_by_resource_and_reason()
    {
        await _h.StartDaemonAsync();
        await Poll.Until(() => _h.Cluster.Store.WatcherCount == 3, () => $"{_h.Cluster.Store.WatcherCount} watchers");

        _h.Cluster.Store.CloseAllWatches();

        string seen = "";
        await Until(m =>
        {
            var restarts = m.Where(s => s.Name == "ecr_daemon_watch_restarts_total").ToList();
            seen = string.Join(", ", restarts.Select(s => $"{s.Labels["resource"]}/{s.Labels["reason"]}={s.Value}"));
            return Informed.All(r => restarts.Any(s => s.Labels["resource"] == r && s.Value >= 1));
        }, "restarts not counted for all three: " + seen);
        Assert.DoesNotContain("/error", seen, StringComparison.Ordinal); // the server did not refuse a watch; it closed them
    }

    [Fact]
    public async Task Readyz_is_503_until_a_token_is_held_and_200_after()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied); // permanent: the first round fails at once
        await _h.StartDaemonAsync(waitForSync: false);
        await Poll.Until(() => _h.Refresher.ConsecutiveFailures == 1 && _h.Services.GetRequiredService<PullSecretController>().Synced,
            () => "the first round did not fail, or the informers did not sync");

        var (code, body) = await Probe("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);
        Assert.Contains("no ECR token is held yet", body, StringComparison.Ordinal);
        Assert.Equal(1, (await Scrape()).Value("ecr_daemon_namespaces_out_of_sync"));

        _h.Refresher.RequestRefresh();
        await _h.WaitInSyncAsync("a");
        Assert.Equal(HttpStatusCode.OK, (await Probe("/readyz")).Code);
    }

    [Fact]
    public async Task Livez_fails_when_a_reconcile_is_wedged()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:LivenessTimeout"] = "00:00:01" });
        await _h.WaitInSyncAsync("a");
        Assert.Equal(HttpStatusCode.OK, (await Probe("/livez")).Code);

        // The API server stops answering secret creates: the worker hangs in its request.
        _h.Cluster.Faults.AddLatency(TimeSpan.FromMinutes(5), verb: "create", resource: "secrets");
        await _h.CreateNamespaceAsync("stuck", optedIn: true);

        await Poll.UntilAsync(async () => (await Probe("/livez")).Code == HttpStatusCode.ServiceUnavailable, () => "livez still 200");
        Assert.Contains("the work loop is wedged: namespace stuck has been reconciling since", (await Probe("/livez")).Body, StringComparison.Ordinal);
        _h.Cluster.Faults.Clear();
    }

    [Fact]
    public async Task A_403_records_a_Forbidden_Warning_Event_once_and_counts_the_reason()
    {
        await _h.StartDaemonAsync();
        _h.Cluster.Faults.FailNext(3, 403, verb: "create", resource: "secrets", ns: "denied", identity: DaemonHarness.Identity);

        await _h.CreateNamespaceAsync("denied", optedIn: true);
        await _h.WaitInSyncAsync("denied"); // the queue retried after the 403s

        var m = await Scrape();
        Assert.Equal(3, m.Value("ecr_daemon_reconcile_errors_total", ("reason", "forbidden")));
        var forbidden = _h.Cluster.Store.InNamespace(ResourceType.Events, "denied").Select(e => e.Node)
            .Where(e => e["reason"]!.GetValue<string>() == "Forbidden").ToList();
        var warning = Assert.Single(forbidden); // once per streak, not once per retry
        Assert.Equal("Warning", warning["type"]!.GetValue<string>());
        Assert.Contains("HTTP 403", warning["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
