using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Auth;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.TestCluster.Admission;

/// <summary>What a write asks admission about, as the real server's admission attributes carry it.</summary>
/// <param name="Operation">CREATE, UPDATE (an update or a patch) or DELETE.</param>
/// <param name="Name">The request's name: the path's, or on a create the body's before a name is generated ("" then).</param>
/// <param name="NewObject">The object to be stored (CEL's <c>object</c>); null on DELETE.</param>
/// <param name="OldObject">The stored object; null on CREATE.</param>
public sealed record AdmissionAttributes(
    string Operation,
    ResourceType Type,
    string Namespace,
    string Name,
    JsonObject? NewObject,
    JsonObject? OldObject,
    Identity User);

/// <summary>
/// ValidatingAdmissionPolicies and ValidatingAdmissionPolicyBindings (admissionregistration.k8s.io/v1),
/// enforced on every write the test cluster serves, as kube-apiserver's ValidatingAdmissionPolicy
/// plugin does (k8s.io/apiserver/pkg/admission/plugin/policy/validating: dispatcher.go, validator.go).
/// Expressions run on the real CEL library behind <see cref="CelEngine"/>.
/// </summary>
public sealed class AdmissionPolicies
{
    private readonly CelEngine _cel = new();
    private readonly List<Policy> _policies = [];
    private readonly List<JsonObject> _bindings = [];

    public static AdmissionPolicies Empty { get; } = new();

    public int PolicyCount => _policies.Count;

    public int BindingCount => _bindings.Count;

    /// <summary>
    /// Loads the policies and bindings among multi-document YAML (for example <c>helm template</c>
    /// output; other kinds are ignored). A malformed expression does not fail the load: as on a real
    /// server, it fails the requests the policy matches, subject to its failurePolicy.
    /// </summary>
    public static AdmissionPolicies Load(string yaml)
    {
        return FromObjects(YamlJson.Documents(yaml).OfType<JsonObject>());
    }

    public static AdmissionPolicies FromObjects(IEnumerable<JsonObject> objects)
    {
        var result = new AdmissionPolicies();
        foreach (var obj in objects)
        {
            if (obj["apiVersion"]?.GetValue<string>() is not { } apiVersion || !apiVersion.StartsWith("admissionregistration.k8s.io/", StringComparison.Ordinal))
            {
                continue;
            }

            switch (obj["kind"]?.GetValue<string>())
            {
                case "ValidatingAdmissionPolicy":
                    result._policies.Add(new Policy(obj, result._cel));
                    break;
                case "ValidatingAdmissionPolicyBinding":
                    result._bindings.Add(obj);
                    break;
                default:
                    break;
            }
        }

        return result;
    }

    /// <summary>
    /// Evaluates every matching policy and binding. Throws the real server's denial when one denies
    /// (the first, as the dispatcher reports only deniedDecisions[0]); adds the Warn action's
    /// warnings to <paramref name="warnings"/>. <paramref name="namespaces"/> finds a namespace object.
    /// </summary>
    public void Admit(AdmissionAttributes a, Func<string, JsonObject?> namespaces, ICollection<string> warnings)
    {
        if (_policies.Count == 0)
        {
            return;
        }

        // The Namespace object is its own namespace for selectors and binds no namespaceObject
        // (dispatcher.go: "the namespace object has the namespace of itself").
        var namespaceObject = a.Type == ResourceType.Namespaces || a.Namespace.Length == 0 ? null : namespaces(a.Namespace);
        var namespaceLabels = a.Type == ResourceType.Namespaces
            ? Labels(a.NewObject ?? a.OldObject)
            : namespaceObject is null ? null : Labels(namespaceObject);

        Denial? denied = null;
        foreach (var policy in _policies)
        {
            if (!Matches(policy.Spec["matchConstraints"] as JsonObject, a, namespaceLabels, emptyRulesMatch: false))
            {
                continue;
            }

            foreach (var binding in _bindings.Where(b => b["spec"]?["policyName"]?.GetValue<string>() == policy.Name))
            {
                if (binding["spec"]?["matchResources"] is JsonObject bindingMatch && !Matches(bindingMatch, a, namespaceLabels, emptyRulesMatch: true))
                {
                    continue;
                }

                var bindingName = binding["metadata"]?["name"]?.GetValue<string>() ?? "";
                var actions = (binding["spec"]?["validationActions"] as JsonArray ?? [])
                    .Select(n => n?.GetValue<string>()).OfType<string>().ToList();
                foreach (var decision in policy.Validate(a, namespaceObject))
                {
                    if (actions.Contains("Deny"))
                    {
                        denied ??= new Denial(policy.Name, bindingName, decision);
                    }

                    if (actions.Contains("Warn"))
                    {
                        warnings.Add($"Validation failed for ValidatingAdmissionPolicy '{policy.Name}' with binding '{bindingName}': {decision.Message}");
                    }

                    // "Audit" writes an audit annotation on a real server; the test cluster keeps no audit log.
                }
            }
        }

        if (denied is not null)
        {
            throw Deny(a, denied);
        }
    }

    /// <summary>
    /// The status the dispatcher returns: admission.NewForbidden (resource "name" is forbidden: ...)
    /// with the reason of the denying validation (Invalid when it has none) and its code
    /// (reasonToCode: Forbidden 403, Unauthorized 401, RequestEntityTooLarge 413, else 422), and the
    /// message repeated as the one cause (dispatcher.go, policy_decision.go).
    /// </summary>
    private static ApiException Deny(AdmissionAttributes a, Denial denial)
    {
        var message = $"ValidatingAdmissionPolicy '{denial.Policy}' with binding '{denial.Binding}' denied request: {denial.Decision.Message}";
        var reason = denial.Decision.Reason is { Length: > 0 } r ? r : "Invalid";
        var code = reason switch
        {
            "Forbidden" => 403,
            "Unauthorized" => 401,
            "RequestEntityTooLarge" => 413,
            _ => 422,
        };
        // extractResourceName (k8s.io/apiserver/pkg/admission/errors.go): the request's name, else the
        // object's (a create with generateName: the generated one), else its generateName, else Unknown.
        var meta = a.NewObject?["metadata"];
        var name = new[] { a.Name, meta?["name"]?.GetValue<string>(), meta?["generateName"]?.GetValue<string>() }
            .FirstOrDefault(n => n is { Length: > 0 }) ?? "Unknown";
        var details = new JsonObject { ["name"] = name };
        if (a.Type.Group.Length > 0)
        {
            details["group"] = a.Type.Group;
        }

        details["kind"] = a.Type.Plural;
        details["causes"] = new JsonArray(new JsonObject { ["message"] = message });
        return new ApiException(code, reason, $"{a.Type.QualifiedPlural} \"{name}\" is forbidden: {message}", details);
    }

    /// <summary>
    /// matchConstraints (policy) or matchResources (binding): namespaceSelector, objectSelector,
    /// excludeResourceRules and resourceRules, as the generic matcher
    /// (k8s.io/apiserver/pkg/admission/plugin/policy/matching) applies them. A binding without
    /// resourceRules matches whatever its policy matches.
    /// </summary>
    private static bool Matches(JsonObject? match, AdmissionAttributes a, IReadOnlyDictionary<string, string>? namespaceLabels, bool emptyRulesMatch)
    {
        if (match is null)
        {
            return emptyRulesMatch;
        }

        // A cluster-scoped object other than a Namespace is never excluded by a namespaceSelector.
        var scoped = a.Type.Namespaced || a.Type == ResourceType.Namespaces;
        if (scoped && !SelectorMatches(match["namespaceSelector"] as JsonObject, namespaceLabels ?? new Dictionary<string, string>()))
        {
            return false;
        }

        var objectSelector = match["objectSelector"] as JsonObject;
        if (!SelectorMatches(objectSelector, Labels(a.NewObject)) && !SelectorMatches(objectSelector, Labels(a.OldObject)))
        {
            return false;
        }

        if ((match["excludeResourceRules"] as JsonArray ?? []).OfType<JsonObject>().Any(rule => RuleMatches(rule, a)))
        {
            return false;
        }

        var rules = (match["resourceRules"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        return rules.Count == 0 ? emptyRulesMatch : rules.Any(rule => RuleMatches(rule, a));
    }

    private static bool RuleMatches(JsonObject rule, AdmissionAttributes a)
    {
        static bool Has(JsonNode? list, string value) =>
            (list as JsonArray ?? []).Any(n => n?.GetValue<string>() is { } s && (s == "*" || s == value));

        // The test cluster serves no subresources, so "secrets", "*" and "*/*" match, "secrets/status" does not.
        var resources = (rule["resources"] as JsonArray ?? []).Select(n => n?.GetValue<string>()).ToList();
        var scope = rule["scope"]?.GetValue<string>() ?? "*";
        var names = rule["resourceNames"] as JsonArray;
        return Has(rule["operations"], a.Operation)
               && Has(rule["apiGroups"], a.Type.Group)
               && Has(rule["apiVersions"], a.Type.Version)
               && resources.Any(r => r == "*" || r == "*/*" || r == a.Type.Plural || r == a.Type.Plural + "/*")
               && (scope == "*" || (scope == "Namespaced") == a.Type.Namespaced)
               && (names is null || names.Count == 0 || names.Any(n => n?.GetValue<string>() == a.Name));
    }

    /// <summary>A metav1.LabelSelector; absent or empty selects everything.</summary>
    private static bool SelectorMatches(JsonObject? selector, IReadOnlyDictionary<string, string> labels)
    {
        if (selector is null)
        {
            return true;
        }

        foreach (var (key, value) in selector["matchLabels"] as JsonObject ?? [])
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value?.GetValue<string>())
            {
                return false;
            }
        }

        foreach (var requirement in (selector["matchExpressions"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var key = requirement["key"]?.GetValue<string>() ?? "";
            var values = (requirement["values"] as JsonArray ?? []).Select(v => v?.GetValue<string>()).ToList();
            var present = labels.TryGetValue(key, out var actual);
            var ok = requirement["operator"]?.GetValue<string>() switch
            {
                "In" => present && values.Contains(actual),
                "NotIn" => !present || !values.Contains(actual),
                "Exists" => present,
                "DoesNotExist" => !present,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static Dictionary<string, string> Labels(JsonObject? obj) =>
        (obj?["metadata"]?["labels"] as JsonObject ?? [])
        .ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? "", StringComparer.Ordinal);

    private sealed record Denial(string Policy, string Binding, Decision Decision);
}
