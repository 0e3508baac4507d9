using System.Globalization;
using System.Text.RegularExpressions;

namespace EcrDaemon.Tests.Support;

/// <summary>One sample of a Prometheus text exposition: name, labels and value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>Parses the Prometheus text format (what GET /metrics returns) into samples, for assertions on exported names.</summary>
public static partial class PrometheusText
{
    public static IReadOnlyList<PrometheusSample> Parse(string text) =>
        [.. text.Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => SampleLine().Match(l))
            .Where(m => m.Success)
            .Select(m => new PrometheusSample(
                m.Groups["name"].Value,
                LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(p => p.Groups["k"].Value, p => p.Groups["v"].Value, StringComparer.Ordinal),
                double.Parse(m.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture)))];

    /// <summary>The value of the one sample with this name whose labels include <paramref name="labels"/>; null when there is none.</summary>
    public static double? Value(this IReadOnlyList<PrometheusSample> samples, string name, params (string Key, string Value)[] labels)
    {
        var matching = samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        return matching.Count switch
        {
            0 => null,
            1 => matching[0].Value,
            _ => throw new InvalidOperationException($"{matching.Count} samples of {name} match; add labels"),
        };
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(?<k>[a-zA-Z_][a-zA-Z0-9_]*)="(?<v>(?:[^"\\]|\\.)*)"(,|$)""")]
    private static partial Regex LabelPair();
}
