using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>An <c>immutable: true</c> secret cannot be patched (issue 14, item 5): ours is replaced, one not ours is left alone.</summary>
public sealed class ImmutableSecretTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private int EventsIn(string ns, string reason) =>
        _h.Cluster.Store.InNamespace(ResourceType.Events, ns).Count(e => e.Node["reason"]?.GetValue<string>() == reason);

    [Fact]
    public async Task A_rotation_replaces_an_immutable_managed_secret_with_one_delete_one_create_and_one_Event()
    {
        await _h.CreateNamespaceAsync("frozen", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("frozen");
        await _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch("""{"immutable":true}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "frozen");
        var state = _h.Services.GetRequiredService<ClusterState>();
        await Poll.Until(() => state.SecretsNamed(DaemonHarness.SecretName).Get("frozen", DaemonHarness.SecretName) is { Immutable: true }, () => $"cached: {state.SecretsNamed(DaemonHarness.SecretName).Get("frozen", DaemonHarness.SecretName)}");
        await _h.IdleAsync();
        var mark = _h.Requests.Mark();

        _h.Ecr.Generation = 1;
        _h.Refresher.RequestRefresh();
        await _h.WaitInSyncAsync("frozen");
        await _h.IdleAsync();

        var writes = _h.DaemonWrites(mark).Where(w => w.Resource == "secrets").Select(w => $"{w.Verb} {w.Code}").ToList();
        Assert.Equal(["delete 200", "create 201"], writes);
        Assert.Null(_h.Secret("frozen")!["immutable"]);
        Assert.Equal(1, EventsIn("frozen", "Replaced"));
        Assert.Single(_h.Logs.Entries, e => e.EventId.Id == LogEvents.SecretReplaced && e.Message.Contains("frozen", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_immutable_secret_that_is_not_ours_is_left_untouched()
    {
        await _h.CreateNamespaceAsync("theirs", optedIn: true);
        await _h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName },
            Type = "kubernetes.io/dockerconfigjson",
            Immutable = true,
            Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = """{"auths":{}}"""u8.ToArray() },
        }, "theirs");
        await _h.StartDaemonAsync();
        await Poll.Until(() => EventsIn("theirs", "UnmanagedSecretExists") == 1, () => $"{EventsIn("theirs", "UnmanagedSecretExists")} UnmanagedSecretExists Events");
        await _h.IdleAsync();

        Assert.DoesNotContain(_h.DaemonWrites(0), w => w is { Resource: "secrets", Namespace: "theirs" });
        Assert.Equal(true, _h.Secret("theirs")!["immutable"]?.GetValue<bool>());
    }
}
