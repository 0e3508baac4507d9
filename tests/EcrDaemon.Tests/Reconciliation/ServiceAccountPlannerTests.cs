using EcrDaemon.Configuration;
using EcrDaemon.Reconciliation;
using Xunit;

namespace EcrDaemon.Tests.Reconciliation;

/// <summary>
/// The ServiceAccount plans, one table each. A row: what the ServiceAccount lists (and whether our
/// marker names the entry), then the plan: the new list and marker change, or no change (null list).
/// The tables are the one-profile configuration (the profile <c>default</c>); the facts after them
/// are several profiles on one ServiceAccount.
/// </summary>
public sealed class ServiceAccountPlannerTests
{
    private const string Ours = "aws-registry";

    /// <summary>The secret is in place: targeted ServiceAccounts get it, the others lose it if we added it.</summary>
    private static readonly ProfileSets Ensured = new(Ensured: 1, Cleanup: 0);

    /// <summary>The namespace left the profile (CleanupOnOptOut): the entries we added go.</summary>
    private static readonly ProfileSets Left = new(Ensured: 0, Cleanup: 1);

    private static ServiceAccountView View(string name, string[] pullSecrets, bool addedByUs) =>
        new("team-a", name, "41", pullSecrets, addedByUs ? Ours : null);

    private static ServiceAccountPlanner Planner(params string[] targets)
    {
        var options = new EcrDaemonOptions { SecretName = Ours, ServiceAccounts = targets };
        options.Registries.Add(new RegistryOptions { Region = "us-west-2" });
        return new ServiceAccountPlanner(PullSecretProfiles.From(options));
    }

    public static TheoryData<string, string[], bool, string[]?, string?, string?> AddCases => new()
    {
        // case, listed, marked as ours, planned list (null: no change), marker, action
        { "nothing listed: ours appended and marked", [], false, [Ours], "Set", "added" },
        { "others listed: kept in order, ours appended last", ["a", "b"], false, ["a", "b", Ours], "Set", "added" },
        { "listed once: no change", [Ours], false, null, null, null },
        { "listed once among others, not by us: no change, not marked", ["a", Ours, "b"], false, null, null, null },
        { "listed once, by us: no change", [Ours], true, null, null, null },
        { "twice: the repeat dropped, the marker left as it is", [Ours, "a", Ours], false, [Ours, "a"], "Keep", "deduplicated" },
        { "three times: the first kept where it is", ["a", Ours, "b", Ours, Ours], true, ["a", Ours, "b"], "Keep", "deduplicated" },
        { "names that only look like ours are someone else's", [Ours + "-old", "AWS-REGISTRY"], false, [Ours + "-old", "AWS-REGISTRY", Ours], "Set", "added" },
        { "marked but the entry was taken out: added again", ["a"], true, ["a", Ours], "Set", "added" },
        { "repeats of other entries are not ours to fix", ["a", "a"], false, ["a", "a", Ours], "Set", "added" },
    };

    public static TheoryData<string, string[], bool, string[]?, string?, string?> RemoveCases => new()
    {
        { "listed but not added by us: left alone", [Ours], false, null, null, null },
        { "not listed, not marked: no change", ["a"], false, null, null, null },
        { "added by us: the entry and the marker go, others stay in order", ["b", Ours, "c"], true, ["b", "c"], "Remove", "removed" },
        { "added by us, the only entry: the list ends empty", [Ours], true, [], "Remove", "removed" },
        { "added by us and listed twice: every copy goes", [Ours, "a", Ours], true, ["a"], "Remove", "removed" },
        { "marked but the entry was taken out already: the marker goes", ["a"], true, ["a"], "Remove", "removed" },
    };

    /// <summary>Plan: targeted ServiceAccounts are planned by PlanAdd, the others by PlanRemove; NeedsChange agrees with it on every row.</summary>
    public static TheoryData<string, string[], string, string[], bool, string[]?, string?> PlanCases => new()
    {
        // case, targets, ServiceAccount, listed, marked as ours, planned list (null: no change), action
        { "targeted by name and missing the entry", ["default"], "default", [], false, [Ours], "added" },
        { "every ServiceAccount targeted (*)", ["*"], "builder", ["a"], false, ["a", Ours], "added" },
        { "not targeted, entry someone else's: left alone", ["default"], "builder", [Ours], false, null, null },
        { "not targeted any more, entry ours: removed", ["default"], "builder", ["a", Ours], true, ["a"], "removed" },
        { "targeted and in sync", ["default", "builder"], "builder", [Ours], true, null, null },
        { "targeted and listed twice", ["*"], "default", [Ours, Ours], true, [Ours], "deduplicated" },
        { "target names are matched exactly", ["Default"], "default", ["a", Ours], true, ["a"], "removed" },
    };

    [Theory]
    [MemberData(nameof(AddCases))]
    public void PlanAdd_lists_the_secret_exactly_once(string @case, string[] listed, bool marked, string[]? list, string? marker, string? action)
    {
        var change = Planner("*").Plan(Ensured, View("default", listed, marked));

        AssertPlan(@case, change, list, marker, action);
    }

    [Theory]
    [MemberData(nameof(RemoveCases))]
    public void PlanRemove_takes_out_only_what_we_added(string @case, string[] listed, bool marked, string[]? list, string? marker, string? action)
    {
        var change = Planner("default").Plan(Left, View("default", listed, marked));

        AssertPlan(@case, change, list, marker, action);
    }

    [Theory]
    [MemberData(nameof(PlanCases))]
    public void Plan_adds_to_targeted_ServiceAccounts_and_removes_from_the_others(string @case, string[] targets, string name, string[] listed, bool marked,
        string[]? list, string? action)
    {
        var planner = Planner(targets);
        var sa = View(name, listed, marked);

        var change = planner.Plan(Ensured, sa);

        Assert.True(list is null ? change is null : change is not null, $"{@case}: planned {change}");
        Assert.Equal(list, change?.PullSecrets);
        Assert.Equal(action is null ? null : $"{action} image pull secret {Ours} (profile default)", change?.Description);
        Assert.Equal(change is not null, planner.NeedsChange(Ensured, sa));
    }

    [Theory]
    [MemberData(nameof(AddCases))]
    [MemberData(nameof(RemoveCases))]
    public void A_profile_whose_secret_is_not_in_place_and_that_the_namespace_did_not_leave_changes_nothing(
        string @case, string[] listed, bool marked, string[]? list, string? marker, string? action)
    {
        _ = (list, marker, action);
        var planner = Planner("*");
        var sa = View("default", listed, marked);

        Assert.True(planner.Plan(new ProfileSets(0, 0), sa) is null, @case);
        Assert.False(planner.NeedsChange(new ProfileSets(0, 0), sa), @case);
    }

    // Several profiles: team-a (ecr-team-a), team-b (ecr-team-b) and platform (ecr-platform), in that order, each targeting default.
    private static readonly PullSecretProfiles Three = ThreeProfiles();

    private static PullSecretProfiles ThreeProfiles()
    {
        var options = new EcrDaemonOptions();
        options.Registries.Add(new RegistryOptions { Name = "acct-a", Region = "us-west-2" });
        options.Registries.Add(new RegistryOptions { Name = "acct-b", Region = "us-west-2" });
        options.Profiles.Add(new ProfileOptions { Name = "team-a", NamespaceSelector = "team=a", SecretName = "ecr-team-a", Registries = ["acct-a"] });
        options.Profiles.Add(new ProfileOptions { Name = "team-b", NamespaceSelector = "team=b", SecretName = "ecr-team-b", Registries = ["acct-b"] });
        options.Profiles.Add(new ProfileOptions { Name = "platform", NamespaceSelector = "platform=true", SecretName = "ecr-platform", Registries = ["acct-a", "acct-b"] });
        return PullSecretProfiles.From(options);
    }

    [Fact]
    public void Two_profiles_add_their_entries_in_one_change_after_the_others_and_the_marker_lists_both()
    {
        var sa = new ServiceAccountView("ap", "default", "7", ["other"]);

        var change = new ServiceAccountPlanner(Three).Plan(new ProfileSets(Ensured: 0b101, Cleanup: 0), sa);

        Assert.Equal(["other", "ecr-team-a", "ecr-platform"], change!.PullSecrets);
        Assert.Equal(MarkerUpdate.To("ecr-team-a,ecr-platform"), change.Added);
        Assert.Equal(MarkerUpdate.Keep, change.Previous);
        Assert.Equal("added image pull secret ecr-team-a (profile team-a), added image pull secret ecr-platform (profile platform)", change.Description);
    }

    [Fact]
    public void Moving_from_one_profile_to_another_swaps_our_entry_in_one_change_and_keeps_the_others_in_order()
    {
        var sa = new ServiceAccountView("moved", "default", "7", ["first", "ecr-team-a", "last"], Added: "ecr-team-a");
        var planner = new ServiceAccountPlanner(Three);
        var sets = new ProfileSets(Ensured: 0b010, Cleanup: 0b101);

        var change = planner.Plan(sets, sa);

        Assert.True(planner.NeedsChange(sets, sa));
        Assert.Equal(["first", "last", "ecr-team-b"], change!.PullSecrets);
        Assert.Equal(MarkerUpdate.To("ecr-team-b"), change.Added);
    }

    [Fact]
    public void Leaving_one_of_two_profiles_removes_only_its_entry_and_keeps_the_other_in_the_marker()
    {
        var sa = new ServiceAccountView("ap", "default", "7", ["ecr-team-a", "ecr-platform"], Added: "ecr-team-a,ecr-platform");

        var change = new ServiceAccountPlanner(Three).Plan(new ProfileSets(Ensured: 0b001, Cleanup: 0b110), sa);

        Assert.Equal(["ecr-team-a"], change!.PullSecrets);
        Assert.Equal(MarkerUpdate.To("ecr-team-a"), change.Added);
    }

    [Fact]
    public void An_entry_of_another_profile_that_someone_else_added_is_left_when_the_namespace_is_not_in_that_profile()
    {
        var sa = new ServiceAccountView("a1", "default", "7", ["ecr-team-b", "ecr-team-a"], Added: "ecr-team-a");
        var planner = new ServiceAccountPlanner(Three);
        var sets = new ProfileSets(Ensured: 0b001, Cleanup: 0b110);

        Assert.False(planner.NeedsChange(sets, sa));
        Assert.Null(planner.Plan(sets, sa));
    }

    [Fact]
    public void An_entry_we_added_under_a_name_no_profile_writes_any_more_stays_and_moves_to_the_previous_marker()
    {
        var sa = new ServiceAccountView("a1", "default", "7", ["old-name"], Added: "old-name", Previous: "older");

        var change = new ServiceAccountPlanner(Three).Plan(new ProfileSets(Ensured: 0b001, Cleanup: 0), sa);

        Assert.Equal(["old-name", "ecr-team-a"], change!.PullSecrets);
        Assert.Equal(MarkerUpdate.To("ecr-team-a"), change.Added);
        Assert.Equal(MarkerUpdate.To("older,old-name"), change.Previous);
    }

    private static void AssertPlan(string @case, ServiceAccountChange? change, string[]? list, string? marker, string? action)
    {
        Assert.True(list is null ? change is null : change is not null, $"{@case}: planned {change}");
        Assert.Equal(list, change?.PullSecrets);
        MarkerUpdate? expected = marker switch
        {
            null => null,
            "Set" => MarkerUpdate.To(Ours),
            "Remove" => MarkerUpdate.To(null),
            _ => MarkerUpdate.Keep,
        };
        Assert.Equal(expected, change?.Added);
        Assert.Equal(action is null ? null : $"{action} image pull secret {Ours} (profile default)", change?.Description);
    }
}
