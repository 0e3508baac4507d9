using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// Object validation with the rules and messages of the real API server, for the fields the
/// resources served here carry. Returns field errors; the caller turns them into a 422.
/// </summary>
public static partial class Validation
{
    private const string Dns1123LabelMessage =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    private const string Dns1123SubdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    public static bool IsDns1123Label(string s) => s.Length is > 0 and <= 63 && Dns1123Label().IsMatch(s);

    public static bool IsDns1123Subdomain(string s) => s.Length is > 0 and <= 253 && Dns1123Subdomain().IsMatch(s);

    public static bool IsQualifiedName(string s)
    {
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        var name = slash >= 0 ? s[(slash + 1)..] : s;
        if (slash >= 0 && !IsDns1123Subdomain(s[..slash]))
        {
            return false;
        }

        return name.Length is > 0 and <= 63 && QualifiedNamePart().IsMatch(name);
    }

    public static bool IsLabelValue(string s) => s.Length == 0 || (s.Length <= 63 && QualifiedNamePart().IsMatch(s));

    public static List<FieldError> Validate(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var errors = new List<FieldError>();
        var meta = obj["metadata"] as JsonObject ?? new JsonObject();
        var name = meta["name"]?.GetValue<string>() ?? "";
        if (name.Length == 0)
        {
            errors.Add(FieldError.Required("metadata.name", "name or generateName is required"));
        }
        else if (type == ResourceType.Namespaces ? !IsDns1123Label(name) : !IsDns1123Subdomain(name))
        {
            errors.Add(FieldError.InvalidValue("metadata.name", name,
                type == ResourceType.Namespaces ? Dns1123LabelMessage : Dns1123SubdomainMessage));
        }

        ValidateLabels(meta["labels"] as JsonObject, errors);
        ValidateAnnotations(meta["annotations"] as JsonObject, errors);

        if (type == ResourceType.Secrets)
        {
            ValidateSecret(obj, old, errors);
        }
        else if (type == ResourceType.ServiceAccounts)
        {
            ValidateReferenceList(obj["imagePullSecrets"], "imagePullSecrets", errors);
            ValidateReferenceList(obj["secrets"], "secrets", errors);
        }

        return errors;
    }

    private static void ValidateLabels(JsonObject? labels, List<FieldError> errors)
    {
        if (labels is null)
        {
            return;
        }

        foreach (var (key, value) in labels)
        {
            if (!IsQualifiedName(key))
            {
                errors.Add(FieldError.InvalidValue("metadata.labels", key,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
            }

            var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (text is null || !IsLabelValue(text))
            {
                errors.Add(FieldError.InvalidValue("metadata.labels", text ?? value?.ToJsonString(),
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
            }
        }
    }

    private static void ValidateAnnotations(JsonObject? annotations, List<FieldError> errors)
    {
        if (annotations is null)
        {
            return;
        }

        long total = 0;
        foreach (var (key, value) in annotations)
        {
            if (!IsQualifiedName(key))
            {
                errors.Add(FieldError.InvalidValue("metadata.annotations", key,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }

            total += key.Length + (value is JsonValue v && v.TryGetValue<string>(out var s) ? s.Length : 0);
        }

        if (total > 256 * 1024)
        {
            errors.Add(FieldError.TooLong("metadata.annotations", "must have at most 262144 bytes"));
        }
    }

    private static void ValidateReferenceList(JsonNode? list, string field, List<FieldError> errors)
    {
        if (list is not JsonArray array)
        {
            return;
        }

        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject)
            {
                errors.Add(FieldError.InvalidValue($"{field}[{i}]", array[i]?.ToJsonString(), "must be an object"));
            }
        }
    }

    private static void ValidateSecret(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var type = obj["type"]?.GetValue<string>() ?? "Opaque";
        var data = obj["data"] as JsonObject;
        long size = 0;
        var decoded = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (data is not null)
        {
            foreach (var (key, value) in data)
            {
                if (key.Length == 0 || key.Length > 253 || !ConfigKey().IsMatch(key))
                {
                    errors.Add(FieldError.InvalidValue($"data[{key}]", key,
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                }

                // Base64 was checked when the body was decoded (a 400, as in the real server).
                var bytes = Convert.FromBase64String(value?.GetValue<string>() ?? "");
                decoded[key] = bytes;
                size += bytes.Length;
            }
        }

        if (size > 1024 * 1024)
        {
            errors.Add(FieldError.TooLong("data", "Too long: must have at most 1048576 bytes"));
        }

        switch (type)
        {
            case "kubernetes.io/dockerconfigjson":
                RequireJsonKey(decoded, ".dockerconfigjson", errors);
                break;
            case "kubernetes.io/dockercfg":
                RequireJsonKey(decoded, ".dockercfg", errors);
                break;
            case "kubernetes.io/basic-auth":
            case "Opaque":
            default:
                break;
        }

        if (old is not null)
        {
            var oldType = old["type"]?.GetValue<string>() ?? "Opaque";
            if (oldType != type)
            {
                errors.Add(FieldError.InvalidValue("type", type, "field is immutable"));
            }

            if (old["immutable"]?.GetValue<bool>() == true)
            {
                if (!JsonNode.DeepEquals(old["data"], obj["data"]))
                {
                    errors.Add(FieldError.Forbidden("data", "field is immutable when `immutable` is set"));
                }

                if (obj["immutable"]?.GetValue<bool>() != true)
                {
                    errors.Add(FieldError.Forbidden("immutable", "field is immutable when `immutable` is set"));
                }
            }
        }
    }

    private static void RequireJsonKey(Dictionary<string, byte[]> decoded, string key, List<FieldError> errors)
    {
        if (!decoded.TryGetValue(key, out var bytes))
        {
            errors.Add(FieldError.Required($"data[{key}]"));
            return;
        }

        try
        {
            using var _ = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            errors.Add(FieldError.InvalidValue($"data[{key}]", "<secret contents redacted>", e.Message));
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1123Label();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Dns1123Subdomain();

    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex QualifiedNamePart();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();
}
