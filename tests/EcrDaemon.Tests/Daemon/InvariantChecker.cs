using System.Globalization;
using EcrDaemon.Kubernetes;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The soak's invariants, read from the test cluster's store (no requests): every opted-in
/// namespace holds our secret with an unexpired token and each of its ServiceAccounts lists it
/// once; nothing of ours remains in opted-out namespaces (each allowing <c>settle</c> after a
/// change); a third-party pull-secret entry is never lost and an unowned secret never modified
/// (no settle time at all).
/// </summary>
internal sealed class InvariantChecker(DaemonHarness h, IReadOnlyList<string> thirdParty, IReadOnlyDictionary<string, long> unowned, TimeSpan settle)
{
    private readonly Dictionary<string, DateTimeOffset> _badSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _withoutTokenSince = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);

    public List<string> Violations { get; } = [];

    public TimeSpan LongestWithoutValidToken { get; private set; }

    private static IEnumerable<string> Names => Enumerable.Range(0, SoakTests.Namespaces).Select(i => $"soak-{i}");

    public bool AllInSync() => Names.All(ns => Problem(ns, DateTimeOffset.UtcNow) is null);

    public string Report() => string.Join("; ", Names.Select(ns => (ns, p: Problem(ns, DateTimeOffset.UtcNow))).Where(x => x.p is not null).Take(5).Select(x => $"{x.ns}: {x.p}"));

    public void Check()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var ns in thirdParty)
        {
            if (!PullSecrets(ns, "sa-1").Contains("team-registry") && _reported.Add($"{ns}/third-party"))
            {
                Violations.Add($"{now:O} {ns}: the third-party entry team-registry on sa-1 was lost");
            }
        }

        foreach (var (ns, rv) in unowned)
        {
            if (h.Cluster.Store.Get(ResourceType.Secrets, ns, DaemonHarness.SecretName)?.ResourceVersion != rv && _reported.Add($"{ns}/unowned"))
            {
                Violations.Add($"{now:O} {ns}: the unowned secret was modified");
            }
        }

        foreach (var ns in Names)
        {
            var problem = Problem(ns, now);
            if (problem is null)
            {
                _badSince.Remove(ns);
                _reported.Remove(ns);
            }
            else if (now - _badSince.GetValueOrDefault(ns, now) > settle && _reported.Add(ns))
            {
                Violations.Add($"{now:O} {ns}: {problem} for more than {settle.TotalSeconds:0} s");
            }
            else
            {
                _badSince.TryAdd(ns, now);
            }

            TrackToken(ns, now);
        }
    }

    private void TrackToken(string ns, DateTimeOffset now)
    {
        if (!OptedIn(ns) || unowned.ContainsKey(ns) || ValidToken(ns, now))
        {
            if (_withoutTokenSince.Remove(ns, out var since) && now - since > LongestWithoutValidToken)
            {
                LongestWithoutValidToken = now - since;
            }

            return;
        }

        _withoutTokenSince.TryAdd(ns, now);
    }

    private bool OptedIn(string ns) => h.Cluster.Store.Get(ResourceType.Namespaces, "", ns)?.Labels?[DaemonHarness.OptInLabel] is not null;

    private bool ValidToken(string ns, DateTimeOffset now)
    {
        var secret = h.Cluster.Store.Get(ResourceType.Secrets, ns, DaemonHarness.SecretName)?.Node;
        var expiry = secret?["metadata"]?["annotations"]?[Markers.ExpiresAtAnnotation]?.GetValue<string>();
        return secret?["metadata"]?["labels"]?[Markers.ManagedByLabel]?.GetValue<string>() == Markers.ManagedByValue
            && expiry is not null && DateTimeOffset.Parse(expiry, CultureInfo.InvariantCulture) > now;
    }

    private string[] PullSecrets(string ns, string sa) => h.PullSecrets(ns, sa) ?? [];

    private string? Problem(string ns, DateTimeOffset now)
    {
        if (unowned.ContainsKey(ns))
        {
            return null; // checked apart: never modified
        }

        var accounts = h.Cluster.Store.InNamespace(ResourceType.ServiceAccounts, ns).Select(s => s.Name).ToList();
        if (OptedIn(ns))
        {
            if (!ValidToken(ns, now))
            {
                return "no managed secret with an unexpired token";
            }

            var wrong = accounts.FirstOrDefault(sa => PullSecrets(ns, sa).Count(n => n == DaemonHarness.SecretName) != 1);
            return wrong is null ? null : $"ServiceAccount {wrong} lists [{string.Join(",", PullSecrets(ns, wrong))}]";
        }

        var secret = h.Cluster.Store.Get(ResourceType.Secrets, ns, DaemonHarness.SecretName)?.Node;
        if (secret?["metadata"]?["labels"]?[Markers.ManagedByLabel] is not null)
        {
            return "opted out but our secret remains";
        }

        var marked = accounts.FirstOrDefault(sa => h.Cluster.Store.Get(ResourceType.ServiceAccounts, ns, sa)?.Node["metadata"]?["annotations"]?[Markers.AddedPullSecretAnnotation] is not null);
        return marked is null ? null : $"opted out but ServiceAccount {marked} keeps our entry";
    }
}
