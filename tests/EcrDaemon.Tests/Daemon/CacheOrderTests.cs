using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using EcrDaemon.Testing;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The daemon's cache never goes back to an older state (issue 14, item 4): a write's answer that
/// arrives after a watch event for the same object does not overwrite it, and a 404 on our secret
/// leads straight to a create.
/// </summary>
public sealed class CacheOrderTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        await _h.StartDaemonAsync();
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private SecretView? Cached(string ns) => _h.Services.GetRequiredService<ClusterState>().SecretsNamed(DaemonHarness.SecretName).Get(ns, DaemonHarness.SecretName);

    /// <summary>An admin spoils the secret's data, so that the daemon patches it back.</summary>
    private Task<V1Secret> SpoilAsync(string ns)
    {
        var data = Convert.ToBase64String("""{"auths":{}}"""u8.ToArray());
        return _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            new System.Text.Json.Nodes.JsonObject { ["data"] = new System.Text.Json.Nodes.JsonObject { [Markers.DockerConfigJsonKey] = data } }.ToJsonString(),
            V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, ns);
    }

    [Fact]
    public async Task A_late_patch_response_does_not_undo_a_delete_seen_meanwhile_and_the_secret_is_created_again_without_a_relist()
    {
        await _h.CreateNamespaceAsync("late", optedIn: true);
        await _h.WaitInSyncAsync("late");
        var held = _h.Cluster.Faults.HoldResponses("patch", "secrets", "late", DaemonHarness.Identity);

        await SpoilAsync("late");
        await Poll.Within(held.Committed, "the daemon's repair patch"); // committed; its response waits
        var mark = _h.Requests.Mark();
        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "late");
        await Poll.Until(() => Cached("late") is null, () => $"the daemon's cache still holds {Cached("late")}");
        held.Release(); // the patch's answer, older than the delete, arrives now

        await _h.WaitInSyncAsync("late");
        var requests = _h.DaemonRequests(mark);
        Assert.Equal(1, requests.Count(r => r is { Verb: "create", Resource: "secrets", Namespace: "late", Code: 201 }));
        Assert.DoesNotContain(requests, r => r is { Verb: "list", Resource: "secrets" });
    }

    [Fact]
    public async Task A_404_on_a_secret_patch_goes_straight_to_a_create_without_waiting_for_the_watch()
    {
        await _h.CreateNamespaceAsync("vanish", optedIn: true);
        await _h.WaitInSyncAsync("vanish");
        var held = _h.Cluster.Faults.HoldResponses("patch", "secrets", "vanish", DaemonHarness.Identity, beforeCommit: true);

        await SpoilAsync("vanish");
        await Poll.Within(held.Committed, "the daemon's repair patch"); // planned from the cache; not yet done
        using var behind = _h.Cluster.Faults.HoldWatchEvents("secrets", "vanish"); // the daemon does not hear of the delete
        var mark = _h.Requests.Mark();
        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "vanish");
        held.Release(); // the patch now finds no secret: 404

        await _h.WaitInSyncAsync("vanish");
        behind.Release();
        await _h.IdleAsync();
        var secrets = _h.DaemonRequests(mark).Where(r => r is { Resource: "secrets", Namespace: "vanish" }).Select(r => $"{r.Verb} {r.Code}").ToList();
        Assert.Equal(["patch 404", "create 201"], secrets);
        Assert.True(_h.InSync("vanish"), _h.Describe(["vanish"]));
    }
}
