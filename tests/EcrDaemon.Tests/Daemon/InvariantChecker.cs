using System.Globalization;
using EcrDaemon.Kubernetes;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Tests.Support;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The soak's invariants, read from the test cluster's store (no requests) and the kubelet
/// simulator: every opted-in namespace holds our secret with an unexpired token and each of its
/// ServiceAccounts lists it once; nothing of ours remains in opted-out namespaces (each allowing
/// <c>settle</c> after a change); a third-party pull-secret entry is never lost and an unowned
/// secret never modified (no settle time at all). The replicas as a Deployment: the kubelet
/// restarts no container (an injected kill is a new pod, not a restart; each restart is a violation
/// with the probe's last answer), and, from the first full sync on, the Service has at least one
/// Ready endpoint at every sample, except for at most <c>settle</c> in a row (the surviving replica
/// of a leader kill stays Ready; only two kills in quick succession leave none until a new pod has
/// started, listed, fetched its token and passed its readiness probe).
/// </summary>
internal sealed class InvariantChecker(DaemonHarness h, KubeletSimulator kubelet, IReadOnlyList<string> thirdParty, IReadOnlyDictionary<string, long> unowned, TimeSpan settle)
{
    private int _restartsSeen;
    private DateTimeOffset? _synced;
    private DateTimeOffset? _noneReadySince;

    private readonly Dictionary<string, DateTimeOffset> _badSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _withoutTokenSince = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);

    public List<string> Violations { get; } = [];

    public TimeSpan LongestWithoutValidToken { get; private set; }

    public TimeSpan LongestWithoutReady { get; private set; }

    /// <summary>The first full sync is done: the readiness invariant holds from now on.</summary>
    public void Synced() => _synced = DateTimeOffset.UtcNow;

    /// <summary>The namespaces that fail an invariant now, with the problem.</summary>
    public IReadOnlyList<(string Namespace, string Problem)> Failing() =>
        [.. Names.Select(ns => (ns, p: Problem(ns, DateTimeOffset.UtcNow))).Where(x => x.p is not null).Select(x => (x.ns, x.p!))];

    /// <summary>The namespaces the violations name, in order, each once.</summary>
    public IReadOnlyList<string> ViolatingNamespaces() =>
        [.. Violations.Select(v => v.Split(' ')[1].TrimEnd(':')).Where(ns => ns.StartsWith("soak-", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal)];

    private static IEnumerable<string> Names => Enumerable.Range(0, SoakTests.Namespaces).Select(i => $"soak-{i}");

    public bool AllInSync() => Names.All(ns => Problem(ns, DateTimeOffset.UtcNow) is null);

    public string Report() => string.Join("; ", Failing().Take(5).Select(x => $"{x.Namespace}: {x.Problem}"));

    public void Check()
    {
        var now = DateTimeOffset.UtcNow;
        CheckReplicas(now);
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

    private void CheckReplicas(DateTimeOffset now)
    {
        var restarts = kubelet.Restarts;
        for (; _restartsSeen < restarts.Count; _restartsSeen++)
        {
            Violations.Add($"{now:O} kubelet: restarted {restarts[_restartsSeen]}");
        }

        if (_synced is null)
        {
            return;
        }

        if (kubelet.Ready.Count > 0)
        {
            if (_noneReadySince is { } since && now - since > LongestWithoutReady)
            {
                LongestWithoutReady = now - since;
            }

            _noneReadySince = null;
            _reported.Remove("(no Ready replica)");
            return;
        }

        _noneReadySince ??= now;
        if (now - _noneReadySince > settle && _reported.Add("(no Ready replica)"))
        {
            Violations.Add($"{now:O} service: no Ready replica for more than {settle.TotalSeconds:0} s");
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
