using System.Text;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using k8s;
using k8s.Models;
using Xunit;
using static EcrDaemon.Tests.Profiles.ProfileSetup;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// Every create and patch the daemon sends names its manager (query parameter fieldManager=ecr-daemon),
/// with and without profiles, read from the request log's recorded query strings: secret creates and
/// patches, ServiceAccount patches and Events.
/// </summary>
public sealed class FieldManagerTests
{
    private const string Manager = "ecr-daemon";

    private static void AssertEveryCreateAndPatchNamesTheManager(DaemonHarness h, long mark)
    {
        var writes = h.DaemonRequests(mark).Where(r => r.Verb is "create" or "patch" or "update").ToList();
        var summary = Describe(writes);

        // Each kind of write happened, so that the check below has something to check.
        Assert.True(writes.Any(w => w is { Verb: "create", Resource: "secrets" }), "no secret create:\n" + summary);
        Assert.True(writes.Any(w => w is { Verb: "patch", Resource: "secrets" }), "no secret patch:\n" + summary);
        Assert.True(writes.Any(w => w is { Verb: "patch", Resource: "serviceaccounts" }), "no ServiceAccount patch:\n" + summary);
        Assert.True(writes.Any(w => w is { Verb: "create", Resource: "events" }), "no Event:\n" + summary);

        // As the server decoded it (RequestRecord.FieldManager), and as the daemon wrote it in the query string: once.
        var unnamed = writes.Where(w => w.FieldManager != Manager || !w.QueryValues("fieldManager").SequenceEqual([Manager])).ToList();
        Assert.True(unnamed.Count == 0, $"{unnamed.Count} of {writes.Count} creates and patches without fieldManager={Manager}:\n{Describe(unnamed)}");
    }

    /// <summary>The stored object's metadata.managedFields managers.</summary>
    private static string[] Managers(DaemonHarness h, ResourceType type, string ns, string name) =>
        [.. h.Cluster.Store.Get(type, ns, name)?.Node["metadata"]?["managedFields"]?.AsArray().Select(e => e!["manager"]!.GetValue<string>()) ?? []];

    /// <summary>An unowned secret of the daemon's name: the daemon leaves it alone and records a Warning Event.</summary>
    private static Task<V1Secret> CreateUnownedSecretAsync(DaemonHarness h, string ns, string secretName) =>
        h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = secretName },
            Type = "Opaque",
            Data = new Dictionary<string, byte[]> { ["x"] = Encoding.UTF8.GetBytes("y") },
        }, ns);

    /// <summary>After the start: waits for the creates, patches and the Warning Event in <paramref name="conflicted"/>, then rotates (secret patches).</summary>
    private static async Task ProvokeEveryWriteAsync(DaemonHarness h, string conflicted, Func<bool> inSync, Func<bool> rotated, string[] namespaces)
    {
        await Poll.Until(() => inSync() && h.Cluster.Store.InNamespace(ResourceType.Events, conflicted).Count > 0, () => h.State(namespaces));
        await h.IdleAsync();

        h.Ecr.Generation = 1;
        h.Refresher.RequestRefresh();
        await Poll.Until(rotated, () => h.State(namespaces));
        await h.IdleAsync();
    }

    [Fact]
    public async Task With_profiles_every_create_and_patch_names_the_field_manager()
    {
        await using var h = await StartAsync(Three);
        await h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" });
        await h.CreateNamespaceAsync("ap", new Dictionary<string, string> { ["team"] = "a", ["platform"] = "true" });
        await h.CreateNamespaceAsync("theirs", new Dictionary<string, string> { ["team"] = "b" });
        await CreateUnownedSecretAsync(h, "theirs", "ecr-team-b");
        var mark = h.Requests.Mark();
        await h.StartDaemonAsync(Settings(Three, h.Ecr));

        bool Synced(int generation) =>
            h.Password("a1", "ecr-team-a", h.Ecr.HostFor(AccountA)) == EcrStandIn.PasswordFor(AccountA, generation)
            && h.Password("ap", "ecr-platform", h.Ecr.HostFor(AccountB)) == EcrStandIn.PasswordFor(AccountB, generation)
            && h.PullSecrets("ap")!.SequenceEqual(["ecr-team-a", "ecr-platform"]);

        await ProvokeEveryWriteAsync(h, "theirs", () => Synced(0), () => Synced(1), ["a1", "ap", "theirs"]);

        AssertEveryCreateAndPatchNamesTheManager(h, mark);
        Assert.Equal(["ecr-daemon"], Managers(h, ResourceType.Secrets, "ap", "ecr-platform"));
        Assert.Contains("ecr-daemon", Managers(h, ResourceType.ServiceAccounts, "ap", "default"));
    }

    [Fact]
    public async Task Without_profiles_every_create_and_patch_names_the_field_manager()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.CreateNamespaceAsync("theirs", optedIn: true);
        await CreateUnownedSecretAsync(h, "theirs", DaemonHarness.SecretName);
        var mark = h.Requests.Mark();
        await h.StartDaemonAsync();

        await ProvokeEveryWriteAsync(h, "theirs", () => h.InSync("a"), () => h.InSync("a"), ["a", "theirs"]);

        AssertEveryCreateAndPatchNamesTheManager(h, mark);
        Assert.Equal(["ecr-daemon"], Managers(h, ResourceType.Secrets, "a", DaemonHarness.SecretName));
        Assert.Contains("ecr-daemon", Managers(h, ResourceType.ServiceAccounts, "a", "default"));
    }
}
