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
    /// <param name="added">The new <see cref="Markers.AddedPullSecretAnnotation"/> (the entries we added), or keep it.</param>
    /// <param name="previous">The new <see cref="Markers.PreviousPullSecretAnnotation"/> (entries we added under earlier names), or keep it.</param>
    public static V1Patch Create(string resourceVersion, IReadOnlyCollection<string>? pullSecrets, MarkerUpdate added, MarkerUpdate previous)
    {
        var annotations = new JsonObject();
        if (added.Changes)
        {
            annotations[Markers.AddedPullSecretAnnotation] = added.Value;
        }

        if (previous.Changes)
        {
            annotations[Markers.PreviousPullSecretAnnotation] = previous.Value;
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
