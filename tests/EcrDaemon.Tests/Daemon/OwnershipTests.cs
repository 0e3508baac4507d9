using System.Text;
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

/// <summary>Never clobber: unowned secrets, adoption, and a concurrent ServiceAccount writer.</summary>
public sealed class OwnershipTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private Task<V1Secret> CreateSecret(string ns, string type, string key, string value, IDictionary<string, string>? labels = null) =>
        _h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName, Labels = labels },
            Type = type,
            Data = new Dictionary<string, byte[]> { [key] = Encoding.UTF8.GetBytes(value) },
        }, ns);

    [Fact]
    public async Task An_unowned_same_named_secret_is_never_modified_and_a_Warning_Event_says_how_to_adopt_it()
    {
        await _h.CreateNamespaceAsync("theirs", optedIn: true);
        await CreateSecret("theirs", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", """{"auths":{"example.com":{"auth":"eDp5"}}}""");
        var before = _h.SecretVersion("theirs");
        await _h.CreateNamespaceAsync("ours", optedIn: true);
        var mark = _h.Requests.Mark();

        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ResyncInterval"] = "00:00:01" });
        await _h.WaitInSyncAsync("ours");
        await Poll.Until(() => _h.Cluster.Store.InNamespace(ResourceType.Events, "theirs").Count > 0, () => "no event in theirs");
        var resyncs = _h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.Resynced);
        await Poll.Until(() => _h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.Resynced) >= resyncs + 2, () => "no resync yet");
        await _h.IdleAsync();

        Assert.Equal(before, _h.SecretVersion("theirs"));
        Assert.DoesNotContain(_h.DaemonWrites(mark), w => w.Namespace == "theirs" && w.Resource is "secrets" or "serviceaccounts");
        Assert.Empty(_h.PullSecrets("theirs")!);
        var ev = Assert.Single(_h.Cluster.Store.InNamespace(ResourceType.Events, "theirs")).Node;
        Assert.Equal("Warning", ev["type"]!.GetValue<string>());
        Assert.Equal("UnmanagedSecretExists", ev["reason"]!.GetValue<string>());
        Assert.Equal("ecr-daemon", ev["source"]!["component"]!.GetValue<string>());
        Assert.Equal(DaemonHarness.SecretName, ev["involvedObject"]!["name"]!.GetValue<string>());
        var message = ev["message"]!.GetValue<string>();
        Assert.Contains("app.kubernetes.io/managed-by=ecr-daemon", message, StringComparison.Ordinal);
        Assert.Contains("AdoptUnmanagedSecrets=true", message, StringComparison.Ordinal);
        Assert.Equal(1, _h.Services.GetRequiredService<NamespaceReconciler>().UnmanagedSecretConflicts);
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.UnmanagedSecret && e.Message.Contains("theirs/aws-registry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Labelling_an_unowned_secret_hands_it_to_the_daemon_which_updates_it_in_place()
    {
        await _h.CreateNamespaceAsync("handover", optedIn: true);
        await CreateSecret("handover", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{}");
        await _h.StartDaemonAsync();
        await Poll.Until(() => _h.Services.GetRequiredService<NamespaceReconciler>().UnmanagedSecretConflicts == 1, () => "conflict not seen");
        var mark = _h.Requests.Mark();

        await _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"metadata":{"labels":{"app.kubernetes.io/managed-by":"ecr-daemon"}}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "handover");
        await _h.WaitInSyncAsync("handover");

        Assert.DoesNotContain(_h.DaemonWrites(mark), w => w.Verb is "delete" or "create" && w.Resource == "secrets");
        Assert.Equal(0, _h.Services.GetRequiredService<NamespaceReconciler>().UnmanagedSecretConflicts);
    }

    [Fact]
    public async Task Deleting_the_unowned_secret_lets_the_daemon_create_its_own_and_the_conflict_clears()
    {
        await _h.CreateNamespaceAsync("freed", optedIn: true);
        await CreateSecret("freed", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{}");
        await _h.StartDaemonAsync();
        var reconciler = _h.Services.GetRequiredService<NamespaceReconciler>();
        await Poll.Until(() => reconciler.UnmanagedSecretConflicts == 1, () => "conflict not seen");

        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "freed");
        await _h.WaitInSyncAsync("freed");
        await _h.IdleAsync();

        // The daemon's own secret now stands where the other was: nothing blocks the namespace, so the
        // conflict gauge (ecr_daemon_unmanaged_secret_conflicts) must not keep counting it.
        Assert.Equal(Markers.ManagedByValue, _h.Secret("freed")!["metadata"]!["labels"]![Markers.ManagedByLabel]!.GetValue<string>());
        Assert.Equal(0, reconciler.UnmanagedSecretConflicts);
    }

    [Fact]
    public async Task With_adoption_on_a_seed_style_dockercfg_secret_is_replaced_by_a_managed_dockerconfigjson()
    {
        await _h.CreateNamespaceAsync("seed", optedIn: true);
        await CreateSecret("seed", "kubernetes.io/dockercfg", ".dockercfg", """{"123456789012.dkr.ecr.us-west-2.amazonaws.com":{"auth":"old"}}""");
        var mark = _h.Requests.Mark();

        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:AdoptUnmanagedSecrets"] = "true" });
        await _h.WaitInSyncAsync("seed");
        await _h.IdleAsync();

        var secret = _h.Secret("seed")!;
        Assert.Equal(Markers.DockerConfigJsonType, secret["type"]!.GetValue<string>());
        Assert.Equal(Markers.ManagedByValue, secret["metadata"]!["labels"]![Markers.ManagedByLabel]!.GetValue<string>());
        var secretWrites = _h.DaemonWrites(mark).Where(w => w.Resource == "secrets").Select(w => w.Verb).ToList();
        Assert.Equal(["delete", "create"], secretWrites);
        Assert.Contains(_h.Logs.Entries, e => e.EventId.Id == LogEvents.SecretAdopted);
    }

    [Fact]
    public async Task With_adoption_off_a_seed_style_dockercfg_secret_is_left_alone()
    {
        await _h.CreateNamespaceAsync("seed", optedIn: true);
        await CreateSecret("seed", "kubernetes.io/dockercfg", ".dockercfg", "{}");
        var before = _h.SecretVersion("seed");

        await _h.StartDaemonAsync();
        await Poll.Until(() => _h.Services.GetRequiredService<NamespaceReconciler>().UnmanagedSecretConflicts == 1, () => "conflict not seen");
        await _h.IdleAsync();

        Assert.Equal(before, _h.SecretVersion("seed"));
    }

    [Fact]
    public async Task A_409_on_the_ServiceAccount_patch_while_another_writer_adds_its_entry_keeps_both()
    {
        await _h.CreateNamespaceAsync("race", optedIn: false);
        await Poll.Until(() => _h.PullSecrets("race") is not null, () => "no default ServiceAccount");
        await _h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch("""{"imagePullSecrets":[{"name":"first"}]}""", V1Patch.PatchType.MergePatch), "default", "race");
        await _h.StartDaemonAsync();

        // The daemon's first ServiceAccount patch is refused with 409, as if someone wrote first;
        // and someone does: another writer appends its own entry (a JSON patch, as kubectl would).
        _h.Cluster.Faults.FailNext(1, 409, verb: "patch", resource: "serviceaccounts", ns: "race", identity: DaemonHarness.Identity);
        var mark = _h.Requests.Mark();
        await _h.LabelAsync("race", optedIn: true);
        await _h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch(
            """[{"op":"add","path":"/imagePullSecrets/-","value":{"name":"theirs"}}]""", V1Patch.PatchType.JsonPatch), "default", "race");
        await Poll.Until(() => _h.PullSecrets("race")!.Length == 3, () => string.Join(",", _h.PullSecrets("race")!));
        await _h.IdleAsync();

        var entries = _h.PullSecrets("race")!;
        // Which of the two concurrent writes lands last decides the order of the last two.
        Assert.Equal("first", entries[0]);
        Assert.Equal([DaemonHarness.SecretName, "first", "theirs"], entries.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(1, _h.Requests.Count(verb: "patch", resource: "serviceaccounts", identity: DaemonHarness.Identity, code: 409, since: mark));
        Assert.Equal(entries.Length, entries.Distinct().Count());
    }
}
