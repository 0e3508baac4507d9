using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Tests.Support;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// One profile as the soak's checker sees it: the label (key=value) that selects a namespace, its secret,
/// the registry hosts its secret may hold, and the ServiceAccounts it targets (null: all).
/// </summary>
internal sealed record SoakProfile(string Name, string LabelKey, string LabelValue, string SecretName, IReadOnlyList<string> Hosts, IReadOnlyList<string>? ServiceAccounts = null)
{
    public bool Selects(JsonObject? labels) => labels?[LabelKey]?.GetValue<string>() == LabelValue;

    public bool Targets(string serviceAccount) => ServiceAccounts is null || ServiceAccounts.Contains(serviceAccount);
}

/// <summary>
/// The soak's invariants, read from the test cluster's store (no requests) and the kubelet
/// simulator: for each profile (the one-profile soak has one: the opt-in label, our secret, every ServiceAccount),
/// every namespace it selects holds its secret with an unexpired token and each ServiceAccount it targets lists it once
/// (the others not at all); nothing of a profile's remains in namespaces it does not select, and no secret of ours in a
/// namespace holds the registry host of a registry that none of the namespace's profiles gets (each allowing
/// <c>settle</c> after a change: a relabelled namespace keeps its old profile's secret until the daemon removes it);
/// a secret of a profile never holds a host of a registry that profile does not get, a third-party pull-secret entry is
/// never lost and an unowned secret never modified (no settle time at all). The replicas as a Deployment: the kubelet
/// restarts no container (an injected kill is a new pod, not a restart; each restart is a violation
/// with the probe's last answer), and, from the first full sync on, the Service has at least one
/// Ready endpoint at every sample, except for at most <c>settle</c> in a row (the surviving replica
/// of a leader kill stays Ready; only two kills in quick succession leave none until a new pod has
/// started, listed, fetched its token and passed its readiness probe).
/// </summary>
internal sealed class InvariantChecker(
    DaemonHarness h, KubeletSimulator kubelet, IReadOnlyList<string> thirdParty, IReadOnlyDictionary<string, long> unowned, TimeSpan settle,
    IReadOnlyList<SoakProfile>? profiles = null, string unownedSecretName = DaemonHarness.SecretName)
{
    /// <summary>The one-profile configuration: the opt-in label, <see cref="DaemonHarness.SecretName"/>, the stand-in's default registry, every ServiceAccount.</summary>
    private readonly IReadOnlyList<SoakProfile> _profiles = profiles ??
        [new SoakProfile("default", DaemonHarness.OptInLabel, "true", DaemonHarness.SecretName, [h.Ecr.HostFor(h.Ecr.DefaultAccountId)])];

    private int _restartsSeen;
    private DateTimeOffset? _synced;
    private DateTimeOffset? _noneReadySince;

    private readonly Dictionary<string, DateTimeOffset> _badSince = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _withoutTokenSince = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, string), (long Version, string[] Hosts)> _hosts = [];

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
            if (h.Cluster.Store.Get(ResourceType.Secrets, ns, unownedSecretName)?.ResourceVersion != rv && _reported.Add($"{ns}/unowned"))
            {
                Violations.Add($"{now:O} {ns}: the unowned secret was modified");
            }
        }

        foreach (var ns in Names)
        {
            foreach (var profile in _profiles)
            {
                var foreign = ManagedHosts(ns, profile.SecretName).FirstOrDefault(host => !profile.Hosts.Contains(host));
                if (foreign is not null && _reported.Add($"{ns}/{profile.SecretName}/hosts"))
                {
                    Violations.Add($"{now:O} {ns}: secret {profile.SecretName} of profile {profile.Name} holds {foreign}, a registry the profile does not get");
                }
            }

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
        var labels = Labels(ns);
        if (unowned.ContainsKey(ns) || _profiles.Where(p => p.Selects(labels)).All(p => ValidToken(ns, p.SecretName, now)))
        {
            if (_withoutTokenSince.Remove(ns, out var since) && now - since > LongestWithoutValidToken)
            {
                LongestWithoutValidToken = now - since;
            }

            return;
        }

        _withoutTokenSince.TryAdd(ns, now);
    }

    private JsonObject? Labels(string ns) => h.Cluster.Store.Get(ResourceType.Namespaces, "", ns)?.Labels;

    private JsonObject? ManagedSecret(string ns, string name) =>
        h.Cluster.Store.Get(ResourceType.Secrets, ns, name)?.Node is { } secret
        && secret["metadata"]?["labels"]?[Markers.ManagedByLabel]?.GetValue<string>() == Markers.ManagedByValue ? secret : null;

    /// <summary>
    /// The registry hosts in our secret's .dockerconfigjson (none when it is not ours or holds no such key), decoded once per
    /// resourceVersion: the checker samples every 100 ms and must not take the replicas' CPU.
    /// </summary>
    private string[] ManagedHosts(string ns, string name)
    {
        var stored = h.Cluster.Store.Get(ResourceType.Secrets, ns, name);
        if (stored is null)
        {
            return [];
        }

        if (!_hosts.TryGetValue((ns, name), out var seen) || seen.Version != stored.ResourceVersion)
        {
            var data = ManagedSecret(ns, name)?["data"]?[Markers.DockerConfigJsonKey]?.GetValue<string>();
            seen = (stored.ResourceVersion, data is null ? [] : [.. JsonNode.Parse(Convert.FromBase64String(data))?["auths"]?.AsObject().Select(e => e.Key) ?? []]);
            _hosts[(ns, name)] = seen;
        }

        return seen.Hosts;
    }

    private bool ValidToken(string ns, string secretName, DateTimeOffset now)
    {
        var secret = h.Cluster.Store.Get(ResourceType.Secrets, ns, secretName)?.Node;
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
        var labels = Labels(ns);

        // With several profiles, the registry a namespace must not hold comes first; with one, what it names is clearer.
        var allowed = _profiles.Where(p => p.Selects(labels)).SelectMany(p => p.Hosts).ToHashSet(StringComparer.Ordinal);
        var held = _profiles.SelectMany(p => ManagedHosts(ns, p.SecretName).Select(host => (p.SecretName, host))).FirstOrDefault(x => !allowed.Contains(x.host));
        var foreign = held.host is null ? null : $"secret {held.SecretName} holds {held.host}, a registry of none of the namespace's profiles";
        if (foreign is not null && _profiles.Count > 1)
        {
            return foreign;
        }

        foreach (var profile in _profiles)
        {
            var problem = profile.Selects(labels) ? Selected(profile) : NotSelected(profile);
            if (problem is not null)
            {
                return _profiles.Count == 1 ? problem : $"{problem} (profile {profile.Name})";
            }
        }

        return foreign;

        string? Selected(SoakProfile profile)
        {
            if (!ValidToken(ns, profile.SecretName, now))
            {
                return _profiles.Count == 1 ? "no managed secret with an unexpired token" : $"no managed secret {profile.SecretName} with an unexpired token";
            }

            var wrong = accounts.FirstOrDefault(sa => PullSecrets(ns, sa).Count(n => n == profile.SecretName) != (profile.Targets(sa) ? 1 : 0));
            return wrong is null ? null : $"ServiceAccount {wrong} lists [{string.Join(",", PullSecrets(ns, wrong))}]";
        }

        string? NotSelected(SoakProfile profile)
        {
            if (ManagedSecret(ns, profile.SecretName) is not null)
            {
                return _profiles.Count == 1 ? "opted out but our secret remains" : $"not selected but our secret {profile.SecretName} remains";
            }

            var marked = accounts.FirstOrDefault(sa => AddedEntries(ns, sa).Contains(profile.SecretName));
            return marked is null ? null : $"opted out but ServiceAccount {marked} keeps our entry";
        }
    }

    /// <summary>The entries the daemon's marker annotation says it added (a comma-separated list).</summary>
    private string[] AddedEntries(string ns, string sa) =>
        h.Cluster.Store.Get(ResourceType.ServiceAccounts, ns, sa)?.Node["metadata"]?["annotations"]?[Markers.AddedPullSecretAnnotation]?.GetValue<string>()
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];
}
