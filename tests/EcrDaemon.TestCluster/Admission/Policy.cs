using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.TestCluster.Admission;

/// <summary>A validation that did not pass: its message and the reason the status carries ("" for Invalid).</summary>
public sealed record Decision(string Message, string Reason);

/// <summary>
/// One ValidatingAdmissionPolicy with its expressions compiled: matchConditions, variables,
/// validations (expression, message, messageExpression, reason) and failurePolicy, evaluated as
/// validator.go does.
/// </summary>
internal sealed class Policy
{
    private readonly List<(string Name, Compiled Program)> _matchConditions = [];
    private readonly List<(string Name, Compiled Program)> _variables = [];
    private readonly List<Validation> _validations = [];

    public Policy(JsonObject obj, CelEngine cel)
    {
        Name = obj["metadata"]?["name"]?.GetValue<string>() ?? "";
        Spec = obj["spec"] as JsonObject ?? [];
        // failurePolicy defaults to Fail (validator.go: a nil failPolicy is Fail).
        Ignore = Spec["failurePolicy"]?.GetValue<string>() == "Ignore";
        foreach (var c in (Spec["matchConditions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            _matchConditions.Add((c["name"]?.GetValue<string>() ?? "", Compiled.Of(cel, c["expression"]?.GetValue<string>())));
        }

        foreach (var v in (Spec["variables"] as JsonArray ?? []).OfType<JsonObject>())
        {
            _variables.Add((v["name"]?.GetValue<string>() ?? "", Compiled.Of(cel, v["expression"]?.GetValue<string>())));
        }

        foreach (var v in (Spec["validations"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var messageExpression = v["messageExpression"]?.GetValue<string>();
            _validations.Add(new Validation(
                Compiled.Of(cel, v["expression"]?.GetValue<string>()),
                v["expression"]?.GetValue<string>() ?? "",
                v["message"]?.GetValue<string>(),
                messageExpression is null ? null : Compiled.Of(cel, messageExpression),
                v["reason"]?.GetValue<string>()));
        }
    }

    public string Name { get; }

    public JsonObject Spec { get; }

    private bool Ignore { get; }

    /// <summary>The denials of this policy for one binding (validator.go Validate).</summary>
    public IEnumerable<Decision> Validate(AdmissionAttributes a, JsonObject? namespaceObject)
    {
        var activation = new Activation(Bindings(a, namespaceObject), _variables);

        // matchConditions: any false skips the policy; otherwise an error is an error of the policy.
        var errors = new List<string>();
        foreach (var (name, program) in _matchConditions)
        {
            switch (program.Run(activation))
            {
                case (_, { } error):
                    errors.Add($"failed to evaluate matchCondition '{name}': {error}");
                    break;
                case (true, null):
                    break;
                default:
                    return [];
            }
        }

        if (errors.Count > 0)
        {
            return Ignore ? [] : [new Decision(string.Join("; ", errors), "")];
        }

        var denials = new List<Decision>();
        foreach (var v in _validations)
        {
            var (result, error) = v.Program.Run(activation);
            if (error is not null)
            {
                if (!Ignore)
                {
                    denials.Add(new Decision(error, ""));
                }

                continue;
            }

            if (result is true)
            {
                continue;
            }

            denials.Add(new Decision(Message(v, activation), v.Reason ?? ""));
        }

        return denials;
    }

    /// <summary>messageExpression (a non-empty single-line string), else message, else "failed expression: ...".</summary>
    private static string Message(Validation v, Activation activation)
    {
        if (v.MessageExpression?.Run(activation) is (string s, null) && s.Trim() is { Length: > 0 and <= 5 * 1024 } trimmed && !trimmed.Contains('\n', StringComparison.Ordinal))
        {
            return trimmed;
        }

        if (v.Message?.Trim() is { Length: > 0 } message)
        {
            return message;
        }

        return $"failed expression: {v.Expression.Trim()}";
    }

    /// <summary>
    /// The variables an expression sees: object, oldObject, request, namespaceObject, params (always
    /// null: paramKind is not supported) and variables.NAME. request is the AdmissionRequest the
    /// real server builds (k8s.io/apiserver/pkg/admission/plugin/cel: CreateAdmissionRequest), as
    /// its JSON reads: empty omitempty fields are absent.
    /// </summary>
    private static Dictionary<string, object?> Bindings(AdmissionAttributes a, JsonObject? namespaceObject)
    {
        var request = new JsonObject
        {
            ["kind"] = new JsonObject { ["group"] = a.Type.Group, ["version"] = a.Type.Version, ["kind"] = a.Type.Kind },
            ["resource"] = new JsonObject { ["group"] = a.Type.Group, ["version"] = a.Type.Version, ["resource"] = a.Type.Plural },
            ["requestKind"] = new JsonObject { ["group"] = a.Type.Group, ["version"] = a.Type.Version, ["kind"] = a.Type.Kind },
            ["requestResource"] = new JsonObject { ["group"] = a.Type.Group, ["version"] = a.Type.Version, ["resource"] = a.Type.Plural },
            ["operation"] = a.Operation,
            ["userInfo"] = new JsonObject
            {
                ["username"] = a.User.User,
                ["groups"] = new JsonArray(a.User.Groups.Select(g => (JsonNode?)JsonValue.Create(g)).ToArray()),
            },
            // dryRun is refused (400) before admission, so it is always false here.
            ["dryRun"] = false,
        };
        if (a.Name.Length > 0)
        {
            request["name"] = a.Name;
        }

        if (a.Namespace.Length > 0 && a.Type != ResourceType.Namespaces)
        {
            request["namespace"] = a.Namespace;
        }

        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["object"] = CelEngine.FromJson(a.NewObject),
            ["oldObject"] = CelEngine.FromJson(a.OldObject),
            ["request"] = CelEngine.FromJson(request),
            ["namespaceObject"] = CelEngine.FromJson(namespaceObject),
            ["params"] = null,
        };
    }

    private sealed record Validation(Compiled Program, string Expression, string? Message, Compiled? MessageExpression, string? Reason);

    /// <summary>A compiled expression, or the compile error every evaluation reports.</summary>
    private sealed record Compiled(CelProgram? Program, string Expression, string? CompileError)
    {
        public static Compiled Of(CelEngine cel, string? expression)
        {
            try
            {
                return new Compiled(cel.Compile(expression ?? ""), expression ?? "", null);
            }
            catch (CelCompileException e)
            {
                return new Compiled(null, expression ?? "", e.Message);
            }
        }

        /// <summary>The result, or the error as the CEL filter words it (filter.go).</summary>
        public (object? Result, string? Error) Run(IDictionary<string, object?> activation)
        {
            if (Program is null)
            {
                return (null, $"expression '{Expression}' resulted in error: {CompileError}");
            }

            try
            {
                return (Program.Evaluate(activation), null);
            }
            catch (CelEvaluationException e)
            {
                return (null, $"expression '{Expression}' resulted in error: {e.Message}");
            }
        }
    }

    /// <summary>
    /// The activation: the fixed bindings plus <c>variables.NAME</c>, each evaluated when first used
    /// and then kept, so a variable that fails fails only the expressions that use it (as composited
    /// variables do on a real server). The library looks a qualified name such as
    /// <c>variables.x</c> up whole before selecting a field, which is where it finds them.
    /// </summary>
    private sealed class Activation(Dictionary<string, object?> fixedBindings, List<(string Name, Compiled Program)> variables)
        : IDictionary<string, object?>
    {
        private const string Prefix = "variables.";
        private readonly Dictionary<string, (object? Result, string? Error)> _evaluated = new(StringComparer.Ordinal);

        public bool TryGetValue(string key, [MaybeNullWhen(false)] out object? value)
        {
            if (fixedBindings.TryGetValue(key, out value))
            {
                return true;
            }

            if (key.StartsWith(Prefix, StringComparison.Ordinal) && variables.FindIndex(v => v.Name == key[Prefix.Length..]) is var i and >= 0)
            {
                if (!_evaluated.TryGetValue(key, out var computed))
                {
                    // Mark it first, so a variable that refers to itself is an error, not a loop.
                    _evaluated[key] = (null, $"variable '{variables[i].Name}' refers to itself");
                    computed = variables[i].Program.Run(this);
                    _evaluated[key] = computed;
                }

                if (computed.Error is not null)
                {
                    throw new CelEvaluationException(key, computed.Error);
                }

                value = computed.Result;
                return true;
            }

            value = null;
            return false;
        }

        public object? this[string key]
        {
            get => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);
            set => throw new NotSupportedException();
        }

        public ICollection<string> Keys => [.. fixedBindings.Keys, .. variables.Select(v => Prefix + v.Name)];

        public ICollection<object?> Values => Keys.Select(k => this[k]).ToList();

        public int Count => Keys.Count;

        public bool IsReadOnly => true;

        public bool ContainsKey(string key) =>
            fixedBindings.ContainsKey(key) || variables.Any(v => Prefix + v.Name == key);

        public bool Contains(KeyValuePair<string, object?> item) => ContainsKey(item.Key);

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() =>
            Keys.Select(k => KeyValuePair.Create(k, this[k])).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public void Add(string key, object? value) => throw new NotSupportedException();

        public void Add(KeyValuePair<string, object?> item) => throw new NotSupportedException();

        public bool Remove(string key) => throw new NotSupportedException();

        public bool Remove(KeyValuePair<string, object?> item) => throw new NotSupportedException();

        public void Clear() => throw new NotSupportedException();

        public void CopyTo(KeyValuePair<string, object?>[] array, int arrayIndex) => throw new NotSupportedException();
    }
}
