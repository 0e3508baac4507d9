using System.Text.Json.Nodes;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// A failed request, rendered as the real API server's <c>Status</c> object
/// (kind Status, status Failure, a reason, a message, details and the HTTP code).
/// </summary>
public sealed class ApiException : Exception
{
    public ApiException(int code, string reason, string message, JsonObject? details = null, int? retryAfterSeconds = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Details = details;
        RetryAfterSeconds = retryAfterSeconds;
    }

    public int Code { get; }

    public string Reason { get; }

    public JsonObject? Details { get; }

    public int? RetryAfterSeconds { get; }

    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
        };
        if (Reason.Length > 0)
        {
            // metav1.Status.Reason is omitempty: an error the server did not classify has none.
            status["reason"] = Reason;
        }

        if (Details is not null)
        {
            status["details"] = Details.DeepClone();
        }

        status["code"] = Code;
        return status;
    }

    private static JsonObject NameDetails(ResourceType type, string? name)
    {
        var d = new JsonObject();
        if (name is not null)
        {
            d["name"] = name;
        }

        if (type.Group.Length > 0)
        {
            d["group"] = type.Group;
        }

        d["kind"] = type.Plural;
        return d;
    }

    public static ApiException NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{type.QualifiedPlural} \"{name}\" not found", NameDetails(type, name));

    public static ApiException AlreadyExists(ResourceType type, string name) =>
        new(409, "AlreadyExists", $"{type.QualifiedPlural} \"{name}\" already exists", NameDetails(type, name));

    public static ApiException Conflict(ResourceType type, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {type.QualifiedPlural} \"{name}\": {why}", NameDetails(type, name));

    public static ApiException StaleResourceVersion(ResourceType type, string name) =>
        Conflict(type, name, "the object has been modified; please apply your changes to the latest version and try again");

    public static ApiException Forbidden(ResourceType type, string? name, string why) =>
        new(403, "Forbidden",
            name is null ? $"{type.QualifiedPlural} is forbidden: {why}" : $"{type.QualifiedPlural} \"{name}\" is forbidden: {why}",
            NameDetails(type, name));

    public static ApiException NamespaceTerminating(ResourceType type, string? name, string ns)
    {
        var details = NameDetails(type, name);
        details["causes"] = new JsonArray(new JsonObject
        {
            ["reason"] = "NamespaceTerminating",
            ["message"] = $"namespace {ns} is being terminated",
            ["field"] = "metadata.namespace",
        });
        var prefix = name is null ? type.QualifiedPlural : $"{type.QualifiedPlural} \"{name}\"";
        return new ApiException(403, "Forbidden",
            $"{prefix} is forbidden: unable to create new content in namespace {ns} because it is being terminated", details);
    }

    public static ApiException Invalid(ResourceType type, string name, IReadOnlyList<FieldError> errors) =>
        Invalid(type.Group, type.Kind, name, errors);

    /// <summary>
    /// apimachinery's <c>errors.NewInvalid(qualifiedKind, name, errs)</c>: 422, reason Invalid, the
    /// message <c>Kind[.group] "name" is invalid: ...</c> and one cause per field error.
    /// </summary>
    public static ApiException Invalid(string group, string kind, string name, IReadOnlyList<FieldError> errors)
    {
        var causes = new JsonArray();
        foreach (var e in errors)
        {
            causes.Add(new JsonObject { ["reason"] = e.Reason, ["message"] = e.Message, ["field"] = e.Field });
        }

        // metav1.StatusDetails.Name is omitempty: an options object ("") has none.
        var details = new JsonObject();
        if (name.Length > 0)
        {
            details["name"] = name;
        }

        if (group.Length > 0)
        {
            details["group"] = group;
        }

        details["kind"] = kind;
        details["causes"] = causes;
        var text = errors.Count == 1
            ? errors[0].ToString()
            : "[" + string.Join(", ", errors.Select(e => e.ToString())) + "]";
        var qualifiedKind = group.Length > 0 ? $"{kind}.{group}" : kind;
        return new ApiException(422, "Invalid", $"{qualifiedKind} \"{name}\" is invalid: {text}", details);
    }

    /// <summary>The shape apiserver uses when a JSON patch cannot be applied (e.g. a failed <c>test</c> op).</summary>
    public static ApiException UnprocessablePatch(string serverMessage) =>
        new(422, "Invalid", "the server rejected our request due to an error in our request",
            new JsonObject
            {
                ["causes"] = new JsonArray(new JsonObject { ["reason"] = "UnexpectedServerResponse", ["message"] = serverMessage }),
            });

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException Expired(string message) => new(410, "Expired", message);

    /// <summary>
    /// storage.NewTooLargeResourceVersionError as the API server renders it: 504 Timeout with the
    /// cause ResourceVersionTooLarge (k8s.io/apiserver/pkg/storage/errors.go), and retryAfterSeconds
    /// only when non-zero (metav1.StatusDetails.RetryAfterSeconds is omitempty).
    /// </summary>
    public static ApiException TooLargeResourceVersion(ulong wanted, long current, int retryAfterSeconds)
    {
        // apierrors.NewTimeoutError prefixes its message with "Timeout: ".
        var message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Timeout: Too large resource version: {wanted}, current: {current}");
        var details = new JsonObject
        {
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ResourceVersionTooLarge", ["message"] = "Too large resource version" }),
        };
        if (retryAfterSeconds > 0)
        {
            details["retryAfterSeconds"] = retryAfterSeconds;
        }

        return new ApiException(504, "Timeout", message, details, retryAfterSeconds > 0 ? retryAfterSeconds : null);
    }

    public static ApiException Unauthorized() => new(401, "Unauthorized", "Unauthorized");

    public static ApiException MethodNotSupported(string resource, string verb) =>
        new(405, "MethodNotAllowed", $"{verb} is not supported on resources of kind \"{resource}\"");

    public static ApiException PathNotFound() =>
        new(404, "NotFound", "the server could not find the requested resource",
            new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["reason"] = "UnexpectedServerResponse", ["message"] = "404 page not found" }) });

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {contentType}; server-side apply is not implemented by the test cluster)");

    public static ApiException TooManyRequests(int retryAfterSeconds) =>
        new(429, "TooManyRequests", "Too many requests, please try again later.",
            new JsonObject { ["retryAfterSeconds"] = retryAfterSeconds }, retryAfterSeconds);

    public static ApiException Injected(int code, int? retryAfterSeconds)
    {
        return code switch
        {
            429 => TooManyRequests(retryAfterSeconds ?? 1),
            500 => new ApiException(500, "InternalError", "Internal error occurred: injected fault",
                new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["message"] = "injected fault" }) }),
            503 => new ApiException(503, "ServiceUnavailable", "the server is currently unable to handle the request", null, retryAfterSeconds),
            504 => new ApiException(504, "Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
            409 => new ApiException(409, "Conflict", "Operation cannot be fulfilled: injected conflict"),
            410 => Expired("too old resource version: injected"),
            403 => new ApiException(403, "Forbidden", "forbidden: injected fault"),
            404 => new ApiException(404, "NotFound", "the server could not find the requested resource (injected)"),
            _ => new ApiException(code, "InternalError", $"injected fault with status {code}"),
        };
    }
}

/// <summary>One field validation error, printed the way apimachinery's field.Error prints.</summary>
public sealed record FieldError(string Field, string Reason, string Detail, string? BadValue = null)
{
    public string Message => Reason switch
    {
        "FieldValueRequired" => "Required value" + (Detail.Length > 0 ? ": " + Detail : ""),
        "FieldValueForbidden" => "Forbidden: " + Detail,
        "FieldValueTooLong" => "Too long: " + Detail,
        "FieldValueDuplicate" => $"Duplicate value: \"{BadValue}\"",
        "FieldValueNotSupported" => $"Unsupported value: {QueryParameters.GoQuote(BadValue ?? "")}: {Detail}",
        // field.Error.ErrorBody prints a string value with %q.
        _ => $"Invalid value: {QueryParameters.GoQuote(BadValue ?? "")}: {Detail}",
    };

    public override string ToString() => $"{Field}: {Message}";

    public static FieldError Required(string field, string detail = "") => new(field, "FieldValueRequired", detail);

    public static FieldError InvalidValue(string field, string? value, string detail) => new(field, "FieldValueInvalid", detail, value);

    public static FieldError Forbidden(string field, string detail) => new(field, "FieldValueForbidden", detail);

    public static FieldError TooLong(string field, string detail) => new(field, "FieldValueTooLong", detail);

    /// <summary>field.NotSupported: the detail lists the supported values, each Go-quoted.</summary>
    public static FieldError NotSupported(string field, string value, IEnumerable<string> supported) =>
        new(field, "FieldValueNotSupported", "supported values: " + string.Join(", ", supported.Select(QueryParameters.GoQuote)), value);
}
