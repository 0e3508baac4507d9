using System.Text.Json.Nodes;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// Just enough OpenAPI v3 for kubectl: the <c>/openapi/v3</c> index and one document per
/// group/version listing each resource's PATCH operation with its
/// <c>x-kubernetes-group-version-kind</c> and the <c>fieldValidation</c> parameter. From that,
/// kubectl learns that the server validates fields itself (as every real server since 1.27 does)
/// and does not need schemas to validate on the client. The documents carry no schemas, so
/// <c>kubectl apply</c> computes its patches from its compiled-in types, and <c>kubectl explain</c>
/// has nothing to show.
/// </summary>
public static class OpenApi
{
    public static JsonObject Index()
    {
        var paths = new JsonObject();
        foreach (var gv in ResourceType.All.Select(GroupVersionPath).Distinct())
        {
            paths[gv] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{gv}?hash=testcluster" };
        }

        return new JsonObject { ["paths"] = paths };
    }

    public static JsonObject? Document(string groupVersionPath)
    {
        var types = ResourceType.All.Where(t => GroupVersionPath(t) == groupVersionPath).ToList();
        if (types.Count == 0)
        {
            return null;
        }

        var paths = new JsonObject();
        foreach (var t in types)
        {
            var item = t.Namespaced
                ? $"/{groupVersionPath}/namespaces/{{namespace}}/{t.Plural}/{{name}}"
                : $"/{groupVersionPath}/{t.Plural}/{{name}}";
            paths[item] = new JsonObject
            {
                ["patch"] = new JsonObject
                {
                    ["operationId"] = $"patch{t.Kind}",
                    ["x-kubernetes-action"] = "patch",
                    ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
                    ["parameters"] = new JsonArray(
                        Query("fieldValidation"), Query("fieldManager"), Query("dryRun"), Query("force")),
                    ["requestBody"] = new JsonObject
                    {
                        ["content"] = new JsonObject
                        {
                            [Patches.JsonPatch] = new JsonObject { ["schema"] = new JsonObject() },
                            [Patches.MergePatch] = new JsonObject { ["schema"] = new JsonObject() },
                        },
                    },
                    ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
                },
            };
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes (EcrDaemon test cluster)", ["version"] = "v1.32.0" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }

    private static JsonObject Query(string name) =>
        new() { ["name"] = name, ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } };

    private static string GroupVersionPath(ResourceType t) => t.Group.Length == 0 ? $"api/{t.Version}" : $"apis/{t.Group}/{t.Version}";
}
