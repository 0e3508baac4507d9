using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Xunit;
using static EcrDaemon.Tests.Profiles.ProfileSetup;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// Moving a namespace between profiles by its labels is opting out of one and in to the other: the
/// old profile's secret (managed) is deleted, the new one's created, and the ServiceAccount's entry
/// swapped in one patch; entries someone else added stay. Checked from the request log.
/// </summary>
public sealed class ProfileRelabelTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await StartAsync(Three);

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Relabelling_from_team_a_to_team_b_deletes_the_old_secret_creates_the_new_one_and_swaps_the_entry_in_one_patch()
    {
        await _h.CreateNamespaceAsync("mover", new Dictionary<string, string> { ["team"] = "a" }, "someone");
        await _h.CreateNamespaceAsync("stay", new Dictionary<string, string> { ["team"] = "a" });
        await _h.StartDaemonAsync(Settings(Three, _h.Ecr));
        await Poll.Until(() => _h.Secret("mover", "ecr-team-a") is not null && _h.Secret("stay", "ecr-team-a") is not null
            && _h.PullSecrets("mover")!.SequenceEqual(["someone", "ecr-team-a"]) && _h.PullSecrets("stay")!.SequenceEqual(["ecr-team-a"]),
            () => _h.State("mover", "stay"));
        await _h.IdleAsync();
        Assert.Equal("ecr-team-a", _h.AddedMarker("mover"));
        var stayVersion = _h.SecretVersion("stay", "ecr-team-a");
        var mark = _h.Requests.Mark();

        await _h.SetLabelsAsync("mover", new Dictionary<string, string?> { ["team"] = "b" });
        await Poll.Until(() => _h.Secret("mover", "ecr-team-a") is null && _h.Secret("mover", "ecr-team-b") is not null
            && _h.PullSecrets("mover")!.SequenceEqual(["someone", "ecr-team-b"]), () => _h.State("mover"));
        await _h.IdleAsync();

        var writes = _h.DaemonWrites(mark);
        var summary = Describe(writes);
        Assert.True(writes.Count == 3, summary);
        Assert.Single(writes, w => w is { Verb: "delete", Resource: "secrets", Namespace: "mover", Name: "ecr-team-a" });
        Assert.Single(writes, w => w is { Verb: "create", Resource: "secrets", Namespace: "mover" });
        Assert.Single(writes, w => w is { Verb: "patch", Resource: "serviceaccounts", Namespace: "mover", Name: "default" });
        Assert.All(writes, w => Assert.True(w.Code is >= 200 and < 300, summary));

        Assert.Equal(["ecr-team-b"], _h.SecretNames("mover"));
        Assert.Equal([_h.Ecr.HostFor(AccountB)], _h.Hosts("mover", "ecr-team-b"));
        Assert.Equal(EcrStandIn.PasswordFor(AccountB), _h.Password("mover", "ecr-team-b", _h.Ecr.HostFor(AccountB)));
        Assert.DoesNotContain(_h.Ecr.HostFor(AccountA), _h.EverythingIn("mover"), StringComparison.Ordinal);
        Assert.Equal("ecr-team-b", _h.AddedMarker("mover"));
        Assert.Equal(stayVersion, _h.SecretVersion("stay", "ecr-team-a"));
    }

    [Fact]
    public async Task Leaving_a_profile_never_removes_an_entry_the_daemon_did_not_add()
    {
        // Someone listed ecr-team-a by hand before the daemon ran: the daemon did not add it, so it stays when the namespace leaves team-a.
        await _h.CreateNamespaceAsync("mover", new Dictionary<string, string> { ["team"] = "a" }, "ecr-team-a", "someone");
        await _h.StartDaemonAsync(Settings(Three, _h.Ecr));
        await Poll.Until(() => _h.Secret("mover", "ecr-team-a") is not null, () => _h.State("mover"));
        await _h.IdleAsync();
        Assert.Equal(["ecr-team-a", "someone"], _h.PullSecrets("mover")!);

        await _h.SetLabelsAsync("mover", new Dictionary<string, string?> { ["team"] = "b" });
        await Poll.Until(() => _h.Secret("mover", "ecr-team-a") is null && _h.PullSecrets("mover")!.Contains("ecr-team-b"), () => _h.State("mover"));
        await _h.IdleAsync();

        Assert.Equal(["ecr-team-a", "someone", "ecr-team-b"], _h.PullSecrets("mover")!);
        Assert.Equal("ecr-team-b", _h.AddedMarker("mover"));
    }
}
