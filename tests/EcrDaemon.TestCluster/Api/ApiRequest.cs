using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// A resource request, resolved from method, path and query the way the real server's
/// RequestInfo does: <c>/api/v1/namespaces/{ns}/secrets/{name}</c>,
/// <c>/apis/{group}/{version}/...</c>, and the verb (get, list, watch, create, update, patch,
/// delete, deletecollection).
/// </summary>
public sealed record ApiRequest(ResourceType Type, string Namespace, string? Name, string? Subresource, string Verb)
{
    /// <summary>Null when the path is not a resource path of a served resource.</summary>
    public static ApiRequest? Parse(string method, string[] segments, IQueryCollection query)
    {
        string group, version;
        string[] rest;
        if (segments.Length >= 3 && segments[0] == "api")
        {
            (group, version, rest) = ("", segments[1], segments[2..]);
        }
        else if (segments.Length >= 4 && segments[0] == "apis")
        {
            (group, version, rest) = (segments[1], segments[2], segments[3..]);
        }
        else
        {
            return null;
        }

        ResourceType? type;
        string ns = "";
        if (rest.Length >= 3 && rest[0] == "namespaces" && ResourceType.Find(group, version, rest[2]) is { Namespaced: true } namespaced)
        {
            (type, ns, rest) = (namespaced, rest[1], rest[2..]);
        }
        else
        {
            type = ResourceType.Find(group, version, rest[0]);
        }

        if (type is null || rest.Length > 3)
        {
            return null;
        }

        var name = rest.Length > 1 ? rest[1] : null;
        var sub = rest.Length > 2 ? rest[2] : null;
        // As kube-apiserver parses a boolean: "0" or "false" (any case) is false, anything else present is true.
        var watch = query["watch"].Count > 0
                    && query["watch"][0] is { } w && w != "0" && !string.Equals(w, "false", StringComparison.OrdinalIgnoreCase);
        var verb = method switch
        {
            "GET" when name is null => watch ? "watch" : "list",
            "GET" => "get",
            "POST" when name is null => "create",
            "PUT" when name is not null => "update",
            "PATCH" when name is not null => "patch",
            "DELETE" when name is null => "deletecollection",
            "DELETE" => "delete",
            _ => method.ToLower(CultureInfo.InvariantCulture),
        };
        return new ApiRequest(type, ns, name, sub, verb);
    }
}
