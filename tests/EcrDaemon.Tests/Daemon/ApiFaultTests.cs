using EcrDaemon.Diagnostics;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>API courtesy and recovery: 429 with Retry-After is honoured; 5xx bursts on writes are retried until in sync.</summary>
public sealed class ApiFaultTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        await _h.StartDaemonAsync();
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After_by_the_client_without_failing_the_reconcile()
    {
        _h.Cluster.Faults.FailNext(3, 429, verb: "create", resource: "secrets", ns: "busy", identity: DaemonHarness.Identity, retryAfterSeconds: 1);
        var mark = _h.Requests.Mark();

        await _h.CreateNamespaceAsync("busy", optedIn: true);
        await _h.WaitInSyncAsync("busy");

        var creates = _h.DaemonRequests(mark).Where(r => r is { Verb: "create", Resource: "secrets", Namespace: "busy" }).ToList();
        Assert.Equal([429, 429, 429, 201], creates.Select(r => r.Code));
        Assert.True(creates[3].At - creates[0].At >= TimeSpan.FromSeconds(2.5), $"the retries did not wait for Retry-After: {creates[0].At:O} .. {creates[3].At:O}");
        Assert.DoesNotContain(_h.Logs.Entries, e => e.EventId.Id == LogEvents.ReconcileRetrying && e.Message.Contains("busy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_burst_of_500s_and_503s_on_writes_is_retried_until_in_sync_with_no_duplicate_entries()
    {
        _h.Cluster.Faults.FailNext(3, 500, verb: "create", resource: "secrets", identity: DaemonHarness.Identity);
        _h.Cluster.Faults.FailNext(3, 503, verb: "patch", resource: "serviceaccounts", identity: DaemonHarness.Identity);

        await _h.CreateNamespaceAsync("flaky", optedIn: true, "builder");
        await _h.WaitInSyncAsync("flaky");
        await _h.IdleAsync();

        Assert.Equal([DaemonHarness.SecretName], _h.PullSecrets("flaky")!);
        Assert.Equal(0, _h.Cluster.Faults.Pending);
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.ReconcileRetrying && e.Message.Contains("flaky", StringComparison.Ordinal));
    }
}
