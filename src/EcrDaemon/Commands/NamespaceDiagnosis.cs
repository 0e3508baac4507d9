using System.Text;
using System.Text.Json;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Primitives;
using EcrDaemon.Reconciliation;
using k8s.Models;

namespace EcrDaemon.Commands;

/// <summary>What <c>explain</c> says of one namespace (its text and its <c>-o json</c>). Never a password or token.</summary>
internal sealed record ExplainReport(
    string Namespace,
    bool Found,
    bool Terminating,
    bool OptedIn,
    bool InSync,
    string Verdict,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<ProfileReport> Profiles,
    IReadOnlyList<Finding> Problems,
    IReadOnlyList<EventReport>? Events);

/// <summary>One profile in one namespace: whether it selects it and why, its secret and the ServiceAccounts.</summary>
internal sealed record ProfileReport(
    string Name,
    string SecretName,
    string Selector,
    bool Selected,
    bool Excluded,
    IReadOnlyList<SelectorCheck> Requirements,
    SecretReport Secret,
    bool SecretOnly,
    IReadOnlyList<ServiceAccountReport> ServiceAccounts,
    IReadOnlyList<Finding> Problems);

/// <summary>
/// The profile's secret as it is: present, owned (our label), its type, the registry hosts it holds (the keys of
/// its <c>auths</c>, never their credentials), its expiry annotation and the seconds left (negative: expired).
/// </summary>
internal sealed record SecretReport(bool Present, bool Managed, string? Type, IReadOnlyList<string> Registries, string? ExpiresAt, long? SecondsLeft, bool Immutable);

/// <summary>A ServiceAccount the profile targets (or one that lists its secret): how often it lists it, and whether we added the entry.</summary>
internal sealed record ServiceAccountReport(string Name, bool Targeted, int Entries, bool AddedByDaemon, bool InSync);

/// <summary>What is wrong, and what to do about it.</summary>
internal sealed record Finding(string Problem, string Fix);

/// <summary>One of the daemon's Events in the namespace.</summary>
internal sealed record EventReport(string? Time, string? Type, string? Reason, string Object, int Count, string? Message);

/// <summary>
/// What the cluster holds, as the daemon reads it: the objects go into a <see cref="ClusterState"/> (the
/// reconciler's own projections: which profiles select or exclude a namespace, whether it is Terminating, which
/// secret is ours), and the raw namespaces and secrets are kept for what a person also wants to see (labels, hosts).
/// </summary>
internal sealed class ClusterSnapshot(PullSecretProfiles profiles)
{
    private readonly Dictionary<string, V1Namespace> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Namespace, string Name), V1Secret> _secrets = [];

    public ClusterState State { get; } = new(profiles, _ => { });

    public PullSecretProfiles Profiles => State.Profiles;

    public IEnumerable<string> NamespaceNames => _namespaces.Keys;

    public void Add(V1Namespace ns)
    {
        _namespaces[ns.Metadata.Name] = ns;
        State.Namespaces.Upsert(ns);
    }

    public void Add(V1ServiceAccount sa) => State.ServiceAccounts.Upsert(sa);

    /// <summary>A secret named as some profile's secret (others are ignored: the daemon never reads them).</summary>
    public void Add(V1Secret secret)
    {
        if (Profiles.WithSecretName(secret.Metadata.Name) is { } profile)
        {
            _secrets[(secret.Metadata.NamespaceProperty, secret.Metadata.Name)] = secret;
            State.Secrets(profile).Upsert(secret);
        }
    }

    public V1Namespace? Namespace(string name) => _namespaces.GetValueOrDefault(name);

    public V1Secret? Secret(string ns, string name) => _secrets.GetValueOrDefault((ns, name));
}

/// <summary>
/// The diagnosis of one namespace from a <see cref="ClusterSnapshot"/>, by the daemon's own rules: opt-in and
/// exclusion (<see cref="NamespaceView"/>), the secret plan (<see cref="SecretPlanner"/>, with
/// AdoptUnmanagedSecrets), and what each ServiceAccount should list (<see cref="ServiceAccountPlanner"/>).
/// Pure: no request, no clock.
/// </summary>
internal static class NamespaceDiagnosis
{
    public static ExplainReport Diagnose(ClusterSnapshot snapshot, string ns, bool adoptUnmanaged, DateTimeOffset now, IReadOnlyList<EventReport>? events = null)
    {
        var state = snapshot.State;
        if (snapshot.Namespace(ns) is not { } raw || state.Namespace(ns) is not { } view)
        {
            var missing = new Finding($"namespace {ns} not found", "check the name: kubectl get namespaces");
            return new(ns, false, false, false, false, Verdict([missing]), new Dictionary<string, string>(), [], [missing], events);
        }

        var labels = raw.Metadata.Labels ?? new Dictionary<string, string>();
        var planner = new ServiceAccountPlanner(snapshot.Profiles);
        var profiles = snapshot.Profiles.Select(p => Profile(snapshot, planner, view, labels, p, adoptUnmanaged, now)).ToList();

        var problems = new List<Finding>();
        if (view.Terminating)
        {
            problems.Add(new($"namespace {ns} is Terminating", "nothing to do: the daemon leaves a namespace that is being deleted alone"));
        }
        else if (!view.OptedIn)
        {
            problems.Add(NotOptedIn(ns, profiles));
        }

        var selected = profiles.Where(p => p.Selected).ToList();
        problems.AddRange(view.Terminating ? [] : selected.SelectMany(p => p.Problems));
        return new(ns, true, view.Terminating, view.OptedIn, problems.Count == 0, problems.Count == 0 ? InSyncVerdict(selected) : Verdict(problems),
            new Dictionary<string, string>(labels, StringComparer.Ordinal), profiles, problems, events);
    }

    /// <summary>A namespace that one profile would select but excludes: a near miss, worth showing in <c>explain --all</c>.</summary>
    public static bool NearMiss(ExplainReport report) => report.Profiles.Any(p => p.Excluded && p.Requirements.All(r => r.Matched));

    private static Finding NotOptedIn(string ns, List<ProfileReport> profiles)
    {
        var excluded = profiles.FirstOrDefault(p => p.Excluded && p.Requirements.All(r => r.Matched))
            ?? (profiles.All(p => p.Excluded) ? profiles[0] : null);
        if (excluded is not null)
        {
            return new($"namespace {ns} is excluded (ExcludedNamespaces; profile {excluded.Name})",
                $"if it should get secret {excluded.SecretName}, remove {ns} from EcrDaemon:ExcludedNamespaces (or the profile's ExcludedNamespaces)");
        }

        var candidate = profiles.First(p => !p.Excluded);
        var failing = candidate.Requirements.Where(r => !r.Matched).ToList();
        var overwrite = failing.Any(r => r.Value is not null) ? " --overwrite" : "";
        return new($"namespace {ns} is not opted in: its labels do not match {candidate.Selector} (profile {candidate.Name})",
            $"label the namespace: kubectl label namespace {ns} {string.Join(' ', failing.Select(r => r.Fix))}{overwrite}");
    }

    private static ProfileReport Profile(ClusterSnapshot snapshot, ServiceAccountPlanner planner, NamespaceView view, IDictionary<string, string> labels,
        PullSecretProfile p, bool adoptUnmanaged, DateTimeOffset now)
    {
        var ns = view.Name;
        var selected = (view.Member & p.Bit) != 0;
        var secretView = snapshot.State.Secrets(p).Get(ns, p.SecretName);
        var raw = snapshot.Secret(ns, p.SecretName);
        long? left = secretView?.Expiry is { } expiry && Rfc3339.TryParse(expiry, out var at) ? (long)Math.Floor((at - now).TotalSeconds) : null;
        var secret = secretView is null || raw is null
            ? new SecretReport(false, false, null, [], null, null, false)
            : new SecretReport(true, secretView.Managed, secretView.Type, Registries(raw), secretView.Expiry, left, secretView.Immutable);

        var problems = new List<Finding>();
        var secretFine = false;
        if (selected)
        {
            var problem = SecretProblem(ns, p, secretView, secret, adoptUnmanaged, now);
            secretFine = problem is null;
            if (problem is not null)
            {
                problems.Add(problem);
            }
        }

        // What the reconciler would change on each ServiceAccount if this profile's secret were in place.
        var wanted = new ProfileSets(p.Bit, 0);
        var accounts = new List<ServiceAccountReport>();
        foreach (var sa in snapshot.State.ServiceAccounts.InNamespace(ns).OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            var entries = sa.PullSecrets.Count(n => n == p.SecretName);
            var targeted = p.Targets(sa.Name);
            if (!targeted && entries == 0)
            {
                continue;
            }

            var fine = !planner.NeedsChange(wanted, sa);
            accounts.Add(new(sa.Name, targeted, entries, sa.AddedByUs(p.SecretName), fine));
            if (selected && !fine)
            {
                problems.Add(ServiceAccountProblem(ns, p, sa.Name, targeted, entries, secretFine));
            }
        }

        return new(p.Name, p.SecretName, p.Selector.Text, selected, (view.Excluded & p.Bit) != 0, p.Selector.Explain(labels), secret, p.SecretOnly, accounts, problems);
    }

    private static Finding? SecretProblem(string ns, PullSecretProfile p, SecretView? view, SecretReport secret, bool adoptUnmanaged, DateTimeOffset now)
    {
        var name = p.SecretName;
        if (view is null)
        {
            return new($"secret {name} is missing", "the daemon writes it once it has a token: see `ecrdaemon check`, and the daemon's Events in the namespace and its logs");
        }

        var type = p.Format == SecretFormat.ArgoCdRepositoryCredentials ? Markers.OpaqueType : Markers.DockerConfigJsonType;

        // The daemon's plan for the secret as if the desired content were what it holds: what is left is ownership, type, immutability, marks.
        switch (SecretPlanner.Plan(view, view.DataHash ?? "", view.Expiry ?? "", null, adoptUnmanaged, type))
        {
            case SecretAction.LeaveForeign when adoptUnmanaged:
                return new($"secret {name} is not the daemon's and lacks Argo CD's label {Markers.ArgoCdSecretTypeLabel}={Markers.ArgoCdRepoCreds}, so it is not adopted",
                    $"delete it (kubectl -n {ns} delete secret {name}) and the daemon writes its own");
            case SecretAction.LeaveForeign:
                return new($"secret {name} is not the daemon's (no label {Markers.ManagedSelector}); AdoptUnmanagedSecrets is off, so it is left alone",
                    $"adopt the unowned secret with kubectl -n {ns} label secret {name} {Markers.ManagedSelector} (or set EcrDaemon:AdoptUnmanagedSecrets=true), "
                    + $"or delete it and the daemon writes its own");
            case SecretAction.LeaveWrongType:
                return new($"secret {name} has type {view.Type}, which cannot become a {type}",
                    $"delete it (kubectl -n {ns} delete secret {name}) and the daemon writes its own");
            case SecretAction.Adopt:
            case SecretAction.ReplaceDockerCfg:
            case SecretAction.ReplaceImmutable:
                return new($"secret {name} is {(view.Managed ? "immutable" : "not the daemon's yet")}: the daemon replaces or adopts it on its next reconcile",
                    "if it stays so, see the daemon's Events in the namespace and its logs (is the daemon running?)");
            case SecretAction.Rotate:
            case SecretAction.Repair:
                return new($"secret {name} lacks the data, expiry or labels the daemon writes",
                    "the daemon repairs it on its next reconcile; if it stays so, see the daemon's Events in the namespace and its logs");
        }

        // The daemon writes a secret only once every registry of the profile has a token: one without a readable
        // registry has been overwritten (by a person or a tool), and a pull with it fails whatever its labels say.
        if (secret.Registries.Count == 0)
        {
            return new($"secret {name} holds no registry credential that can be read (its data is not what the daemon writes)",
                "the daemon repairs it on its next reconcile; if it stays so, see the daemon's Events in the namespace and its logs (is the daemon running?)");
        }

        if (secret.SecondsLeft is not { } left)
        {
            return new($"secret {name} has no readable {Markers.ExpiresAtAnnotation} annotation", "the daemon repairs it on its next reconcile; see the daemon's logs");
        }

        return left <= 0
            ? new($"the token in secret {name} expired {CheckCommand.Duration(TimeSpan.FromSeconds(-left))} ago (at {view.Expiry})",
                "see `ecrdaemon check` (credentials, clock) and the daemon's logs: it refreshes tokens well before they expire")
            : null;
    }

    private static Finding ServiceAccountProblem(string ns, PullSecretProfile p, string sa, bool targeted, int entries, bool secretFine)
    {
        var when = secretFine
            ? "the daemon fixes it on its next reconcile; if it stays so, see the daemon's Events in the namespace and its logs (is the daemon running?)"
            : "the daemon fixes it once the secret is in place (see above)";
        return (targeted, entries) switch
        {
            (true, 0) => new($"ServiceAccount {sa} does not list {p.SecretName}", when),
            (true, _) => new($"ServiceAccount {sa} lists {p.SecretName} {entries} times", when),
            _ => new($"ServiceAccount {sa} is not targeted by profile {p.Name} but lists {p.SecretName}, which the daemon added", when),
        };
    }

    private static string InSyncVerdict(IReadOnlyList<ProfileReport> selected) =>
        "in sync: " + string.Join("; ", selected.Select(p =>
            $"secret {p.SecretName} is current{(p.SecretOnly ? "" : $" and listed by {p.ServiceAccounts.Count(s => s.Targeted)} targeted ServiceAccount(s)")}"))
        + "; nothing to do";

    private static string Verdict(List<Finding> problems) =>
        $"NOT IN SYNC: {problems[0].Problem}: {problems[0].Fix}"
        + (problems.Count > 1 ? $" ({problems.Count - 1} more problem{(problems.Count > 2 ? "s" : "")} above)" : "");

    /// <summary>
    /// The registry hosts a secret holds: the keys of <c>.dockerconfigjson</c>'s <c>auths</c> (or of a
    /// <c>.dockercfg</c>), or the host of Argo CD's <c>url</c>. Only the host names are read out: never an auth or password.
    /// </summary>
    internal static IReadOnlyList<string> Registries(V1Secret secret)
    {
        var data = secret.Data;
        if (data is null)
        {
            return [];
        }

        try
        {
            if (data.TryGetValue(Markers.DockerConfigJsonKey, out var json))
            {
                using var document = JsonDocument.Parse(json);
                return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("auths", out var auths)
                    ? Keys(auths)
                    : [];
            }

            if (data.TryGetValue(".dockercfg", out var cfg))
            {
                using var document = JsonDocument.Parse(cfg);
                return Keys(document.RootElement);
            }
        }
        catch (JsonException)
        {
            return [];
        }

        if (data.TryGetValue("url", out var url))
        {
            // Argo CD's url: the host only.
            return [Host(Encoding.UTF8.GetString(url).Trim())];
        }

        return [];

        // A registry key is a host or a URL; one with a user:password@ is read out as its host only.
        static IReadOnlyList<string> Keys(JsonElement element) =>
            element.ValueKind == JsonValueKind.Object ? [.. element.EnumerateObject().Select(p => p.Name.Contains('@', StringComparison.Ordinal) ? Host(p.Name) : p.Name)] : [];

        // The host of a URL: without a scheme, a path, a query, a fragment (tokens travel in both) or any user:password@.
        static string Host(string text)
        {
            var scheme = text.IndexOf("://", StringComparison.Ordinal);
            text = scheme >= 0 ? text[(scheme + 3)..] : text;
            var end = text.IndexOfAny(['/', '?', '#']);
            text = end >= 0 ? text[..end] : text;
            var at = text.LastIndexOf('@');
            return at >= 0 ? text[(at + 1)..] : text;
        }
    }

    /// <summary>The daemon's Events, newest first, at most <paramref name="limit"/>.</summary>
    internal static IReadOnlyList<EventReport> Events(IEnumerable<Corev1Event> events, int limit) =>
        [.. events
            .Select(e => (At: e.LastTimestamp ?? e.EventTime ?? e.FirstTimestamp ?? e.Metadata?.CreationTimestamp, Event: e))
            .OrderByDescending(e => e.At)
            .Take(limit)
            .Select(e => new EventReport(
                e.At is { } at ? Rfc3339.Format(new DateTimeOffset(DateTime.SpecifyKind(at.Kind == DateTimeKind.Local ? at.ToUniversalTime() : at, DateTimeKind.Utc))) : null,
                e.Event.Type,
                e.Event.Reason,
                $"{e.Event.InvolvedObject?.Kind}/{e.Event.InvolvedObject?.Name}",
                e.Event.Count ?? 1,
                e.Event.Message))];
}
