using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// The three patch types of the real API server: JSON merge patch (RFC 7386), JSON patch
/// (RFC 6902, including <c>test</c>), and strategic merge patch with the list semantics of the
/// fields the served resources carry.
/// </summary>
public static class Patches
{
    public const string MergePatch = "application/merge-patch+json";
    public const string JsonPatch = "application/json-patch+json";
    public const string StrategicMergePatch = "application/strategic-merge-patch+json";

    /// <summary>
    /// Lists that merge by key under a strategic merge patch (patchStrategy "merge" with a
    /// patchMergeKey). Every list not named here is atomic and is replaced whole, as
    /// <c>ServiceAccount.imagePullSecrets</c> is: it has no patch merge key in the real API.
    /// </summary>
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["ServiceAccount:secrets"] = "name",
        ["*:metadata.ownerReferences"] = "uid",
    };

    /// <summary>Primitive lists that merge as sets under a strategic merge patch.</summary>
    private static readonly HashSet<string> SetLists = new(StringComparer.Ordinal) { "*:metadata.finalizers" };

    /// <summary>Whether the server serves this patch Content-Type (anything else is 415).</summary>
    public static bool IsPatchType(string contentType) => contentType is MergePatch or JsonPatch or StrategicMergePatch;

    public static JsonObject Apply(string contentType, JsonObject original, string body, string kind)
    {
        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"error decoding patch: {e.Message}");
        }

        switch (contentType)
        {
            case MergePatch:
                if (patch is not JsonObject mp)
                {
                    throw ApiException.BadRequest("error decoding patch: a merge patch must be a JSON object");
                }

                return (JsonObject)Merge(original.DeepClone(), mp)!;
            case JsonPatch:
                if (patch is not JsonArray ops)
                {
                    throw ApiException.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
                }

                return ApplyJsonPatch(original, ops);
            case StrategicMergePatch:
                if (patch is not JsonObject sp)
                {
                    throw ApiException.BadRequest("error decoding patch: a strategic merge patch must be a JSON object");
                }

                return (JsonObject)Strategic((JsonObject)original.DeepClone(), sp, kind, "")!;
            default:
                throw ApiException.UnsupportedMediaType(contentType);
        }
    }

    // RFC 7386.
    private static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var existing = result[key];
                result.Remove(key);
                result[key] = Merge(existing?.DeepClone(), value);
            }
        }

        return result;
    }

    private static JsonObject? Strategic(JsonObject target, JsonObject patch, string kind, string path)
    {
        if (patch["$patch"]?.GetValue<string>() == "replace")
        {
            var replaced = (JsonObject)patch.DeepClone();
            replaced.Remove("$patch");
            return replaced;
        }

        if (patch["$patch"]?.GetValue<string>() == "delete")
        {
            return null;
        }

        var retainKeys = patch["$retainKeys"] as JsonArray;
        foreach (var (key, value) in patch)
        {
            if (key is "$patch" or "$retainKeys" || key.StartsWith("$setElementOrder/", StringComparison.Ordinal))
            {
                continue;
            }

            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (target[field] is JsonArray list && value is JsonArray remove)
                {
                    var drop = remove.Select(n => n?.ToJsonString()).ToHashSet();
                    var kept = list.Where(n => !drop.Contains(n?.ToJsonString())).Select(n => n?.DeepClone()).ToArray();
                    target[field] = new JsonArray(kept);
                }

                continue;
            }

            var fieldPath = path.Length == 0 ? key : $"{path}.{key}";
            if (value is null)
            {
                target.Remove(key);
                continue;
            }

            var existing = target[key];
            JsonNode? merged;
            if (value is JsonObject childPatch && existing is JsonObject childTarget)
            {
                merged = Strategic((JsonObject)childTarget.DeepClone(), childPatch, kind, fieldPath);
            }
            else if (value is JsonObject newChild)
            {
                merged = Strategic(new JsonObject(), newChild, kind, fieldPath);
            }
            else if (value is JsonArray listPatch)
            {
                merged = MergeList(existing as JsonArray, listPatch, kind, fieldPath,
                    patch[$"$setElementOrder/{key}"] as JsonArray);
            }
            else
            {
                merged = value.DeepClone();
            }

            target.Remove(key);
            if (merged is not null)
            {
                target[key] = merged;
            }
        }

        if (retainKeys is not null)
        {
            var keep = retainKeys.Select(k => k?.GetValue<string>()).ToHashSet();
            foreach (var key in target.Select(p => p.Key).ToList())
            {
                if (!keep.Contains(key))
                {
                    target.Remove(key);
                }
            }
        }

        return target;
    }

    private static JsonArray MergeList(JsonArray? existing, JsonArray patch, string kind, string path, JsonArray? order)
    {
        var mergeKey = MergeKeys.GetValueOrDefault($"{kind}:{path}") ?? MergeKeys.GetValueOrDefault($"*:{path}");
        if (mergeKey is not null)
        {
            var result = existing?.Select(n => n?.DeepClone()).ToList() ?? [];
            foreach (var item in patch)
            {
                if (item is not JsonObject itemObject)
                {
                    continue;
                }

                var key = itemObject[mergeKey]?.ToJsonString();
                var index = result.FindIndex(r => r is JsonObject ro && ro[mergeKey]?.ToJsonString() == key);
                if (itemObject["$patch"]?.GetValue<string>() == "delete")
                {
                    if (index >= 0)
                    {
                        result.RemoveAt(index);
                    }
                }
                else if (index >= 0)
                {
                    result[index] = Strategic((JsonObject)result[index]!, itemObject, kind, path);
                }
                else
                {
                    result.Add(itemObject.DeepClone());
                }
            }

            if (order is not null)
            {
                var rank = order.Select((o, i) => (Key: o?[mergeKey]?.ToJsonString(), i))
                    .Where(x => x.Key is not null).ToDictionary(x => x.Key!, x => x.i);
                result = result.Select((r, i) => (r, i))
                    .OrderBy(x => rank.TryGetValue(x.r?[mergeKey]?.ToJsonString() ?? "", out var k) ? k : int.MaxValue)
                    .ThenBy(x => x.i).Select(x => x.r).ToList();
            }

            return new JsonArray(result.ToArray());
        }

        if (SetLists.Contains($"*:{path}") || SetLists.Contains($"{kind}:{path}"))
        {
            var result = existing?.Select(n => n?.DeepClone()).ToList() ?? [];
            foreach (var item in patch)
            {
                if (!result.Any(r => r?.ToJsonString() == item?.ToJsonString()))
                {
                    result.Add(item?.DeepClone());
                }
            }

            return new JsonArray(result.ToArray());
        }

        // Atomic list: the patch replaces it.
        return (JsonArray)patch.DeepClone();
    }

    private static JsonObject ApplyJsonPatch(JsonObject original, JsonArray ops)
    {
        JsonNode doc = original.DeepClone();
        foreach (var opNode in ops)
        {
            if (opNode is not JsonObject op)
            {
                throw ApiException.BadRequest("json: cannot unmarshal into Go value of type jsonpatch.Operation");
            }

            var name = op["op"]?.GetValue<string>() ?? "";
            var path = op["path"]?.GetValue<string>() ?? throw ApiException.UnprocessablePatch($"missing path in {name} operation");
            switch (name)
            {
                case "add":
                    doc = Add(doc, path, RequireValue(op, name));
                    break;
                case "remove":
                    Remove(doc, path);
                    break;
                case "replace":
                    Remove(doc, path, "replace");
                    doc = Add(doc, path, RequireValue(op, name));
                    break;
                case "move":
                {
                    var from = op["from"]?.GetValue<string>() ?? throw ApiException.UnprocessablePatch("missing from in move operation");
                    var value = Get(doc, from) ?? throw ApiException.UnprocessablePatch($"move operation does not apply: doc is missing from path: {from}");
                    var moved = value.DeepClone();
                    Remove(doc, from);
                    doc = Add(doc, path, moved);
                    break;
                }

                case "copy":
                {
                    var from = op["from"]?.GetValue<string>() ?? throw ApiException.UnprocessablePatch("missing from in copy operation");
                    var value = Get(doc, from) ?? throw ApiException.UnprocessablePatch($"copy operation does not apply: doc is missing from path: {from}");
                    doc = Add(doc, path, value.DeepClone());
                    break;
                }

                case "test":
                {
                    var expected = op.ContainsKey("value") ? op["value"] : throw ApiException.UnprocessablePatch("missing value in test operation");
                    var actual = TryGet(doc, path, out var found);
                    if (!found || !JsonNode.DeepEquals(actual, expected))
                    {
                        throw ApiException.UnprocessablePatch($"testing value {path} failed: test failed");
                    }

                    break;
                }

                default:
                    throw ApiException.UnprocessablePatch($"Unexpected kind: {name}");
            }
        }

        return doc as JsonObject ?? throw ApiException.UnprocessablePatch("the patched document is not an object");
    }

    private static JsonNode? RequireValue(JsonObject op, string name) =>
        op.ContainsKey("value") ? op["value"]?.DeepClone() : throw ApiException.UnprocessablePatch($"missing value in {name} operation");

    private static string[] Tokens(string pointer)
    {
        if (pointer.Length == 0)
        {
            return [];
        }

        if (pointer[0] != '/')
        {
            throw ApiException.UnprocessablePatch($"JSON pointer must be empty or start with a \"/\": {pointer}");
        }

        return pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
    }

    private static JsonNode? TryGet(JsonNode doc, string pointer, out bool found)
    {
        JsonNode? node = doc;
        foreach (var token in Tokens(pointer))
        {
            switch (node)
            {
                case JsonObject o when o.TryGetPropertyValue(token, out var child):
                    node = child;
                    break;
                case JsonArray a when int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count:
                    node = a[i];
                    break;
                default:
                    found = false;
                    return null;
            }
        }

        found = true;
        return node;
    }

    private static JsonNode? Get(JsonNode doc, string pointer) => TryGet(doc, pointer, out _);

    private static (JsonNode Parent, string Last) Parent(JsonNode doc, string pointer, string op)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            throw ApiException.UnprocessablePatch($"{op} operation does not apply: cannot {op} the root");
        }

        var parent = TryGet(doc, "/" + string.Join('/', tokens[..^1].Select(t => t.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal))), out var found);
        if (tokens.Length == 1)
        {
            (parent, found) = (doc, true);
        }

        if (!found || parent is null)
        {
            throw ApiException.UnprocessablePatch($"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value");
        }

        return (parent, tokens[^1]);
    }

    private static JsonNode Add(JsonNode doc, string pointer, JsonNode? value)
    {
        if (pointer.Length == 0)
        {
            return value ?? throw ApiException.UnprocessablePatch("add operation does not apply: cannot replace the document with null");
        }

        var (parent, last) = Parent(doc, pointer, "add");
        switch (parent)
        {
            case JsonObject o:
                o.Remove(last);
                o[last] = value;
                break;
            case JsonArray a:
                if (last == "-")
                {
                    a.Add(value);
                }
                else if (int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i <= a.Count)
                {
                    a.Insert(i, value);
                }
                else
                {
                    throw ApiException.UnprocessablePatch($"add operation does not apply: doc is missing path: \"{pointer}\": index out of range");
                }

                break;
            default:
                throw ApiException.UnprocessablePatch($"add operation does not apply: doc is missing path: \"{pointer}\": missing value");
        }

        return doc;
    }

    private static void Remove(JsonNode doc, string pointer, string op = "remove")
    {
        var (parent, last) = Parent(doc, pointer, op);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < a.Count:
                a.RemoveAt(i);
                break;
            default:
                throw ApiException.UnprocessablePatch($"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value");
        }
    }
}
