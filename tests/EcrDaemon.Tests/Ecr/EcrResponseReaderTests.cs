using System.Text;
using EcrDaemon.Ecr;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

public sealed class EcrResponseReaderTests
{
    private static EcrCallResult Read(string json) => EcrResponseReader.Read(Encoding.UTF8.GetBytes(json));

    private static string Token(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Fact]
    public void The_token_splits_at_the_first_colon_and_expiresAt_keeps_milliseconds()
    {
        var result = Read($$"""{"authorizationData":[{"authorizationToken":"{{Token("AWS:pa:ss")}}","expiresAt":1.700043602391E9,"proxyEndpoint":"https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"}]}""");

        var token = Assert.Single(result.Tokens);
        Assert.Null(result.Failure);
        Assert.Equal("AWS", token.Username);
        Assert.Equal("pa:ss", token.Password);
        Assert.Equal("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", token.RegistryHost);
        Assert.Equal("123456789012", token.AccountId);
        Assert.Equal(1_700_043_602_391, token.ExpiresAt.ToUnixTimeMilliseconds());
        Assert.DoesNotContain("pa:ss", token.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]", "JSON array, not an object")]
    [InlineData("{}", "no authorizationData list")]
    [InlineData("""{"authorizationData":[42]}""", "authorizationData[0] is not an object")]
    [InlineData("""{"authorizationData":[{"expiresAt":1,"proxyEndpoint":"https://a"}]}""", "has no authorizationToken")]
    [InlineData("""{"authorizationData":[{"authorizationToken":"QVdTOng=","expiresAt":1}]}""", "has no proxyEndpoint")]
    [InlineData("""{"authorizationData":[{"authorizationToken":"QVdTOng=","expiresAt":"tomorrow","proxyEndpoint":"https://a"}]}""", "has no numeric expiresAt")]
    [InlineData("""{"authorizationData":[{"authorizationToken":"QVdTOng=","expiresAt":1,"proxyEndpoint":"ftp://a"}]}""", "proxyEndpoint is not an http(s) URL")]
    [InlineData("""{"authorizationData":[{"authorizationToken":"QVdTOg==","expiresAt":1,"proxyEndpoint":"https://a"}]}""", "empty user name or password")]
    [InlineData("""{"authorizationData":[{"authorizationToken":"/w==","expiresAt":1,"proxyEndpoint":"https://a"}]}""", "does not decode to UTF-8")]
    public void Malformed_shapes_are_invalid_responses(string json, string expected)
    {
        var result = Read(json);

        Assert.Empty(result.Tokens);
        Assert.Equal(EcrFailureReason.InvalidResponse, result.Failure!.Reason);
        Assert.Contains(expected, result.Failure.Message, StringComparison.Ordinal);
    }
}
