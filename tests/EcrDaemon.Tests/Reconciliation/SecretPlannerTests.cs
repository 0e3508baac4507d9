using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using Xunit;

namespace EcrDaemon.Tests.Reconciliation;

/// <summary>
/// The secret plan, one table. A row: the secret named SecretName as cached (or none), whether
/// AdoptUnmanagedSecrets is on, and the action planned for the desired content (hash <see cref="Current"/>,
/// expiry <see cref="Expiry"/>; the tokens before had hash <see cref="Previous"/>).
/// </summary>
public sealed class SecretPlannerTests
{
    private const string Current = "C0FFEE";
    private const string Previous = "BEEF00";
    private const string Expiry = "2026-12-02T12:00:00Z";
    private const string Earlier = "2026-12-02T00:00:00Z";
    private const string Json = Markers.DockerConfigJsonType;
    private const string Cfg = Markers.DockerCfgType;
    private const string Opaque = "Opaque";

    /// <summary>In the type column: no secret is there.</summary>
    private const string NoSecret = "(none)";

    public static TheoryData<string, string?, bool, string?, string?, bool, bool, string> Cases => new()
    {
        // case, cached secret: type, managed, data hash, expiry, immutable; AdoptUnmanagedSecrets; planned action
        { "none there", NoSecret, false, null, null, false, false, "Create" },
        { "none there, adoption on", NoSecret, false, null, null, false, true, "Create" },
        { "ours, current data and expiry", Json, true, Current, Expiry, false, false, "Nothing" },
        { "ours, the previous token", Json, true, Previous, Earlier, false, false, "Rotate" },
        { "ours, the previous token's data at the current expiry", Json, true, Previous, Expiry, false, false, "Rotate" },
        { "ours, an older token (after a restart)", Json, true, "0LD", Earlier, false, false, "Rotate" },
        { "ours, current data, expiry annotation removed", Json, true, Current, null, false, false, "Rotate" },
        { "ours, data edited at the current expiry", Json, true, "3D17ED", Expiry, false, false, "Repair" },
        { "ours, data key removed at the current expiry", Json, true, null, Expiry, false, false, "Repair" },
        { "ours, immutable and stale", Json, true, Previous, Earlier, true, false, "ReplaceImmutable" },
        { "ours, immutable and current", Json, true, Current, Expiry, true, false, "Nothing" },
        { "ours, dockercfg", Cfg, true, null, null, false, false, "ReplaceDockerCfg" },
        { "ours, Opaque", Opaque, true, Current, Expiry, false, false, "LeaveWrongType" },
        { "ours, no type", null, true, Current, Expiry, false, false, "LeaveWrongType" },
        { "foreign dockerconfigjson, adoption off", Json, false, Current, Expiry, false, false, "LeaveForeign" },
        { "foreign dockercfg, adoption off", Cfg, false, null, null, false, false, "LeaveForeign" },
        { "foreign Opaque, adoption off", Opaque, false, null, null, false, false, "LeaveForeign" },
        { "foreign dockerconfigjson, adoption on", Json, false, "07HER5", null, false, true, "Adopt" },
        { "foreign dockerconfigjson holding the current data, adoption on: it still takes our label", Json, false, Current, Expiry, false, true, "Adopt" },
        { "foreign immutable dockerconfigjson, adoption on", Json, false, "07HER5", null, true, true, "ReplaceImmutable" },
        { "foreign dockercfg, adoption on", Cfg, false, null, null, false, true, "ReplaceDockerCfg" },
        { "foreign Opaque, adoption on", Opaque, false, null, null, false, true, "LeaveWrongType" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plans_create_patch_adopt_replace_leave_or_nothing(string @case, string? type, bool managed, string? hash, string? expiry, bool immutable,
        bool adopt, string expected)
    {
        var cached = type == NoSecret ? null : new SecretView("team-a", "7", type, managed, hash, expiry, immutable);

        var action = SecretPlanner.Plan(cached, Current, Expiry, Previous, adopt);

        Assert.True(expected == action.ToString(), $"{@case}: planned {action}, expected {expected}");
        Assert.Equal(expected.StartsWith("Leave", StringComparison.Ordinal), action.Blocked());
    }

    /// <summary>Before the first rotation there are no previous tokens: data that matches nothing at the current expiry is a repair.</summary>
    [Fact]
    public void Without_previous_tokens_edited_data_is_a_repair()
    {
        var edited = new SecretView("team-a", "7", Json, Managed: true, DataHash: "3D17ED", Expiry: Expiry);

        Assert.Equal(SecretAction.Repair, SecretPlanner.Plan(edited, Current, Expiry, previousHash: null, adoptUnmanaged: false));
    }
}
