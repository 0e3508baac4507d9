using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using k8s.Models;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The one ServiceAccount write the daemon makes: a JSON merge patch carrying the resourceVersion
/// it was planned from (so a concurrent writer causes a 409, not a lost entry), the whole new
/// <c>imagePullSecrets</c> list (null removes it), and our marker annotations set or removed.
/// </summary>
internal static class ServiceAccountPatch
{
    /// <param name="marker">Sets our marker to <paramref name="secretName"/>, removes it, or leaves it.</param>
    /// <param name="addedUnderOtherName">
    /// When the marker is set over one naming another entry that stays listed (SecretName was renamed):
    /// that name, kept in <see cref="Markers.PreviousPullSecretAnnotation"/> for <c>cleanup --secret-name</c>.
    /// </param>
    /// <param name="forgetPrevious">Removes <see cref="Markers.PreviousPullSecretAnnotation"/> (cleanup took that entry out).</param>
    public static V1Patch Create(string resourceVersion, IReadOnlyCollection<string>? pullSecrets, MarkerChange marker, string secretName,
        string? addedUnderOtherName = null, bool forgetPrevious = false)
    {
        var annotations = new JsonObject();
        if (marker != MarkerChange.Keep)
        {
            annotations[Markers.AddedPullSecretAnnotation] = marker == MarkerChange.Set ? secretName : null;
        }

        if (marker == MarkerChange.Set && addedUnderOtherName is not null && pullSecrets?.Contains(addedUnderOtherName) == true)
        {
            annotations[Markers.PreviousPullSecretAnnotation] = addedUnderOtherName;
        }
        else if (forgetPrevious)
        {
            annotations[Markers.PreviousPullSecretAnnotation] = null;
        }

        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion, ["annotations"] = annotations },
            ["imagePullSecrets"] = pullSecrets is null or { Count: 0 }
                ? null
                : new JsonArray([.. pullSecrets.Select(n => (JsonNode)new JsonObject { ["name"] = n })]),
        };
        return new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch);
    }
}
