using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Admission;
using EcrDaemon.Testing;
using Google.Protobuf;
using Xunit.Abstractions;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// The test cluster's CEL engine (the NuGet package Cel, behind <see cref="CelEngine"/>) run on the
/// CEL specification's own conformance tests (cel-spec's simple tests, from the npm package
/// @bufbuild/cel-spec 0.6.1, exported to .tools/node-celspec/conformance.json by scripts/tools.sh),
/// for the sections whose features an admission policy uses. Every case runs except those skipped
/// with a stated reason; each case that fails is a known deviation listed below with why, and a
/// listed deviation that starts passing fails the test too, so the list (and the README) stays true.
/// </summary>
public sealed class CelConformanceTests(ITestOutputHelper output)
{
    private static readonly string DataFile = Path.Combine(Tools.RepositoryRoot, ".tools", "node-celspec", "conformance.json");

    private static readonly Lazy<JsonObject> Data = new(() => (JsonObject)JsonNode.Parse(File.ReadAllText(DataFile))!);

    /// <summary>Known deviations of the library from cel-spec: section/suite/test, and why.</summary>
    private static readonly Dictionary<string, string> KnownDeviations = new(StringComparer.Ordinal)
    {
        ["comparisons/gt_literal/not_gt_bytes_sorting"] = "bytes compare by length before content",
        ["fields/map_fields/map_field_select_no_such_key_and_false"] = "&& and || are not commutative over errors: an error on the left is an error even when the right side decides",
        ["fields/map_fields/map_field_select_no_such_key_or_true"] = "&& and || are not commutative over errors: an error on the left is an error even when the right side decides",
        ["fields/quoted_map_fields/field_access_dash"] = "backquoted field names (cel-spec 0.25) are not parsed as one name",
        ["fields/quoted_map_fields/field_access_dot"] = "backquoted field names (cel-spec 0.25) are not parsed as one name",
        ["fields/quoted_map_fields/field_access_slash"] = "backquoted field names (cel-spec 0.25) do not parse",
        ["fields/quoted_map_fields/has_field_dash"] = "backquoted field names (cel-spec 0.25) are not parsed as one name",
        ["fields/quoted_map_fields/has_field_dot"] = "backquoted field names (cel-spec 0.25) are not parsed as one name",
        ["fields/quoted_map_fields/has_field_slash"] = "backquoted field names (cel-spec 0.25) do not parse",
        ["logic/AND/no_overload"] = "&& of two non-bools yields null instead of an error (a policy then denies: the result is not true)",
        ["logic/OR/no_overload"] = "|| of two non-bools yields null instead of an error (a policy then denies: the result is not true)",
        ["macros/all/list_elem_error_exhaustive"] = "all() whose predicate errs on every element yields null instead of an error",
        ["macros/all/list_elem_type_exhaustive"] = "all() whose predicate errs on an element yields null instead of an error",
        ["macros/exists_one/list_no_shortcircuit"] = "exists_one() whose predicate errs yields null instead of an error",
        ["macros/exists_one/map_one"] = "exists_one() over a map's keys yields null",
        ["macros/filter/map_filter_keys"] = "filter() over a map iterates entries, not keys (an error)",
        ["macros/map/map_extract_keys"] = "map() over a map iterates entries, not keys (an error)",
        ["parse/bytes_literals/mixed_case_hex_double_quoted_escapes"] = "upper-case \\X hex escapes in bytes literals do not parse",
        ["parse/bytes_literals/mixed_case_hex_single_quoted_escapes"] = "upper-case \\X hex escapes in bytes literals do not parse",
        ["parse/bytes_literals/mixed_case_hex_triple_double_quoted_escapes"] = "upper-case \\X hex escapes in bytes literals do not parse",
        ["parse/bytes_literals/mixed_case_hex_triple_single_quoted_escapes"] = "upper-case \\X hex escapes in bytes literals do not parse",
    };

    [CelSpecTheory]
    [InlineData("basic")]
    [InlineData("comparisons")]
    [InlineData("logic")]
    [InlineData("fields")]
    [InlineData("lists")]
    [InlineData("macros")]
    [InlineData("string")]
    [InlineData("parse")]
    public void Section_runs_on_the_engine(string section)
    {
        Assert.True(File.Exists(DataFile), $"{DataFile} is missing: run 'bash scripts/tools.sh' (CI={Tools.IsCi})");
        var suite = Data.Value["suites"]!.AsArray().OfType<JsonObject>().Single(s => s["name"]!.GetValue<string>() == section);
        var cel = new CelEngine();
        int ran = 0, passed = 0;
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        var unexpectedPasses = new List<string>();
        foreach (var (path, test) in Tests(suite, section))
        {
            var original = (JsonObject)test["original"]!;
            if (SkipReason(original) is { } reason)
            {
                skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
                continue;
            }

            ran++;
            var error = Run(cel, original);
            var known = KnownDeviations.ContainsKey(path);
            if (error is null)
            {
                passed++;
                if (known)
                {
                    unexpectedPasses.Add(path);
                }
            }
            else if (!known)
            {
                failures.Add($"{path}: {original["expr"]} -> {error}");
            }
        }

        output.WriteLine($"{section}: ran {ran}, passed {passed}, failed {ran - passed} (known deviations), skipped {skipped.Values.Sum()}");
        foreach (var (reason, count) in skipped)
        {
            output.WriteLine($"  skipped {count}: {reason}");
        }

        foreach (var (path, why) in KnownDeviations.Where(d => d.Key.StartsWith(section + "/", StringComparison.Ordinal)))
        {
            output.WriteLine($"  known deviation {path}: {why}");
        }

        foreach (var f in failures)
        {
            output.WriteLine("  FAIL " + f);
        }

        Assert.True(failures.Count == 0, $"{failures.Count} unexpected failures in {section}:\n{string.Join('\n', failures)}");
        Assert.True(unexpectedPasses.Count == 0, $"listed as deviations but passing now: {string.Join(", ", unexpectedPasses)}");
        Assert.True(ran > 0);
    }

    private static IEnumerable<(string Path, JsonObject Test)> Tests(JsonObject suite, string path)
    {
        foreach (var t in (suite["tests"] as JsonArray ?? []).OfType<JsonObject>())
        {
            yield return ($"{path}/{t["original"]?["name"]?.GetValue<string>()}", t);
        }

        foreach (var s in (suite["suites"] as JsonArray ?? []).OfType<JsonObject>())
        {
            foreach (var inner in Tests(s, $"{path}/{s["name"]?.GetValue<string>()}"))
            {
                yield return inner;
            }
        }
    }

    /// <summary>Why a case is not run, or null. Only features an admission policy cannot use are skipped.</summary>
    private static string? SkipReason(JsonObject t)
    {
        var expr = t["expr"]?.GetValue<string>() ?? "";
        var json = t.ToJsonString();
        if (t["container"] is not null || json.Contains("objectValue", StringComparison.Ordinal) ||
            expr.Contains("TestAllTypes", StringComparison.Ordinal) || expr.Contains("google.protobuf", StringComparison.Ordinal) ||
            expr.Contains("cel.expr", StringComparison.Ordinal) || expr.Contains("NestedTestAllTypes", StringComparison.Ordinal))
        {
            return "protobuf messages and containers (a policy binds only JSON objects)";
        }

        if (t["checkOnly"]?.GetValue<bool>() == true || (t["value"] is null && t["evalError"] is null && t["anyEvalErrors"] is null))
        {
            return "type-check only (the library has no type checker)";
        }

        if (t["disableMacros"]?.GetValue<bool>() == true)
        {
            return "macros turned off (a policy always has them)";
        }

        if (json.Contains("typeValue", StringComparison.Ordinal) || json.Contains("unknown", StringComparison.Ordinal) ||
            t["anyEvalErrors"] is not null || t["anyUnknowns"] is not null)
        {
            return "type values or unknowns as results (a policy's result is a bool or a message string)";
        }

        return null;
    }

    /// <summary>Null when the case passes; otherwise what went wrong.</summary>
    private static string? Run(CelEngine cel, JsonObject t)
    {
        var expr = t["expr"]!.GetValue<string>();
        var activation = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, binding) in t["bindings"] as JsonObject ?? [])
        {
            activation[name] = AsBinding(Value(binding?["value"] as JsonObject));
        }

        object? result;
        try
        {
            result = cel.Compile(expr).Evaluate(activation);
        }
        catch (CelEvaluationException e)
        {
            return t["evalError"] is not null ? null : "error: " + e.Message;
        }
        catch (CelCompileException e)
        {
            return "did not parse: " + e.Message;
        }

        if (t["evalError"] is not null)
        {
            return $"expected an error, got {Show(result)}";
        }

        var expected = Value((JsonObject)t["value"]!);
        return Same(expected, result) ? null : $"expected {Show(expected)}, got {Show(result)}";
    }

    /// <summary>A cel.expr.Value (protobuf JSON) as the CLR value the library uses.</summary>
    private static object? Value(JsonObject? v)
    {
        if (v is null || v.ContainsKey("nullValue"))
        {
            return null;
        }

        var (kind, node) = v.Single();
        return kind switch
        {
            "boolValue" => node!.GetValue<bool>(),
            "int64Value" => long.Parse(node!.ToString(), CultureInfo.InvariantCulture),
            "uint64Value" => ulong.Parse(node!.ToString(), CultureInfo.InvariantCulture),
            "doubleValue" => node!.ToString() switch
            {
                "NaN" => double.NaN,
                "Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                var s => double.Parse(s, CultureInfo.InvariantCulture),
            },
            "stringValue" => node!.GetValue<string>(),
            "bytesValue" => ByteString.FromBase64(node!.GetValue<string>()),
            "listValue" => (node?["values"] as JsonArray ?? []).Select(x => Value(x as JsonObject)).ToArray(),
            "mapValue" => (node?["entries"] as JsonArray ?? []).OfType<JsonObject>()
                .ToDictionary(e => (object)Value(e["key"] as JsonObject)!, e => Value(e["value"] as JsonObject)),
            _ => throw new NotSupportedException($"value kind {kind}"),
        };
    }

    /// <summary>
    /// A value as the test cluster binds JSON (<see cref="CelEngine.FromJson"/>): maps with string
    /// keys (the library's own map literals hold their keys as strings too).
    /// </summary>
    private static object? AsBinding(object? v) => v switch
    {
        Dictionary<object, object?> map => map.ToDictionary(kv => KeyText(kv.Key), kv => AsBinding(kv.Value), StringComparer.Ordinal),
        object?[] list => list.Select(AsBinding).ToArray(),
        _ => v,
    };

    /// <summary>
    /// CEL equality of an expected value and a result, strict on type (int, uint, double, string,
    /// bytes, bool, null, list, map). The library returns some ints as System.Int32 (size()) and
    /// keeps map keys as strings; both are read as CEL's int and the key's text.
    /// </summary>
    private static bool Same(object? expected, object? actual) => (expected, actual) switch
    {
        (null, null) => true,
        (long e, long a) => e == a,
        (long e, int a) => e == a,
        (ulong e, ulong a) => e == a,
        (double e, double a) => e.Equals(a),
        (string e, string a) => e == a,
        (bool e, bool a) => e == a,
        (ByteString e, ByteString a) => e.Equals(a),
        (object?[] e, System.Collections.IList a) => e.Length == a.Count && e.Select((x, i) => Same(x, a[i])).All(b => b),
        (Dictionary<object, object?> e, System.Collections.IDictionary a) => e.Count == a.Count &&
            e.All(kv => a.Contains(KeyText(kv.Key)) && Same(kv.Value, a[KeyText(kv.Key)])),
        _ => false,
    };

    private static string KeyText(object key) => key switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => key.ToString() ?? "",
    };

    private static string Show(object? v) => v switch
    {
        null => "null",
        string s => $"\"{s}\" (string)",
        System.Collections.IDictionary d => "{" + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{Show(k)}: {Show(d[k])}")) + "}",
        System.Collections.IEnumerable e and not ByteString => "[" + string.Join(", ", e.Cast<object?>().Select(Show)) + "]",
        _ => $"{v} ({v.GetType().Name})",
    };
}

/// <summary>A theory that needs the cel-spec conformance data: skipped without it locally, run (and failing) under CI=true.</summary>
public sealed class CelSpecTheoryAttribute : TheoryAttribute
{
    public CelSpecTheoryAttribute()
    {
        if (!File.Exists(Path.Combine(Tools.RepositoryRoot, ".tools", "node-celspec", "conformance.json")) && !Tools.IsCi)
        {
            Skip = "needs @bufbuild/cel-spec: run 'bash scripts/tools.sh' (under CI=true this is a failure)";
        }
    }
}
