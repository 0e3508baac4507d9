using System.Text.RegularExpressions;
using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>A row of the README's metrics table (Observability, Metrics): the contract on metric names.</summary>
public sealed record ReadmeMetric(string Name, string Type, string Alerts);

/// <summary>What tests check against the README: the metrics table and the headings' GitHub anchors.</summary>
public static partial class Readme
{
    private static readonly string[] HistogramSuffixes = ["_bucket", "_sum", "_count"];

    public static string Text { get; } = File.ReadAllText(Path.Combine(Tools.RepositoryRoot, "README.md"));

    /// <summary>The metrics table, by name.</summary>
    public static IReadOnlyDictionary<string, ReadmeMetric> Metrics { get; } = MetricRow().Matches(Text)
        .Select(m => new ReadmeMetric(m.Groups["name"].Value, m.Groups["type"].Value, m.Groups["alerts"].Value))
        .ToDictionary(m => m.Name, StringComparer.Ordinal);

    /// <summary>The anchors GitHub gives the README's headings (code blocks skipped).</summary>
    public static IReadOnlySet<string> Anchors { get; } = HeadingAnchors();

    /// <summary>
    /// True when a name a query uses is in the metrics table: as it is, or as the <c>_bucket</c>,
    /// <c>_sum</c> or <c>_count</c> series of a histogram in it.
    /// </summary>
    public static bool IsDocumentedSeries(string name) =>
        Metrics.ContainsKey(name) ||
        HistogramSuffixes.Any(suffix =>
            name.EndsWith(suffix, StringComparison.Ordinal) &&
            Metrics.TryGetValue(name[..^suffix.Length], out var m) && m.Type == "histogram");

    /// <summary>The ecr_daemon_* names in a text (a query, an annotation).</summary>
    public static IEnumerable<string> MetricNames(string text) => MetricName().Matches(text).Select(m => m.Value);

    /// <summary>GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.</summary>
    public static string Anchor(string heading) =>
        AnchorDropped().Replace(heading.Trim().ToLowerInvariant(), "").Replace(' ', '-');

    private static HashSet<string> HeadingAnchors()
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var inCode = false;
        foreach (var line in Text.Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inCode = !inCode;
            }
            else if (!inCode && Heading().Match(line) is { Success: true } m)
            {
                anchors.Add(Anchor(m.Groups["text"].Value));
            }
        }

        return anchors;
    }

    [GeneratedRegex(@"^\| `(?<name>ecr_daemon_[a-z_]+)` \| (?<type>[a-z]+) \|.*\| (?<alerts>[^|]*) \|\r?$", RegexOptions.Multiline)]
    private static partial Regex MetricRow();

    [GeneratedRegex("ecr_daemon_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^#{1,6} (?<text>.+?)\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\p{L}\p{Nd} _-]")]
    private static partial Regex AnchorDropped();
}
