using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Xunit;
using static EcrDaemon.Tests.Profiles.ProfileSetup;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// Rotation of one account's token rewrites only the secrets of profiles that use that account.
/// Account B is served by a second stand-in (its own endpoint, so its own GetAuthorizationToken call),
/// which lets B's passwords change while A's stay: the one stand-in rotates every account at once.
/// </summary>
public sealed class ProfileRotationTests
{
    private static readonly string[] PlatformNamespaces = ["p1", "ap"];
    private static readonly string[] TeamANamespaces = ["a1", "ap"];

    [Fact]
    public async Task Rotating_account_B_rewrites_only_the_secrets_of_profiles_using_B_and_no_ServiceAccount()
    {
        await using var h = await StartAsync(Three);
        await using var ecrB = await EcrStandIn.StartAsync(h.Ecr.Region, AccountB);
        await h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" });
        await h.CreateNamespaceAsync("b1", new Dictionary<string, string> { ["team"] = "b" });
        await h.CreateNamespaceAsync("p1", new Dictionary<string, string> { ["platform"] = "true" });
        await h.CreateNamespaceAsync("ap", new Dictionary<string, string> { ["team"] = "a", ["platform"] = "true" });
        string[] all = ["a1", "b1", "p1", "ap"];
        var hostA = h.Ecr.HostFor(AccountA);
        var hostB = ecrB.HostFor(AccountB);
        Assert.Equal(h.Ecr.Region, ecrB.Region);

        // A fixed expiry: a refresh of A then hands out exactly the token A's secrets already hold (same password,
        // same expires-at), so any write of them is a write without a content change. (With the default, each
        // answer's expiry is "now + 12 h", and the refresh that rotates B also moves A's expiry.)
        var expiry = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddHours(12).ToUnixTimeSeconds());
        h.Ecr.ExpiresAt = expiry;
        ecrB.ExpiresAt = expiry;

        bool Holds(int generationB) =>
            h.Password("a1", "ecr-team-a", hostA) == EcrStandIn.PasswordFor(AccountA)
            && h.Password("ap", "ecr-team-a", hostA) == EcrStandIn.PasswordFor(AccountA)
            && h.Password("b1", "ecr-team-b", hostB) == EcrStandIn.PasswordFor(AccountB, generationB)
            && PlatformNamespaces.All(ns => h.Password(ns, "ecr-platform", hostA) == EcrStandIn.PasswordFor(AccountA)
                                              && h.Password(ns, "ecr-platform", hostB) == EcrStandIn.PasswordFor(AccountB, generationB))
            && all.All(ns => h.PullSecrets(ns) is { Length: > 0 });

        await h.StartDaemonAsync(Settings(Three, h.Ecr, ecrB));
        await Poll.Until(() => Holds(0), () => h.State(all));
        await h.IdleAsync();
        Assert.Equal(1, h.Ecr.RequestCount);
        Assert.Equal(1, ecrB.RequestCount);
        Assert.Equal([AccountA], Assert.Single(h.Ecr.Requests).RegistryIds);
        Assert.Equal([AccountB], Assert.Single(ecrB.Requests).RegistryIds);
        var versionsA = TeamANamespaces.ToDictionary(ns => ns, ns => h.SecretVersion(ns, "ecr-team-a"));
        var mark = h.Requests.Mark();

        ecrB.Generation = 1;
        h.Refresher.RequestRefresh();
        await Poll.Until(() => Holds(1), () => h.State(all));
        await h.IdleAsync();

        var writes = h.DaemonWrites(mark);
        Assert.True(writes.All(w => w is { Verb: "patch", Resource: "secrets" }), Describe(writes));
        Assert.Equal(["ap/ecr-platform", "b1/ecr-team-b", "p1/ecr-platform"], writes.Select(w => $"{w.Namespace}/{w.Name}").Order(StringComparer.Ordinal));
        Assert.All(versionsA, v => Assert.Equal(v.Value, h.SecretVersion(v.Key, "ecr-team-a")));
        Assert.Equal(2, ecrB.RequestCount);
        Assert.InRange(h.Ecr.RequestCount, 1, 2); // A may or may not be asked again; either way its secrets are not written
    }
}
