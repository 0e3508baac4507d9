using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>One namespace that churns cannot starve another's Warnings (issue 14, item 11).</summary>
public sealed class EventBudgetTests : IAsyncLifetime
{
    private const int Churn = 2_000;
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private int EventsIn(string ns, string? reason = null) =>
        _h.Cluster.Store.InNamespace(ResourceType.Events, ns).Count(e => reason is null || e.Node["reason"]?.GetValue<string>() == reason);

    [Fact]
    public async Task A_namespace_recording_thousands_of_Events_leaves_the_budget_for_another_namespaces_Warning()
    {
        await _h.CreateNamespaceAsync("churn", optedIn: true);
        for (var i = 0; i < Churn; i++)
        {
            _h.Cluster.Operations.Create(ResourceType.ServiceAccounts, "churn", new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"sa-{i}" } });
        }

        // Each ServiceAccount the daemon patches asks for a PullSecretChanged Event, as fast as the writes go.
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ServiceAccounts:0"] = "*", ["EcrDaemon:KubernetesQps"] = "0" });
        await Poll.Until(() => _h.Requests.Count("patch", "serviceaccounts", "churn", DaemonHarness.Identity) >= 100, () => "fewer than 100 patches in churn");

        // While churn is still asking, another namespace has a Warning to record: a secret it may not touch.
        await _h.CreateNamespaceAsync("victim", optedIn: false);
        await _h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName },
            Type = "Opaque",
            Data = new Dictionary<string, byte[]> { ["password"] = "theirs"u8.ToArray() },
        }, "victim");
        await _h.LabelAsync("victim", optedIn: true);
        await Poll.Until(() => _h.Services.GetRequiredService<NamespaceReconciler>().UnmanagedSecretConflicts == 1, () => "the conflict in victim not seen yet");
        var churnPatches = _h.Requests.Count("patch", "serviceaccounts", "churn", DaemonHarness.Identity);

        await Poll.Until(() => _h.Requests.Count("patch", "serviceaccounts", "churn", DaemonHarness.Identity) >= Churn + 1, () => $"{_h.Requests.Count("patch", "serviceaccounts", "churn", DaemonHarness.Identity)} patches in churn", TimeSpan.FromMinutes(2));
        await _h.IdleAsync();
        Assert.True(churnPatches < Churn, $"churn was over ({churnPatches} patches) before victim's Warning was due; the test proves nothing");
        Assert.Equal(1, EventsIn("victim", "UnmanagedSecretExists"));
        Assert.True(EventsIn("churn") < 50, $"churn recorded {EventsIn("churn")} Events");
    }
    [Fact]
    public async Task A_namespace_whose_own_share_is_spent_does_not_keep_TokenRefreshFailed_from_the_namespaces_after_it()
    {
        // "a-churn" comes first in the daemon's namespace order and spends its own share of Events.
        string[] accounts = [.. Enumerable.Range(0, 8).Select(i => $"sa-{i}")];
        await _h.CreateNamespaceAsync("a-churn", optedIn: true, accounts);
        await _h.CreateNamespaceAsync("z-quiet", optedIn: true);
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ServiceAccounts:0"] = "*" });
        await _h.WaitInSyncAsync("z-quiet");
        await Poll.Until(() => accounts.All(sa => _h.PullSecrets("a-churn", sa)?.Contains(DaemonHarness.SecretName) == true), () => _h.Describe(["a-churn"]));
        await _h.IdleAsync();

        // Just before the failure, a-churn churns again: its share (5, then one per 12 s) is spent.
        var more = Enumerable.Range(8, 8).Select(i => $"sa-{i}").ToArray();
        foreach (var sa in more)
        {
            await _h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = sa } }, "a-churn");
        }

        await Poll.Until(() => more.All(sa => _h.PullSecrets("a-churn", sa)?.Contains(DaemonHarness.SecretName) == true), () => _h.Describe(["a-churn"]));
        Assert.True(EventsIn("a-churn") <= NamespaceEventBudget.Burst + 1, $"a-churn recorded {EventsIn("a-churn")} Events; its share was not spent, the test proves nothing");

        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 4);
        _h.Refresher.RequestRefresh();
        await Poll.Until(() => _h.Refresher.ConsecutiveFailures >= 1, () => _h.Ecr.ToString());

        // The Warning belongs on every opted-in namespace the daemon-wide budget allows: z-quiet's share is untouched.
        await Poll.Until(() => EventsIn("z-quiet", "TokenRefreshFailed") == 1,
            () => $"no TokenRefreshFailed in z-quiet; events there: {string.Join(", ", _h.Cluster.Store.InNamespace(ResourceType.Events, "z-quiet").Select(e => e.Node["reason"]))}");
        _h.AssertRunning();
    }
}
