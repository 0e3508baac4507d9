using EcrDaemon.Kubernetes;

namespace EcrDaemon.Reconciliation;

/// <summary>What a ServiceAccount write does to our marker (<see cref="Markers.AddedPullSecretAnnotation"/>).</summary>
internal enum MarkerChange
{
    /// <summary>Leaves the marker as it is.</summary>
    Keep,

    /// <summary>Sets the marker to SecretName: we added the entry.</summary>
    Set,

    /// <summary>Removes the marker: the entry we added is gone.</summary>
    Remove,
}

/// <summary>What a ServiceAccount should become: its new pull-secret list (null: none) and marker, or null for no change.</summary>
internal sealed record ServiceAccountChange(IReadOnlyList<string>? PullSecrets, MarkerChange Marker, string Action);

/// <summary>
/// What each ServiceAccount should become: a targeted one lists <c>secretName</c> exactly once
/// (other entries kept, in order); one no longer targeted loses the entry only if we added it.
/// Pure: it reads the view it is given and nothing else.
/// </summary>
internal sealed class ServiceAccountPlanner(string secretName, IEnumerable<string> targets)
{
    private readonly HashSet<string> _targets = targets.ToHashSet(StringComparer.Ordinal);

    private bool Targeted(ServiceAccountView sa) => _targets.Contains("*") || _targets.Contains(sa.Name);

    /// <summary>Cheap and allocation-free: runs under the cache's lock for every ServiceAccount of the namespace.</summary>
    public bool NeedsChange(ServiceAccountView sa) => Targeted(sa) ? Ours(sa) != 1 : sa.AddedByUs;

    /// <summary>For an opted-in namespace: <see cref="PlanAdd"/> for a targeted ServiceAccount, <see cref="PlanRemove"/> for any other.</summary>
    public ServiceAccountChange? Plan(ServiceAccountView sa) => Targeted(sa) ? PlanAdd(sa) : PlanRemove(sa);

    private int Ours(ServiceAccountView sa)
    {
        var ours = 0;
        for (var i = 0; i < sa.PullSecrets.Count; i++)
        {
            ours += sa.PullSecrets[i] == secretName ? 1 : 0;
        }

        return ours;
    }

    /// <summary>Lists <c>secretName</c> exactly once: appended (and marked as ours) when missing, repeats dropped; null when listed once.</summary>
    public ServiceAccountChange? PlanAdd(ServiceAccountView sa)
    {
        var ours = Ours(sa);
        if (ours == 1)
        {
            return null;
        }

        if (ours == 0)
        {
            return new ServiceAccountChange([.. sa.PullSecrets, secretName], MarkerChange.Set, "added");
        }

        // Listed more than once: keep the first, drop the repeats, keep everything else in order.
        var first = sa.PullSecrets.ToList().IndexOf(secretName);
        return new ServiceAccountChange([.. sa.PullSecrets.Where((n, i) => n != secretName || i == first)], MarkerChange.Keep, "deduplicated");
    }

    /// <summary>Takes out every <c>secretName</c> entry and our marker when we added it; null when we did not (an entry someone else added stays).</summary>
    public ServiceAccountChange? PlanRemove(ServiceAccountView sa)
    {
        if (!sa.AddedByUs)
        {
            return null;
        }

        return new ServiceAccountChange([.. sa.PullSecrets.Where(n => n != secretName)], MarkerChange.Remove, "removed");
    }
}
