using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EcrDaemon.StandIns;

/// <summary>
/// The stand-in's own, independent SigV4 check of a request (test code; the daemon uses
/// AWSSDK.Core's signer). The aws CLI fidelity tests prove it accepts botocore's signatures.
/// </summary>
public static class SigV4Verifier
{
    public sealed record Result(bool Valid, string? ErrorCode, string? Message, string? AccessKeyId, string? Region, string? Service, bool HasSessionToken);

    public static Result Verify(HttpRequest request, byte[] body, Func<string, (string Secret, string? SessionToken)?> lookup)
    {
        var authorization = request.Headers.Authorization.ToString();
        const string algorithm = "AWS4-HMAC-SHA256 ";
        if (!authorization.StartsWith(algorithm, StringComparison.Ordinal))
        {
            return Fail("MissingAuthenticationTokenException", "Missing Authentication Token");
        }

        var fields = authorization[algorithm.Length..].Split(',', StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        if (!fields.TryGetValue("Credential", out var credential) || !fields.TryGetValue("SignedHeaders", out var signedHeaders)
            || !fields.TryGetValue("Signature", out var signature))
        {
            return Fail("IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature");
        }

        var scope = credential.Split('/');
        if (scope.Length != 5 || scope[4] != "aws4_request")
        {
            return Fail("IncompleteSignatureException", "malformed credential scope");
        }

        var (accessKey, date, region, service) = (scope[0], scope[1], scope[2], scope[3]);
        var names = signedHeaders.Split(';');
        var amzDate = request.Headers["X-Amz-Date"].ToString();
        var token = request.Headers["X-Amz-Security-Token"].ToString();
        if (!names.Contains("host") || !names.Contains("x-amz-date") || !amzDate.StartsWith(date, StringComparison.Ordinal))
        {
            return Fail("IncompleteSignatureException", "host and x-amz-date must be signed, and the scope date must match X-Amz-Date", accessKey, region, service);
        }

        if (token.Length > 0 && !names.Contains("x-amz-security-token"))
        {
            return Fail("IncompleteSignatureException", "X-Amz-Security-Token is not signed", accessKey, region, service);
        }

        if (lookup(accessKey) is not { } known)
        {
            return Fail("UnrecognizedClientException", "The security token included in the request is invalid.", accessKey, region, service);
        }

        if (known.SessionToken != (token.Length == 0 ? null : token))
        {
            return Fail("UnrecognizedClientException", "The security token included in the request is invalid.", accessKey, region, service);
        }

        var canonicalHeaders = new StringBuilder();
        foreach (var name in names)
        {
            var value = name == "host" ? request.Host.Value : string.Join(',', request.Headers[name].Select(v => v ?? ""));
            canonicalHeaders.Append(name).Append(':').Append(string.Join(' ', (value ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))).Append('\n');
        }

        var canonicalRequest = $"{request.Method}\n{(request.Path.HasValue ? request.Path.Value : "/")}\n{request.QueryString.Value?.TrimStart('?')}\n{canonicalHeaders}\n{signedHeaders}\n{Hex(SHA256.HashData(body))}";
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{date}/{region}/{service}/aws4_request\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var key = Encoding.UTF8.GetBytes("AWS4" + known.Secret);
        foreach (var part in new[] { date, region, service, "aws4_request" })
        {
            key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(part));
        }

        var expected = Hex(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
        return expected == signature
            ? new Result(true, null, null, accessKey, region, service, token.Length > 0)
            : Fail("InvalidSignatureException", "The request signature we calculated does not match the signature you provided.", accessKey, region, service);
    }

    private static Result Fail(string code, string message, string? accessKey = null, string? region = null, string? service = null) =>
        new(false, code, message, accessKey, region, service, false);

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
