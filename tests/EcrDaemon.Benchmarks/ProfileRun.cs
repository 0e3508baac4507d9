using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Hooks;

namespace EcrDaemon.Benchmarks;

/// <summary>One profile of the three-profile run: who it selects, its secret, the accounts whose registries it gets.</summary>
internal sealed record BenchProfile(string Name, string Label, string SecretName, IReadOnlyList<string> Accounts);

/// <summary>What one phase of the three-profile run cost: its requests, its ECR calls and its secret writes by secret name.</summary>
internal sealed record ProfilePhase(double Seconds, RequestCounts Requests, int EcrCalls, IReadOnlyDictionary<string, int> SecretWritesByName)
{
    public static ProfilePhase None { get; } = new(double.NaN, RequestCounts.Of([]), 0, new Dictionary<string, int>());

    public int SecretWrites(string secretName) => SecretWritesByName.GetValueOrDefault(secretName);
}

internal sealed record ProfileResult(
    int Namespaces,
    IReadOnlyDictionary<string, int> Matches,
    int BothProfiles,
    ProfilePhase Cold,
    string ColdEcrRegistryIds,
    int SecretInformerRequests,
    IReadOnlyList<string> SecretFieldSelectors,
    int WritesWithoutFieldManager,
    ProfilePhase RotationBNewExpiry,
    ProfilePhase RotationB,
    ProfilePhase RotationAll,
    TimeSpan Steady,
    ProfilePhase SteadyPhase,
    IReadOnlyDictionary<string, PhaseUsage> Usage,
    double PeakRssMb,
    int ForeignHosts,
    int OtherPullSecretsLost,
    int SecretDeletes,
    IReadOnlyList<string> Failures)
{
    /// <summary>One secret per namespace and profile it matches.</summary>
    public int SecretsMinimum => Matches.Values.Sum();

    /// <summary>Every ServiceAccount of every namespace is targeted (<c>*</c>) and needs at least one entry: one patch each, however many profiles target it.</summary>
    public int ServiceAccountMinimum => Namespaces * BenchCluster.ServiceAccounts.Length;

    /// <summary>The entries to add: one per ServiceAccount and profile.</summary>
    public int ServiceAccountEntries => SecretsMinimum * BenchCluster.ServiceAccounts.Length;

    /// <summary>The secrets whose content changes when account B rotates: those of the profiles that use B.</summary>
    public int RotationBMinimum => Matches[ProfileRun.TeamB.Name] + Matches[ProfileRun.Platform.Name];
}

/// <summary>
/// Three profiles over two registries in two accounts (issue 18): <c>team-a</c> (team=a, account A, secret
/// ecr-team-a), <c>team-b</c> (team=b, account B, ecr-team-b) and <c>platform</c> (platform=true, both, ecr-platform),
/// every ServiceAccount targeted. Of the N namespaces, 2 in 5 are team=a, 2 in 5 team=b and 1 in 5 team=a with
/// platform=true, so that a fifth of them hold two secrets and each of their ServiceAccounts two entries. Phases:
/// cold start; account B rotates while the one ECR call answers account A with its unchanged password but a new expiry,
/// so every secret's content changes (team-a's in its expiry annotation only); account B rotates again while account A's
/// token comes back unchanged, expiry included (the stand-in hands out one fixed expiry, so both registries' schedules
/// stay together), so team-a's secrets must not be written; both accounts rotate; a steady state with no changes. Each
/// rotation is the daemon's own refresh: the fixed expiry brings each next refresh closer (at RefreshAt 0.5 of what is
/// left: about L/2, L/4 and L/8 apart for --first-token-lifetime L). Counts come from the cluster's request log and the
/// stand-in's, memory from /proc.
/// </summary>
internal static class ProfileRun
{
    public const string AccountB = "210987654321";

    public static readonly BenchProfile TeamA = new("team-a", "team=a", "ecr-team-a", ["A"]);
    public static readonly BenchProfile TeamB = new("team-b", "team=b", "ecr-team-b", ["B"]);
    public static readonly BenchProfile Platform = new("platform", "platform=true", "ecr-platform", ["A", "B"]);
    public static readonly BenchProfile[] Profiles = [TeamA, TeamB, Platform];

    /// <summary>ns-i's labels: i mod 5 of 1 or 2, team=a; 3 or 4, team=b; 0, team=a and platform=true.</summary>
    public static IReadOnlyDictionary<string, string> Labels(int i) => (i % 5) switch
    {
        1 or 2 => new Dictionary<string, string> { ["team"] = "a" },
        3 or 4 => new Dictionary<string, string> { ["team"] = "b" },
        _ => new Dictionary<string, string> { ["team"] = "a", ["platform"] = "true" },
    };

    public static bool Matches(BenchProfile profile, IReadOnlyDictionary<string, string> labels)
    {
        var (key, value) = (profile.Label.Split('=')[0], profile.Label.Split('=')[1]);
        return labels.TryGetValue(key, out var v) && v == value;
    }

    public static async Task<ProfileResult> RunAsync(BenchmarkOptions options)
    {
        var n = options.ProfileNamespaces;
        var failures = new List<string>();
        await using var cluster = await BenchCluster.StartAsync(n, labels: Labels, secretNames: [.. Profiles.Select(p => p.SecretName)]);
        var accounts = new Dictionary<string, string>(StringComparer.Ordinal) { ["A"] = cluster.Ecr.DefaultAccountId, ["B"] = AccountB };
        var hosts = accounts.ToDictionary(a => a.Key, a => cluster.Ecr.HostFor(a.Value), StringComparer.Ordinal);
        var namespaces = Enumerable.Range(1, n).Select(i => (Name: BenchCluster.Namespace(i), Profiles: Profiles.Where(p => Matches(p, Labels(i))).ToArray())).ToArray();
        var matches = Profiles.ToDictionary(p => p.Name, p => namespaces.Count(ns => ns.Profiles.Contains(p)), StringComparer.Ordinal);
        var both = namespaces.Count(ns => ns.Profiles.Length > 1);
        var decoded = new Dictionary<(string, string), (long Version, IReadOnlyDictionary<string, string> Auths)>();

        cluster.Ecr.TokenLifetime = options.FirstTokenLifetime;
        var settings = new Dictionary<string, string>
        {
            ["EcrDaemon:Registries:0:Name"] = "acct-a",
            ["EcrDaemon:Registries:1:Name"] = "acct-b",
            ["EcrDaemon:Registries:1:AccountId"] = AccountB,
            ["EcrDaemon:Registries:1:Endpoint"] = cluster.Ecr.Endpoint.ToString(),
            ["EcrDaemon:KubernetesQps"] = "0",
            ["EcrDaemon:MinRefreshInterval"] = "00:00:01",
        };
        for (var p = 0; p < Profiles.Length; p++)
        {
            settings[$"EcrDaemon:Profiles:{p}:Name"] = Profiles[p].Name;
            settings[$"EcrDaemon:Profiles:{p}:NamespaceSelector"] = Profiles[p].Label;
            settings[$"EcrDaemon:Profiles:{p}:SecretName"] = Profiles[p].SecretName;
            settings[$"EcrDaemon:Profiles:{p}:ServiceAccounts:0"] = "*";
            for (var r = 0; r < Profiles[p].Accounts.Count; r++)
            {
                settings[$"EcrDaemon:Profiles:{p}:Registries:{r}"] = Profiles[p].Accounts[r] == "A" ? "acct-a" : "acct-b";
            }
        }

        Console.Error.WriteLine($"benchmark: three profiles, N={n}: cold start");
        var logPath = Path.Combine(options.WorkDirectory, $"daemon-profiles-{n}.log");
        await using var daemon = DaemonUnderTest.Start(options.Daemon, cluster, settings, logPath);
        var usage = new Dictionary<string, PhaseUsage>();
        var generations = new Dictionary<string, int>(StringComparer.Ordinal) { ["A"] = 0, ["B"] = 0 };

        if (!await WaitInSyncAsync())
        {
            failures.Add($"profiles N={n}: the cold start did not reach sync{daemon.ExitNote} (daemon log: {logPath})");
            return Failed();
        }

        var coldSeconds = daemon.Started.Elapsed.TotalSeconds;
        var coldRecords = Daemon(cluster.Requests.All);
        var cold = Phase(coldSeconds, coldRecords, cluster.Ecr.RequestCount);
        var coldIds = string.Join("; ", cluster.Ecr.Requests.Select(r => "[" + string.Join(", ", r.RegistryIds.Select(id => id == AccountB ? "B" : id == accounts["A"] ? "A" : id)) + "]"));
        var secretInformer = coldRecords.Where(r => r.Resource == "secrets" && r.Verb is "list" or "watch").ToList();
        var selectors = secretInformer.Select(r => FieldSelector(r.Query)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        usage["cold start"] = daemon.EndPhase();

        // Account B rotates; the next tokens are short-lived again, so that the daemon refreshes once more for the second rotation.
        Console.Error.WriteLine($"benchmark: three profiles, N={n}: in sync after {coldSeconds:F1} s; rotating account B only, waiting for the daemon's own refresh");
        if (cluster.Ecr.RequestCount != 1)
        {
            failures.Add($"profiles N={n}: {cluster.Ecr.RequestCount} GetAuthorizationToken calls before the cold start was over (registry ids per call: {coldIds}); the minimum is 1 (or raise --first-token-lifetime)");
        }

        // From now on every token expires at one fixed time, later than the first token (by more than the annotation's whole second).
        generations["B"] = 1;
        cluster.Ecr.SetGeneration(AccountB, 1);
        cluster.Ecr.ExpiresAt = cluster.Ecr.Requests[0].At + options.FirstTokenLifetime + TimeSpan.FromSeconds(5);
        var rotationBNewExpiry = await RotateAsync("account B rotation (account A with a new expiry)", 2);
        if (rotationBNewExpiry is null)
        {
            return Failed();
        }

        usage["rotation of account B (A: new expiry), with the idle wait for it"] = daemon.EndPhase();
        Console.Error.WriteLine($"benchmark: three profiles, N={n}: rotated account B in {rotationBNewExpiry.Seconds:F2} s; rotating it again, account A's token unchanged");
        generations["B"] = 2;
        cluster.Ecr.SetGeneration(AccountB, 2);
        var rotationB = await RotateAsync("account B rotation (account A unchanged)", 3);
        if (rotationB is null)
        {
            return Failed();
        }

        usage["rotation of account B (A unchanged), with the idle wait for it"] = daemon.EndPhase();
        Console.Error.WriteLine($"benchmark: three profiles, N={n}: rotated account B in {rotationB.Seconds:F2} s; rotating both accounts");
        generations["A"] = generations["B"] = 3;
        cluster.Ecr.SetGeneration(accounts["A"], 3);
        cluster.Ecr.SetGeneration(AccountB, 3);
        cluster.Ecr.ExpiresAt = null;
        cluster.Ecr.TokenLifetime = TimeSpan.FromHours(12);
        var rotationAll = await RotateAsync("rotation of both accounts", 4);
        if (rotationAll is null)
        {
            return Failed();
        }

        usage["rotation of both accounts, with the idle wait for it"] = daemon.EndPhase();

        Console.Error.WriteLine($"benchmark: three profiles, N={n}: rotated both in {rotationAll.Seconds:F2} s; steady state for {options.Steady}");
        var steadyMark = cluster.Requests.Mark();
        var steadyEcr = cluster.Ecr.RequestCount;
        var clock = Stopwatch.StartNew();
        while (!daemon.HasExited && clock.Elapsed < options.Steady)
        {
            await Task.Delay(100);
        }

        var steady = Phase(options.Steady.TotalSeconds, Daemon(cluster.Requests.Since(steadyMark)), cluster.Ecr.RequestCount - steadyEcr);
        usage["steady state"] = daemon.EndPhase();

        var all = Daemon(cluster.Requests.All);
        var withoutManager = all.Count(r => r.Verb is "create" or "patch" or "update" && r.Resource != "events" && !HasFieldManager(r.Query));
        var foreign = namespaces.Count(ns => ForeignHosts(ns.Name, ns.Profiles));
        var lost = cluster.OtherPullSecretsLost(namespaces.Select(ns => ns.Name));
        var deletes = all.Count(r => r.Verb == "delete" && r.Resource == "secrets");
        var peak = daemon.PeakRssMb;
        if (daemon.HasExited)
        {
            failures.Add($"profiles N={n}: the daemon exited during the run{daemon.ExitNote} (daemon log: {logPath})");
        }
        else if (await daemon.StopAsync() != 0)
        {
            failures.Add($"profiles N={n}: the daemon did not exit 0 on SIGTERM (daemon log: {logPath})");
        }

        var result = new ProfileResult(n, matches, both, cold, coldIds, secretInformer.Count, selectors, withoutManager, rotationBNewExpiry, rotationB, rotationAll,
            options.Steady, steady, usage, peak, foreign, lost, deletes, failures);
        failures.AddRange(Check(result));
        return result;

        ProfileResult Failed() => new(n, matches, both, ProfilePhase.None, "", 0, [], 0, ProfilePhase.None, ProfilePhase.None, ProfilePhase.None, options.Steady,
            ProfilePhase.None, usage, daemon.PeakRssMb, 0, 0, 0, failures);

        // Waits for the daemon's refresh (the stand-in's request number `call`), then for every secret to hold the new passwords.
        async Task<ProfilePhase?> RotateAsync(string what, int call)
        {
            var mark = cluster.Requests.Mark();
            var ecrBefore = call - 1;
            if (cluster.Ecr.RequestCount > ecrBefore)
            {
                failures.Add($"profiles N={n}: {cluster.Ecr.RequestCount} GetAuthorizationToken calls before the {what} began, {ecrBefore} expected: the daemon refreshed before "
                    + "the previous phase was measured (raise --first-token-lifetime) or made more calls than the minimum");
                return null;
            }

            var wait = Stopwatch.StartNew();
            while (cluster.Ecr.RequestCount < call && !daemon.HasExited && wait.Elapsed < options.FirstTokenLifetime)
            {
                await Task.Delay(100);
            }

            if (cluster.Ecr.RequestCount < call)
            {
                failures.Add($"profiles N={n}: the daemon did not refresh its token within {options.FirstTokenLifetime} for the {what}{daemon.ExitNote} (daemon log: {logPath})");
                return null;
            }

            var start = cluster.Ecr.Requests[call - 1].At;
            if (!await WaitInSyncAsync())
            {
                failures.Add($"profiles N={n}: the {what} did not reach every secret{daemon.ExitNote} (daemon log: {logPath})");
                return null;
            }

            var seconds = (DateTimeOffset.UtcNow - start).TotalSeconds;
            await Task.Delay(options.Settle); // stragglers (a ServiceAccount write, a second ECR call) would show here
            return Phase(seconds, Daemon(cluster.Requests.Since(mark)).Where(r => r.At >= start).ToList(), cluster.Ecr.RequestCount - ecrBefore);
        }

        async Task<bool> WaitInSyncAsync()
        {
            var pending = new HashSet<int>(Enumerable.Range(0, n));
            var until = DateTime.UtcNow + options.Deadline;
            while (true)
            {
                pending.RemoveWhere(i => InSync(namespaces[i].Name, namespaces[i].Profiles));
                if (pending.Count == 0)
                {
                    return true;
                }

                if (DateTime.UtcNow > until || daemon.HasExited)
                {
                    Console.Error.WriteLine($"benchmark: {pending.Count} namespaces not in sync, e.g. {string.Join(", ", pending.Take(3).Select(i => namespaces[i].Name))}");
                    return false;
                }

                await Task.Delay(5);
            }
        }

        // Each profile's secret holds exactly its registries' hosts with the current passwords, and every ServiceAccount lists it once.
        bool InSync(string ns, BenchProfile[] profiles) => profiles.All(p =>
            Auths(ns, p.SecretName) is { } auths && auths.Count == p.Accounts.Count
            && p.Accounts.All(a => auths.TryGetValue(hosts[a], out var password) && password == StandIns.EcrStandIn.PasswordFor(accounts[a], generations[a]))
            && BenchCluster.ServiceAccounts.All(sa => cluster.PullSecrets(ns, sa).Count(s => s == p.SecretName) == 1));

        // True when a secret of ours in the namespace holds a registry host that none of the namespace's profiles gets.
        bool ForeignHosts(string ns, BenchProfile[] profiles)
        {
            var allowed = profiles.SelectMany(p => p.Accounts).Select(a => hosts[a]).ToHashSet(StringComparer.Ordinal);
            return Profiles.Any(p => Auths(ns, p.SecretName)?.Keys.Any(h => !allowed.Contains(h)) == true);
        }

        // The secret's .dockerconfigjson auths, host to password; decoded once per resourceVersion.
        IReadOnlyDictionary<string, string>? Auths(string ns, string name)
        {
            var secret = cluster.Server.Store.Get(ResourceType.Secrets, ns, name);
            if (secret is null)
            {
                return null;
            }

            if (!decoded.TryGetValue((ns, name), out var seen) || seen.Version != secret.ResourceVersion)
            {
                var data = secret.Node["data"]?[".dockerconfigjson"]?.GetValue<string>();
                var auths = data is null ? null : JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(data)))?["auths"]?.AsObject();
                seen = (secret.ResourceVersion, auths?.ToDictionary(e => e.Key, e => e.Value?["password"]?.GetValue<string>() ?? "", StringComparer.Ordinal)
                    ?? new Dictionary<string, string>(StringComparer.Ordinal));
                decoded[(ns, name)] = seen;
            }

            return seen.Auths;
        }
    }

    /// <summary>The counts the issue fixes, against their minimum (timings and memory are reported, never checked).</summary>
    private static IEnumerable<string> Check(ProfileResult r)
    {
        var n = r.Namespaces;
        if (r.Cold.EcrCalls != 1)
        {
            yield return $"profiles N={n}: the cold start made {r.Cold.EcrCalls} GetAuthorizationToken calls (registry ids per call: {r.ColdEcrRegistryIds}); the minimum is 1";
        }

        if (r.Cold.Requests["create", "secrets"] != r.SecretsMinimum || r.Cold.Requests.Writes("secrets") != r.SecretsMinimum)
        {
            yield return $"profiles N={n}: the cold start wrote {r.Cold.Requests.Writes("secrets")} secrets ({r.Cold.Requests["create", "secrets"]} creates); the minimum is {r.SecretsMinimum} creates";
        }

        if (r.Cold.Requests.Writes("serviceaccounts") != r.ServiceAccountMinimum)
        {
            yield return $"profiles N={n}: the cold start made {r.Cold.Requests.Writes("serviceaccounts")} ServiceAccount writes; the minimum is {r.ServiceAccountMinimum}, one per ServiceAccount "
                + $"(its {r.BothProfiles * BenchCluster.ServiceAccounts.Length} ServiceAccounts in namespaces of two profiles get both entries in one patch)";
        }

        var expected = Profiles.Select(p => p.SecretName).Order(StringComparer.Ordinal).ToList();
        if (r.SecretInformerRequests != 2 * Profiles.Length || !r.SecretFieldSelectors.SequenceEqual(expected.Select(s => $"metadata.name={s}")))
        {
            yield return $"profiles N={n}: the cold start made {r.SecretInformerRequests} secret lists and watches with field selectors [{string.Join(", ", r.SecretFieldSelectors)}]; "
                + $"the minimum is {2 * Profiles.Length}: one list and one watch per secret name, each selecting metadata.name";
        }

        if (r.WritesWithoutFieldManager != 0)
        {
            yield return $"profiles N={n}: {r.WritesWithoutFieldManager} creates and patches without fieldManager=ecr-daemon";
        }

        if (r.RotationBNewExpiry.Requests.Writes("secrets") != r.SecretsMinimum || r.RotationBNewExpiry.Requests.Writes("serviceaccounts") != 0 || r.RotationBNewExpiry.EcrCalls != 1)
        {
            yield return $"profiles N={n}: rotating account B, account A with a new expiry, made {r.RotationBNewExpiry.Requests.Writes("secrets")} secret writes, "
                + $"{r.RotationBNewExpiry.Requests.Writes("serviceaccounts")} ServiceAccount writes and {r.RotationBNewExpiry.EcrCalls} ECR calls; every secret's content changed: the minimum is {r.SecretsMinimum}, 0 and 1";
        }

        if (r.RotationB.Requests.Writes("secrets") != r.RotationBMinimum || r.RotationB.SecretWrites(TeamA.SecretName) != 0
            || r.RotationB.Requests.Writes("serviceaccounts") != 0 || r.RotationB.EcrCalls != 1)
        {
            yield return $"profiles N={n}: rotating account B, account A unchanged, made {r.RotationB.Requests.Writes("secrets")} secret writes ({r.RotationB.SecretWrites(TeamA.SecretName)} to {TeamA.SecretName}), "
                + $"{r.RotationB.Requests.Writes("serviceaccounts")} ServiceAccount writes and {r.RotationB.EcrCalls} ECR calls; the minimum is {r.RotationBMinimum} (0 to {TeamA.SecretName}), 0 and 1";
        }

        if (r.RotationAll.Requests.Writes("secrets") != r.SecretsMinimum || r.RotationAll.Requests.Writes("serviceaccounts") != 0 || r.RotationAll.EcrCalls != 1)
        {
            yield return $"profiles N={n}: rotating both accounts made {r.RotationAll.Requests.Writes("secrets")} secret writes, {r.RotationAll.Requests.Writes("serviceaccounts")} ServiceAccount writes "
                + $"and {r.RotationAll.EcrCalls} ECR calls; the minimum is {r.SecretsMinimum}, 0 and 1";
        }

        if (r.SteadyPhase.Requests.AllWrites != 0 || r.SteadyPhase.EcrCalls != 0)
        {
            yield return $"profiles N={n}: {r.SteadyPhase.Requests.AllWrites} writes and {r.SteadyPhase.EcrCalls} ECR calls in the steady state; there must be none";
        }

        if (r.ForeignHosts != 0 || r.OtherPullSecretsLost != 0 || r.SecretDeletes != 0)
        {
            yield return $"profiles N={n}: {r.ForeignHosts} namespaces hold a registry host outside their profiles; the daemon removed {r.OtherPullSecretsLost} other pull secrets and deleted {r.SecretDeletes} secrets";
        }
    }

    private static List<RequestRecord> Daemon(IEnumerable<RequestRecord> requests) => [.. requests.Where(r => r.Identity == BenchCluster.DaemonIdentity)];

    private static ProfilePhase Phase(double seconds, IReadOnlyList<RequestRecord> records, int ecrCalls) =>
        new(seconds, RequestCounts.Of(records), ecrCalls,
            records.Where(r => r.Resource == "secrets" && r.IsWrite).GroupBy(r => r.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal));

    private static string FieldSelector(string query) =>
        Parameters(query).FirstOrDefault(p => p.Key == "fieldSelector").Value ?? "(none)";

    private static bool HasFieldManager(string query) => Parameters(query).Any(p => p.Key == "fieldManager" && p.Value == "ecr-daemon");

    private static IEnumerable<KeyValuePair<string, string>> Parameters(string query) =>
        query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2))
            .Select(kv => new KeyValuePair<string, string>(Uri.UnescapeDataString(kv[0]), kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : ""));
}
