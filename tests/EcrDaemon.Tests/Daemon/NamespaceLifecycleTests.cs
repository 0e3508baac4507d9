using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using EcrDaemon.Testing;
using Microsoft.Extensions.DependencyInjection;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>Opt-in, opt-out, ServiceAccounts and repairs, each against the running daemon.</summary>
public sealed class NamespaceLifecycleTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private async Task<V1ServiceAccount> GiveDefaultPullSecrets(string ns, params string[] names)
    {
        await Poll.Until(() => _h.PullSecrets(ns) is not null, () => $"no default ServiceAccount in {ns}");
        var list = string.Join(",", names.Select(n => $$"""{"name":"{{n}}"}"""));
        return await _h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(
            new V1Patch($$"""{"imagePullSecrets":[{{list}}]}""", V1Patch.PatchType.MergePatch), "default", ns);
    }

    [Fact]
    public async Task Labelling_syncs_a_namespace_and_unlabelling_removes_only_what_the_daemon_added()
    {
        await _h.CreateNamespaceAsync("team", optedIn: false);
        await GiveDefaultPullSecrets("team", "team-registry", "mirror");
        await _h.CreateNamespaceAsync("other", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("other");

        await _h.LabelAsync("team", optedIn: true);
        await _h.WaitInSyncAsync("team");
        Assert.Equal(["team-registry", "mirror", DaemonHarness.SecretName], _h.PullSecrets("team")!);

        await _h.LabelAsync("team", optedIn: false);
        await Poll.Until(() => _h.Secret("team") is null && _h.PullSecrets("team")!.Length == 2, () => _h.Describe(["team"]));
        Assert.Equal(["team-registry", "mirror"], _h.PullSecrets("team")!);
        var annotations = _h.Cluster.Store.Get(TestCluster.Api.ResourceType.ServiceAccounts, "team", "default")!.Node["metadata"]!["annotations"];
        Assert.Null(annotations?[Markers.AddedPullSecretAnnotation]);
        Assert.True(_h.InSync("other"), _h.Describe(["other"]));
    }

    [Fact]
    public async Task An_entry_that_was_there_before_the_daemon_is_left_when_the_namespace_opts_out()
    {
        // The seed's CronJob put aws-registry on the ServiceAccount; the daemon did not add it, so it never removes it.
        await _h.CreateNamespaceAsync("seeded", optedIn: true);
        await GiveDefaultPullSecrets("seeded", DaemonHarness.SecretName);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("seeded");
        var mark = _h.Requests.Mark();

        await _h.LabelAsync("seeded", optedIn: false);
        await Poll.Until(() => _h.Secret("seeded") is null, () => _h.Describe(["seeded"]));
        await _h.IdleAsync();

        Assert.Equal([DaemonHarness.SecretName], _h.PullSecrets("seeded")!);
        Assert.DoesNotContain(_h.DaemonWrites(mark), w => w.Resource == "serviceaccounts");
    }

    [Fact]
    public async Task With_CleanupOnOptOut_false_an_unlabelled_namespace_keeps_everything()
    {
        await _h.CreateNamespaceAsync("keep", optedIn: true);
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:CleanupOnOptOut"] = "false" });
        await _h.WaitInSyncAsync("keep");
        var mark = _h.Requests.Mark();

        await _h.LabelAsync("keep", optedIn: false);
        await Poll.Until(() => _h.Services.GetRequiredService<ClusterState>().Namespace("keep") is { OptedIn: false }, () => "label removal not seen");
        await _h.IdleAsync();

        Assert.Empty(_h.DaemonWrites(mark));
        Assert.True(_h.InSync("keep"), _h.Describe(["keep"]));
    }

    [Fact]
    public async Task Existing_pull_secrets_are_kept_in_order_and_ours_is_listed_once()
    {
        await _h.CreateNamespaceAsync("ordered", optedIn: false);
        await GiveDefaultPullSecrets("ordered", "b", "a", "c");
        await _h.StartDaemonAsync();

        await _h.LabelAsync("ordered", optedIn: true);
        await _h.WaitInSyncAsync("ordered");

        Assert.Equal(["b", "a", "c", DaemonHarness.SecretName], _h.PullSecrets("ordered")!);
    }

    [Fact]
    public async Task A_ServiceAccount_listing_ours_twice_is_reduced_to_one_entry_keeping_the_others()
    {
        await _h.CreateNamespaceAsync("twice", optedIn: true);
        await GiveDefaultPullSecrets("twice", DaemonHarness.SecretName, "x", DaemonHarness.SecretName);
        await _h.StartDaemonAsync();

        await Poll.Until(() => _h.PullSecrets("twice")!.Length == 2, () => _h.Describe(["twice"]));
        Assert.Equal([DaemonHarness.SecretName, "x"], _h.PullSecrets("twice")!);
    }

    [Fact]
    public async Task With_a_star_every_ServiceAccount_is_patched_including_ones_created_later()
    {
        await _h.CreateNamespaceAsync("all", optedIn: true, "builder");
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ServiceAccounts:0"] = "*" });
        await _h.WaitInSyncAsync("all");
        await Poll.Until(() => _h.InSync("all", "builder"), () => _h.Describe(["all"]));

        await _h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "late" } }, "all");
        await Poll.Until(() => _h.InSync("all", "late"), () => string.Join(",", _h.PullSecrets("all", "late") ?? []));
    }

    [Fact]
    public async Task With_a_named_list_only_those_ServiceAccounts_are_patched_including_ones_created_later()
    {
        await _h.CreateNamespaceAsync("named", optedIn: true);
        await _h.StartDaemonAsync(new Dictionary<string, string?>
        {
            ["EcrDaemon:ServiceAccounts:0"] = "default",
            ["EcrDaemon:ServiceAccounts:1"] = "builder",
        });
        await _h.WaitInSyncAsync("named");

        await _h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "bystander" } }, "named");
        await _h.Admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "builder" } }, "named");
        await Poll.Until(() => _h.InSync("named", "builder"), () => string.Join(",", _h.PullSecrets("named", "builder") ?? []));
        await _h.IdleAsync();

        Assert.Empty(_h.PullSecrets("named", "bystander")!);
    }

    [Fact]
    public async Task A_secret_deleted_by_someone_is_restored_and_edited_data_is_put_back_in_place()
    {
        await _h.CreateNamespaceAsync("repair", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("repair");

        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "repair");
        await _h.WaitInSyncAsync("repair");

        var mark = _h.Requests.Mark();
        await _h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            """{"data":{".dockerconfigjson":"e30="}}""", V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "repair");
        await _h.WaitInSyncAsync("repair");
        await _h.IdleAsync();

        var writes = _h.DaemonWrites(mark);
        Assert.True(writes.Count == 1 && writes[0] is { Verb: "patch", Resource: "secrets" }, DaemonHarness.Summary(writes));
    }

    [Fact]
    public async Task Excluded_and_Terminating_namespaces_are_not_touched()
    {
        await _h.LabelAsync("kube-system", optedIn: true);
        await _h.CreateNamespaceAsync("leaving", optedIn: true);
        await _h.Admin.CoreV1.DeleteNamespaceAsync("leaving");
        Assert.Equal("Terminating", (await _h.Admin.CoreV1.ReadNamespaceAsync("leaving")).Status.Phase);
        await _h.CreateNamespaceAsync("staying", optedIn: true);
        var mark = _h.Requests.Mark();

        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("staying");
        await _h.IdleAsync();

        Assert.Null(_h.Secret("kube-system"));
        Assert.DoesNotContain(_h.DaemonWrites(mark), w => w.Namespace is "kube-system" or "leaving");
        Assert.DoesNotContain(_h.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact]
    public async Task Creating_the_secret_and_patching_a_ServiceAccount_record_Normal_Events_and_Events_false_records_none()
    {
        await _h.CreateNamespaceAsync("loud", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("loud");
        await Poll.Until(() => _h.Cluster.Store.InNamespace(TestCluster.Api.ResourceType.Events, "loud").Count == 2, () => "not 2 events");

        var events = _h.Cluster.Store.InNamespace(TestCluster.Api.ResourceType.Events, "loud").Select(e => e.Node).ToList();
        Assert.All(events, e => Assert.Equal("Normal", e["type"]!.GetValue<string>()));
        Assert.Equal(["Created", "PullSecretChanged"], events.Select(e => e["reason"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Contains(events, e => e["involvedObject"]!["kind"]!.GetValue<string>() == "ServiceAccount" && e["involvedObject"]!["name"]!.GetValue<string>() == "default");
        await _h.StopDaemonAsync();

        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:Events"] = "false" });
        var mark = _h.Requests.Mark();
        await _h.CreateNamespaceAsync("quiet", optedIn: true);
        await _h.WaitInSyncAsync("quiet");
        await _h.IdleAsync();
        Assert.Equal(0, _h.Requests.Count(resource: "events", identity: DaemonHarness.Identity, since: mark));
    }
}
