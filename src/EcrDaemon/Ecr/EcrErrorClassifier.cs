using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Text.Json;
using System.Xml;
using Amazon.Runtime;

namespace EcrDaemon.Ecr;

/// <summary>
/// Turns an AWS error (an HTTP error response, or an exception from the SDK) into a typed
/// <see cref="EcrFailure"/> whose message names the cause. Error codes come from the
/// <c>x-amzn-ErrorType</c> header, a JSON body's <c>__type</c>, or an XML body's <c>Code</c>
/// (moto and the query-protocol services answer authentication failures in XML).
/// </summary>
internal static partial class EcrErrorClassifier
{
    private const int MaxServerMessageLength = 300;

    /// <summary>Classifies a non-2xx response. <paramref name="action"/> names the permission involved, e.g. "ecr:GetAuthorizationToken".</summary>
    public static EcrFailure FromHttpError(int statusCode, string? errorTypeHeader, ReadOnlySpan<byte> body, string action)
    {
        var (code, message) = ReadError(body);
        code = NormalizeCode(errorTypeHeader) ?? code;
        return Classify(code, statusCode, message, action);
    }

    /// <summary>Classifies an exception thrown while resolving credentials or assuming a role.</summary>
    public static EcrFailure FromException(Exception exception, string action)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpRequestException or SocketException:
                    return EcrFailure.Transient(EcrFailureReason.Network, $"{action}: could not reach the service: {FirstLine(e.Message)}");
                case FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException:
                    // E.g. the web identity token file is not mounted (yet) or cannot be read.
                    return EcrFailure.Permanent(EcrFailureReason.InvalidCredentials, $"{action}: cannot read a credentials file: {FirstLine(e.Message)}");
                case IOException:
                    // HttpIOException and friends: the connection ended before the response did.
                    return EcrFailure.Transient(EcrFailureReason.Network, $"{action}: the connection broke: {e.GetType().Name}: {FirstLine(e.Message)}");
                case JsonException or XmlException or FormatException:
                    return EcrFailure.Transient(EcrFailureReason.InvalidResponse, $"{action}: the answer could not be read: {e.GetType().Name}");
                case TimeoutException or OperationCanceledException:
                    return EcrFailure.Transient(EcrFailureReason.Timeout, $"{action}: the service did not answer in time");
                case AmazonServiceException service when !string.IsNullOrEmpty(service.ErrorCode) || (int)service.StatusCode >= 400:
                    return Classify(NormalizeCode(service.ErrorCode), (int)service.StatusCode, service.Message, action);
                case AmazonServiceException service when service.InnerException is null:
                    // No code, no status: the SDK could not get an answer (the container credentials
                    // provider reports a refused connection, a 500 and an unreadable body this way).
                    return EcrFailure.Transient(EcrFailureReason.Network, $"{action}: no usable answer: {FirstLine(service.Message)}");
                default:
                    break;
            }
        }

        return exception is AmazonClientException
            ? EcrFailure.Permanent(EcrFailureReason.InvalidCredentials, $"{action}: {FirstLine(exception.Message)}")
            : EcrFailure.Permanent(EcrFailureReason.Other, $"{action}: unexpected {exception.GetType().FullName}"); // an unknown message could hold anything
    }

    /// <summary>Classifies a failure of the default credential chain; "none found" gets a message that lists where it looked.</summary>
    public static EcrFailure FromCredentialResolution(Exception exception)
    {
        if (exception is AmazonClientException && exception.Message.StartsWith("Failed to resolve AWS credentials", StringComparison.Ordinal))
        {
            return EcrFailure.Permanent(EcrFailureReason.InvalidCredentials,
                "no AWS credentials found: none in the environment variables (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), the shared profile, "
                + "web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), container credentials (Pod Identity/ECS) or instance metadata");
        }

        return FromException(exception, "resolving AWS credentials");
    }

    /// <summary>Maps an AWS error code and HTTP status to a reason, a transient/permanent class and a message.</summary>
    public static EcrFailure Classify(string? code, int statusCode, string? serverMessage, string action)
    {
        var detail = Detail(code, statusCode, serverMessage);
        if (IsTimeRejection(code, serverMessage))
        {
            return EcrFailure.Permanent(EcrFailureReason.ClockSkew,
                "AWS rejected the request's time: this machine's clock differs from AWS's by more than SigV4 allows (5 minutes); "
                + $"every request fails until the clock is fixed (check NTP on the node){detail}");
        }

        switch (code)
        {
            case "ThrottlingException" or "Throttling" or "ThrottledException" or "TooManyRequestsException"
                or "RequestLimitExceeded" or "RequestThrottled" or "RequestThrottledException" or "SlowDown":
                return EcrFailure.Transient(EcrFailureReason.Throttled, $"throttled by AWS{detail}");
            case "AccessDenied" or "AccessDeniedException":
                return EcrFailure.Permanent(EcrFailureReason.AccessDenied, $"access denied: the credentials lack {action}{detail}");
            case "UnrecognizedClientException" or "InvalidClientTokenId" or "InvalidAccessKeyId" or "AuthFailure"
                or "MissingAuthenticationToken" or "MissingAuthenticationTokenException" or "IncompleteSignature" or "IncompleteSignatureException":
                return EcrFailure.Permanent(EcrFailureReason.InvalidCredentials, $"the access key id or session token is not recognised{detail}");
            case "InvalidSignatureException" or "SignatureDoesNotMatch":
                return EcrFailure.Permanent(EcrFailureReason.InvalidCredentials,
                    $"the request signature was rejected: the secret access key does not belong to the access key id, or the clock is wrong{detail}");
            case "ExpiredToken" or "ExpiredTokenException" or "TokenRefreshRequired":
                return EcrFailure.Permanent(EcrFailureReason.InvalidCredentials, $"the session credentials have expired{detail}");
            case "RequestTimeout" or "RequestTimeoutException":
                return EcrFailure.Transient(EcrFailureReason.Timeout, $"the request timed out{detail}");
            default:
                break;
        }

        return statusCode switch
        {
            429 => EcrFailure.Transient(EcrFailureReason.Throttled, $"throttled by AWS{detail}"),
            408 => EcrFailure.Transient(EcrFailureReason.Timeout, $"the request timed out{detail}"),
            >= 500 => EcrFailure.Transient(EcrFailureReason.Other, $"AWS server error{detail}"),
            401 or 403 when code is null => EcrFailure.Permanent(EcrFailureReason.AccessDenied, $"access denied: the credentials lack {action}{detail}"),
            _ => EcrFailure.Permanent(EcrFailureReason.Other, $"{action} failed{detail}"),
        };
    }

    /// <summary>
    /// A SigV4 rejection for time: S3's <c>RequestTimeTooSkewed</c>, <c>RequestExpired</c>/<c>RequestInTheFuture</c> (EC2, STS and
    /// the query services), or a signature error whose message says the signature's time is out of range
    /// ("Signature expired: ... is now earlier than ...", "Signature not yet current: ... is still later than ...").
    /// </summary>
    internal static bool IsTimeRejection(string? code, string? serverMessage) =>
        code is "RequestTimeTooSkewed" or "RequestExpired" or "RequestInTheFuture"
        || (code is null or "InvalidSignatureException" or "SignatureDoesNotMatch" or "AuthFailure" or "AccessDeniedException" or "AccessDenied"
            && serverMessage is not null
            && (serverMessage.Contains("Signature expired", StringComparison.OrdinalIgnoreCase)
                || serverMessage.Contains("Signature not yet current", StringComparison.OrdinalIgnoreCase)
                || serverMessage.Contains("time too skewed", StringComparison.OrdinalIgnoreCase)
                || serverMessage.Contains("Request has expired", StringComparison.OrdinalIgnoreCase)));

    /// <summary>Reads the error code and message from a JSON or XML error body; nulls when it has neither.</summary>
    internal static (string? Code, string? Message) ReadError(ReadOnlySpan<byte> body)
    {
        var trimmed = body.TrimStart(" \t\r\n"u8);
        if (trimmed.IsEmpty)
        {
            return (null, null);
        }

        return trimmed[0] == (byte)'<' ? ReadXmlError(trimmed.ToArray()) : ReadJsonError(trimmed);
    }

    private static (string? Code, string? Message) ReadJsonError(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }

            string? code = null, message = null;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                if (property.NameEquals("__type") || property.NameEquals("code") || property.NameEquals("Code"))
                {
                    code ??= NormalizeCode(property.Value.GetString());
                }
                else if (property.NameEquals("message") || property.NameEquals("Message"))
                {
                    message ??= property.Value.GetString();
                }
            }

            return (code, message);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    private static (string? Code, string? Message) ReadXmlError(byte[] body)
    {
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true };
        string? code = null, message = null;
        try
        {
            using var stream = new MemoryStream(body);
            using var reader = XmlReader.Create(stream, settings);
            while (reader.Read())
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    continue;
                }

                if (reader.LocalName == "Code" && code is null)
                {
                    code = NormalizeCode(reader.ReadElementContentAsString());
                }
                else if (reader.LocalName == "Message" && message is null)
                {
                    message = reader.ReadElementContentAsString();
                }
            }
        }
        catch (XmlException)
        {
            // Keep whatever was read before the document broke.
        }

        return (code, message);
    }

    /// <summary>"com.amazonaws.ecr#ThrottlingException" and "ThrottlingException:http://..." both become "ThrottlingException".</summary>
    internal static string? NormalizeCode(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        var code = raw.Trim();
        var hash = code.LastIndexOf('#');
        if (hash >= 0)
        {
            code = code[(hash + 1)..];
        }

        var colon = code.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            code = code[..colon];
        }

        return code.Length == 0 ? null : code;
    }

    private static string Detail(string? code, int statusCode, string? serverMessage)
    {
        var parts = new List<string>(3);
        if (statusCode > 0)
        {
            parts.Add($"HTTP {statusCode}");
        }

        if (code is not null)
        {
            parts.Add(code);
        }

        var text = FirstLine(serverMessage ?? "");
        if (text.Length > MaxServerMessageLength)
        {
            text = text[..MaxServerMessageLength] + "...";
        }

        if (text.Length > 0)
        {
            parts.Add(text);
        }

        return parts.Count == 0 ? "" : $" ({string.Join(": ", parts)})";
    }

    /// <summary>
    /// The first line of a message, with the user info of any URL it quotes removed: .NET names the proxy in its
    /// errors (e.g. "The proxy tunnel request to proxy 'http://user:password@proxy:3128/' failed"), credentials and all.
    /// </summary>
    private static string FirstLine(string text)
    {
        var newline = text.IndexOfAny(['\r', '\n']);
        return WithoutUserInfo((newline >= 0 ? text[..newline] : text).Trim());
    }

    /// <summary><paramref name="text"/> with the user info of every URL in it (<c>scheme://user:password@</c>) replaced by <c>***</c>.</summary>
    public static string WithoutUserInfo(string text) => UrlUserInfo().Replace(text, "${scheme}***@");

    [GeneratedRegex(@"(?<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s'""]*@")]
    private static partial Regex UrlUserInfo();
}
