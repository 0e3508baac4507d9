using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace EcrDaemon.Benchmarks;

/// <summary>The benchmark's output: Markdown tables, the same that docs/benchmarks.md shows.</summary>
internal static class Report
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Machine(BenchmarkOptions options)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var memory = File.ReadLines("/proc/meminfo").First().Split(':', 2)[1].Trim();
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?[12..].Trim('"') : null;
        return $"""
            ## Machine

            - {Environment.ProcessorCount} cores ({cpu}), {memory} memory, {os ?? RuntimeInformation.OSDescription}
            - {RuntimeInformation.FrameworkDescription}; {Daemons(options)}
            - {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; the test cluster and the ECR stand-in run in the benchmark's process, the daemon in its own

            """;
    }

    private static string Daemons(BenchmarkOptions options) => options.Daemons.Count == 1 && options.Daemons[0].Label.Length == 0
        ? $"daemon: `{options.Daemon}`"
        : "daemons: " + string.Join(", ", options.Daemons.Select(d => $"{d.Label} `{d.Path}`"));

    private static string Column(ScaleResult r) => r.Label.Length == 0 ? $"N = {r.Namespaces:N0}" : $"N = {r.Namespaces:N0}, {r.Label}";

    public static string Scale(IReadOnlyList<ScaleResult> runs, BenchmarkOptions options)
    {
        var t = new Table(["", .. runs.Select(Column)]);
        t.Row("**Cold start** until every namespace is in sync (s)", runs.Select(r => F(r.ColdSeconds, 1)));
        t.Row("secret creates / minimum (N)", runs.Select(r => Ratio(r.Cold["create", "secrets"], r.Namespaces)));
        t.Row("ServiceAccount patches / minimum (3N)", runs.Select(r => Ratio(r.Cold.Writes("serviceaccounts"), r.TargetedServiceAccounts)));
        t.Row("secret and ServiceAccount writes / minimum", runs.Select(r => Ratio(r.Cold.ObjectWrites, r.Namespaces + r.TargetedServiceAccounts)));
        t.Row("reads: list pages and gets", runs.Select(r => I(r.Cold.Reads)));
        t.Row("Events created (rate-limited; not in the minimum)", runs.Select(r => I(r.Cold.Events)));
        t.Row("**Rotation** until every secret holds the new token (s)", runs.Select(r => F(r.RotationSeconds, 2)));
        t.Row("secret writes / minimum (N)", runs.Select(r => Ratio(r.Rotation.Writes("secrets"), r.Namespaces)));
        t.Row("ServiceAccount writes (minimum 0)", runs.Select(r => I(r.Rotation.Writes("serviceaccounts"))));
        t.Row("GetAuthorizationToken calls (minimum 1 per registry)", runs.Select(r => I(r.RotationEcrCalls)));
        t.Row("all requests but watches / minimum (N + 1)", runs.Select(r => Ratio(r.Rotation.AllWrites + r.Rotation.Reads + r.RotationEcrCalls, r.Namespaces + 1)));
        t.Row($"**Steady state**, {options.Steady.TotalSeconds:0} s with no changes: writes", runs.Select(r => I(r.SteadyRequests.AllWrites)));
        t.Row("reads beyond the watches (lists, gets)", runs.Select(r => I(r.SteadyRequests.Reads)));
        t.Row("watch requests (watches re-opened)", runs.Select(r => I(r.SteadyRequests.Watches)));
        t.Row($"**New namespace**, label to secret and ServiceAccounts in place, p50 / p99 (ms, {options.LatencyNamespaces} namespaces)",
            runs.Select(r => $"{F(r.LatencyP50Ms, 0)} / {F(r.LatencyP99Ms, 0)}"));
        foreach (var phase in runs.SelectMany(r => r.Usage.Keys).Distinct())
        {
            t.Row($"daemon peak RSS (MB) / CPU (s): {phase}", runs.Select(r => r.Usage.TryGetValue(phase, out var u) ? $"{F(u.PeakRssMb, 0)} / {F(u.CpuSeconds, 1)}" : "–"));
        }

        t.Row("**daemon peak RSS, whole run (VmHWM, MB)**", runs.Select(r => F(r.PeakRssMb, 0)));
        t.Row("other pull secrets removed / secrets deleted", runs.Select(r => $"{r.OtherPullSecretsLost} / {r.SecretDeletes}"));
        return $"""
            ## Scale: the daemon against N namespaces × 3 ServiceAccounts

            Rate limiting off (`KubernetesQps=0`), `ServiceAccounts: ["*"]`, every namespace's default ServiceAccount already lists
            `team-registry`. Minimum: cold start, N secret creates and 3N ServiceAccount patches; rotation, N secret writes,
            0 ServiceAccount writes and 1 GetAuthorizationToken call. Watches are the daemon's three informers.

            {t}
            """;
    }

    public static string Requests(IReadOnlyList<ScaleResult> runs)
    {
        var t = new Table(["phase", "verb", "resource", .. runs.Select(Column)]);
        foreach (var (phase, counts) in new (string, Func<ScaleResult, RequestCounts>)[] { ("cold start", r => r.Cold), ("rotation", r => r.Rotation), ("steady state", r => r.SteadyRequests) })
        {
            foreach (var key in runs.SelectMany(r => counts(r).ByVerb.Keys).Distinct().Order())
            {
                t.Row([phase, key.Verb, key.Resource, .. runs.Select(r => I(counts(r).ByVerb.GetValueOrDefault(key)))]);
            }
        }

        return $"""
            ## The daemon's requests by verb and resource

            {t}
            """;
    }

    /// <summary>The daemons side by side, one column per N and daemon: readiness, memory and CPU, and the counts that must be at the minimum.</summary>
    public static string Comparison(IReadOnlyList<ScaleResult> runs, BenchmarkOptions options)
    {
        var t = new Table(["", .. runs.Select(Column)]);
        t.Row("process start to the first /readyz 200 (s)", runs.Select(r => F(r.ReadySeconds, 2)));
        t.Row("**cold start** until every namespace is in sync (s)", runs.Select(r => F(r.ColdSeconds, 1)));
        var phases = runs.SelectMany(r => r.Usage.Keys).Distinct().ToList();
        foreach (var phase in phases)
        {
            t.Row($"peak RSS (MB): {phase}", runs.Select(r => r.Usage.TryGetValue(phase, out var u) ? F(u.PeakRssMb, 0) : "–"));
        }

        t.Row("**peak RSS, whole run (VmHWM, MB)**", runs.Select(r => F(r.PeakRssMb, 0)));
        t.Row($"**steady RSS** (MB): median over the {options.Steady.TotalSeconds:0} s steady state / at its end",
            runs.Select(r => r.Usage.TryGetValue(SteadyPhase, out var u) ? $"{F(u.MedianRssMb, 0)} / {F(u.EndRssMb, 0)}" : "–"));
        foreach (var phase in phases)
        {
            t.Row($"CPU (s): {phase}", runs.Select(r => r.Usage.TryGetValue(phase, out var u) ? F(u.CpuSeconds, 1) : "–"));
        }

        t.Row("CPU (s): whole run", runs.Select(r => F(r.Usage.Values.Sum(u => u.CpuSeconds), 1)));
        t.Row("cold start: secret and ServiceAccount writes / minimum (N + 3N)", runs.Select(r => Ratio(r.Cold.ObjectWrites, r.Namespaces + r.TargetedServiceAccounts)));
        t.Row("rotation: secret writes / minimum (N)", runs.Select(r => Ratio(r.Rotation.Writes("secrets"), r.Namespaces)));
        t.Row("rotation: ServiceAccount writes / GetAuthorizationToken calls (minimum 0 / 1)", runs.Select(r => $"{I(r.Rotation.Writes("serviceaccounts"))} / {I(r.RotationEcrCalls)}"));
        t.Row("steady state: writes (minimum 0)", runs.Select(r => I(r.SteadyRequests.AllWrites)));
        t.Row("new namespace p50 / p99 (ms)", runs.Select(r => $"{F(r.LatencyP50Ms, 0)} / {F(r.LatencyP99Ms, 0)}"));
        return $"""
            ## {string.Join(" vs ", options.Daemons.Select(d => d.Label))}: the scale run side by side

            Each N runs once per daemon, the daemons in turn, each against its own fresh test cluster; the full tables are under
            "Scale" below. RSS is sampled every 50 ms; MB are MiB. /readyz answers 200 once the informers synced and a token is held.

            {t}
            """;
    }

    /// <summary>The builds: their size, how long their publish took, and the idle run.</summary>
    public static string Builds(BenchmarkOptions options, IReadOnlyList<IdleResult> idle)
    {
        var t = new Table(["", .. options.Daemons.Select(d => d.Label.Length == 0 ? "daemon" : d.Label)]);
        var sizes = options.Daemons.Select(d => BuildSize.Of(d.Path)).ToList();
        t.Row("binary (MB): the Native AOT file; framework-dependent: apphost + EcrDaemon.dll", sizes.Select(s => Mb(s.Binary)));
        t.Row("publish directory, every file (MB)", sizes.Select(s => Mb(s.PublishDirectory)));
        t.Row("**image content** above the runtime-deps base (MB): the publish directory, plus the .NET runtime it needs", sizes.Select(s => Mb(s.ImageContent)));
        t.Row("publish wall time (s)", options.Daemons.Select(d => F(d.PublishSeconds, 0)));
        if (idle.Count > 0)
        {
            var n = idle[0].Namespaces;
            IdleResult? Of(DaemonBuild d) => idle.FirstOrDefault(r => r.Label == d.Label);
            string Cell(DaemonBuild d, Func<IdleResult, string> value) => Of(d) is { } r ? value(r) : "–";
            t.Row($"idle run, N = {n}: process start to the first /readyz 200 (s)", options.Daemons.Select(d => Cell(d, r => F(r.ReadySeconds, 2))));
            t.Row($"idle run, N = {n}: cold start until in sync (s)", options.Daemons.Select(d => Cell(d, r => F(r.SyncSeconds, 2))));
            t.Row($"**idle RSS** (MB), N = {n}: median over {idle[0].Window.TotalSeconds:0} s after {idle[0].Settle.TotalSeconds:0} s at rest / at the end",
                options.Daemons.Select(d => Cell(d, r => $"{F(r.AtRest.MedianRssMb, 0)} / {F(r.AtRest.EndRssMb, 0)}")));
            t.Row($"idle run, N = {n}: peak RSS (VmHWM, MB) / CPU at rest (s)", options.Daemons.Select(d => Cell(d, r => $"{F(r.PeakRssMb, 0)} / {F(r.AtRest.CpuSeconds, 2)}")));
            t.Row($"idle run, N = {n}: secret and ServiceAccount writes / minimum", options.Daemons.Select(d => Cell(d, r => Ratio(r.Cold.ObjectWrites, r.Namespaces + r.TargetedServiceAccounts))));
        }

        var frameworks = sizes.SelectMany(s => s.Frameworks).Distinct().ToList();
        return $"""
            ## The builds

            Sizes in MiB. The image content does not count the base layer both images share (runtime-deps);
            {(frameworks.Count == 0 ? "no build here is framework-dependent." : $"for the framework-dependent build it adds the .NET install this machine runs it on, as the aspnet image carries it: {string.Join(", ", frameworks.Select(f => $"`{f}`"))}.")}
            The publish time is the wall time of `scripts/publish.sh` as `scripts/benchmark.sh --compare` ran it (– when not timed).

            {t}
            """;
    }

    public static string Profiles(ProfileResult r)
    {
        var t = new Table(["", $"N = {r.Namespaces:N0}"]);
        var sa = BenchCluster.ServiceAccounts.Length;
        t.Row("namespaces matching team-a / team-b / platform (of which in two profiles)",
            [$"{I(r.Matches[ProfileRun.TeamA.Name])} / {I(r.Matches[ProfileRun.TeamB.Name])} / {I(r.Matches[ProfileRun.Platform.Name])} ({I(r.BothProfiles)})"]);
        t.Row("**Cold start** until every namespace holds each of its profiles' secrets and every ServiceAccount lists them (s)", [F(r.Cold.Seconds, 1)]);
        t.Row("GetAuthorizationToken calls / minimum (1: both registries share credentials, region and endpoint)", [Ratio(r.Cold.EcrCalls, 1)]);
        t.Row("registry ids per GetAuthorizationToken call", [r.ColdEcrRegistryIds.Length == 0 ? "–" : r.ColdEcrRegistryIds]);
        t.Row("secret creates / minimum (one per namespace and profile)", [Ratio(r.Cold.Requests["create", "secrets"], r.SecretsMinimum)]);
        t.Row($"ServiceAccount patches / minimum ({sa}N: one per ServiceAccount, both entries in one patch where two profiles target it)",
            [Ratio(r.Cold.Requests.Writes("serviceaccounts"), r.ServiceAccountMinimum)]);
        t.Row("ServiceAccount entries to add (one per ServiceAccount and profile)", [I(r.ServiceAccountEntries)]);
        t.Row("secret lists and watches (minimum: one list and one watch per secret name)", [Ratio(r.SecretInformerRequests, 2 * ProfileRun.Profiles.Length)]);
        t.Row("their field selectors", [r.SecretFieldSelectors.Count == 0 ? "–" : string.Join(", ", r.SecretFieldSelectors.Select(s => $"`{s}`"))]);
        t.Row("reads: list pages and gets", [I(r.Cold.Requests.Reads)]);
        t.Row("Events created (rate-limited; not in the minimum)", [I(r.Cold.Requests.Events)]);
        t.Row("**Account B rotates, account A answered with a new expiry** (one call for both, as ECR answers) until every secret holds the new tokens (s)", [F(r.RotationBNewExpiry.Seconds, 2)]);
        t.Row("secret writes / minimum (every secret: B's password or A's expiry annotation changed)", [Ratio(r.RotationBNewExpiry.Requests.Writes("secrets"), r.SecretsMinimum)]);
        t.Row("of which to team-a's secrets (same password, new expiry)", [I(r.RotationBNewExpiry.SecretWrites(ProfileRun.TeamA.SecretName))]);
        t.Row("ServiceAccount writes / GetAuthorizationToken calls (minimum 0 / 1)", [$"{I(r.RotationBNewExpiry.Requests.Writes("serviceaccounts"))} / {I(r.RotationBNewExpiry.EcrCalls)}"]);
        t.Row("**Account B rotates, account A's token unchanged** (password and expiry) until every secret holds the new token (s)", [F(r.RotationB.Seconds, 2)]);
        t.Row("secret writes / minimum (team-b's and platform's secrets)", [Ratio(r.RotationB.Requests.Writes("secrets"), r.RotationBMinimum)]);
        t.Row("of which to team-a's secrets (minimum 0)", [I(r.RotationB.SecretWrites(ProfileRun.TeamA.SecretName))]);
        t.Row("ServiceAccount writes when B rotates (minimum 0)", [I(r.RotationB.Requests.Writes("serviceaccounts"))]);
        t.Row("GetAuthorizationToken calls when B rotates (minimum 1)", [I(r.RotationB.EcrCalls)]);
        t.Row("**Rotation of both accounts** until every secret holds the new token (s)", [F(r.RotationAll.Seconds, 2)]);
        t.Row("secret writes / minimum (every secret)", [Ratio(r.RotationAll.Requests.Writes("secrets"), r.SecretsMinimum)]);
        t.Row("ServiceAccount writes when both rotate (minimum 0)", [I(r.RotationAll.Requests.Writes("serviceaccounts"))]);
        t.Row("GetAuthorizationToken calls when both rotate (minimum 1)", [I(r.RotationAll.EcrCalls)]);
        t.Row($"**Steady state**, {r.Steady.TotalSeconds:0} s with no changes: writes (minimum 0)", [I(r.SteadyPhase.Requests.AllWrites)]);
        t.Row("reads beyond the watches (lists, gets) / watch requests", [$"{I(r.SteadyPhase.Requests.Reads)} / {I(r.SteadyPhase.Requests.Watches)}"]);
        t.Row("creates and patches without `fieldManager=ecr-daemon`, whole run", [I(r.WritesWithoutFieldManager)]);
        foreach (var (phase, u) in r.Usage)
        {
            t.Row($"daemon peak RSS (MB) / CPU (s): {phase}", [$"{F(u.PeakRssMb, 0)} / {F(u.CpuSeconds, 1)}"]);
        }

        t.Row("**daemon peak RSS, whole run (VmHWM, MB)**", [F(r.PeakRssMb, 0)]);
        t.Row("namespaces holding a registry host outside their profiles / other pull secrets removed / secrets deleted",
            [$"{r.ForeignHosts} / {r.OtherPullSecretsLost} / {r.SecretDeletes}"]);
        return $"""
            ## Three profiles over two accounts

            Registries `acct-a` and `acct-b` in two accounts at the same endpoint, with the same credentials. Profiles: `team-a`
            (`team=a`, acct-a, secret `ecr-team-a`), `team-b` (`team=b`, acct-b, `ecr-team-b`), `platform` (`platform=true`, both,
            `ecr-platform`), each with `ServiceAccounts: ["*"]`. Namespaces: 2 in 5 `team=a`, 2 in 5 `team=b`, 1 in 5 `team=a` and
            `platform=true`; 3 ServiceAccounts each, the default one already listing `team-registry`. Rate limiting off. Both
            registries share credentials, region and endpoint, so one GetAuthorizationToken call answers both.

            {t}
            """;
    }

    public static string Wide(WideResult r)
    {
        var t = new Table(["", $"1 namespace × {r.ServiceAccounts:N0} ServiceAccounts"]);
        t.Row("**Cold start** until the secret is there and every ServiceAccount lists it (s)", [F(r.ColdSeconds, 1)]);
        t.Row("daemon CPU until then (s)", [F(r.Usage.CpuSeconds, 1)]);
        t.Row("daemon peak RSS (MB)", [F(r.PeakRssMb, 0)]);
        t.Row("secret creates / ServiceAccount patches", [$"{I(r.Cold["create", "secrets"])} / {I(r.Cold.Writes("serviceaccounts"))}"]);
        t.Row("reads: list pages and gets", [I(r.Cold.Reads)]);
        t.Row($"**{r.ServiceAccounts:N0} more created one by one** while it runs, until each lists the secret (s)", [F(r.AddedSeconds, 1)]);
        t.Row("daemon CPU until then (s)", [F(r.AddedUsage.CpuSeconds, 1)]);
        t.Row("ServiceAccount patches / minimum", [Ratio(r.Added.Writes("serviceaccounts"), r.ServiceAccounts)]);
        return $"""
            ## One namespace with many ServiceAccounts

            Every ServiceAccount is targeted (`ServiceAccounts: ["*"]`), rate limiting off. Minimum: 1 secret create and one patch per ServiceAccount.

            {t}
            """;
    }

    public static string RateLimit(IReadOnlyList<RateLimitResult> runs, BenchmarkOptions options)
    {
        var t = new Table(["client-side rate limit", "KubernetesQps", "KubernetesBurst", "cold start (s)", "requests (not watches)", "of which Events", "requests per second"]);
        foreach (var r in runs)
        {
            t.Row([r.Setting, r.Qps == 0 ? "0 (off)" : F(r.Qps, 0), I(r.Burst), r.Synced ? F(r.ColdSeconds, 1) : "did not sync", I(r.Requests), I(r.Events), F(r.RequestsPerSecond, 0)]);
        }

        return $"""
            ## Convergence with client-side rate limiting: cold start over {options.RateLimitNamespaces:N0} namespaces × 3 ServiceAccounts

            Every request but watches, Events included, takes a token from the same bucket; the rate is over the daemon's requests until sync.

            {t}
            """;
    }

    public static string Seed(SeedResult seed, ScaleResult? daemon)
    {
        var t = new Table(["", "the seed's CronJob workflow", "EcrDaemon", "ratio (seed / daemon)"]);
        var n = seed.Namespaces;
        double PerNs(double seconds) => seconds / n;
        string PerNamespace(RequestCounts c) =>
            F((double)(c.AllWrites - c.Events + c.Reads) / n, 2) + (c.Events > 0 ? $" + {F((double)c.Events / n, 2)} Events" : "");
        t.Row(["first run, per namespace (s)", F(PerNs(seed.First.Seconds), 3), daemon is null ? "–" : F(PerNs(daemon.ColdSeconds), 3),
            daemon is null ? "–" : F(seed.First.Seconds / daemon.ColdSeconds, 0) + "×"]);
        t.Row(["token changed, per namespace (s)", F(PerNs(seed.Rotation.Seconds), 3), daemon is null ? "–" : F(PerNs(daemon.RotationSeconds), 4),
            daemon is null ? "–" : F(seed.Rotation.Seconds / daemon.RotationSeconds, 0) + "×"]);
        t.Row(["API requests per namespace, first run / token changed (daemon: Events apart)", $"{F((double)seed.First.Requests / n, 1)} / {F((double)seed.Rotation.Requests / n, 1)}",
            daemon is null ? "–" : $"{PerNamespace(daemon.Cold)} / {PerNamespace(daemon.Rotation)}", ""]);
        t.Row(["GetAuthorizationToken calls, token changed", I(n), daemon is null ? "–" : I(daemon.RotationEcrCalls), ""]);
        t.Row(["other teams' pull secrets removed from default ServiceAccounts", I(seed.OtherPullSecretsLost), daemon is null ? "–" : I(daemon.OtherPullSecretsLost), ""]);
        t.Row(["ServiceAccounts left without the pull secret (of 3 per namespace)", I(seed.ServiceAccountsNotCovered), "0", ""]);
        t.Row(["namespaces with a window with no secret, when the token changed", I(seed.NamespacesWithoutSecretWindow), daemon is null ? "–" : I(daemon.SecretDeletes), ""]);
        t.Row(["that window, median / max (ms)", $"{F(seed.MedianWindowMs, 0)} / {F(seed.MaxWindowMs, 0)}", "none: updated in place", ""]);
        return $"""
            ## The seed's CronJob workflow side by side, N = {n}

            The seed's commands once per namespace (`tests/EcrDaemon.Benchmarks/seed-cronjob.sh`): the real `aws ecr get-login-password`
            against the ECR stand-in, then real `kubectl delete secret`, `kubectl create secret docker-registry` and
            `kubectl patch serviceaccount default`. The daemon's column is its scale run at the same N.

            {t}
            """;
    }

    private const string SteadyPhase = "steady state";

    private static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("N1", Invariant);

    private static string I(int value) => value.ToString("N0", Invariant);

    private static string F(double value, int decimals) => double.IsNaN(value) ? "–" : value.ToString("N" + decimals, Invariant);

    private static string Ratio(int actual, int minimum) =>
        $"{actual.ToString("N0", Invariant)} / {minimum.ToString("N0", Invariant)} = {(minimum == 0 ? "–" : ((double)actual / minimum).ToString("0.00", Invariant))}";

    private sealed class Table(string[] header)
    {
        private readonly List<string[]> _rows = [];

        public void Row(string label, IEnumerable<string> cells) => _rows.Add([label, .. cells]);

        public void Row(string[] cells) => _rows.Add(cells);

        public override string ToString()
        {
            var text = new StringBuilder();
            text.Append("| ").AppendJoin(" | ", header).AppendLine(" |");
            text.Append('|').AppendJoin("|", header.Select(_ => "---")).AppendLine("|");
            foreach (var row in _rows)
            {
                text.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
            }

            return text.ToString().TrimEnd();
        }
    }
}
