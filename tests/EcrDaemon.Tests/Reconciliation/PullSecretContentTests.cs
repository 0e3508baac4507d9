using System.Text;
using System.Text.Json;
using EcrDaemon.Ecr;
using EcrDaemon.Reconciliation;
using Xunit;

namespace EcrDaemon.Tests.Reconciliation;

public sealed class PullSecretContentTests
{
    private const string HostA = "111122223333.dkr.ecr.us-west-2.amazonaws.com";
    private const string HostB = "444455556666.dkr.ecr.eu-west-1.amazonaws.com";
    private static readonly DateTimeOffset Expires = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static EcrAuthorizationToken Token(string host, string password, DateTimeOffset? expiresAt = null) =>
        new(host, "AWS", password, expiresAt ?? Expires);

    private static string Json(PullSecretContent content) => Encoding.UTF8.GetString(content.DockerConfigJson);

    [Fact]
    public void The_json_is_exactly_the_docker_config_format()
    {
        var content = PullSecretContent.From([Token(HostA, "p")]);

        Assert.Equal(
            """{"auths":{"111122223333.dkr.ecr.us-west-2.amazonaws.com":{"username":"AWS","password":"p","auth":"QVdTOnA="}}}""",
            Json(content));
    }

    [Fact]
    public void Every_field_holds_the_token_and_auth_is_base64_of_user_colon_password()
    {
        const string passwordA = "eyJwYXlsb2FkIjoi+/=<>&\"'x";
        const string passwordB = "second-password";
        var content = PullSecretContent.From([Token(HostB, passwordB), Token(HostA, passwordA)]);

        using var document = JsonDocument.Parse(content.DockerConfigJson);
        var root = document.RootElement;
        Assert.Equal(["auths"], root.EnumerateObject().Select(p => p.Name));
        var auths = root.GetProperty("auths");
        Assert.Equal([HostA, HostB], auths.EnumerateObject().Select(p => p.Name));
        foreach (var (host, password) in new[] { (HostA, passwordA), (HostB, passwordB) })
        {
            var entry = auths.GetProperty(host);
            Assert.Equal(["username", "password", "auth"], entry.EnumerateObject().Select(p => p.Name));
            Assert.Equal("AWS", entry.GetProperty("username").GetString());
            Assert.Equal(password, entry.GetProperty("password").GetString());
            Assert.Equal($"AWS:{password}", Encoding.UTF8.GetString(Convert.FromBase64String(entry.GetProperty("auth").GetString()!)));
        }
    }

    [Fact]
    public void Hosts_are_sorted_ordinally()
    {
        var content = PullSecretContent.From([Token("b.example", "1"), Token("a.example", "2"), Token("B.example", "3")]);

        Assert.Equal(["B.example", "a.example", "b.example"], content.Hosts);
        using var document = JsonDocument.Parse(content.DockerConfigJson);
        Assert.Equal(content.Hosts, document.RootElement.GetProperty("auths").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Tokens_for_the_same_host_collapse_into_one_entry()
    {
        var content = PullSecretContent.From([Token(HostA, "first"), Token(HostB, "other"), Token(HostA, "second")]);

        Assert.Equal([HostA, HostB], content.Hosts);
        using var document = JsonDocument.Parse(content.DockerConfigJson);
        var auths = document.RootElement.GetProperty("auths");
        Assert.Equal(2, auths.EnumerateObject().Count());
        Assert.Equal("first", auths.GetProperty(HostA).GetProperty("password").GetString());
    }

    [Fact]
    public void ExpiresAt_is_the_earliest_expiry()
    {
        var content = PullSecretContent.From([Token(HostA, "a", Expires.AddHours(2)), Token(HostB, "b", Expires), Token("c.example", "c", Expires.AddHours(1))]);

        Assert.Equal(Expires, content.ExpiresAt);
        Assert.Equal("2026-01-02T03:04:05Z", content.Expiry);
    }

    [Fact]
    public void Expiry_is_rfc_3339_in_utc_whatever_the_offset()
    {
        var local = new DateTimeOffset(2026, 1, 2, 5, 4, 5, 678, TimeSpan.FromHours(2));

        var content = PullSecretContent.From([Token(HostA, "p", local)]);

        Assert.Equal("2026-01-02T03:04:05Z", content.Expiry);
        Assert.Equal(local, content.ExpiresAt);
    }

    [Fact]
    public void The_hash_is_stable_for_the_same_tokens_and_changes_with_a_password()
    {
        var original = PullSecretContent.From([Token(HostA, "a"), Token(HostB, "b")]);
        var reordered = PullSecretContent.From([Token(HostB, "b"), Token(HostA, "a")]);
        var changed = PullSecretContent.From([Token(HostA, "a"), Token(HostB, "b2")]);

        Assert.Equal(original.Hash, reordered.Hash);
        Assert.Equal(original.DockerConfigJson, reordered.DockerConfigJson);
        Assert.NotEqual(original.Hash, changed.Hash);
        Assert.Matches("^[0-9A-F]{32}$", original.Hash);
        Assert.Equal(original.Hash, PullSecretContent.HashOf(original.DockerConfigJson));
        Assert.Null(PullSecretContent.HashOf(null));
    }

    [Fact]
    public void ToString_never_shows_the_password()
    {
        const string password = "s3cr3t-Pa55word";
        var content = PullSecretContent.From([Token(HostA, password), Token(HostB, password)]);

        var text = content.ToString();

        Assert.DoesNotContain(password, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"AWS:{password}")), text, StringComparison.Ordinal);
        Assert.Contains(HostA, text, StringComparison.Ordinal);
        Assert.Contains(content.Expiry, text, StringComparison.Ordinal);
    }

    [Fact]
    public void No_tokens_is_an_error()
    {
        Assert.Throws<ArgumentException>(() => PullSecretContent.From([]));
    }
}
