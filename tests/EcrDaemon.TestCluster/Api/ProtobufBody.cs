using System.Text;
using System.Text.Json.Nodes;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// Decodes request bodies in the Kubernetes protobuf encoding (<c>application/vnd.kubernetes.protobuf</c>),
/// which kubectl's typed clients send for <c>create secret</c>, <c>create serviceaccount</c> and
/// <c>create namespace</c>. Supports the envelope (magic <c>k8s\0</c> + runtime.Unknown) and the
/// fields of Secret, ServiceAccount and Namespace (k8s.io/api/core/v1/generated.proto); other
/// kinds get 415. Responses are always JSON, which those clients also accept.
/// </summary>
public static class ProtobufBody
{
    public const string ContentType = "application/vnd.kubernetes.protobuf";

    private static readonly byte[] Magic = [0x6b, 0x38, 0x73, 0x00];

    public static JsonObject Decode(byte[] body, ResourceType type)
    {
        try
        {
            if (body.Length < 4 || !body.AsSpan(0, 4).SequenceEqual(Magic))
            {
                throw ApiException.BadRequest("the protobuf body does not start with the k8s\\0 magic prefix");
            }

            byte[]? raw = null;
            string? kind = null;
            foreach (var f in Fields(body.AsMemory(4)))
            {
                if (f.Number == 1)
                {
                    foreach (var t in Fields(f.Bytes))
                    {
                        if (t.Number == 2)
                        {
                            kind = t.Text;
                        }
                    }
                }
                else if (f.Number == 2)
                {
                    raw = f.Bytes.ToArray();
                }
            }

            if (kind != type.Kind || raw is null)
            {
                throw ApiException.UnsupportedMediaType($"{ContentType} (kind {kind ?? "<none>"}: the test cluster decodes protobuf only for Secret, ServiceAccount and Namespace)");
            }

            var obj = new JsonObject { ["kind"] = type.Kind, ["apiVersion"] = type.ApiVersion };
            foreach (var f in Fields(raw))
            {
                switch (type.Kind, f.Number)
                {
                    case (_, 1): obj["metadata"] = Metadata(f.Bytes); break;
                    case ("Secret", 2): MapEntry(obj, "data", f.Bytes, v => Convert.ToBase64String(v.Span)); break;
                    case ("Secret", 3): obj["type"] = f.Text; break;
                    case ("Secret", 4): MapEntry(obj, "stringData", f.Bytes, v => Encoding.UTF8.GetString(v.Span)); break;
                    case ("Secret", 5): obj["immutable"] = f.Varint != 0; break;
                    case ("ServiceAccount", 2): Append(obj, "secrets", ObjectReference(f.Bytes)); break;
                    case ("ServiceAccount", 3): Append(obj, "imagePullSecrets", LocalReference(f.Bytes)); break;
                    case ("ServiceAccount", 4): obj["automountServiceAccountToken"] = f.Varint != 0; break;
                    case ("Namespace", 2):
                        var spec = new JsonObject();
                        foreach (var s in Fields(f.Bytes).Where(s => s.Number == 1))
                        {
                            Append(spec, "finalizers", s.Text);
                        }

                        obj["spec"] = spec;
                        break;
                    default: break;
                }
            }

            return DropZeroValues(obj);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or FormatException)
        {
            throw ApiException.BadRequest($"{type.Kind} in version \"v1\" cannot be handled as a {type.Kind}: malformed protobuf body");
        }
    }

    // Go's protobuf encoding writes empty strings that JSON would omit; the server
    // treats them as unset, so they are dropped here.
    private static JsonObject DropZeroValues(JsonObject obj)
    {
        foreach (var (key, value) in obj.ToList())
        {
            switch (value)
            {
                case JsonObject child when key is not ("data" or "stringData" or "labels" or "annotations"):
                    DropZeroValues(child);
                    break;
                case JsonArray list:
                    foreach (var item in list.OfType<JsonObject>())
                    {
                        DropZeroValues(item);
                    }

                    break;
                case JsonValue v when v.TryGetValue<string>(out var s) && s.Length == 0:
                    obj.Remove(key);
                    break;
                default:
                    break;
            }
        }

        return obj;
    }

    private static JsonObject Metadata(ReadOnlyMemory<byte> bytes)
    {
        var meta = new JsonObject();
        foreach (var f in Fields(bytes))
        {
            switch (f.Number)
            {
                case 1: meta["name"] = f.Text; break;
                case 2: meta["generateName"] = f.Text; break;
                case 3: meta["namespace"] = f.Text; break;
                case 5: meta["uid"] = f.Text; break;
                case 6: meta["resourceVersion"] = f.Text; break;
                case 11: MapEntry(meta, "labels", f.Bytes, v => Encoding.UTF8.GetString(v.Span)); break;
                case 12: MapEntry(meta, "annotations", f.Bytes, v => Encoding.UTF8.GetString(v.Span)); break;
                case 14: Append(meta, "finalizers", f.Text); break;
                default: break;
            }
        }

        return meta;
    }

    private static JsonObject LocalReference(ReadOnlyMemory<byte> bytes) =>
        new() { ["name"] = Fields(bytes).Where(f => f.Number == 1).Select(f => f.Text).LastOrDefault() ?? "" };

    private static JsonObject ObjectReference(ReadOnlyMemory<byte> bytes)
    {
        string[] names = ["", "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"];
        var obj = new JsonObject();
        foreach (var f in Fields(bytes).Where(f => f.Number is >= 1 and <= 7))
        {
            obj[names[f.Number]] = f.Text;
        }

        return obj;
    }

    private static void MapEntry(JsonObject target, string field, ReadOnlyMemory<byte> entry, Func<ReadOnlyMemory<byte>, string> value)
    {
        string key = "";
        var v = "";
        foreach (var f in Fields(entry))
        {
            if (f.Number == 1)
            {
                key = f.Text;
            }
            else if (f.Number == 2)
            {
                v = value(f.Bytes);
            }
        }

        if (target[field] is not JsonObject map)
        {
            map = new JsonObject();
            target[field] = map;
        }

        map[key] = v;
    }

    private static void Append(JsonObject target, string field, JsonNode value)
    {
        if (target[field] is not JsonArray list)
        {
            list = [];
            target[field] = list;
        }

        list.Add(value);
    }

    private readonly record struct Field(int Number, ulong Varint, ReadOnlyMemory<byte> Bytes)
    {
        public string Text => Encoding.UTF8.GetString(Bytes.Span);
    }

    private static List<Field> Fields(ReadOnlyMemory<byte> buffer)
    {
        var fields = new List<Field>();
        var span = buffer.Span;
        var i = 0;
        while (i < span.Length)
        {
            var tag = ReadVarint(span, ref i);
            var number = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    fields.Add(new Field(number, ReadVarint(span, ref i), ReadOnlyMemory<byte>.Empty));
                    break;
                case 1:
                    i += 8;
                    break;
                case 2:
                    var length = (int)ReadVarint(span, ref i);
                    if (length < 0 || i + length > span.Length)
                    {
                        throw new FormatException("truncated field");
                    }

                    fields.Add(new Field(number, 0, buffer.Slice(i, length)));
                    i += length;
                    break;
                case 5:
                    i += 4;
                    break;
                default:
                    throw new FormatException($"unsupported wire type {tag & 7}");
            }
        }

        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int i)
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = span[i++];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new FormatException("varint too long");
    }
}
