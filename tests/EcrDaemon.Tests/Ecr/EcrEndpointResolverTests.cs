using EcrDaemon.Ecr;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

public sealed class EcrEndpointResolverTests
{
    private static readonly EcrEndpointResolver Unconfigured = new(() => null);

    [Theory]
    [InlineData("us-west-2", false, "https://api.ecr.us-west-2.amazonaws.com/")]
    [InlineData("cn-north-1", false, "https://api.ecr.cn-north-1.amazonaws.com.cn/")]
    [InlineData("us-east-1", true, "https://api.ecr-fips.us-east-1.amazonaws.com/")]
    [InlineData("us-gov-west-1", true, "https://api.ecr-fips.us-gov-west-1.amazonaws.com/")]
    public void The_regional_default_follows_the_partition(string region, bool fips, string expected)
    {
        var endpoint = Unconfigured.Resolve(region, null, fips);

        Assert.Equal(new Uri(expected), endpoint.Url);
    }

    [Fact]
    public void The_sdk_configured_endpoint_overrides_the_default_and_an_explicit_endpoint_overrides_both()
    {
        var configured = new EcrEndpointResolver(() => "http://127.0.0.1:4566");

        Assert.Equal(new Uri("http://127.0.0.1:4566/"), configured.Resolve("us-west-2", null, useFips: true).Url);
        Assert.Equal(new Uri("https://ecr.internal.example/"), configured.Resolve("us-west-2", "https://ecr.internal.example/", useFips: false).Url);
        Assert.Equal("configured endpoint", configured.Resolve("us-west-2", "https://ecr.internal.example/", useFips: false).Source);
    }
}
