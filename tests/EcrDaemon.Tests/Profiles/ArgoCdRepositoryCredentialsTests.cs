using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// A profile with <c>Format: ArgoCdRepositoryCredentials</c>: in the namespaces it selects (Argo CD's), one
/// secret per registry that Argo CD takes as repository credentials for Helm charts over OCI, kept fresh
/// like the pull secrets, and no ServiceAccount touched. Beside it, an image pull secret profile works as before.
/// </summary>
public sealed class ArgoCdRepositoryCredentialsTests : IAsyncLifetime
{
    private static readonly string[] ArgoSecrets = ["ecr-helm-acct-a", "ecr-helm-acct-b"];
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() =>
        _h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = await HelmChart.RbacForSecretNamesAsync([.. ArgoSecrets, "ecr-team-a"]) });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    /// <summary>The Argo CD profile, and beside it an image pull secret profile team-a (team=a, ecr-team-a, acct-a).</summary>
    private Dictionary<string, string?> Settings()
    {
        var settings = ProfileSetup.ArgoCdSettings(_h.Ecr);
        settings["EcrDaemon:Profiles:1:Name"] = "team-a";
        settings["EcrDaemon:Profiles:1:NamespaceSelector"] = "team=a";
        settings["EcrDaemon:Profiles:1:SecretName"] = "ecr-team-a";
        settings["EcrDaemon:Profiles:1:Registries:0"] = ProfileSetup.RegistryA;
        return settings;
    }

    private static string Text(JsonNode secret, string key) => ProfileSetup.DataText(secret, key);

    [ToolFact("helm")]
    public async Task Argo_CD_gets_one_repository_credential_per_registry_kept_fresh_in_place_and_no_ServiceAccount_is_touched()
    {
        await _h.CreateNamespaceAsync("argocd", new Dictionary<string, string> { ["argocd"] = "true" });
        await _h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" });
        var mark = _h.Requests.Mark();
        await _h.StartDaemonAsync(Settings());
        await Poll.Until(() => ArgoSecrets.All(s => _h.Secret("argocd", s) is not null) && _h.Secret("a1", "ecr-team-a") is not null, () => _h.State("argocd", "a1"));
        await _h.IdleAsync();

        foreach (var (name, account) in new[] { (ArgoSecrets[0], ProfileSetup.AccountA), (ArgoSecrets[1], ProfileSetup.AccountB) })
        {
            var secret = _h.Secret("argocd", name)!;
            Assert.Equal("Opaque", secret["type"]!.GetValue<string>());
            Assert.Equal("repo-creds", secret["metadata"]!["labels"]![Markers.ArgoCdSecretTypeLabel]!.GetValue<string>());
            Assert.Equal(Markers.ManagedByValue, secret["metadata"]!["labels"]![Markers.ManagedByLabel]!.GetValue<string>());
            Assert.Equal(_h.Ecr.HostFor(account), Text(secret, "url"));
            Assert.Equal("helm", Text(secret, "type"));
            Assert.Equal("true", Text(secret, "enableOCI"));
            Assert.Equal("AWS", Text(secret, "username"));
            Assert.Equal(EcrStandIn.PasswordFor(account), Text(secret, "password"));
            Assert.Equal(["enableOCI", "password", "type", "url", "username"], secret["data"]!.AsObject().Select(d => d.Key).Order(StringComparer.Ordinal));
        }

        Assert.Null(_h.Secret("argocd", "ecr-helm"));
        Assert.Null(_h.Secret("argocd", "ecr-team-a"));
        Assert.Equal(["ecr-team-a"], _h.PullSecrets("a1") ?? []);
        Assert.True(_h.PullSecrets("argocd") is null or [], $"argocd's default ServiceAccount lists {string.Join(", ", _h.PullSecrets("argocd") ?? [])}");
        Assert.DoesNotContain(_h.DaemonWrites(mark), w => w is { Resource: "serviceaccounts", Namespace: "argocd" });

        // Someone scopes a credential to an Argo CD project (a key of their own): kept, and no write follows.
        await _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            new JsonObject { ["data"] = new JsonObject { ["project"] = Convert.ToBase64String("platform"u8.ToArray()) } }.ToJsonString(), V1Patch.PatchType.MergePatch),
            ArgoSecrets[0], "argocd");
        await _h.IdleAsync();
        var quiet = _h.Requests.Mark();

        // A rotation rewrites each credential in place (a patch each), the project key stays.
        _h.Ecr.Generation = 1;
        _h.Refresher.RequestRefresh();
        await Poll.Until(() => Text(_h.Secret("argocd", ArgoSecrets[0])!, "password") == EcrStandIn.PasswordFor(ProfileSetup.AccountA, 1)
            && Text(_h.Secret("argocd", ArgoSecrets[1])!, "password") == EcrStandIn.PasswordFor(ProfileSetup.AccountB, 1), () => _h.State("argocd"));
        await _h.IdleAsync();
        var writes = _h.DaemonWrites(quiet).Where(w => w.Namespace == "argocd").ToList();
        Assert.True(writes.Count == 2 && writes.All(w => w is { Verb: "patch", Resource: "secrets" }), DaemonHarness.Summary(writes));
        Assert.Equal("platform", Text(_h.Secret("argocd", ArgoSecrets[0])!, "project"));
    }
}
