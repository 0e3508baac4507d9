using EcrDaemon.Kubernetes;

namespace EcrDaemon.Reconciliation;

/// <summary>What a ServiceAccount should become: its new pull-secret list (null: none) and marker, or null for no change.</summary>
internal sealed record ServiceAccountChange(IReadOnlyList<string>? PullSecrets, bool? AddedByUs, string Action);

/// <summary>
/// What each ServiceAccount should become: a targeted one lists <c>secretName</c> exactly once
/// (other entries kept, in order); one no longer targeted loses the entry only if we added it.
/// </summary>
internal sealed class ServiceAccountPlanner(string secretName, IEnumerable<string> targets)
{
    private readonly HashSet<string> _targets = targets.ToHashSet(StringComparer.Ordinal);

    private bool Targeted(ServiceAccountView sa) => _targets.Contains("*") || _targets.Contains(sa.Name);

    /// <summary>Cheap and allocation-free: runs under the cache's lock for every ServiceAccount of the namespace.</summary>
    public bool NeedsChange(ServiceAccountView sa) => Targeted(sa) ? Ours(sa) != 1 : sa.AddedByUs;

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

    private ServiceAccountChange? PlanAdd(ServiceAccountView sa)
    {
        var ours = Ours(sa);
        if (ours == 1)
        {
            return null;
        }

        if (ours == 0)
        {
            return new ServiceAccountChange([.. sa.PullSecrets, secretName], true, "added");
        }

        // Listed more than once: keep the first, drop the repeats, keep everything else in order.
        var first = sa.PullSecrets.ToList().IndexOf(secretName);
        return new ServiceAccountChange([.. sa.PullSecrets.Where((n, i) => n != secretName || i == first)], null, "deduplicated");
    }

    public ServiceAccountChange? PlanRemove(ServiceAccountView sa)
    {
        if (!sa.AddedByUs)
        {
            return null;
        }

        return new ServiceAccountChange([.. sa.PullSecrets.Where(n => n != secretName)], false, "removed");
    }
}
