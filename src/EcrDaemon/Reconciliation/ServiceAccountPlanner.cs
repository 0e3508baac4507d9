using EcrDaemon.Kubernetes;

namespace EcrDaemon.Reconciliation;

/// <summary>A change to one of our marker annotations: none (<see cref="Keep"/>), or its new value (null: the annotation goes).</summary>
internal readonly record struct MarkerUpdate(bool Changes, string? Value)
{
    public static MarkerUpdate Keep => default;

    public static MarkerUpdate To(string? value) => new(true, value);
}

/// <summary>
/// What a ServiceAccount should become: its new pull-secret list (null or empty: none), its marker
/// annotations, and what changed, in words (one entry per secret name, naming its profile), or null for no change.
/// </summary>
internal sealed record ServiceAccountChange(IReadOnlyList<string>? PullSecrets, MarkerUpdate Added, MarkerUpdate Previous, IReadOnlyList<string> Changes)
{
    /// <summary>What changed, in one phrase: "added image pull secret a (profile x), removed image pull secret b (profile y)".</summary>
    public string Description => string.Join(", ", Changes);
}

/// <summary>
/// The profiles whose entries a namespace's ServiceAccounts should have, as bit sets: those whose
/// secret is in place this reconcile (<see cref="Ensured"/>), and those the namespace left whose
/// entries we added go (<see cref="Cleanup"/>: opted out of the profile with CleanupOnOptOut).
/// A profile in neither (no token yet, a secret we may not take, excluded) leaves its entries alone.
/// </summary>
internal readonly record struct ProfileSets(ulong Ensured, ulong Cleanup);

/// <summary>
/// What each ServiceAccount should become. For a profile whose secret is in place, a targeted
/// ServiceAccount lists the secret exactly once (appended, in profile order, when missing; repeats
/// dropped; other entries kept in order), and one not targeted loses the entry only if we added
/// it. For a profile the namespace left, the entry goes only if we added it. Pure: it reads the
/// view it is given and nothing else.
/// </summary>
internal sealed class ServiceAccountPlanner(PullSecretProfiles profiles)
{
    /// <summary>Cheap and allocation-free: runs under the cache's lock for every ServiceAccount of the namespace.</summary>
    public bool NeedsChange(ProfileSets sets, ServiceAccountView sa)
    {
        for (var i = 0; i < profiles.Count; i++)
        {
            var p = profiles[i];
            if (Wanted(sets, p, sa))
            {
                if (Count(sa.PullSecrets, p.SecretName) != 1)
                {
                    return true;
                }
            }
            else if (Removable(sets, p) && sa.AddedByUs(p.SecretName))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The change that brings <paramref name="sa"/> to what <paramref name="sets"/> asks, or null when it is there.</summary>
    public ServiceAccountChange? Plan(ProfileSets sets, ServiceAccountView sa)
    {
        var list = sa.PullSecrets.ToList();
        var added = Markers.Names(sa.Added);
        var changes = new List<string>();
        var markerChanged = false;
        foreach (var p in profiles)
        {
            var name = p.SecretName;
            if (Wanted(sets, p, sa))
            {
                var count = Count(list, name);
                if (count == 0)
                {
                    list.Add(name);
                    if (!added.Contains(name))
                    {
                        added.Add(name);
                    }

                    changes.Add($"added image pull secret {name} (profile {p.Name})");
                    markerChanged = true;
                }
                else if (count > 1)
                {
                    // Listed more than once: keep the first, drop the repeats, keep everything else in order.
                    var first = list.IndexOf(name);
                    list = [.. list.Where((n, i) => n != name || i == first)];
                    changes.Add($"deduplicated image pull secret {name} (profile {p.Name})");
                }
            }
            else if (Removable(sets, p) && added.Contains(name))
            {
                list.RemoveAll(n => n == name);
                added.Remove(name);
                changes.Add($"removed image pull secret {name} (profile {p.Name})");
                markerChanged = true;
            }
        }

        if (changes.Count == 0)
        {
            return null;
        }

        if (!markerChanged)
        {
            return new ServiceAccountChange(list, MarkerUpdate.Keep, MarkerUpdate.Keep, changes);
        }

        // Entries we added under names no profile writes any more (SecretName was renamed) stay listed: the
        // marker no longer names them, Previous does, so that cleanup --secret-name can still tell they were ours.
        var earlier = added.Where(n => profiles.WithSecretName(n) is null).ToList();
        added.RemoveAll(earlier.Contains);
        var previous = Markers.Names(sa.Previous);
        var kept = earlier.Where(n => list.Contains(n) && !previous.Contains(n)).ToList();
        return new ServiceAccountChange(list, MarkerUpdate.To(Markers.Marker(added)),
            kept.Count == 0 ? MarkerUpdate.Keep : MarkerUpdate.To(Markers.Marker([.. previous, .. kept])), changes);
    }

    private static bool Wanted(ProfileSets sets, PullSecretProfile p, ServiceAccountView sa) => (sets.Ensured & p.Bit) != 0 && p.Targets(sa.Name);

    private static bool Removable(ProfileSets sets, PullSecretProfile p) => ((sets.Ensured | sets.Cleanup) & p.Bit) != 0;

    private static int Count(IReadOnlyList<string> list, string name)
    {
        var count = 0;
        for (var i = 0; i < list.Count; i++)
        {
            count += list[i] == name ? 1 : 0;
        }

        return count;
    }
}
