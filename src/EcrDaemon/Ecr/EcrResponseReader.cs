using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EcrDaemon.Ecr;

/// <summary>
/// Reads a successful GetAuthorizationToken response (shapes from botocore's ECR model,
/// 2015-09-21, and, for <see cref="ReadPublic"/>, its ECR Public model, 2020-10-30). Anything
/// malformed becomes an <see cref="EcrFailureReason.InvalidResponse"/> failure whose message says
/// what was wrong without quoting the body, which may hold a token.
/// </summary>
internal static class EcrResponseReader
{
    public static EcrCallResult Read(ReadOnlySpan<byte> body) => Parse(body, Read);

    /// <summary>
    /// ECR Public's answer: <c>{"authorizationData": {"authorizationToken": base64, "expiresAt": epoch seconds}}</c>,
    /// one object (not a list) and no proxyEndpoint; the token is for <see cref="RegistryTarget.PublicHost"/>.
    /// </summary>
    public static EcrCallResult ReadPublic(ReadOnlySpan<byte> body) => Parse(body, ReadPublic);

    private static EcrCallResult Parse(ReadOnlySpan<byte> body, Func<JsonElement, EcrCallResult> read)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(body);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            var first = body.TrimStart(" \t\r\n"u8);
            return Invalid(!first.IsEmpty && first[0] == (byte)'<'
                ? "the response body is an XML document, not the JSON GetAuthorizationToken returns"
                : "the response body is not valid JSON");
        }

        using (document)
        {
            return read(document.RootElement);
        }
    }

    private static EcrCallResult ReadPublic(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return Invalid($"the response body is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
        }

        if (!root.TryGetProperty("authorizationData", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            return Invalid(data.ValueKind == JsonValueKind.Array
                ? "the response's authorizationData is a list, not the one object ECR Public returns"
                : "the response has no authorizationData object");
        }

        var token = ReadItem(data, "authorizationData", RegistryTarget.PublicHost, out var problem);
        return token is null ? Invalid(problem!) : EcrCallResult.Success([token]);
    }

    private static EcrCallResult Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return Invalid($"the response body is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
        }

        if (!root.TryGetProperty("authorizationData", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return Invalid("the response has no authorizationData list");
        }

        if (list.GetArrayLength() == 0)
        {
            return Invalid("the response's authorizationData is empty");
        }

        var tokens = new List<EcrAuthorizationToken>(list.GetArrayLength());
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var token = ReadItem(item, $"authorizationData[{index}]", null, out var problem);
            if (token is null)
            {
                return Invalid(problem!);
            }

            tokens.Add(token);
            index++;
        }

        return EcrCallResult.Success(tokens);
    }

    /// <param name="fixedHost">The host the token is for (ECR Public), or null to read it from proxyEndpoint.</param>
    private static EcrAuthorizationToken? ReadItem(JsonElement item, string where, string? fixedHost, out string? problem)
    {
        problem = null;
        if (item.ValueKind != JsonValueKind.Object)
        {
            problem = $"{where} is not an object";
            return null;
        }

        if (!TryGetString(item, "authorizationToken", out var encoded))
        {
            problem = $"{where} has no authorizationToken";
            return null;
        }

        var proxyEndpoint = "";
        if (fixedHost is null && !TryGetString(item, "proxyEndpoint", out proxyEndpoint))
        {
            problem = $"{where} has no proxyEndpoint";
            return null;
        }

        if (!item.TryGetProperty("expiresAt", out var expires) || expires.ValueKind != JsonValueKind.Number)
        {
            problem = $"{where} has no numeric expiresAt";
            return null;
        }

        var host = fixedHost ?? "";
        if (fixedHost is null && !TryReadHost(proxyEndpoint, out host))
        {
            problem = $"{where}.proxyEndpoint is not an http(s) URL";
            return null;
        }

        if (!TryDecode(encoded, out var username, out var password, out var decodeProblem))
        {
            problem = $"{where}.authorizationToken {decodeProblem}";
            return null;
        }

        var seconds = expires.GetDouble();
        if (!double.IsFinite(seconds) || seconds < 0 || seconds > 253402300799)
        {
            problem = $"{where}.expiresAt {seconds.ToString(CultureInfo.InvariantCulture)} is not a valid time";
            return null;
        }

        var expiresAt = DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));
        return new EcrAuthorizationToken(host, username, password, expiresAt);
    }

    private static bool TryGetString(JsonElement item, string name, out string value)
    {
        value = "";
        if (!item.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        value = element.GetString() ?? "";
        return value.Length > 0;
    }

    private static bool TryReadHost(string proxyEndpoint, out string host)
    {
        host = "";
        if (!Uri.TryCreate(proxyEndpoint, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || string.IsNullOrEmpty(uri.Host))
        {
            return false;
        }

        host = uri.Authority;
        return true;
    }

    /// <summary>Decodes "base64(user:password)", split at the first ':'.</summary>
    private static bool TryDecode(string encoded, out string username, out string password, out string? problem)
    {
        username = password = "";
        problem = null;
        var buffer = new byte[(encoded.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(encoded, buffer, out var length))
        {
            problem = "is not valid base64";
            return false;
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(buffer, 0, length);
        }
        catch (DecoderFallbackException)
        {
            problem = "does not decode to UTF-8 text";
            return false;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            problem = "does not decode to 'user:password' (no ':')";
            return false;
        }

        if (colon == 0 || colon == decoded.Length - 1)
        {
            problem = "decodes to an empty user name or password";
            return false;
        }

        username = decoded[..colon];
        password = decoded[(colon + 1)..];
        return true;
    }

    private static EcrCallResult Invalid(string message) =>
        EcrCallResult.Failed(EcrFailure.Transient(EcrFailureReason.InvalidResponse, $"invalid GetAuthorizationToken response: {message}"));
}
