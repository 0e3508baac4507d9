using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EcrDaemon.Ecr;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The desired <c>.dockerconfigjson</c> for a set of tokens:
/// <c>{"auths":{"&lt;host&gt;":{"username":"AWS","password":...,"auth":base64("AWS:"+password)}}}</c>,
/// hosts in order, computed once per token set. <see cref="Hash"/> lets reconcile compare it with
/// a secret's data without keeping that data. <see cref="ToString"/> never shows the password.
/// </summary>
internal sealed class PullSecretContent
{
    private PullSecretContent(byte[] dockerConfigJson, TokenSet tokens)
    {
        DockerConfigJson = dockerConfigJson;
        Hash = HashOf(dockerConfigJson)!;
        ExpiresAt = tokens.ExpiresAt;
        Expiry = tokens.Expiry;
        Hosts = [.. tokens.Tokens.Select(t => t.RegistryHost)];
    }

    public byte[] DockerConfigJson { get; }

    public string Hash { get; }

    /// <summary>The earliest expiry among the tokens.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary><see cref="ExpiresAt"/> in RFC 3339, as the secret's annotation holds it.</summary>
    public string Expiry { get; }

    public IReadOnlyList<string> Hosts { get; }

    public static PullSecretContent From(IEnumerable<EcrAuthorizationToken> tokens) => From(TokenSet.From(tokens));

    public static PullSecretContent From(TokenSet tokens)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("auths");
            foreach (var token in tokens.Tokens)
            {
                json.WriteStartObject(token.RegistryHost);
                json.WriteString("username", token.Username);
                json.WriteString("password", token.Password);
                json.WriteString("auth", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{token.Username}:{token.Password}")));
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return new PullSecretContent(buffer.ToArray(), tokens);
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(data))]
    public static string? HashOf(byte[]? data) => data is null ? null : Convert.ToHexString(SHA256.HashData(data), 0, 16);

    public override string ToString() => $"auths for {string.Join(", ", Hosts)} (expires {Expiry}, hash {Hash})";
}
