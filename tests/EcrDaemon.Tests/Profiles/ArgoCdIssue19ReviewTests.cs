using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// Issue 19 review: the Argo CD repository credentials profile against a namespace owner. An Opaque secret is any
/// secret at all, so adoption must not take one that is not an Argo CD repository credential; and the repo-creds
/// label, without which Argo CD ignores the credentials, is kept like the data.
/// </summary>
public sealed class ArgoCdIssue19ReviewTests : IAsyncLifetime
{
    private static readonly string[] ArgoSecrets = ["ecr-helm-acct-a", "ecr-helm-acct-b"];
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() =>
        _h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = await HelmChart.RbacForSecretNamesAsync([.. ArgoSecrets]) });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private Dictionary<string, string?> Settings(bool adopt)
    {
        var settings = ProfileSetup.ArgoCdSettings(_h.Ecr);
        settings["EcrDaemon:AdoptUnmanagedSecrets"] = adopt ? "true" : "false";
        return settings;
    }

    private static string Text(JsonNode secret, string key) => ProfileSetup.DataText(secret, key);

    private int EventsIn(string ns, string reason) =>
        _h.Cluster.Store.InNamespace(ResourceType.Events, ns).Count(e => e.Node["reason"]?.GetValue<string>() == reason);

    [ToolFact("helm")]
    public async Task With_adoption_on_an_unmanaged_Opaque_secret_that_is_no_repository_credential_is_never_taken()
    {
        await _h.CreateNamespaceAsync("argocd", new Dictionary<string, string> { ["argocd"] = "true" });
        // Someone's own secrets that happen to have the names: one mutable, one immutable. Neither is Argo CD's.
        foreach (var (name, immutable) in new[] { (ArgoSecrets[0], false), (ArgoSecrets[1], true) })
        {
            await _h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = name },
                Type = "Opaque",
                Immutable = immutable,
                Data = new Dictionary<string, byte[]> { ["url"] = "postgres://db.internal"u8.ToArray(), ["password"] = "db-password"u8.ToArray() },
            }, "argocd");
        }

        await _h.StartDaemonAsync(Settings(adopt: true));
        await Poll.Until(() => EventsIn("argocd", "UnmanagedSecretExists") == 2, () => $"{EventsIn("argocd", "UnmanagedSecretExists")} UnmanagedSecretExists Events\n{_h.State("argocd")}");
        await _h.IdleAsync();

        Assert.DoesNotContain(_h.DaemonWrites(0), w => w is { Resource: "secrets", Namespace: "argocd" });
        foreach (var name in ArgoSecrets)
        {
            var secret = _h.Secret("argocd", name)!;
            Assert.Equal("db-password", Text(secret, "password"));
            Assert.Equal("postgres://db.internal", Text(secret, "url"));
        }
    }

    [ToolFact("helm")]
    public async Task With_adoption_on_an_unmanaged_repository_credential_is_taken_over()
    {
        await _h.CreateNamespaceAsync("argocd", new Dictionary<string, string> { ["argocd"] = "true" });
        // What a CronJob made before: Argo CD's repo-creds, without our label.
        await _h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = ArgoSecrets[0], Labels = new Dictionary<string, string> { [Markers.ArgoCdSecretTypeLabel] = Markers.ArgoCdRepoCreds } },
            Type = "Opaque",
            Data = new Dictionary<string, byte[]> { ["url"] = Encoding.UTF8.GetBytes(_h.Ecr.HostFor(ProfileSetup.AccountA)), ["password"] = "stale"u8.ToArray() },
        }, "argocd");

        await _h.StartDaemonAsync(Settings(adopt: true));
        await Poll.Until(() => _h.Secret("argocd", ArgoSecrets[0]) is { } s && s["data"]?["password"] is not null
            && Text(s, "password") == EcrStandIn.PasswordFor(ProfileSetup.AccountA), () => _h.State("argocd"));
        Assert.Equal(Markers.ManagedByValue, _h.Secret("argocd", ArgoSecrets[0])!["metadata"]!["labels"]![Markers.ManagedByLabel]!.GetValue<string>());
    }

    [ToolFact("helm")]
    public async Task The_repo_creds_label_removed_by_someone_is_put_back_without_waiting_for_a_rotation()
    {
        await _h.CreateNamespaceAsync("argocd", new Dictionary<string, string> { ["argocd"] = "true" });
        await _h.StartDaemonAsync(Settings(adopt: false));
        await Poll.Until(() => ArgoSecrets.All(s => _h.Secret("argocd", s) is not null), () => _h.State("argocd"));
        await _h.IdleAsync();

        // The mark comes before the removal: the daemon may repair before this test's next line runs.
        var mark = _h.Requests.Mark();
        await _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [Markers.ArgoCdSecretTypeLabel] = null } } }.ToJsonString(), V1Patch.PatchType.MergePatch),
            ArgoSecrets[0], "argocd");

        await Poll.Until(() => _h.Secret("argocd", ArgoSecrets[0])!["metadata"]!["labels"]?[Markers.ArgoCdSecretTypeLabel]?.GetValue<string>() == Markers.ArgoCdRepoCreds,
            () => _h.State("argocd"));
        await _h.IdleAsync();
        var writes = _h.DaemonWrites(mark).Where(w => w.Namespace == "argocd").ToList();
        Assert.True(writes.Count == 1 && writes[0] is { Verb: "patch", Resource: "secrets" }, DaemonHarness.Summary(writes)); // one repair, no loop
    }
}
