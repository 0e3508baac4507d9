using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using k8s;
using k8s.Models;
using EcrDaemon.Tests.Profiles;
using EcrDaemon.Tests.Support;
using EcrDaemon.Reconciliation;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>Review of pull-secret profiles against a cluster: one profile's failure must not hold back another in the same namespace.</summary>
public sealed class ProfileReviewDaemonTests : IAsyncLifetime
{
    private const string SecretB = TwoProfilesSetup.SecretB;
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await TwoProfilesSetup.StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    /// <summary>
    /// A namespace in team-b gets into team-a too, but team-a's secret cannot be created there (a quota or
    /// an admission webhook refuses it, 403). team-b's secret, already there, must still be kept right:
    /// changed by someone, it is restored. Fails when a profile's error ends the whole namespace's reconcile.
    /// </summary>
    [ToolFact("helm")]
    public async Task A_profile_whose_secret_cannot_be_written_does_not_hold_back_the_other_profiles_of_the_namespace()
    {
        await _h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "n", Labels = new Dictionary<string, string> { ["b"] = "true" } } });
        await _h.StartDaemonAsync(TwoProfilesSetup.Settings());
        await Poll.Until(() => _h.Secret("n", SecretB) is not null && _h.PullSecrets("n")?.Contains(SecretB) == true, () => _h.Describe(["n"]));
        var good = _h.Secret("n", SecretB)!["data"]![Markers.DockerConfigJsonKey]!.GetValue<string>();

        _h.Cluster.Faults.FailNext(100_000, 403, verb: "create", resource: "secrets", ns: "n", identity: DaemonHarness.Identity);
        var mark = _h.Requests.Mark();
        await _h.Admin.CoreV1.PatchNamespaceAsync(new V1Patch("""{"metadata":{"labels":{"a":"true"}}}""", V1Patch.PatchType.MergePatch), "n");
        await Poll.Until(() => _h.Requests.Count(verb: "create", resource: "secrets", ns: "n", identity: DaemonHarness.Identity, code: 403, since: mark) > 0,
            () => DaemonHarness.Summary(_h.DaemonRequests(mark)));

        // Someone breaks team-b's secret: the daemon must restore it although team-a's create keeps failing.
        var broken = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"auths":{}}"""));
        await _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            new JsonObject { ["data"] = new JsonObject { [Markers.DockerConfigJsonKey] = broken } }.ToJsonString(), V1Patch.PatchType.MergePatch), SecretB, "n");

        await Poll.Until(() => _h.Secret("n", SecretB)?["data"]?[Markers.DockerConfigJsonKey]?.GetValue<string>() == good,
            () => $"team-b's secret still broken; {DaemonHarness.Summary(_h.DaemonRequests(mark))}");
        Assert.Null(_h.Secret("n"));

        // Only team-a is out of sync there: team-b's series must not count the namespace.
        var reconciler = _h.Services.GetRequiredService<NamespaceReconciler>();
        await Poll.Until(() => reconciler.OutOfSyncPerProfile() is [1, 0], () => $"out of sync per profile: [{string.Join(", ", reconciler.OutOfSyncPerProfile())}]");
    }
}
