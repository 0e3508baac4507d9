using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// Query values decoded the way kube-apiserver decodes them into its option structs
/// (ListOptions, DeleteOptions, PatchOptions). The server's parameter codec converts each value
/// with k8s.io/apimachinery/pkg/runtime/conversion.go; only the first value of a repeated
/// parameter counts, and parameters it does not know are ignored.
/// </summary>
public static class QueryParameters
{
    /// <summary>
    /// The raw query string parsed as Go's <c>url.ParseQuery</c> parses it for <c>req.URL.Query()</c>:
    /// keys are case-sensitive (<c>url.Values</c> is a <c>map[string][]string</c>, so <c>Watch</c> and
    /// <c>LIMIT</c> are unknown parameters, not <c>watch</c> and <c>limit</c>), pairs are split on '&amp;'
    /// only, a pair containing ';' or a malformed %-escape is dropped (Query() ignores the error), and
    /// '+' is a space. ASP.NET Core's own <c>Request.Query</c> is case-insensitive, so the handler
    /// must not read it.
    /// </summary>
    public static IQueryCollection Parse(string? rawQuery)
    {
        var store = new Dictionary<string, StringValues>(StringComparer.Ordinal);
        var text = rawQuery is { Length: > 0 } && rawQuery[0] == '?' ? rawQuery[1..] : rawQuery ?? "";
        foreach (var pair in text.Split('&'))
        {
            if (pair.Length == 0 || pair.Contains(';', StringComparison.Ordinal))
            {
                continue;
            }

            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var (rawKey, rawValue) = eq < 0 ? (pair, "") : (pair[..eq], pair[(eq + 1)..]);
            if (GoQueryUnescape(rawKey) is not { } key || GoQueryUnescape(rawValue) is not { } value)
            {
                continue;
            }

            store[key] = store.TryGetValue(key, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
        }

        return new QueryCollection(store);
    }

    /// <summary>Go's <c>url.QueryUnescape</c>: '+' is a space, %XX a byte (UTF-8); null on a bad escape.</summary>
    private static string? GoQueryUnescape(string text)
    {
        if (!text.Contains('%', StringComparison.Ordinal) && !text.Contains('+', StringComparison.Ordinal))
        {
            return text;
        }

        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '%')
            {
                if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
                {
                    return null;
                }

                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c == '+')
            {
                bytes.Add((byte)' ');
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>
    /// A boolean parameter. Source: <c>Convert_Slice_string_To_bool</c> and
    /// <c>Convert_Slice_string_To_Pointer_bool</c> in k8s.io/apimachinery/pkg/runtime/conversion.go:
    /// "Only the absence of a value, a value of "false", or a value of "0" resolve to false. Any
    /// other value (including empty string) resolves to true." The comparison with "false" is
    /// <c>strings.EqualFold</c>, so <c>FALSE</c> and <c>False</c> are false too. The server never
    /// answers 400 for a boolean: <c>watch=True</c> (the Python client) and <c>watch=yes</c> are
    /// watches, and so is a bare <c>?watch</c>. This is not Go's <c>strconv.ParseBool</c>: with it,
    /// <c>f</c> would be false and <c>yes</c> an error; with the server, both are true.
    /// Null when the parameter is absent (the <c>*bool</c> fields, such as sendInitialEvents).
    /// </summary>
    public static bool? Bool(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var values) && values.Count > 0
            ? !(values[0] == "0" || string.Equals(values[0], "false", StringComparison.OrdinalIgnoreCase))
            : null;

    /// <summary>
    /// An integer parameter (limit, timeoutSeconds, gracePeriodSeconds are int64). Source:
    /// <c>Convert_Slice_string_To_int64</c> / <c>Convert_Slice_string_To_Pointer_int64</c> in
    /// k8s.io/apimachinery/pkg/runtime/conversion.go call <c>strconv.ParseInt(s, 10, 64)</c>, and the
    /// list, delete and patch handlers (k8s.io/apiserver/pkg/endpoints/handlers) wrap a decode
    /// error in <c>errors.NewBadRequest(err.Error())</c>. So a bad value is a 400 whose message is
    /// Go's own, for example <c>strconv.ParseInt: parsing "0.1s": invalid syntax</c> (seen from a real
    /// server in kubernetes/kubernetes#101350), or <c>... value out of range</c>.
    /// </summary>
    public static long? Number(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var values) || values.Count == 0)
        {
            return null;
        }

        var text = values[0] ?? "";
        var digits = text.StartsWith('+') || text.StartsWith('-') ? text[1..] : text;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
        {
            throw ApiException.BadRequest($"strconv.ParseInt: parsing {GoQuote(text)}: invalid syntax");
        }

        return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw ApiException.BadRequest($"strconv.ParseInt: parsing {GoQuote(text)}: value out of range");
    }

    /// <summary>A string parameter: its first value, or "" when absent (<c>Convert_Slice_string_To_string</c>).</summary>
    public static string Text(IQueryCollection query, string name) =>
        query.TryGetValue(name, out var values) && values.Count > 0 ? values[0] ?? "" : "";

    /// <summary>
    /// A resourceVersion as storage parses it (<c>APIObjectVersioner.ParseResourceVersion</c> in
    /// k8s.io/apiserver/pkg/storage: "" and "0" mean any, otherwise <c>strconv.ParseUint</c>). A bad
    /// value is not a 400 on a real server but a 500 with no reason, for list and watch alike:
    /// kubernetes/kubernetes#113939 and #139485 show
    /// <c>resourceVersion: Invalid value: "cool": strconv.ParseUint: parsing "cool": invalid syntax</c>
    /// with code 500. The test cluster answers the same, so a client sees what it would see.
    /// </summary>
    public static ulong? ResourceVersion(string text)
    {
        if (text.Length == 0 || text == "0")
        {
            return null;
        }

        if (text.All(char.IsAsciiDigit) && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var rv))
        {
            return rv;
        }

        var why = text.All(char.IsAsciiDigit) ? "value out of range" : "invalid syntax";
        throw new ApiException(500, "",
            $"resourceVersion: Invalid value: {GoQuote(text)}: strconv.ParseUint: parsing {GoQuote(text)}: {why}");
    }

    /// <summary>
    /// Go's <c>strconv.Quote</c> (and <c>%q</c>) for the texts error messages echo back: control
    /// characters as <c>\xNN</c> (or their letter escapes), other runes Go's <c>unicode.IsPrint</c>
    /// rejects as <c>\uNNNN</c> or <c>\UNNNNNNNN</c>.
    /// </summary>
    public static string GoQuote(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (var rune in text.EnumerateRunes())
        {
            var c = rune.Value;
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\a' => "\\a",
                '\b' => "\\b",
                '\f' => "\\f",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\v' => "\\v",
                _ when c < 0x20 || c == 0x7f => string.Create(CultureInfo.InvariantCulture, $"\\x{c:x2}"),
                _ when FieldManager.IsPrint(rune) => rune.ToString(),
                _ when c < 0x10000 => string.Create(CultureInfo.InvariantCulture, $"\\u{c:x4}"),
                _ => string.Create(CultureInfo.InvariantCulture, $"\\U{c:x8}"),
            });
        }

        return sb.Append('"').ToString();
    }
}

/// <summary>
/// The list and watch options of one request (metav1.ListOptions), decoded and validated as the
/// list handler does: decode errors are 400 BadRequest, validation errors are 422 Invalid on
/// <c>ListOptions.meta.k8s.io ""</c> (handlers/get.go calls <c>ValidateListOptions</c> from
/// k8s.io/apimachinery/pkg/apis/meta/internalversion/validation and wraps the errors in
/// <c>errors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", errs)</c>).
/// </summary>
public sealed record ListParameters(
    bool AllowWatchBookmarks,
    bool? SendInitialEvents,
    long? TimeoutSeconds,
    long Limit,
    string Continue,
    string ResourceVersion,
    string ResourceVersionMatch)
{
    public const string Exact = "Exact";
    public const string NotOlderThan = "NotOlderThan";

    /// <summary>Decodes and validates; <paramref name="watch"/> is the verb the request was routed as.</summary>
    public static ListParameters Parse(IQueryCollection query, bool watch) => Decode(query).Validate(watch);

    /// <summary>
    /// The url.Values → metav1.ListOptions step alone (400 on a bad integer). The handler parses the
    /// selectors after this and validates last, in the order handlers/get.go listOpts does.
    /// </summary>
    public static ListParameters Decode(IQueryCollection query) =>
        new(
            QueryParameters.Bool(query, "allowWatchBookmarks") ?? false,
            QueryParameters.Bool(query, "sendInitialEvents"),
            QueryParameters.Number(query, "timeoutSeconds"),
            QueryParameters.Number(query, "limit") ?? 0,
            QueryParameters.Text(query, "continue"),
            QueryParameters.Text(query, "resourceVersion"),
            QueryParameters.Text(query, "resourceVersionMatch"));

    /// <summary>ValidateListOptions: 422 Invalid on <c>ListOptions.meta.k8s.io ""</c>, or this.</summary>
    public ListParameters Validate(bool watch)
    {
        var errors = watch ? WatchErrors() : ListErrors();
        return errors.Count == 0 ? this : throw ApiException.Invalid("meta.k8s.io", "ListOptions", "", errors);
    }

    // ValidateListOptions, the non-watch branch.
    private List<FieldError> ListErrors()
    {
        var errors = new List<FieldError>();
        if (ResourceVersionMatch.Length > 0)
        {
            if (ResourceVersion.Length == 0)
            {
                errors.Add(FieldError.Forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"));
            }

            if (Continue.Length > 0)
            {
                errors.Add(FieldError.Forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
            }

            if (ResourceVersionMatch is not (Exact or NotOlderThan))
            {
                errors.Add(FieldError.NotSupported("resourceVersionMatch", ResourceVersionMatch, [Exact, NotOlderThan, ""]));
            }

            if (ResourceVersionMatch == Exact && ResourceVersion == "0")
            {
                errors.Add(FieldError.Forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
            }
        }

        if (SendInitialEvents is not null)
        {
            errors.Add(FieldError.Forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
        }

        return errors;
    }

    // ValidateListOptions, the watch branch (validateWatchOptions), for a server whose WatchList
    // feature gate is off: the test cluster does not stream initial events, so it refuses
    // sendInitialEvents as such a server does.
    private List<FieldError> WatchErrors()
    {
        var errors = new List<FieldError>();
        if (SendInitialEvents is not null)
        {
            if (ResourceVersionMatch != NotOlderThan)
            {
                errors.Add(FieldError.Forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
            }

            errors.Add(FieldError.Forbidden("sendInitialEvents", "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"));
        }

        if (ResourceVersionMatch.Length > 0)
        {
            if (SendInitialEvents is null)
            {
                errors.Add(FieldError.Forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
            }

            if (ResourceVersionMatch != NotOlderThan)
            {
                errors.Add(FieldError.NotSupported("resourceVersionMatch", ResourceVersionMatch, [NotOlderThan]));
            }

            if (Continue.Length > 0)
            {
                errors.Add(FieldError.Forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"));
            }
        }

        return errors;
    }
}
