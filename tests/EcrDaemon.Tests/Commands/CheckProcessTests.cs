using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>The built daemon's <c>check</c>: exit codes and messages for credential problems, and the endpoint it chooses (invalid configuration: Configuration/InvalidConfigurationTests).</summary>
public sealed class CheckProcessTests
{
    [Fact]
    public async Task Missing_credentials_exit_1_naming_the_cause_without_network_calls()
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_REGION"] = "us-west-2",
            // Were the chain to get as far as calling ECR, it would fail on this closed port instead.
            ["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:9/",
        };

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardOutput));
        Assert.StartsWith("FAIL  default registry in us-west-2  invalid_credentials (permanent): no AWS credentials found", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9/", null, "http://127.0.0.1:9/")]
    [InlineData("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9/", "true", "https://api.ecr.us-west-2.amazonaws.com/")]
    [InlineData("AWS_CONFIG_FILE", "written by the test", null, "http://127.0.0.1:9/")]
    public async Task The_sdk_endpoint_settings_choose_the_endpoint(string key, string value, string? ignoreConfigured, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("ecrdaemon-endpoint-");
        try
        {
            if (key == "AWS_CONFIG_FILE")
            {
                value = Path.Combine(dir.FullName, "config");
                await File.WriteAllTextAsync(value, "[default]\nservices = local\n[services local]\necr =\n  endpoint_url = http://127.0.0.1:9\n");
            }

            // Without credentials the check fails before any call, and its line names the chosen endpoint.
            var run = await DaemonProcess.RunAsync(new Dictionary<string, string?>
            {
                ["AWS_REGION"] = "us-west-2",
                [key] = value,
                ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = ignoreConfigured,
            }, "check");

            Assert.True(run.ExitCode == 1, run.ToString());
            Assert.EndsWith($"endpoint: {expected}", Assert.Single(MotoTests.Lines(run.StandardOutput)), StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
