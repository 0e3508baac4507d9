using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Configuration;

/// <summary>
/// The built program exits 2 with one clear line on stderr, never a stack trace, for every invalid
/// configuration of <c>run</c> and <c>check</c>: a bad option, a bad KUBECONFIG, no Kubernetes
/// configuration at all, an unknown command. (<see cref="OptionBoundaryTests"/> runs every option's
/// bounds; <c>cleanup --secret-name</c> with a bad name is part of <c>Daemon/RenameCleanupTests</c>.)
/// </summary>
public sealed class InvalidConfigurationTests
{
    [Theory]
    [InlineData("EcrDaemon__NamespaceSelector", "team in prod", "EcrDaemon:NamespaceSelector 'team in prod' is not a label selector")]
    [InlineData("EcrDaemon__NamespaceSelector", "", "EcrDaemon:NamespaceSelector '' is not a label selector: it is empty")]
    [InlineData("EcrDaemon__SecretName", "AWS_Registry", "EcrDaemon:SecretName 'AWS_Registry' is not a valid secret name")]
    [InlineData("EcrDaemon__RefreshAt", "1.5", "EcrDaemon:RefreshAt must be between 0 and 1, exclusive (it is 1.5)")]
    [InlineData("EcrDaemon__RefreshAt", "0", "EcrDaemon:RefreshAt must be between 0 and 1, exclusive (it is 0)")]
    [InlineData("EcrDaemon__ServiceAccounts__0", "Default", "EcrDaemon:ServiceAccounts:0 'Default' is not a ServiceAccount name")]
    [InlineData("EcrDaemon__Concurrency", "0", "EcrDaemon:Concurrency must be between 1 and 256")]
    [InlineData("AWS_REGION", null, "EcrDaemon:Registries:0:Region is required (or set AWS_REGION)")]
    public async Task Bad_configuration_exits_2_with_one_clear_line(string key, string? value, string expected)
    {
        var environment = new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", [key] = value };

        var result = await DaemonProcess.RunAsync(environment, "run");

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::", "no kubeconfig at (no file listed)")]
    [InlineData("MISSING", "no kubeconfig at MISSING")]
    [InlineData("BAD", "BAD is not a valid kubeconfig")]
    [InlineData("GOOD:BAD", "BAD is not a valid kubeconfig")]
    [InlineData("EMPTY", "EMPTY is not a usable kubeconfig")]
    [InlineData("", "no kubeconfig at")]
    public async Task A_bad_KUBECONFIG_exits_2_with_one_line_naming_it_and_the_file(string variable, string expected)
    {
        using var directory = new KubeconfigDirectory();
        var result = await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["KUBECONFIG"] = directory.Expand(variable) }, "run");

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon: no Kubernetes configuration: ", line, StringComparison.Ordinal);
        Assert.Contains("KUBECONFIG", line, StringComparison.Ordinal);
        Assert.Contains(directory.Expand(expected), line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EcrDaemon__Registries__0__AccountId", "12", "EcrDaemon:Registries:0:AccountId '12' must be a 12-digit AWS account id")]
    [InlineData("EcrDaemon__Registries__0__RoleArn", "arn:aws:iam::123:user/x", "is not an IAM role ARN")]
    [InlineData("EcrDaemon__Registries__0__Endpoint", "ftp://example", "must be an absolute http(s) URL")]
    [InlineData("EcrDaemon__Ecr__Timeout", "soon", "Failed to convert configuration value 'soon' at 'EcrDaemon:Ecr:Timeout'")]
    [InlineData("AWS_REGION", "", "EcrDaemon:Registries:0:Region is required (or set AWS_REGION)")]
    public async Task Invalid_configuration_exits_2_with_one_clear_line(string key, string value, string expected)
    {
        var env = new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", [key] = value };

        var run = await DaemonProcess.RunAsync(env, "check");

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Empty(run.StandardOutput);
        var line = Assert.Single(MotoTests.Lines(run.StandardError));
        Assert.StartsWith("ecrdaemon: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_command_exits_2_and_run_without_any_Kubernetes_configuration_exits_2_saying_so()
    {
        var unknown = await DaemonProcess.RunAsync(new Dictionary<string, string?>(), "frobnicate");
        var run = await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["KUBECONFIG"] = null });

        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("unknown command 'frobnicate'", unknown.StandardError, StringComparison.Ordinal);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("no Kubernetes configuration", run.StandardError, StringComparison.Ordinal);
        Assert.Contains(".kube/config", run.StandardError, StringComparison.Ordinal);
    }
}
