using EcrDaemon.StandIns;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Xunit;
using static EcrDaemon.Tests.Profiles.ProfileSetup;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// A secret-only profile (ServiceAccounts set to an empty list) writes its secret and makes no
/// ServiceAccount request at all beyond the informer's list and watch: for repositories whose
/// GitOps tool owns the ServiceAccounts.
/// </summary>
public sealed class SecretOnlyProfileTests
{
    private static readonly string[] TeamANamespaces = ["a1", "a2"];
    private static readonly Profile BuildsOnly = TeamA with { ServiceAccounts = [] };

    private static void AssertNoServiceAccountRequestBeyondTheInformer(DaemonHarness h, long mark)
    {
        var requests = h.DaemonRequests(mark).Where(r => r.Resource == "serviceaccounts" && r.Verb is not ("list" or "watch")).ToList();
        Assert.True(requests.Count == 0, "ServiceAccount requests of a secret-only profile:\n" + Describe(requests));
    }

    [Fact]
    public async Task A_secret_only_profile_creates_its_secret_and_makes_no_ServiceAccount_request()
    {
        await using var h = await StartAsync([BuildsOnly]);
        await h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" });
        await h.CreateNamespaceAsync("a2", new Dictionary<string, string> { ["team"] = "a" }, "other");
        await Poll.Until(() => h.PullSecrets("a1") is not null, () => "no default ServiceAccount in a1");
        var saVersions = TeamANamespaces.ToDictionary(ns => ns, ns => h.Cluster.Store.Get(ResourceType.ServiceAccounts, ns, "default")!.ResourceVersion);
        var mark = h.Requests.Mark();

        await h.StartDaemonAsync(Settings([BuildsOnly], h.Ecr));
        await Poll.Until(() => TeamANamespaces.All(ns => h.Password(ns, "ecr-team-a", h.Ecr.HostFor(AccountA)) == EcrStandIn.PasswordFor(AccountA)),
            () => h.State("a1", "a2"));
        await h.IdleAsync();

        AssertNoServiceAccountRequestBeyondTheInformer(h, mark);
        Assert.Empty(h.PullSecrets("a1")!);
        Assert.Equal(["other"], h.PullSecrets("a2")!);
        Assert.All(saVersions, v => Assert.Equal(v.Value, h.Cluster.Store.Get(ResourceType.ServiceAccounts, v.Key, "default")!.ResourceVersion));
        Assert.Null(h.AddedMarker("a1"));
    }

    [Fact]
    public async Task Beside_a_normal_profile_the_secret_only_profiles_namespace_gets_no_ServiceAccount_request_while_the_other_is_patched()
    {
        Profile[] profiles = [BuildsOnly, TeamB];
        await using var h = await StartAsync(profiles);
        await h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" });
        await h.CreateNamespaceAsync("b1", new Dictionary<string, string> { ["team"] = "b" });
        var mark = h.Requests.Mark();

        await h.StartDaemonAsync(Settings(profiles, h.Ecr));
        await Poll.Until(() => h.Secret("a1", "ecr-team-a") is not null && h.PullSecrets("b1")!.SequenceEqual(["ecr-team-b"]), () => h.State("a1", "b1"));
        await h.IdleAsync();

        var inA1 = h.DaemonRequests(mark).Where(r => r is { Resource: "serviceaccounts", Namespace: "a1" }).ToList();
        Assert.True(inA1.Count == 0, Describe(inA1));
        AssertOnlyB1sServiceAccountIsPatched(h, mark);
        Assert.Empty(h.PullSecrets("a1")!);
        Assert.Equal(["ecr-team-a"], h.SecretNames("a1"));
    }

    [Fact]
    public async Task Without_profiles_an_empty_top_level_ServiceAccounts_makes_the_default_profile_secret_only()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await Poll.Until(() => h.PullSecrets("a") is not null, () => "no default ServiceAccount in a");
        var mark = h.Requests.Mark();

        await h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:ServiceAccounts"] = "" });
        await Poll.Until(() => h.PasswordIn("a") == EcrStandIn.PasswordFor(h.Ecr.DefaultAccountId), () => h.Describe(["a"]));
        await h.IdleAsync();

        AssertNoServiceAccountRequestBeyondTheInformer(h, mark);
        Assert.Empty(h.PullSecrets("a")!);
    }

    private static void AssertOnlyB1sServiceAccountIsPatched(DaemonHarness h, long mark)
    {
        var requests = h.DaemonRequests(mark).Where(r => r.Resource == "serviceaccounts" && r.Verb is not ("list" or "watch") && r.Namespace != "b1").ToList();
        Assert.True(requests.Count == 0, Describe(requests));
        Assert.Single(h.DaemonRequests(mark), r => r is { Resource: "serviceaccounts", Verb: "patch", Namespace: "b1" });
    }
}
