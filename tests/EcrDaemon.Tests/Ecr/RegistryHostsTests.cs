using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Reconciliation;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>A registry's token written under its dual-stack host and aliases too: one auths entry per host, the same credentials.</summary>
public sealed class RegistryHostsTests
{
    private static readonly DateTimeOffset Expires = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private const string Host0 = "111111111111.dkr.ecr.us-west-2.amazonaws.com";
    private const string Host1 = "222222222222.dkr.ecr.eu-west-1.amazonaws.com";

    private static EcrAuthorizationToken Token(string host, string password) => new(host, "AWS", password, Expires);

    private static RegistryOptions Registry(string region, string? accountId = null, bool dualStack = false, params string[] aliases) =>
        new() { Region = region, AccountId = accountId, DualStack = dualStack, Aliases = [.. aliases] };

    private static JsonObject Auths(TokenSet set) => JsonNode.Parse(PullSecretContent.From(set).DockerConfigJson)!["auths"]!.AsObject();

    [Fact]
    public void Without_DualStack_or_Aliases_the_content_is_byte_for_byte_what_it_was()
    {
        EcrAuthorizationToken?[] tokens = [Token(Host0, "p0"), null, Token(Host1, "p1")];
        var hosts = RegistryHosts.From([Registry("us-west-2", "111111111111"), Registry("us-east-1"), Registry("eu-west-1", "222222222222")]);

        Assert.Equal(PullSecretContent.From(TokenSet.From(tokens)).DockerConfigJson, PullSecretContent.From(TokenSet.From(tokens, hosts)).DockerConfigJson);
        Assert.Equal(PullSecretContent.From(TokenSet.From(tokens)).DockerConfigJson, PullSecretContent.From(TokenSet.From(tokens, RegistryHosts.None)).DockerConfigJson);
    }

    [Fact]
    public void DualStack_and_Aliases_add_one_entry_each_with_the_same_user_password_and_auth()
    {
        var hosts = RegistryHosts.From([Registry("us-west-2", "111111111111", dualStack: true, "registry.example.com", " cache.internal:5000 ")]);

        var auths = Auths(TokenSet.From([Token(Host0, "p0")], hosts));

        Assert.Equal(["111111111111.dkr-ecr.us-west-2.on.aws", Host0, "cache.internal:5000", "registry.example.com"], auths.Select(p => p.Key).Order(StringComparer.Ordinal));
        var expected = Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:p0"));
        Assert.All(auths, p => Assert.Equal(("AWS", "p0", expected),
            (p.Value!["username"]!.GetValue<string>(), p.Value["password"]!.GetValue<string>(), p.Value["auth"]!.GetValue<string>())));
    }

    [Fact]
    public void The_default_registry_takes_its_dual_stack_account_from_the_token_host()
    {
        var hosts = RegistryHosts.From([Registry("us-west-2", accountId: null, dualStack: true)]);

        var set = TokenSet.From([Token(Host0, "p0")], hosts);

        Assert.Equal(["111111111111.dkr-ecr.us-west-2.on.aws", Host0], set.Tokens.Select(t => t.RegistryHost));
    }

    [Fact]
    public void A_host_named_by_two_registries_gets_the_first_registrys_credentials()
    {
        // Registry 1 names registry 0's host as an alias, and both name the same custom domain.
        var hosts = RegistryHosts.From([Registry("us-west-2", "111111111111", false, "shared.example.com"), Registry("eu-west-1", "222222222222", false, Host0, "shared.example.com")]);

        var set = TokenSet.From([Token(Host0, "p0"), Token(Host1, "p1")], hosts);

        Assert.Equal([Host0, Host1, "shared.example.com"], set.Tokens.Select(t => t.RegistryHost));
        Assert.Equal(["p0", "p1", "p0"], set.Tokens.Select(t => t.Password));
    }

    [Fact]
    public void A_profiles_set_keeps_the_extra_hosts_of_its_own_registries_only()
    {
        var hosts = RegistryHosts.From([Registry("us-west-2", "111111111111", false, "zero.example.com"), Registry("eu-west-1", "222222222222", true, "one.example.com")]);
        var all = TokenSet.From([Token(Host0, "p0"), Token(Host1, "p1")], hosts);

        var second = all.For([1])!;
        var first = all.For([0])!;

        Assert.Equal(["222222222222.dkr-ecr.eu-west-1.on.aws", Host1, "one.example.com"], second.Tokens.Select(t => t.RegistryHost));
        Assert.Equal([Host0, "zero.example.com"], first.Tokens.Select(t => t.RegistryHost));
        Assert.Same(all, all.For([0, 1]));
    }

    [Fact]
    public void The_password_is_never_shown_for_an_extra_host()
    {
        var set = TokenSet.From([Token(Host0, "secret-password")], RegistryHosts.From([Registry("us-west-2", "111111111111", true, "registry.example.com")]));

        Assert.DoesNotContain("secret-password", set.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("secret-password", PullSecretContent.From(set).ToString(), StringComparison.Ordinal);
        Assert.Contains("registry.example.com", set.ToString(), StringComparison.Ordinal);
    }
}
