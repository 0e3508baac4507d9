using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace EcrDaemon.Tests.Configuration;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_are_a_10_second_timeout_and_bounded_retries()
    {
        using var services = EcrTestServices.Build(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2" });

        var ecr = services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value.Ecr;

        Assert.Equal(TimeSpan.FromSeconds(10), ecr.Timeout);
        Assert.False(ecr.UseFips);
        Assert.Equal(4, ecr.Retry.MaxAttempts);
        Assert.Equal(TimeSpan.FromMinutes(1), ecr.Retry.TotalTimeout);
    }

    [Fact]
    public void Without_registries_the_seed_variables_describe_one()
    {
        using var services = EcrTestServices.Build(new Dictionary<string, string?> { ["AWS_REGION"] = "eu-west-1", ["AWS_ACCOUNT"] = "111122223333" });

        var target = Assert.Single(services.GetRequiredService<EcrTokenService>().Targets());

        Assert.Equal(("eu-west-1", "111122223333"), (target.Region, target.AccountId));
    }

    [Fact]
    public void A_registry_without_a_region_takes_AWS_REGION_and_registries_keep_their_own()
    {
        using var services = EcrTestServices.Build(new Dictionary<string, string?>
        {
            ["AWS_REGION"] = "eu-west-1",
            ["AWS_ACCOUNT"] = "999999999999",
            ["EcrDaemon:Registries:0:AccountId"] = "111111111111",
            ["EcrDaemon:Registries:1:AccountId"] = "222222222222",
            ["EcrDaemon:Registries:1:Region"] = "us-east-2",
            ["EcrDaemon:Ecr:UseFips"] = "true",
        });

        var targets = services.GetRequiredService<EcrTokenService>().Targets();

        Assert.Equal([("eu-west-1", "111111111111"), ("us-east-2", "222222222222")], targets.Select(t => (t.Region, t.AccountId)));
        Assert.Equal("api.ecr-fips.us-east-2.amazonaws.com", targets[1].Endpoint.Url.Host);
    }

    [Theory]
    [InlineData("EcrDaemon:Registries:0:Region", "Oregon", "Region 'Oregon' is not an AWS region name")]
    [InlineData("EcrDaemon:Registries:0:AccountId", "1234567890123", "must be a 12-digit AWS account id")]
    [InlineData("EcrDaemon:Registries:0:RoleArn", "puller", "is not an IAM role ARN")]
    [InlineData("EcrDaemon:Registries:0:ExternalId", "x", "ExternalId is set but EcrDaemon:Registries:0:RoleArn is not")]
    [InlineData("EcrDaemon:Registries:0:Endpoint", "localhost:4566", "must be an absolute http(s) URL")]
    [InlineData("EcrDaemon:Ecr:Timeout", "00:00:00", "Timeout must be positive")]
    [InlineData("EcrDaemon:Ecr:Retry:MaxAttempts", "0", "MaxAttempts must be between 1 and 20")]
    [InlineData("EcrDaemon:Ecr:Retry:TotalTimeout", "00:00:01", "TotalTimeout (00:00:01) must be at least")]
    [InlineData("EcrDaemon:SecretName", "aws-registry\n", "is not a valid secret name")]
    [InlineData("EcrDaemon:ServiceAccounts:0", "default\n", "is not a ServiceAccount name")]
    [InlineData("EcrDaemon:ExcludedNamespaces:0", "kube-system\n", "is not a namespace name")]
    [InlineData("EcrDaemon:LeaderElection:LeaseName", "ecr-daemon\n", "is not a valid Lease name")]
    public void Invalid_settings_fail_validation_naming_the_key(string key, string value, string expected)
    {
        using var services = EcrTestServices.Build(new Dictionary<string, string?>
        {
            ["EcrDaemon:Registries:0:Region"] = "us-west-2",
            [key] = value,
        });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value);

        Assert.Contains(error.Failures, f => f.Contains(expected, StringComparison.Ordinal));
    }
}
