using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Xunit;
using static EcrDaemon.Tests.Profiles.ProfileSetup;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// Three profiles over two accounts: team-a (team=a, account A, ecr-team-a), team-b (team=b, account B,
/// ecr-team-b), platform (platform=true, both, ecr-platform). Namespaces a1 (team=a), b1 (team=b),
/// p1 (platform=true), ap (team=a and platform=true), none (team=c). Checked from the store and the
/// request log: which secrets, which hosts, which ServiceAccount entries, how many ECR calls and
/// which secret reads.
/// </summary>
public sealed class ProfileAssignmentTests : IAsyncLifetime
{
    private static readonly Dictionary<string, Profile[]> Expected = new(StringComparer.Ordinal)
    {
        ["a1"] = [TeamA],
        ["b1"] = [TeamB],
        ["p1"] = [Platform],
        ["ap"] = [TeamA, Platform],
        ["none"] = [],
    };

    private static readonly string[] Namespaces = [.. Expected.Keys];
    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        _h = await StartAsync(Three);
        await _h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" }, "other");
        await _h.CreateNamespaceAsync("b1", new Dictionary<string, string> { ["team"] = "b" }, "other");
        await _h.CreateNamespaceAsync("p1", new Dictionary<string, string> { ["platform"] = "true" }, "other");
        await _h.CreateNamespaceAsync("ap", new Dictionary<string, string> { ["team"] = "a", ["platform"] = "true" }, "other");
        await _h.CreateNamespaceAsync("none", new Dictionary<string, string> { ["team"] = "c" }, "other");
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private string HostA => _h.Ecr.HostFor(AccountA);

    private string HostB => _h.Ecr.HostFor(AccountB);

    private bool AllInSync(int generation) => Expected.All(e =>
        _h.SecretNames(e.Key).SequenceEqual(e.Value.Select(p => p.SecretName).Order(StringComparer.Ordinal))
        && e.Value.All(p => p.Registries.All(r => _h.Password(e.Key, p.SecretName, _h.Ecr.HostFor(AccountOf(r))) == EcrStandIn.PasswordFor(AccountOf(r), generation)))
        && (_h.PullSecrets(e.Key) ?? []).SequenceEqual(["other", .. e.Value.Select(p => p.SecretName)]));

    private async Task StartAndSyncAsync()
    {
        await _h.StartDaemonAsync(Settings(Three, _h.Ecr));
        await Poll.Until(() => AllInSync(0), () => _h.State(Namespaces));
        await _h.IdleAsync();
    }

    [Fact]
    public async Task Each_namespace_gets_exactly_its_profiles_secrets_with_only_their_hosts_listed_once_after_the_existing_entries()
    {
        await StartAndSyncAsync();

        foreach (var (ns, profiles) in Expected)
        {
            Assert.True(_h.SecretNames(ns).SequenceEqual(profiles.Select(p => p.SecretName).Order(StringComparer.Ordinal)), _h.State(ns));
            foreach (var p in profiles)
            {
                Assert.Equal(_h.Ecr.HostsOf(p), _h.Hosts(ns, p.SecretName));
            }

            // The entry someone else put first stays first; each profile's secret once, in profile order.
            Assert.Equal(["other", .. profiles.Select(p => p.SecretName)], _h.PullSecrets(ns)!);
        }

        // The marker lists the entries the daemon added: one name alone (as before profiles), several comma-separated.
        Assert.Equal("ecr-team-a", _h.AddedMarker("a1"));
        Assert.Equal("ecr-team-b", _h.AddedMarker("b1"));
        Assert.Equal("ecr-platform", _h.AddedMarker("p1"));
        Assert.Equal(["ecr-platform", "ecr-team-a"], (_h.AddedMarker("ap") ?? "").Split(',').Order(StringComparer.Ordinal));
        Assert.Null(_h.AddedMarker("none"));

        // Account isolation: a team=a-only namespace never holds B's host anywhere, a team=b-only one never A's.
        Assert.DoesNotContain(HostB, _h.EverythingIn("a1"), StringComparison.Ordinal);
        Assert.DoesNotContain(EcrStandIn.PasswordFor(AccountB), _h.EverythingIn("a1"), StringComparison.Ordinal);
        Assert.DoesNotContain(HostA, _h.EverythingIn("b1"), StringComparison.Ordinal);
        Assert.DoesNotContain(EcrStandIn.PasswordFor(AccountA), _h.EverythingIn("b1"), StringComparison.Ordinal);
        Assert.DoesNotContain(HostB, _h.EverythingIn("none"), StringComparison.Ordinal);
        Assert.DoesNotContain(HostA, _h.EverythingIn("none"), StringComparison.Ordinal);

        // ap's team-a secret holds only A, although ap also gets platform's secret with B.
        Assert.Equal([HostA], _h.Hosts("ap", "ecr-team-a"));
        Assert.Equal(new[] { HostA, HostB }.Order(StringComparer.Ordinal), _h.Hosts("ap", "ecr-platform"));
    }

    [Fact]
    public async Task Two_accounts_behind_one_endpoint_cost_one_GetAuthorizationToken_call_and_each_secret_name_one_watch_with_its_field_selector()
    {
        var mark = _h.Requests.Mark();

        await StartAndSyncAsync();

        // Same credentials, region and endpoint: one call asking for both registries.
        var call = Assert.Single(_h.Ecr.Requests);
        Assert.Equal([AccountA, AccountB], call.RegistryIds.Order(StringComparer.Ordinal));

        var names = Three.Select(p => p.SecretName).ToHashSet(StringComparer.Ordinal);
        var reads = _h.DaemonRequests(mark).Where(r => r is { Resource: "secrets", Verb: "get" or "list" or "watch" }).ToList();
        foreach (var name in names)
        {
            var selector = $"metadata.name={name}";
            Assert.True(reads.Count(r => r.Verb == "watch" && r.QueryValues("fieldSelector").SequenceEqual([selector])) == 1,
                $"one watch of {name} expected:\n{Describe(reads)}");
            Assert.True(reads.Count(r => r.Verb == "list" && r.QueryValues("fieldSelector").SequenceEqual([selector])) == 1,
                $"one list of {name} expected:\n{Describe(reads)}");
        }

        // No other secret is ever read: every list and watch selects one of the names, every get is of one of them.
        var others = reads.Where(r => r.Verb == "get"
            ? !names.Contains(r.Name)
            : r.QueryValues("fieldSelector") is not [var s] || !s.StartsWith("metadata.name=", StringComparison.Ordinal) || !names.Contains(s["metadata.name=".Length..])).ToList();
        Assert.True(others.Count == 0, "secret reads outside the profiles' names:\n" + Describe(others));
        Assert.Equal(2 * names.Count, reads.Count(r => r.Verb is "list" or "watch"));
        Assert.DoesNotContain(_h.DaemonRequests(mark), r => r.Code == 403);
    }

    [Fact]
    public async Task A_rotation_patches_each_secret_whose_content_changed_once_and_no_ServiceAccount_with_one_ECR_call()
    {
        await StartAndSyncAsync();
        var mark = _h.Requests.Mark();
        var ecrCalls = _h.Ecr.RequestCount;

        _h.Ecr.Generation = 1; // one stand-in: both accounts' passwords change, so every secret's content changes
        _h.Refresher.RequestRefresh();
        await Poll.Until(() => AllInSync(1), () => _h.State(Namespaces));
        await _h.IdleAsync();

        var writes = _h.DaemonWrites(mark);
        string[] expected = ["a1/ecr-team-a", "ap/ecr-platform", "ap/ecr-team-a", "b1/ecr-team-b", "p1/ecr-platform"];
        Assert.True(writes.All(w => w is { Verb: "patch", Resource: "secrets" }), Describe(writes));
        Assert.Equal(expected, writes.Select(w => $"{w.Namespace}/{w.Name}").Order(StringComparer.Ordinal));
        Assert.Equal(ecrCalls + 1, _h.Ecr.RequestCount);
    }
}
