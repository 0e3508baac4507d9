using System.Text.Json;
using System.Text.Json.Nodes;
using Cel;

namespace EcrDaemon.TestCluster.Admission;

/// <summary>
/// The CEL engine of the test cluster's admission policies: the NuGet package <c>Cel</c> (a C#
/// implementation of the CEL specification), never an evaluator of our own. This class only
/// compiles expressions, converts JSON objects into the values the library works on (objects
/// become maps with string keys, arrays lists, integral numbers int, other numbers double), and
/// turns what the library reports into one <see cref="CelEvaluationException"/>.
/// </summary>
/// <remarks>
/// The library is checked against the CEL specification's conformance data in
/// <c>tests/EcrDaemon.TestCluster.Tests/CelConformanceTests.cs</c>; what it does differently
/// from cel-go there is listed in the README's test-cluster section.
/// </remarks>
public sealed class CelEngine
{
    private readonly CelEnvironment _environment = new(null, null);
    private readonly Lock _lock = new();

    /// <summary>Compiles (parses) an expression; a syntax error is a <see cref="CelCompileException"/>.</summary>
    public CelProgram Compile(string expression)
    {
        if (string.IsNullOrWhiteSpace(expression))
        {
            throw new CelCompileException(expression, "expression is empty");
        }

        try
        {
            lock (_lock)
            {
                return new CelProgram(this, expression, _environment.Compile(expression));
            }
        }
        catch (CelException e)
        {
            throw new CelCompileException(expression, e.Message);
        }
    }

    internal object? Run(CelProgram program, IDictionary<string, object?> activation)
    {
        object? result;
        try
        {
            // The library's visitor is not documented as thread-safe; admission runs under the
            // store's lock anyway, so serializing evaluation costs nothing.
            lock (_lock)
            {
                result = program.Delegate(activation);
            }
        }
        catch (CelException e)
        {
            throw new CelEvaluationException(program.Expression, e.Message);
        }
        catch (Exception e) when (e is InvalidCastException or ArgumentException or InvalidOperationException
                                      or NullReferenceException or IndexOutOfRangeException or KeyNotFoundException
                                      or OverflowException or FormatException or NotSupportedException)
        {
            // The library reports some type mismatches as plain .NET exceptions; CEL calls them errors.
            throw new CelEvaluationException(program.Expression, $"{e.GetType().Name}: {e.Message}");
        }

        // The library hands back a missing field or key as a marker value rather than an error
        // (it throws only from its own Program method); CEL says it is an error: "no such key".
        if (result is not null && result.GetType().FullName == "Cel.Internal.CelNoSuchField")
        {
            var message = result.GetType().GetProperty("Message")?.GetValue(result) as string;
            throw new CelEvaluationException(program.Expression, "no such key: " + message);
        }

        return result;
    }

    /// <summary>A JSON value as a CEL value: map, list, string, int, double, bool or null.</summary>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => o.ToDictionary(kv => kv.Key, kv => FromJson(kv.Value)),
        JsonArray a => a.Select(FromJson).ToArray(),
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            JsonValueKind.Number => Number(v),
            _ => null,
        },
        _ => null,
    };

    private static object Number(JsonValue v)
    {
        // An integral JSON number is a CEL int (as an unstructured object's int64 is); any
        // other number a double.
        if (v.TryGetValue<long>(out var l))
        {
            return l;
        }

        var text = v.ToJsonString();
        return long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>A compiled expression; evaluate it against an activation (variable name to CEL value).</summary>
public sealed class CelProgram
{
    private readonly CelEngine _engine;

    internal CelProgram(CelEngine engine, string expression, CelProgramDelegate program)
    {
        _engine = engine;
        Expression = expression;
        Delegate = program;
    }

    public string Expression { get; }

    internal CelProgramDelegate Delegate { get; }

    /// <summary>The result; an error in evaluation is a <see cref="CelEvaluationException"/>.</summary>
    public object? Evaluate(IDictionary<string, object?> activation) => _engine.Run(this, activation);
}

public sealed class CelCompileException(string expression, string message)
    : Exception($"compilation failed: ERROR: <input>: {message}")
{
    public string Expression { get; } = expression;
}

public sealed class CelEvaluationException(string expression, string message) : Exception(message)
{
    public string Expression { get; } = expression;
}
