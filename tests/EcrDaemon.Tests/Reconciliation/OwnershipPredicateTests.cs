using EcrDaemon.Kubernetes;
using Xunit;

namespace EcrDaemon.Tests.Reconciliation;

/// <summary>
/// The ownership predicates on <see cref="Markers"/>, which reconcile (ClusterState's projections)
/// and <c>cleanup</c> share: what our label and annotations say, one table each.
/// </summary>
public sealed class OwnershipPredicateTests
{
    private const string Ours = "aws-registry";

    public static TheoryData<string, string?, string?, bool> ManagedCases => new()
    {
        // case, label key, label value, managed
        { "no labels", null, null, false },
        { "our label", Markers.ManagedByLabel, Markers.ManagedByValue, true },
        { "managed by someone else", Markers.ManagedByLabel, "helm", false },
        { "our value under another key", "managed-by", Markers.ManagedByValue, false },
        { "value compared exactly", Markers.ManagedByLabel, "ECR-DAEMON", false },
    };

    public static TheoryData<string, string?, string?, bool, bool, string?> AnnotationCases => new()
    {
        // case, marker, previous-name marker, added by us, added earlier by us, entry the marker names
        { "no annotations", null, null, false, false, null },
        { "our marker names the entry", Ours, null, true, false, Ours },
        { "our marker names another entry (SecretName renamed)", "old-name", null, false, false, "old-name" },
        { "the previous-name marker names the entry", "new-name", Ours, false, true, "new-name" },
        { "both name the entry", Ours, Ours, true, true, Ours },
        { "names compared exactly", "AWS-REGISTRY", "Aws-Registry", false, false, "AWS-REGISTRY" },
    };

    [Theory]
    [MemberData(nameof(ManagedCases))]
    public void A_secret_is_ours_only_with_our_label(string @case, string? key, string? value, bool managed)
    {
        var labels = key is null ? null : new Dictionary<string, string> { [key] = value!, ["app"] = "web" };

        Assert.True(managed == Markers.IsManaged(labels), @case);
    }

    [Theory]
    [MemberData(nameof(AnnotationCases))]
    public void A_pull_secret_entry_is_ours_only_when_a_marker_names_it(string @case, string? added, string? previous, bool addedByUs, bool addedEarlier,
        string? named)
    {
        Dictionary<string, string>? annotations = added is null && previous is null ? null : new() { ["kubectl.kubernetes.io/last-applied-configuration"] = "{}" };
        if (added is not null)
        {
            annotations![Markers.AddedPullSecretAnnotation] = added;
        }

        if (previous is not null)
        {
            annotations![Markers.PreviousPullSecretAnnotation] = previous;
        }

        Assert.True(addedByUs == Markers.AddedByUs(annotations, Ours), $"{@case}: AddedByUs");
        Assert.True(addedEarlier == Markers.AddedEarlierByUs(annotations, Ours), $"{@case}: AddedEarlierByUs");
        Assert.Equal(named, Markers.AddedPullSecret(annotations));
    }
}
