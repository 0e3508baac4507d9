using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Commands;

/// <summary>
/// <c>ecrdaemon explain NAMESPACE</c> / <c>explain --all</c> [<c>-o json</c>]: "why does this namespace not pull?", answered
/// from the cluster with the daemon's own configuration, RBAC and rules (<see cref="NamespaceDiagnosis"/>): whether the
/// namespace opts in and why, each profile's secret (owned, type, registry hosts, expiry; never a credential), each
/// targeted ServiceAccount, the daemon's recent Events, and one verdict line with what to do. It reads only what the
/// daemon reads: the namespace, its ServiceAccounts, the secrets named as a profile's (by name), and the daemon's Events.
/// Exit 0 in sync, 1 not in sync (or an unknown namespace, or the API could not be read), 2 bad input.
/// </summary>
internal static class ExplainCommand
{
    public const string NamespaceArgument = "NAMESPACE";
    public const string AllOption = "--all";
    public const string OutputOption = "--output";

    /// <summary>How many of the daemon's Events (newest first) are shown.</summary>
    public const int EventLimit = 10;

    private const int Page = 500;

    public static Symbol[] Symbols()
    {
        var output = new Option<string>(OutputOption, "-o") { Description = "text (for a person) or json (for scripts).", HelpName = "text|json", DefaultValueFactory = _ => "text" };
        output.AcceptOnlyFromAmong("text", "json");
        return
        [
            new Argument<string?>(NamespaceArgument) { Description = "The namespace to explain.", Arity = ArgumentArity.ZeroOrOne },
            new Option<bool>(AllOption) { Description = "One summary line per opted-in namespace (and per excluded one that a selector matches)." },
            output,
        ];
    }

    public static async Task<int> RunAsync(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var parse = host.Services.GetRequiredService<ParseResult>();
        var ns = parse.GetValue<string?>(NamespaceArgument);
        var all = parse.GetValue<bool>(AllOption);
        var json = parse.GetValue<string>(OutputOption) == "json";
        var usage = (ns, all) switch
        {
            (null, false) => "give a NAMESPACE, or --all",
            (not null, true) => "give a NAMESPACE or --all, not both",
            (not null, _) when !ObjectNames.IsLabel(ns) => $"'{ns}' is not a namespace name ({ObjectNames.LabelRule})",
            _ => null,
        };
        if (usage is not null)
        {
            await stderr.WriteLineAsync($"{CommandDispatcher.ProgramName} explain: {usage}; see '{CommandDispatcher.ProgramName} explain --help'");
            return CommandDispatcher.InvalidConfiguration;
        }

        var options = host.Services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value;
        var now = host.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (await CommandDispatcher.KubernetesClientAsync(host, stderr) is not { } client)
        {
            return CommandDispatcher.InvalidConfiguration;
        }

        var snapshot = new ClusterSnapshot(PullSecretProfiles.From(options));
        try
        {
            return all
                ? await AllAsync(client, snapshot, options.AdoptUnmanagedSecrets, now, json, stdout, cancellationToken)
                : await OneAsync(client, snapshot, ns!, options.AdoptUnmanagedSecrets, now, json, stdout, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await stderr.WriteLineAsync($"{CommandDispatcher.ProgramName} explain: could not read the cluster: {ApiErrors.Describe(e)}");
            return 1;
        }
    }

    private static async Task<int> OneAsync(KubernetesApi client, ClusterSnapshot snapshot, string ns, bool adopt, DateTimeOffset now, bool json,
        TextWriter stdout, CancellationToken cancellationToken)
    {
        IReadOnlyList<EventReport>? events = null;
        var eventsProblem = "";
        var found = await NotFoundAsNull(() => client.ReadNamespaceAsync(ns, cancellationToken));
        if (found is not null)
        {
            snapshot.Add(found);
            foreach (var sa in (await client.ListNamespacedServiceAccountsAsync(ns, cancellationToken)).Items)
            {
                snapshot.Add(sa);
            }

            foreach (var profile in snapshot.Profiles)
            {
                if (await NotFoundAsNull(() => client.ReadSecretAsync(ns, profile.SecretName, cancellationToken)) is { } secret)
                {
                    snapshot.Add(secret);
                }
            }

            try
            {
                events = NamespaceDiagnosis.Events((await client.ListEventsAsync(ns, $"source={Markers.Component}", cancellationToken)).Items, EventLimit);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A chart from before explain grants no list on Events: say so, and explain the rest.
                eventsProblem = ApiErrors.Describe(e);
            }
        }

        var report = NamespaceDiagnosis.Diagnose(snapshot, ns, adopt, now, events);
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(report, ExplainJson.Output.ExplainReport));
        }
        else
        {
            await WriteAsync(stdout, report, eventsProblem);
        }

        await stdout.FlushAsync(cancellationToken);
        return report.InSync ? 0 : 1;
    }

    private static async Task<int> AllAsync(KubernetesApi client, ClusterSnapshot snapshot, bool adopt, DateTimeOffset now, bool json,
        TextWriter stdout, CancellationToken cancellationToken)
    {
        // What the daemon's informers list: every namespace and ServiceAccount, and the secrets by each profile's name only.
        string? next = null;
        do
        {
            var page = await client.ListNamespacesAsync(Page, next, cancellationToken);
            page.Items.ToList().ForEach(snapshot.Add);
            next = page.Metadata?.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(next));

        do
        {
            var page = await client.ListServiceAccountsAsync(Page, next, cancellationToken);
            page.Items.ToList().ForEach(snapshot.Add);
            next = page.Metadata?.ContinueProperty;
        }
        while (!string.IsNullOrEmpty(next));

        foreach (var profile in snapshot.Profiles)
        {
            do
            {
                var page = await client.ListSecretsAsync(Markers.SecretNameSelector(profile.SecretName), null, Page, next, cancellationToken);
                page.Items.ToList().ForEach(snapshot.Add);
                next = page.Metadata?.ContinueProperty;
            }
            while (!string.IsNullOrEmpty(next));
        }

        var rows = new List<NamespaceSummary>();
        foreach (var name in snapshot.NamespaceNames.Order(StringComparer.Ordinal))
        {
            var report = NamespaceDiagnosis.Diagnose(snapshot, name, adopt, now);
            var status = report switch
            {
                { Terminating: true } when report.OptedIn => "terminating",
                { OptedIn: true, InSync: true } => "in sync",
                { OptedIn: true } => "NOT IN SYNC",
                _ when NamespaceDiagnosis.NearMiss(report) => "excluded",
                _ => null,
            };
            if (status is not null)
            {
                // The first problem and its fix (the detail is `explain NAMESPACE`'s).
                var problems = report.Problems;
                var verdict = problems.Count == 0 ? report.Verdict
                    : $"{problems[0].Problem}: {problems[0].Fix}{(problems.Count > 1 ? $" (and {problems.Count - 1} more: explain {name})" : "")}";
                rows.Add(new(name, status, report.OptedIn, report.InSync, verdict));
            }
        }

        var summary = new ExplainSummary(rows,
            rows.Count(r => r.OptedIn),
            rows.Count(r => r.Status == "in sync"),
            rows.Count(r => r.Status == "NOT IN SYNC"),
            rows.Count(r => r.Status == "excluded"));
        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(summary, ExplainJson.Output.ExplainSummary));
        }
        else
        {
            var width = rows.Count == 0 ? 0 : rows.Max(r => r.Namespace.Length);
            foreach (var row in rows)
            {
                await stdout.WriteLineAsync(Row(row, width));
            }

            await stdout.WriteLineAsync($"explain --all: {summary.OptedIn} opted in, {summary.InSync} in sync, {summary.NotInSync} not in sync, "
                + $"{summary.Excluded} excluded although a selector matches; `{CommandDispatcher.ProgramName} explain NAMESPACE` for one in detail");
        }

        await stdout.FlushAsync(cancellationToken);
        return summary.NotInSync == 0 ? 0 : 1;
    }

    /// <summary>The report for a person.</summary>
    internal static async Task WriteAsync(TextWriter o, ExplainReport report, string eventsProblem = "")
    {
        if (!report.Found)
        {
            await Line(o, $"namespace {report.Namespace}: not found");
            await Line(o, $"verdict: {report.Verdict}");
            return;
        }

        var selecting = report.Profiles.Where(p => p.Selected).Select(p => p.Name).ToList();
        var optIn = report.Terminating ? "Terminating (the daemon leaves it alone)"
            : report.OptedIn ? $"opted in (profile{(selecting.Count > 1 ? "s" : "")} {string.Join(", ", selecting)})"
            : "not opted in";
        await Line(o, $"namespace {report.Namespace}: {optIn}");
        await Line(o, $"  labels: {(report.Labels.Count == 0 ? "(none)" : string.Join(", ", report.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")))}");

        foreach (var p in report.Profiles)
        {
            await Line(o, "");
            await Line(o, $"profile {p.Name}: {(p.Selected ? "selects" : "does not select")} {report.Namespace}{(p.Excluded ? " (excluded: ExcludedNamespaces)" : "")}");
            foreach (var r in p.Requirements)
            {
                var value = r.Value is null ? "no such label" : $"label {r.Label}={r.Value}";
                await Line(o, $"  selector {(r.Matched ? "ok  " : "FAIL")}  {r.Requirement}  ({value})");
            }

            var s = p.Secret;
            if (!s.Present)
            {
                await Line(o, $"  secret {p.SecretName}: absent");
            }
            else
            {
                var owner = s.Managed ? "owned by the daemon" : $"NOT owned by the daemon (no label {Markers.ManagedSelector})";
                await Line(o, $"  secret {p.SecretName}: present, {owner}, type {s.Type}{(s.Immutable ? ", immutable" : "")}");
                await Line(o, $"    registries: {(s.Registries.Count == 0 ? "(none readable)" : string.Join(", ", s.Registries))}");
                var expiry = (s.ExpiresAt, s.SecondsLeft) switch
                {
                    (null, _) => "no expiry annotation",
                    (_, null) => $"expiry annotation '{s.ExpiresAt}' is not a time",
                    (_, <= 0 and long left) => $"EXPIRED at {s.ExpiresAt}, {CheckCommand.Duration(TimeSpan.FromSeconds(-left))} ago",
                    (_, long left) => $"expires {s.ExpiresAt}, in {CheckCommand.Duration(TimeSpan.FromSeconds(left))}",
                };
                await Line(o, $"    {expiry}");
            }

            if (p.SecretOnly)
            {
                await Line(o, "  serviceaccounts: none (the profile writes the secret only)");
            }
            else if (p.ServiceAccounts.Count == 0)
            {
                await Line(o, "  serviceaccounts: none of the targeted ones exists in the namespace");
            }
            else
            {
                foreach (var sa in p.ServiceAccounts)
                {
                    var lists = sa.Entries switch
                    {
                        0 => $"does NOT list {p.SecretName}",
                        1 => $"lists {p.SecretName}",
                        var n => $"lists {p.SecretName} {n} times",
                    };
                    var added = sa.Entries == 0 ? "" : sa.AddedByDaemon ? " (added by the daemon)" : " (not added by the daemon)";
                    await Line(o, $"  serviceaccount {sa.Name}{(sa.Targeted ? "" : " (not targeted)")}: {lists}{added}");
                }
            }
        }

        await Line(o, "");
        if (report.Events is null)
        {
            await Line(o, $"events: could not be read{(eventsProblem.Length > 0 ? $" ({eventsProblem})" : "")}");
        }
        else if (report.Events.Count == 0)
        {
            await Line(o, $"events: none from {Markers.Component} in {report.Namespace}");
        }
        else
        {
            await Line(o, $"events from {Markers.Component} (newest first):");
            foreach (var e in report.Events)
            {
                await Line(o, $"  {e.Time}  {e.Type,-7}  {e.Reason}  {e.Object}{(e.Count > 1 ? $" (x{e.Count})" : "")}: {e.Message}");
            }
        }

        if (report.Problems.Count > 1)
        {
            await Line(o, "");
            await Line(o, "problems:");
            foreach (var f in report.Problems)
            {
                await Line(o, $"  - {f.Problem}: {f.Fix}");
            }
        }

        await Line(o, "");
        await Line(o, $"verdict: {report.Verdict}");
    }

    /// <summary>One row of <c>explain --all</c> for a person: one line, whatever the verdict quotes from the cluster.</summary>
    internal static string Row(NamespaceSummary row, int width) =>
        Printable($"{row.Namespace.PadRight(width)}  {row.Status,-11}  {(row.InSync ? "" : row.Verdict)}".TrimEnd());

    /// <summary>
    /// <paramref name="text"/> with its control characters (newlines, ESC, BEL, C1) and bidirectional overrides escaped
    /// as <c>\n</c>, <c>\u001b</c>, ...: what a namespace owner writes (a secret's type, registry names, annotations,
    /// Events) is shown, but cannot start a line of its own, move the cursor or reorder the text on a terminal.
    /// </summary>
    internal static string Printable(string text)
    {
        if (!text.Any(Unprintable))
        {
            return text;
        }

        var result = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\n' => result.Append("\\n"),
                '\r' => result.Append("\\r"),
                '\t' => result.Append("\\t"),
                _ when Unprintable(c) => result.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => result.Append(c),
            };
        }

        return result.ToString();

        static bool Unprintable(char c) => char.IsControl(c) || c is (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069') or '\u200e' or '\u200f';
    }

    /// <summary>One line of the report, <see cref="Printable"/>.</summary>
    private static Task Line(TextWriter o, string text) => o.WriteLineAsync(Printable(text));

    /// <summary>The object, or null when the API answers 404.</summary>
    private static async Task<T?> NotFoundAsNull<T>(Func<Task<T>> read)
        where T : class
    {
        try
        {
            return await read();
        }
        catch (Exception e) when (ApiErrors.Is(e, HttpStatusCode.NotFound))
        {
            return null;
        }
    }
}

/// <summary>One line of <c>explain --all</c>.</summary>
internal sealed record NamespaceSummary(string Namespace, string Status, bool OptedIn, bool InSync, string Verdict);

/// <summary><c>explain --all -o json</c>.</summary>
internal sealed record ExplainSummary(IReadOnlyList<NamespaceSummary> Namespaces, int OptedIn, int InSync, int NotInSync, int Excluded);

/// <summary>The JSON of <c>explain -o json</c>, source-generated (Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(ExplainReport))]
[JsonSerializable(typeof(ExplainSummary))]
internal sealed partial class ExplainJson : JsonSerializerContext
{
    /// <summary>As <see cref="Default"/>, but ' and ` as themselves (the output goes to a terminal or a script, never into HTML).</summary>
    public static ExplainJson Output { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
