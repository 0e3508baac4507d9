using EcrDaemon.Reconciliation;
using Xunit;

namespace EcrDaemon.Tests.Reconciliation;

/// <summary>
/// The ServiceAccount plans, one table each. A row: what the ServiceAccount lists (and whether our
/// marker names the entry), then the plan: the new list and marker change, or no change (null list).
/// </summary>
public sealed class ServiceAccountPlannerTests
{
    private const string Ours = "aws-registry";

    private static ServiceAccountView View(string name, string[] pullSecrets, bool addedByUs) =>
        new("team-a", name, "41", pullSecrets, addedByUs);

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
        var change = new ServiceAccountPlanner(Ours, ["*"]).PlanAdd(View("default", listed, marked));

        AssertPlan(@case, change, list, marker, action);
    }

    [Theory]
    [MemberData(nameof(RemoveCases))]
    public void PlanRemove_takes_out_only_what_we_added(string @case, string[] listed, bool marked, string[]? list, string? marker, string? action)
    {
        var change = new ServiceAccountPlanner(Ours, ["default"]).PlanRemove(View("default", listed, marked));

        AssertPlan(@case, change, list, marker, action);
    }

    [Theory]
    [MemberData(nameof(PlanCases))]
    public void Plan_adds_to_targeted_ServiceAccounts_and_removes_from_the_others(string @case, string[] targets, string name, string[] listed, bool marked,
        string[]? list, string? action)
    {
        var planner = new ServiceAccountPlanner(Ours, targets);
        var sa = View(name, listed, marked);

        var change = planner.Plan(sa);

        Assert.True(list is null ? change is null : change is not null, $"{@case}: planned {change}");
        Assert.Equal(list, change?.PullSecrets);
        Assert.Equal(action, change?.Action);
        Assert.Equal(change is not null, planner.NeedsChange(sa));
    }

    private static void AssertPlan(string @case, ServiceAccountChange? change, string[]? list, string? marker, string? action)
    {
        Assert.True(list is null ? change is null : change is not null, $"{@case}: planned {change}");
        Assert.Equal(list, change?.PullSecrets);
        Assert.Equal(marker, change?.Marker.ToString());
        Assert.Equal(action, change?.Action);
    }
}
