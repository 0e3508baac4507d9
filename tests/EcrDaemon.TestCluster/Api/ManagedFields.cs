using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// The <c>fieldManager</c> of a create, update or patch, as kube-apiserver reads it. Sources
/// (kubernetes 1.32): <c>ValidateFieldManager</c> in k8s.io/apimachinery/pkg/apis/meta/v1/validation
/// (at most 128 bytes, every rune printable by Go's <c>unicode.IsPrint</c>), called by
/// <c>ValidateCreateOptions</c>, <c>ValidateUpdateOptions</c> and <c>ValidatePatchOptions</c>; the
/// handlers wrap the errors in <c>errors.NewInvalid(meta.k8s.io/CreateOptions|UpdateOptions|PatchOptions, "")</c>.
/// An absent (or empty) fieldManager is <c>managerOrUserAgent</c> in
/// k8s.io/apiserver/pkg/endpoints/handlers/create.go: the User-Agent up to its first '/', without
/// non-printable runes, cut at 128 bytes.
/// </summary>
public static class FieldManager
{
    public const int MaxLength = 128;

    /// <summary>The query parameter's field errors (empty when valid). The message is field.TooLong of apimachinery 0.32.</summary>
    public static IReadOnlyList<FieldError> Validate(string fieldManager)
    {
        var errors = new List<FieldError>();
        if (Encoding.UTF8.GetByteCount(fieldManager) > MaxLength)
        {
            errors.Add(FieldError.TooLong("fieldManager", $"may not be more than {MaxLength} bytes"));
        }

        // Go ranges over the string by rune; the position is the rune's byte offset.
        var offset = 0;
        foreach (var rune in fieldManager.EnumerateRunes())
        {
            if (!IsPrint(rune))
            {
                errors.Add(FieldError.InvalidValue("fieldManager", fieldManager,
                    string.Create(CultureInfo.InvariantCulture, $"invalid character U+{rune.Value:X4} (at position {offset})")));
            }

            offset += rune.Utf8SequenceLength;
        }

        return errors;
    }

    /// <summary>The manager of a write that names none: <c>prefixFromUserAgent</c>.</summary>
    public static string FromUserAgent(string userAgent)
    {
        var prefix = userAgent.Split('/')[0];
        var result = new StringBuilder();
        var bytes = 0;
        foreach (var rune in prefix.EnumerateRunes())
        {
            if (!IsPrint(rune))
            {
                continue;
            }

            if (bytes + rune.Utf8SequenceLength > MaxLength)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            result.Append(rune.ToString());
        }

        return result.ToString();
    }

    /// <summary>
    /// The manager a write is recorded under: the fieldManager parameter, else the User-Agent's
    /// prefix. Null for a verb that records none.
    /// </summary>
    public static string? Of(string verb, string fieldManager, string userAgent) =>
        verb is "create" or "update" or "patch"
            ? fieldManager.Length > 0 ? fieldManager : FromUserAgent(userAgent)
            : null;

    /// <summary>Go's <c>unicode.IsPrint</c>: letters, marks, numbers, punctuation, symbols and the ASCII space.</summary>
    internal static bool IsPrint(Rune rune) =>
        rune.Value == ' ' || Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => true,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => true,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => true,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => true,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol => true,
            _ => false,
        };
}

/// <summary>
/// <c>metadata.managedFields</c> for non-apply writes, as the API server's field manager keeps them
/// (k8s.io/apimachinery/pkg/util/managedfields/internal and sigs.k8s.io/structured-merge-diff):
/// <list type="bullet">
/// <item>The base is the request object's managedFields when they decode and are not empty; an
/// empty list (<c>[]</c>) or a single empty entry (<c>[{}]</c>) resets them; otherwise (absent,
/// or undecodable) the live object's are kept, so clients unaware of the field cannot drop it.</item>
/// <item>The write is compared with the live object (a create with an empty object): the fields it
/// added or changed go to its manager's entry (one per manager, operation <c>Update</c>,
/// apiVersion and subresource), whose <c>time</c> is then now; they and the fields it removed
/// leave every other entry; an entry left empty is dropped. A write that changes nothing
/// touches no entry.</item>
/// <item>apiVersion, kind and metadata's name, namespace, uid, resourceVersion, generation,
/// creationTimestamp, selfLink and managedFields are never owned; nor is a Namespace's spec or
/// status (status is reset by its strategy, spec.finalizers set after the field manager runs).</item>
/// <item>Maps and structs are granular (<c>f:name</c>, with <c>"."</c> when the write created the map
/// itself); lists are atomic except <c>metadata.ownerReferences</c> (by uid), <c>metadata.finalizers</c>
/// (a set) and <c>ServiceAccount.secrets</c> (by name); ObjectReference values are atomic.</item>
/// <item>At most 10 Update entries: the oldest are merged into <c>ancient-changes</c>.</item>
/// </list>
/// </summary>
internal static class ManagedFields
{
    private const int MaxUpdateManagers = 10;
    private const char Separator = '\u0000';

    private static readonly JsonSerializerOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly HashSet<string> StrippedMetadata = new(StringComparer.Ordinal)
    {
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation", "managedFields", "resourceVersion",
    };

    // Lists that are not atomic, by "Kind:path" ("*" for every kind): a merge key, or null for a set.
    private static readonly Dictionary<string, string?> AssociativeLists = new(StringComparer.Ordinal)
    {
        ["*:metadata.ownerReferences"] = "uid",
        ["*:metadata.finalizers"] = null,
        ["ServiceAccount:secrets"] = "name",
    };

    // ObjectReference is +structType=atomic.
    private static readonly HashSet<string> AtomicStructs = new(StringComparer.Ordinal)
    {
        "Event:involvedObject", "Event:related", "ServiceAccount:secrets[]",
    };

    /// <summary>
    /// Sets <paramref name="obj"/>'s managedFields for a write by <paramref name="manager"/>;
    /// <paramref name="live"/> is the stored object, null on a create.
    /// </summary>
    public static void Record(ResourceType type, JsonObject? live, JsonObject obj, string manager, DateTimeOffset now)
    {
        var meta = (JsonObject)obj["metadata"]!;
        var sent = meta["managedFields"];
        List<Entry> entries;
        if (IsReset(sent))
        {
            entries = [];
        }
        else if (Decode(sent) is { Count: > 0 } fromRequest)
        {
            entries = fromRequest;
        }
        else
        {
            entries = Decode(live?["metadata"]?["managedFields"]) ?? [];
        }

        meta.Remove("managedFields");
        var comparison = new Comparison();
        CompareObject(type, live ?? Skeleton(type), obj, comparison);
        var changed = new HashSet<string>(comparison.Added, StringComparer.Ordinal);
        changed.UnionWith(comparison.Modified);

        foreach (var entry in entries)
        {
            entry.Fields.ExceptWith(changed);
            entry.Fields.ExceptWith(comparison.Removed);
        }

        entries.RemoveAll(e => e.Fields.Count == 0);
        if (changed.Count > 0)
        {
            var self = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Update" && e.ApiVersion == type.ApiVersion && e.Subresource.Length == 0);
            if (self is null)
            {
                self = new Entry(manager, "Update", type.ApiVersion, null, "", new HashSet<string>(StringComparer.Ordinal));
                entries.Add(self);
            }

            self.Fields.UnionWith(changed);
            self.Time = Operations.Timestamp(now);
        }

        entries = CapUpdateManagers(entries);
        if (entries.Count == 0)
        {
            return;
        }

        entries.Sort(CompareEntries);
        meta["managedFields"] = new JsonArray(entries.Select(e => (JsonNode)e.Encode()).ToArray());
    }

    // The object a create is compared with: the Go zero value of the kind, whose value-typed struct fields are present and empty.
    private static JsonObject Skeleton(ResourceType type)
    {
        var o = new JsonObject { ["metadata"] = new JsonObject() };
        if (type.Kind == "Event")
        {
            o["involvedObject"] = new JsonObject();
            o["source"] = new JsonObject();
        }
        else if (type.Kind == "Lease")
        {
            o["spec"] = new JsonObject();
        }

        return o;
    }

    // fieldmanager.go isResetManagedFields: a non-nil empty list, or one entry equal to the zero entry.
    private static bool IsReset(JsonNode? node) =>
        node is JsonArray array && (array.Count == 0
            || (array.Count == 1 && array[0] is JsonObject only && only.All(p => p.Value is null || (p.Value is JsonValue v && v.TryGetValue<string>(out var s) && s.Length == 0))));

    private static List<Entry>? Decode(JsonNode? node)
    {
        if (node is not JsonArray array)
        {
            return null;
        }

        var entries = new List<Entry>();
        foreach (var item in array)
        {
            if (item is not JsonObject e)
            {
                return null;
            }

            var operation = Text(e, "operation");
            var apiVersion = Text(e, "apiVersion");
            if (operation is not ("Apply" or "Update") || apiVersion.Length == 0 || Text(e, "fieldsType") != "FieldsV1")
            {
                return null;
            }

            string? time = null;
            if (e["time"] is JsonNode t)
            {
                if (t is not JsonValue tv || !tv.TryGetValue<string>(out var text)
                    || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                {
                    return null;
                }

                time = Operations.Timestamp(parsed);
            }

            var fields = new HashSet<string>(StringComparer.Ordinal);
            if (e["fieldsV1"] is JsonNode f && !ReadFields(f, "", fields))
            {
                return null;
            }

            var entry = new Entry(Text(e, "manager"), operation, apiVersion, time, Text(e, "subresource"), fields);
            // Entries with the same identity: the later one wins, as in the decoded map.
            entries.RemoveAll(x => x.Id == entry.Id);
            entries.Add(entry);
        }

        return entries;
    }

    private static string Text(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";

    // FieldsV1 → paths (fieldpath.SetFromJSON): keys are "." or f:/k:/v:/i: path elements.
    private static bool ReadFields(JsonNode node, string path, HashSet<string> into)
    {
        if (node is not JsonObject o)
        {
            return false;
        }

        foreach (var (key, child) in o)
        {
            if (key == ".")
            {
                if (path.Length > 0)
                {
                    into.Add(path);
                }

                continue;
            }

            if (Canonical(key) is not { } element || child is not JsonObject childObject)
            {
                return false;
            }

            var childPath = path.Length == 0 ? element : path + Separator + element;
            if (childObject.Count == 0)
            {
                into.Add(childPath);
            }
            else if (!ReadFields(childObject, childPath, into))
            {
                return false;
            }
        }

        return true;
    }

    // A path element in its canonical form (keys with their fields sorted), or null when malformed.
    private static string? Canonical(string element)
    {
        if (element.Length < 2 || element[1] != ':')
        {
            return null;
        }

        var body = element[2..];
        try
        {
            switch (element[0])
            {
                case 'f':
                    return element;
                case 'k':
                    if (JsonNode.Parse(body) is not JsonObject key || key.Count == 0)
                    {
                        return null;
                    }

                    return "k:" + KeyJson(key.Select(p => (p.Key, p.Value)));
                case 'v':
                    return "v:" + (JsonNode.Parse(body)?.ToJsonString(CompactJson) ?? "null");
                case 'i':
                    return int.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? element : null;
                default:
                    return null;
            }
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string KeyJson(IEnumerable<(string Name, JsonNode? Value)> fields)
    {
        var o = new JsonObject();
        foreach (var (name, value) in fields.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            o[name] = value?.DeepClone();
        }

        return o.ToJsonString(CompactJson);
    }

    private sealed class Comparison
    {
        public HashSet<string> Added { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Modified { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Removed { get; } = new(StringComparer.Ordinal);
    }

    private static void CompareObject(ResourceType type, JsonObject live, JsonObject obj, Comparison c)
    {
        foreach (var key in Keys(live, obj))
        {
            if (key is "apiVersion" or "kind" || (type == ResourceType.Namespaces && key is "spec" or "status"))
            {
                continue;
            }

            if (key == "metadata")
            {
                var lm = live["metadata"] as JsonObject ?? new JsonObject();
                var rm = obj["metadata"] as JsonObject ?? new JsonObject();
                foreach (var field in Keys(lm, rm).Where(k => !StrippedMetadata.Contains(k)))
                {
                    Compare(type.Kind, "metadata." + field, "f:metadata" + Separator + "f:" + field, lm[field], rm[field], c);
                }

                continue;
            }

            Compare(type.Kind, key, "f:" + key, live[key], obj[key], c);
        }
    }

    private static IEnumerable<string> Keys(JsonObject? a, JsonObject? b) =>
        (a?.Select(p => p.Key) ?? []).Concat(b?.Select(p => p.Key) ?? []).Distinct(StringComparer.Ordinal);

    // typed/compare.go: maps and associative lists descend, everything else is a leaf; a map or
    // list that only one side has is itself added or removed.
    private static void Compare(string kind, string schemaPath, string path, JsonNode? lhs, JsonNode? rhs, Comparison c)
    {
        lhs = lhs?.GetValueKind() == JsonValueKind.Null ? null : lhs;
        rhs = rhs?.GetValueKind() == JsonValueKind.Null ? null : rhs;
        if (lhs is null && rhs is null)
        {
            return;
        }

        var leaf = true;
        if ((lhs ?? rhs) is JsonObject && lhs is null or JsonObject && rhs is null or JsonObject && !Is(AtomicStructs, kind, schemaPath))
        {
            var l = (JsonObject?)lhs;
            var r = (JsonObject?)rhs;
            if ((l?.Count ?? 0) > 0 || (r?.Count ?? 0) > 0)
            {
                leaf = false;
                foreach (var key in Keys(l, r))
                {
                    Compare(kind, schemaPath + "." + key, path + Separator + "f:" + key, l?[key], r?[key], c);
                }
            }
        }
        else if ((lhs ?? rhs) is JsonArray && lhs is null or JsonArray && rhs is null or JsonArray
                 && ListKey(kind, schemaPath, out var mergeKey))
        {
            var l = Items((JsonArray?)lhs, mergeKey);
            var r = Items((JsonArray?)rhs, mergeKey);
            if (l.Count > 0 || r.Count > 0)
            {
                leaf = false;
                foreach (var element in l.Keys.Concat(r.Keys).Distinct(StringComparer.Ordinal))
                {
                    Compare(kind, schemaPath + "[]", path + Separator + element, l.GetValueOrDefault(element), r.GetValueOrDefault(element), c);
                }
            }
        }

        if (leaf)
        {
            if (lhs is null)
            {
                c.Added.Add(path);
            }
            else if (rhs is null)
            {
                c.Removed.Add(path);
            }
            else if (!JsonNode.DeepEquals(lhs, rhs))
            {
                c.Modified.Add(path);
            }
        }
        else if (lhs is null)
        {
            c.Added.Add(path);
        }
        else if (rhs is null)
        {
            c.Removed.Add(path);
        }
    }

    private static bool Is(HashSet<string> table, string kind, string schemaPath) =>
        table.Contains(kind + ":" + schemaPath) || table.Contains("*:" + schemaPath);

    private static bool ListKey(string kind, string schemaPath, out string? mergeKey) =>
        AssociativeLists.TryGetValue(kind + ":" + schemaPath, out mergeKey) || AssociativeLists.TryGetValue("*:" + schemaPath, out mergeKey);

    // The items of an associative list by path element (k:{"name":...} or v:...); the first of duplicates.
    private static Dictionary<string, JsonNode?> Items(JsonArray? list, string? mergeKey)
    {
        var items = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var item in list ?? [])
        {
            string element;
            if (mergeKey is null)
            {
                element = "v:" + (item?.ToJsonString(CompactJson) ?? "null");
            }
            else if (item is JsonObject o && o[mergeKey] is { } key)
            {
                element = "k:" + KeyJson([(mergeKey, key)]);
            }
            else
            {
                continue;
            }

            items.TryAdd(element, item);
        }

        return items;
    }

    // capmanagers.go: beyond 10 Update entries, the oldest merge into "ancient-changes" per apiVersion.
    private static List<Entry> CapUpdateManagers(List<Entry> entries)
    {
        var updaters = entries.Where(e => e.Operation != "Apply").ToList();
        if (updaters.Count <= MaxUpdateManagers)
        {
            return entries;
        }

        updaters.Sort((a, b) => a.Seconds != b.Seconds ? a.Seconds.CompareTo(b.Seconds) : string.CompareOrdinal(a.Id, b.Id));
        var firstOfVersion = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var length = updaters.Count;
        for (var i = 0; i < updaters.Count && length > MaxUpdateManagers; i++)
        {
            var entry = updaters[i];
            if (!firstOfVersion.TryGetValue(entry.ApiVersion, out var first))
            {
                firstOfVersion[entry.ApiVersion] = entry;
                continue;
            }

            var bucket = entries.FirstOrDefault(e => e.Manager == "ancient-changes" && e.Operation == "Update" && e.ApiVersion == entry.ApiVersion && e.Subresource.Length == 0);
            if (bucket is null)
            {
                // The bucket takes over the first (oldest) entry's fields.
                entries.Remove(first);
                bucket = new Entry("ancient-changes", "Update", entry.ApiVersion, first.Time, "", first.Fields);
                entries.Add(bucket);
            }
            else if (ReferenceEquals(bucket, entry))
            {
                continue;
            }

            bucket.Fields.UnionWith(entry.Fields);
            bucket.Time = entry.Time;
            entries.Remove(entry);
            length--;
        }

        return entries;
    }

    // managedfields.go sortEncodedManagedFields.
    private static int CompareEntries(Entry p, Entry q)
    {
        var c = string.CompareOrdinal(p.Operation, q.Operation);
        if (c == 0)
        {
            c = p.Seconds.CompareTo(q.Seconds);
        }

        if (c == 0)
        {
            c = string.CompareOrdinal(p.Manager, q.Manager);
        }

        if (c == 0)
        {
            c = string.CompareOrdinal(p.ApiVersion, q.ApiVersion);
        }

        return c != 0 ? c : string.CompareOrdinal(p.Subresource, q.Subresource);
    }

    private sealed class Entry(string manager, string operation, string apiVersion, string? time, string subresource, HashSet<string> fields)
    {
        public string Manager { get; } = manager;

        public string Operation { get; } = operation;

        public string ApiVersion { get; } = apiVersion;

        public string? Time { get; set; } = time;

        public string Subresource { get; } = subresource;

        public HashSet<string> Fields { get; } = fields;

        // BuildManagerIdentifier: an Apply entry is the same manager whatever its apiVersion.
        public string Id => string.Join(Separator, Manager, Operation, Operation == "Apply" ? "" : ApiVersion, Subresource);

        public long Seconds => Time is not null && DateTimeOffset.TryParse(Time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t.ToUnixTimeSeconds()
            : 0;

        // metav1.ManagedFieldsEntry, its fields in Go's order and omitempty.
        public JsonObject Encode()
        {
            var o = new JsonObject();
            if (Manager.Length > 0)
            {
                o["manager"] = Manager;
            }

            o["operation"] = Operation;
            o["apiVersion"] = ApiVersion;
            if (Time is not null)
            {
                o["time"] = Time;
            }

            o["fieldsType"] = "FieldsV1";
            o["fieldsV1"] = EncodeFields(Fields);
            if (Subresource.Length > 0)
            {
                o["subresource"] = Subresource;
            }

            return o;
        }
    }

    private sealed class Node
    {
        public bool Member { get; set; }

        public SortedDictionary<string, Node> Children { get; } = new(ElementOrder.Instance);
    }

    // fieldpath serialize.go emitContentsV1: "." first when the path itself is a member, then the
    // elements in PathElement order.
    private static JsonObject EncodeFields(HashSet<string> paths)
    {
        var root = new Node();
        foreach (var path in paths)
        {
            var node = root;
            foreach (var element in path.Split(Separator))
            {
                if (!node.Children.TryGetValue(element, out var child))
                {
                    child = new Node();
                    node.Children[element] = child;
                }

                node = child;
            }

            node.Member = true;
        }

        return Emit(root, includeSelf: false);
    }

    private static JsonObject Emit(Node node, bool includeSelf)
    {
        var o = new JsonObject();
        if (includeSelf && node.Member && node.Children.Count > 0)
        {
            o["."] = new JsonObject();
        }

        foreach (var (element, child) in node.Children)
        {
            o[element] = Emit(child, includeSelf: true);
        }

        return o;
    }

    // PathElement.Compare: field names, then keys, then values, then indexes.
    private sealed class ElementOrder : IComparer<string>
    {
        public static readonly ElementOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            var rx = Rank(x![0]);
            var ry = Rank(y![0]);
            if (rx != ry)
            {
                return rx.CompareTo(ry);
            }

            if (rx == 3 && int.TryParse(x.AsSpan(2), CultureInfo.InvariantCulture, out var ix) && int.TryParse(y.AsSpan(2), CultureInfo.InvariantCulture, out var iy))
            {
                return ix.CompareTo(iy);
            }

            return string.CompareOrdinal(x, y);
        }

        private static int Rank(char c) => c switch
        {
            'f' => 0,
            'k' => 1,
            'v' => 2,
            _ => 3,
        };
    }
}
