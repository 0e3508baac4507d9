using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The desired secret for a set of tokens, computed once per token set and profile. An image pull
/// secret (<see cref="SecretFormat.DockerConfigJson"/>) holds the <c>.dockerconfigjson</c>
/// <c>{"auths":{"&lt;host&gt;":{"username":"AWS","password":...,"auth":base64("AWS:"+password)}}}</c>, hosts in
/// order. Argo CD repository credentials (<see cref="SecretFormat.ArgoCdRepositoryCredentials"/>, one
/// registry) hold <c>url</c>, <c>type: helm</c>, <c>enableOCI: "true"</c>, <c>username</c> and
/// <c>password</c>, with the label Argo CD looks for. <see cref="Hash"/> lets reconcile compare the
/// content with a secret's data without keeping that data. <see cref="ToString"/> never shows the password.
/// </summary>
internal sealed class PullSecretContent
{
    private static readonly IReadOnlyDictionary<string, string> NoLabels = new Dictionary<string, string>();
    private static readonly HashSet<string> ArgoCdKeys = new(["url", "type", "enableOCI", "username", "password"], StringComparer.Ordinal);
    private static readonly IReadOnlyDictionary<string, string> ArgoCdLabels = new Dictionary<string, string> { [Markers.ArgoCdSecretTypeLabel] = Markers.ArgoCdRepoCreds };

    private PullSecretContent(SecretFormat format, IReadOnlyDictionary<string, byte[]> data, TokenSet tokens)
    {
        Format = format;
        Data = data;
        Hash = HashOfData(data, format)!;
        ExpiresAt = tokens.ExpiresAt;
        Expiry = tokens.Expiry;
        Hosts = [.. tokens.Tokens.Select(t => t.RegistryHost)];
    }

    public SecretFormat Format { get; }

    /// <summary>The secret's type.</summary>
    public string Type => Format == SecretFormat.ArgoCdRepositoryCredentials ? Markers.OpaqueType : Markers.DockerConfigJsonType;

    /// <summary>Labels the secret carries besides ours (Argo CD's).</summary>
    public IReadOnlyDictionary<string, string> Labels => Format == SecretFormat.ArgoCdRepositoryCredentials ? ArgoCdLabels : NoLabels;

    /// <summary>The secret's data.</summary>
    public IReadOnlyDictionary<string, byte[]> Data { get; }

    /// <summary>The <c>.dockerconfigjson</c> of an image pull secret.</summary>
    public byte[] DockerConfigJson => Data[Markers.DockerConfigJsonKey];

    public string Hash { get; }

    /// <summary>The earliest expiry among the tokens.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary><see cref="ExpiresAt"/> in RFC 3339, as the secret's annotation holds it.</summary>
    public string Expiry { get; }

    public IReadOnlyList<string> Hosts { get; }

    public static PullSecretContent From(IEnumerable<EcrAuthorizationToken> tokens) => From(TokenSet.From(tokens));

    public static PullSecretContent From(TokenSet tokens, SecretFormat format = SecretFormat.DockerConfigJson)
    {
        if (format == SecretFormat.ArgoCdRepositoryCredentials)
        {
            // One registry per Argo CD profile (PullSecretProfiles.Expand): its own token and host, not an alias's.
            var token = tokens.ByRegistry.OfType<EcrAuthorizationToken>().First();
            return new PullSecretContent(format, new Dictionary<string, byte[]>
            {
                ["url"] = Encoding.UTF8.GetBytes(token.RegistryHost),
                ["type"] = "helm"u8.ToArray(),
                ["enableOCI"] = "true"u8.ToArray(),
                ["username"] = Encoding.UTF8.GetBytes(token.Username),
                ["password"] = Encoding.UTF8.GetBytes(token.Password),
            }, tokens);
        }

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

        return new PullSecretContent(format, new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = buffer.ToArray() }, tokens);
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(data))]
    public static string? HashOf(byte[]? data) => data is null ? null : Convert.ToHexString(SHA256.HashData(data), 0, 16);

    /// <summary>
    /// The hash of a secret's data as a profile of <paramref name="format"/> compares it: the <c>.dockerconfigjson</c>
    /// alone for an image pull secret (null when absent); the keys and values the daemon writes, in key order, for Argo CD's.
    /// </summary>
    public static string? HashOfData(IEnumerable<KeyValuePair<string, byte[]>>? data, SecretFormat format)
    {
        if (format == SecretFormat.DockerConfigJson)
        {
            return HashOf(data?.FirstOrDefault(d => d.Key == Markers.DockerConfigJsonKey).Value);
        }

        if (data is null)
        {
            return null;
        }

        // Only the keys the daemon writes: others (an Argo CD project, say) are someone else's, kept by our merge patches.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (key, value) in data.Where(d => ArgoCdKeys.Contains(d.Key)).OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{key.Length}:{key}{value?.Length ?? 0}:"));
            hash.AppendData(value ?? []);
        }

        return Convert.ToHexString(hash.GetHashAndReset(), 0, 16);
    }

    public override string ToString() => $"{(Format == SecretFormat.DockerConfigJson ? "auths" : "Argo CD repository credentials")} for {string.Join(", ", Hosts)} (expires {Expiry}, hash {Hash})";
}
