using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// A parsed label selector, with the grammar of apimachinery's labels.Parse:
/// <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>, <c>k</c>, <c>!k</c>, comma-separated.
/// </summary>
public sealed partial class LabelSelector
{
    private readonly List<Requirement> _requirements;

    private LabelSelector(List<Requirement> requirements) => _requirements = requirements;

    public static LabelSelector Everything { get; } = new([]);

    public bool IsEmpty => _requirements.Count == 0;

    public static LabelSelector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        var requirements = new List<Requirement>();
        foreach (var part in SplitTopLevel(text))
        {
            requirements.Add(ParseRequirement(part.Trim()));
        }

        return new LabelSelector(requirements);
    }

    public bool Matches(JsonObject? labels)
    {
        foreach (var r in _requirements)
        {
            var has = labels is not null && labels.TryGetPropertyValue(r.Key, out var node) && node is not null;
            var value = has ? labels![r.Key]!.GetValue<string>() : null;
            var ok = r.Op switch
            {
                "exists" => has,
                "!" => !has,
                "=" or "in" => has && r.Values.Contains(value!),
                "!=" or "notin" => !has || !r.Values.Contains(value!),
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private sealed record Requirement(string Key, string Op, HashSet<string> Values);

    // Splits on commas that are not inside parentheses.
    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(')
            {
                depth++;
            }
            else if (text[i] == ')')
            {
                depth--;
            }
            else if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }

    private static Requirement ParseRequirement(string text)
    {
        Match m;
        if ((m = SetRegex().Match(text)).Success)
        {
            var key = ValidKey(m.Groups["key"].Value, text);
            var values = m.Groups["values"].Value.Split(',', StringSplitOptions.TrimEntries)
                .Where(v => v.Length > 0 || m.Groups["values"].Value.Trim().Length > 0)
                .Select(v => ValidValue(v, text)).ToHashSet(StringComparer.Ordinal);
            if (values.Count == 0)
            {
                throw ApiException.BadRequest($"unable to parse requirement: for 'in', 'notin' operators, values set can't be empty");
            }

            return new Requirement(key, m.Groups["op"].Value, values);
        }

        if ((m = EqualityRegex().Match(text)).Success)
        {
            var op = m.Groups["op"].Value == "!=" ? "!=" : "=";
            return new Requirement(ValidKey(m.Groups["key"].Value, text), op, [ValidValue(m.Groups["value"].Value, text)]);
        }

        if ((m = ExistsRegex().Match(text)).Success)
        {
            var op = m.Groups["not"].Success ? "!" : "exists";
            return new Requirement(ValidKey(m.Groups["key"].Value, text), op, []);
        }

        throw ApiException.BadRequest($"unable to parse requirement: found '{text}', expected: !, =, ==, in, notin");
    }

    private static string ValidKey(string key, string text)
    {
        if (!Validation.IsQualifiedName(key))
        {
            throw ApiException.BadRequest($"unable to parse requirement: invalid label key \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (in \"{text}\")");
        }

        return key;
    }

    private static string ValidValue(string value, string text)
    {
        if (!Validation.IsLabelValue(value))
        {
            throw ApiException.BadRequest($"unable to parse requirement: invalid label value: \"{value}\": at key: in \"{text}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        }

        return value;
    }

    [GeneratedRegex(@"^\s*(?<key>[^\s!=(),]+)\s+(?<op>in|notin)\s*\((?<values>[^()]*)\)\s*$")]
    private static partial Regex SetRegex();

    [GeneratedRegex(@"^\s*(?<key>[^\s!=(),]+)\s*(?<op>==|=|!=)\s*(?<value>[^\s!=(),]*)\s*$")]
    private static partial Regex EqualityRegex();

    [GeneratedRegex(@"^\s*(?<not>!)?\s*(?<key>[^\s!=(),]+)\s*$")]
    private static partial Regex ExistsRegex();
}

/// <summary>A parsed field selector: <c>path=value</c>, <c>path==value</c>, <c>path!=value</c>, comma-separated.</summary>
public sealed class FieldSelector
{
    private readonly List<(string Path, bool Equal, string Value)> _terms;

    private FieldSelector(List<(string, bool, string)> terms) => _terms = terms;

    public static FieldSelector Everything { get; } = new([]);

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        var terms = new List<(string, bool, string)>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            string path, value;
            bool equal;
            int i;
            if ((i = part.IndexOf("!=", StringComparison.Ordinal)) > 0)
            {
                (path, value, equal) = (part[..i], part[(i + 2)..], false);
            }
            else if ((i = part.IndexOf("==", StringComparison.Ordinal)) > 0)
            {
                (path, value, equal) = (part[..i], part[(i + 2)..], true);
            }
            else if ((i = part.IndexOf('=', StringComparison.Ordinal)) > 0)
            {
                (path, value, equal) = (part[..i], part[(i + 1)..], true);
            }
            else
            {
                throw ApiException.BadRequest($"invalid selector: '{text}'; can't understand '{part}'");
            }

            path = path.Trim();
            if (!type.FieldSelectors.Contains(path))
            {
                throw ApiException.BadRequest($"field label not supported: {path}");
            }

            terms.Add((path, equal, value.Trim()));
        }

        return new FieldSelector(terms);
    }

    /// <summary>The value of a <c>metadata.name=X</c> term, which the authorizer treats as a request for name X.</summary>
    public string? RequiredName =>
        _terms.Where(t => t.Path == "metadata.name" && t.Equal).Select(t => t.Value).FirstOrDefault();

    public bool Matches(JsonObject obj)
    {
        foreach (var (path, equal, value) in _terms)
        {
            var actual = FieldValue(obj, path);
            if ((actual == value) != equal)
            {
                return false;
            }
        }

        return true;
    }

    private static string FieldValue(JsonObject obj, string path)
    {
        if (path == "source")
        {
            return obj["source"]?["component"]?.GetValue<string>() ?? "";
        }

        if (path == "type" && obj["kind"]?.GetValue<string>() == "Secret")
        {
            return obj["type"]?.GetValue<string>() ?? "Opaque";
        }

        JsonNode? node = obj;
        foreach (var segment in path.Split('.'))
        {
            node = node is JsonObject o ? o[segment] : null;
        }

        return node is JsonValue v ? v.ToString() : "";
    }
}
