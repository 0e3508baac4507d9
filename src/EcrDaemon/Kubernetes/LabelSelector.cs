using System.Text.RegularExpressions;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// A Kubernetes label selector in its string form (<c>a=b,c!=d,e in (f,g),h notin (i),j,!k</c>),
/// matched locally against a namespace's labels. Parsing rejects what kube-apiserver rejects, so
/// that a typo fails at start instead of silently matching nothing.
/// </summary>
internal sealed partial class LabelSelector
{
    private enum Op { Exists, NotExists, In, NotIn }

    private sealed record Requirement(string Key, Op Op, string[] Values);

    private readonly Requirement[] _requirements;

    private LabelSelector(Requirement[] requirements, string text)
    {
        _requirements = requirements;
        Text = text;
    }

    public string Text { get; }

    public bool Matches(IDictionary<string, string>? labels)
    {
        foreach (var r in _requirements)
        {
            if (!Satisfied(r, labels))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Each requirement against <paramref name="labels"/>, by the rule of <see cref="Matches"/>: its text
    /// (<c>a=b</c>, <c>c in (d,e)</c>, <c>!f</c>), its label key, the label's value (null: no such label),
    /// whether it is met, and the <c>kubectl label</c> argument that would meet it (<c>a=b</c>, <c>f-</c>).
    /// </summary>
    public IReadOnlyList<SelectorCheck> Explain(IDictionary<string, string>? labels) =>
        [.. _requirements.Select(r => new SelectorCheck(
            Describe(r),
            r.Key,
            labels is not null && labels.TryGetValue(r.Key, out var value) ? value : null,
            Satisfied(r, labels),
            r.Op is Op.NotExists or Op.NotIn ? $"{r.Key}-" : $"{r.Key}={(r.Op == Op.In ? r.Values[0] : "VALUE")}"))];

    private static bool Satisfied(Requirement r, IDictionary<string, string>? labels)
    {
        string? value = null;
        var has = labels is not null && labels.TryGetValue(r.Key, out value);
        return r.Op switch
        {
            Op.Exists => has,
            Op.NotExists => !has,
            Op.In => has && r.Values.Contains(value, StringComparer.Ordinal),
            _ => !has || !r.Values.Contains(value, StringComparer.Ordinal),
        };
    }

    private static string Describe(Requirement r) => r.Op switch
    {
        Op.Exists => r.Key,
        Op.NotExists => $"!{r.Key}",
        Op.In when r.Values.Length == 1 => $"{r.Key}={r.Values[0]}",
        Op.NotIn when r.Values.Length == 1 => $"{r.Key}!={r.Values[0]}",
        _ => $"{r.Key} {(r.Op == Op.In ? "in" : "notin")} ({string.Join(',', r.Values)})",
    };

    public static bool TryParse(string? text, out LabelSelector selector, out string error)
    {
        selector = null!;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "it is empty; an empty selector would opt in every namespace";
            return false;
        }

        var requirements = new List<Requirement>();
        foreach (var part in SplitTopLevel(text))
        {
            var requirement = ParseRequirement(part.Trim(), out error);
            if (requirement is null)
            {
                return false;
            }

            requirements.Add(requirement);
        }

        selector = new LabelSelector([.. requirements], text.Trim());
        return true;
    }

    public static LabelSelector Parse(string text) =>
        TryParse(text, out var selector, out var error) ? selector : throw new FormatException($"label selector '{text}': {error}");

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
            if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }

        yield return text[start..];
    }

    private static Requirement? ParseRequirement(string part, out string error)
    {
        error = "";
        var set = SetPattern().Match(part);
        if (set.Success)
        {
            var values = set.Groups["values"].Value.Split(',').Select(v => v.Trim()).ToArray();
            if (!ValidKey(set.Groups["key"].Value, out error))
            {
                return null;
            }

            foreach (var value in values)
            {
                if (!ValidValue(value, out error))
                {
                    return null;
                }
            }

            var op = set.Groups["op"].Value == "in" ? Op.In : Op.NotIn;
            return new Requirement(set.Groups["key"].Value, op, values);
        }

        var equality = EqualityPattern().Match(part);
        if (equality.Success)
        {
            var key = equality.Groups["key"].Value.Trim();
            var value = equality.Groups["value"].Value.Trim();
            if (!ValidKey(key, out error) || !ValidValue(value, out error))
            {
                return null;
            }

            return new Requirement(key, equality.Groups["op"].Value == "!=" ? Op.NotIn : Op.In, [value]);
        }

        var negated = part.StartsWith('!');
        var name = negated ? part[1..].Trim() : part;
        if (name.Length == 0 || !ValidKey(name, out error))
        {
            error = error.Length > 0 ? error : $"'{part}' is not a requirement";
            return null;
        }

        return new Requirement(name, negated ? Op.NotExists : Op.Exists, []);
    }

    private static bool ValidKey(string key, out string error)
    {
        var slash = key.LastIndexOf('/');
        var prefix = slash >= 0 ? key[..slash] : null;
        var name = slash >= 0 ? key[(slash + 1)..] : key;
        var ok = (prefix is null || ObjectNames.IsSubdomain(prefix))
            && name.Length is > 0 and <= 63 && NamePattern().IsMatch(name);
        error = ok ? "" : $"'{key}' is not a valid label key";
        return ok;
    }

    private static bool ValidValue(string value, out string error)
    {
        var ok = value.Length == 0 || (value.Length <= 63 && NamePattern().IsMatch(value));
        error = ok ? "" : $"'{value}' is not a valid label value";
        return ok;
    }

    [GeneratedRegex(@"^(?<key>[^\s!=(),]+)\s+(?<op>in|notin)\s*\((?<values>[^()]*)\)$")]
    private static partial Regex SetPattern();

    [GeneratedRegex(@"^(?<key>[^!=]+?)\s*(?<op>==|!=|=)\s*(?<value>[^=!]*)$")]
    private static partial Regex EqualityPattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\z")]
    private static partial Regex NamePattern();
}

/// <summary>
/// One requirement of a <see cref="LabelSelector"/> against a namespace's labels: its text, its label key, the
/// label's value (null: absent), whether it is met, and the <c>kubectl label</c> argument that meets it.
/// </summary>
internal sealed record SelectorCheck(string Requirement, string Label, string? Value, bool Matched, string Fix);
