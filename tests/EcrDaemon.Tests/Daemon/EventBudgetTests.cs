using System.Text.Json.Nodes;
using EcrDaemon.Reconciliation;
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
}
