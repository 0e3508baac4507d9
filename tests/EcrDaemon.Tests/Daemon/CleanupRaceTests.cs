using EcrDaemon.Testing;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// <c>cleanup</c> deletes only the secrets it listed as ours: one that someone replaced between the list and
/// the delete (a seed CronJob writing its own <c>aws-registry</c> again, a namespace owner) is not ours and stays.
/// </summary>
public sealed class CleanupRaceTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_secret_replaced_by_someone_else_after_cleanups_list_is_not_deleted()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.CreateNamespaceAsync("b", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("a", "b");
        Assert.Equal(0, await _h.StopDaemonAsync()); // uninstall: the daemon is stopped first

        // cleanup has listed b's secret as ours; its delete reaches the API server late.
        using var held = _h.Cluster.Faults.HoldResponses("delete", "secrets", "b", DaemonHarness.Identity, beforeCommit: true);
        var cleanup = _h.RunProgramAsync("cleanup");
        await Poll.Until(() => held.Held >= 1 || cleanup.IsCompleted, () => "cleanup's delete in b not seen yet");

        // Meanwhile the owner of b puts their own pull secret under that name.
        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "b");
        await _h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName },
            Type = "kubernetes.io/dockerconfigjson",
            Data = new Dictionary<string, byte[]> { [".dockerconfigjson"] = """{"auths":{"theirs.example":{"auth":"dGhlaXJz"}}}"""u8.ToArray() },
        }, "b");
        held.Release();
        var result = await cleanup;

        Assert.Null(_h.Secret("a"));
        var theirs = _h.Secret("b");
        Assert.True(theirs is not null, $"cleanup deleted b's secret, which was not ours any more:\n{result}");
        Assert.Null(theirs!["metadata"]?["labels"]);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("b/aws-registry", result.StandardError, StringComparison.Ordinal);
    }
}
