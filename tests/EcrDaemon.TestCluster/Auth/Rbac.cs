using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.TestCluster.Auth;

/// <summary>
/// The RBAC authorizer: Roles, ClusterRoles and their bindings loaded from multi-document YAML
/// (for example <c>helm template</c> output; other kinds in it are ignored). Rules match on
/// apiGroups, resources, verbs and resourceNames exactly as the real authorizer does, so a rule
/// restricted by resourceNames never allows create, and allows list/watch only for requests whose
/// <c>metadata.name</c> field selector names the object.
/// </summary>
public sealed class Rbac
{
    private readonly List<JsonObject> _roles = [];
    private readonly List<JsonObject> _clusterRoles = [];
    private readonly List<JsonObject> _roleBindings = [];
    private readonly List<JsonObject> _clusterRoleBindings = [];

    public static Rbac Empty { get; } = new();

    public int RuleCount => _roles.Concat(_clusterRoles).Sum(r => (r["rules"] as JsonArray)?.Count ?? 0);

    public static Rbac Load(string yaml)
    {
        var rbac = new Rbac();
        foreach (var doc in YamlJson.Documents(yaml))
        {
            if (doc is not JsonObject obj)
            {
                continue;
            }

            switch (obj["kind"]?.GetValue<string>())
            {
                case "Role":
                    rbac._roles.Add(obj);
                    break;
                case "ClusterRole":
                    rbac._clusterRoles.Add(obj);
                    break;
                case "RoleBinding":
                    rbac._roleBindings.Add(obj);
                    break;
                case "ClusterRoleBinding":
                    rbac._clusterRoleBindings.Add(obj);
                    break;
                default:
                    break;
            }
        }

        return rbac;
    }

    /// <summary>Null when allowed; otherwise the reason, in the real authorizer's words.</summary>
    public string? Deny(Identity identity, RequestAttributes request)
    {
        if (identity.IsAdmin || Allows(identity, request))
        {
            return null;
        }

        var where = request.Namespace.Length > 0 ? $"in the namespace \"{request.Namespace}\"" : "at the cluster scope";
        return $"User \"{identity.User}\" cannot {request.Verb} resource \"{request.Resource}\" in API group \"{request.Group}\" {where}";
    }

    private bool Allows(Identity identity, RequestAttributes request)
    {
        foreach (var binding in _clusterRoleBindings)
        {
            if (Binds(binding, identity, "") && RoleRules(binding, "").Any(r => RuleAllows(r, request)))
            {
                return true;
            }
        }

        if (request.Namespace.Length == 0)
        {
            return false;
        }

        foreach (var binding in _roleBindings)
        {
            var ns = binding["metadata"]?["namespace"]?.GetValue<string>() ?? "default";
            if (ns == request.Namespace && Binds(binding, identity, ns) && RoleRules(binding, ns).Any(r => RuleAllows(r, request)))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Binds(JsonObject binding, Identity identity, string bindingNamespace)
    {
        foreach (var subject in (binding["subjects"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var kind = subject["kind"]?.GetValue<string>();
            var name = subject["name"]?.GetValue<string>();
            var matched = kind switch
            {
                "ServiceAccount" => identity.User == $"system:serviceaccount:{subject["namespace"]?.GetValue<string>() ?? bindingNamespace}:{name}",
                "User" => identity.User == name,
                "Group" => identity.Groups.Contains(name ?? ""),
                _ => false,
            };
            if (matched)
            {
                return true;
            }
        }

        return false;
    }

    private IEnumerable<JsonObject> RoleRules(JsonObject binding, string ns)
    {
        var kind = binding["roleRef"]?["kind"]?.GetValue<string>();
        var name = binding["roleRef"]?["name"]?.GetValue<string>();
        var role = kind == "ClusterRole"
            ? _clusterRoles.FirstOrDefault(r => r["metadata"]?["name"]?.GetValue<string>() == name)
            : _roles.FirstOrDefault(r => r["metadata"]?["name"]?.GetValue<string>() == name
                                         && (r["metadata"]?["namespace"]?.GetValue<string>() ?? "default") == ns);
        return (role?["rules"] as JsonArray ?? []).OfType<JsonObject>();
    }

    private static bool RuleAllows(JsonObject rule, RequestAttributes request)
    {
        static bool Has(JsonNode? list, string value) =>
            (list as JsonArray ?? []).Any(n => n?.GetValue<string>() is { } s && (s == "*" || s == value));

        if (!Has(rule["apiGroups"], request.Group) || !Has(rule["resources"], request.Resource) || !Has(rule["verbs"], request.Verb))
        {
            return false;
        }

        var names = rule["resourceNames"] as JsonArray;
        return names is null || names.Count == 0 ||
               (request.Name.Length > 0 && names.Any(n => n?.GetValue<string>() == request.Name));
    }
}
