using EcrDaemon.Ecr;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>What the refresher publishes, and when two publications are the same (then nothing is published again).</summary>
public sealed class TokenSetTests
{
    private static readonly DateTimeOffset Expires = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static EcrAuthorizationToken Token(string host, string password, DateTimeOffset? expiresAt = null, string user = "AWS") =>
        new(host, user, password, expiresAt ?? Expires);

    [Fact]
    public void One_token_per_host_the_first_given_hosts_in_ordinal_order_and_the_earliest_expiry()
    {
        var set = TokenSet.From([Token("b.example", "1", Expires.AddHours(1)), Token("a.example", "2"), Token("b.example", "3"), Token("B.example", "4", Expires.AddHours(2))]);

        Assert.Equal(["B.example", "a.example", "b.example"], set.Tokens.Select(t => t.RegistryHost));
        Assert.Equal("1", set.Tokens[2].Password);
        Assert.Equal(Expires, set.ExpiresAt);
        Assert.Equal("2026-01-02T03:04:05Z", set.Expiry);
        Assert.Throws<ArgumentException>(() => TokenSet.From([]));
    }

    [Theory]
    [InlineData("b.example", "AWS", "p", 0, true)] // the same
    [InlineData("b.example", "AWS", "p", 500, true)] // the expiry differs below a second: the secret's annotation would not change
    [InlineData("b.example", "AWS", "q", 0, false)] // another password
    [InlineData("b.example", "other", "p", 0, false)] // another user
    [InlineData("c.example", "AWS", "p", 0, false)] // another host
    [InlineData("b.example", "AWS", "p", 1_000, false)] // another expiry
    public void SameAs_compares_hosts_users_passwords_and_the_expiry_to_the_second(string host, string user, string password, int laterMs, bool same)
    {
        // a.example expires later, so b.example's token sets the expiry.
        var before = TokenSet.From([Token("a.example", "x", Expires.AddHours(1)), Token("b.example", "p")]);
        var after = TokenSet.From([Token("a.example", "x", Expires.AddHours(1)), Token(host, password, Expires.AddMilliseconds(laterMs), user)]);

        Assert.Equal(same, after.SameAs(before));
        Assert.Equal(same, before.SameAs(after));
        Assert.False(after.SameAs(null));
        Assert.False(after.SameAs(TokenSet.From([Token("a.example", "x")])));
    }

    [Fact]
    public void ToString_shows_no_password()
    {
        var text = TokenSet.From([Token("a.example", "s3cr3t-password")]).ToString();

        Assert.DoesNotContain("s3cr3t-password", text, StringComparison.Ordinal);
        Assert.Contains("a.example", text, StringComparison.Ordinal);
    }
}
