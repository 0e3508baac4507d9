using EcrDaemon.Testing;
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

    /// <summary>
    /// A valid configuration with profiles: registries acct-a and acct-b (named), profile team-a
    /// (both registries) and team-b (acct-b). Each case of <see cref="A_bad_profiles_configuration_exits_2_with_one_line_naming_the_key_and_the_value"/>
    /// changes one variable (null: removes it).
    /// </summary>
    private static Dictionary<string, string?> ProfilesEnvironment(string? key = null, string? value = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_REGION"] = "us-west-2",
            ["EcrDaemon__Registries__0__Name"] = "acct-a",
            ["EcrDaemon__Registries__0__Region"] = "us-west-2",
            ["EcrDaemon__Registries__0__AccountId"] = "111111111111",
            ["EcrDaemon__Registries__1__Name"] = "acct-b",
            ["EcrDaemon__Registries__1__Region"] = "us-west-2",
            ["EcrDaemon__Registries__1__AccountId"] = "222222222222",
            ["EcrDaemon__Profiles__0__Name"] = "team-a",
            ["EcrDaemon__Profiles__0__NamespaceSelector"] = "team=a",
            ["EcrDaemon__Profiles__0__SecretName"] = "ecr-team-a",
            ["EcrDaemon__Profiles__0__Registries__0"] = "acct-a",
            ["EcrDaemon__Profiles__0__Registries__1"] = "acct-b",
            ["EcrDaemon__Profiles__1__Name"] = "team-b",
            ["EcrDaemon__Profiles__1__NamespaceSelector"] = "team=b",
            ["EcrDaemon__Profiles__1__SecretName"] = "ecr-team-b",
            ["EcrDaemon__Profiles__1__Registries__0"] = "acct-b",
            ["EcrDaemon__Profiles__1__ServiceAccounts"] = "",
            ["KUBECONFIG"] = null,
        };
        if (key is not null)
        {
            env[key] = value;
        }

        return env;
    }

    [Fact]
    public async Task The_profiles_configuration_the_cases_start_from_is_valid()
    {
        // It passes validation and fails only for want of a Kubernetes configuration: so each case below fails for its own change.
        var run = await DaemonProcess.RunAsync(ProfilesEnvironment(), "run");

        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardError));
        Assert.StartsWith("ecrdaemon: no Kubernetes configuration", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EcrDaemon__Profiles__1__Registries__1", "acct-c", "EcrDaemon:Profiles:1:Registries:1", "'acct-c'")] // unknown registry name
    [InlineData("EcrDaemon__Profiles__1__Name", "team-a", "EcrDaemon:Profiles:1:Name", "'team-a'")] // two profiles with one name
    [InlineData("EcrDaemon__Profiles__1__SecretName", "ecr-team-a", "EcrDaemon:Profiles:1:SecretName", "'ecr-team-a'")] // two profiles with one secret name
    [InlineData("EcrDaemon__Profiles__1__Registries__0", null, "EcrDaemon:Profiles:1:Registries", null)] // no registries (key absent)
    [InlineData("EcrDaemon__Profiles__0__SecretName", "Bad_Name", "EcrDaemon:Profiles:0:SecretName", "'Bad_Name'")] // not a valid secret name
    [InlineData("EcrDaemon__Profiles__0__SecretName", null, "EcrDaemon:Profiles:0:SecretName", null)] // required
    [InlineData("EcrDaemon__Profiles__0__Name", "Team_A", "EcrDaemon:Profiles:0:Name", "'Team_A'")] // not a DNS label
    [InlineData("EcrDaemon__Profiles__0__NamespaceSelector", "team in prod", "EcrDaemon:Profiles:0:NamespaceSelector", "'team in prod'")]
    [InlineData("EcrDaemon__Profiles__0__ServiceAccounts__0", "Default", "EcrDaemon:Profiles:0:ServiceAccounts:0", "'Default'")]
    [InlineData("EcrDaemon__SecretName", "aws-registry", "EcrDaemon:SecretName", "'aws-registry'")] // the default profile's key, set with Profiles
    [InlineData("EcrDaemon__NamespaceSelector", "team=c", "EcrDaemon:NamespaceSelector", "'team=c'")] // likewise
    [InlineData("EcrDaemon__ServiceAccounts__0", "builder", "EcrDaemon:ServiceAccounts", null)] // likewise
    [InlineData("EcrDaemon__Registries__1__Name", "Acct_B", "EcrDaemon:Registries:1:Name", "'Acct_B'")] // not a DNS label
    public async Task A_bad_profiles_configuration_exits_2_with_one_line_naming_the_key_and_the_value(string key, string? value, string expectedKey, string? expectedValue)
    {
        var run = await DaemonProcess.RunAsync(ProfilesEnvironment(key, value), "run");

        AssertOneLineNaming(run, expectedKey, expectedValue);
    }

    [Fact]
    public async Task A_profile_with_an_empty_Registries_list_exits_2_with_one_line_naming_it()
    {
        var env = ProfilesEnvironment("EcrDaemon__Profiles__1__Registries__0", null);
        env["EcrDaemon__Profiles__1__Registries"] = ""; // an empty list, as the chart renders `registries: []`

        var run = await DaemonProcess.RunAsync(env, "run");

        AssertOneLineNaming(run, "EcrDaemon:Profiles:1:Registries", null);
    }

    [Fact]
    public async Task With_profiles_a_registry_without_a_Name_exits_2_with_one_line_naming_it()
    {
        var env = ProfilesEnvironment();
        env["EcrDaemon__Registries__2__Region"] = "us-west-2";
        env["EcrDaemon__Registries__2__AccountId"] = "333333333333";

        var run = await DaemonProcess.RunAsync(env, "run");

        AssertOneLineNaming(run, "EcrDaemon:Registries:2:Name", null);
    }

    [Fact]
    public async Task With_profiles_a_registry_no_profile_uses_exits_2_with_one_line_naming_it()
    {
        var env = ProfilesEnvironment();
        env["EcrDaemon__Registries__2__Name"] = "acct-c";
        env["EcrDaemon__Registries__2__Region"] = "us-west-2";
        env["EcrDaemon__Registries__2__AccountId"] = "333333333333";

        var run = await DaemonProcess.RunAsync(env, "run");

        AssertOneLineNaming(run, "EcrDaemon:Registries:2", "'acct-c'");
    }

    [Fact]
    public async Task An_Argo_CD_profile_with_ServiceAccounts_exits_2_with_one_line_naming_it()
    {
        var env = ProfilesEnvironment();
        env["EcrDaemon__Profiles__0__Format"] = "ArgoCdRepositoryCredentials";
        env["EcrDaemon__Profiles__0__ServiceAccounts__0"] = "default";

        var run = await DaemonProcess.RunAsync(env, "run");

        AssertOneLineNaming(run, "EcrDaemon:Profiles:0:ServiceAccounts", null);
    }

    [Fact]
    public async Task An_Argo_CD_secret_name_that_another_profile_uses_exits_2_with_one_line_naming_it()
    {
        // Argo CD profile team-b writes <SecretName>-<registry>: ecr-acct-b, which profile team-a also names.
        var env = ProfilesEnvironment();
        env["EcrDaemon__Profiles__0__SecretName"] = "ecr-acct-b";
        env["EcrDaemon__Profiles__1__SecretName"] = "ecr";
        env["EcrDaemon__Profiles__1__Format"] = "ArgoCdRepositoryCredentials";
        env.Remove("EcrDaemon__Profiles__1__ServiceAccounts");

        var run = await DaemonProcess.RunAsync(env, "run");

        AssertOneLineNaming(run, "EcrDaemon:Profiles:1:SecretName", "'ecr-acct-b'");
    }

    [Theory]
    [InlineData("222222222222.dkr.ecr.us-west-2.amazonaws.com")] // another registry's own host
    [InlineData("public.ecr.aws")]                              // ECR Public's host
    public async Task An_alias_naming_another_registrys_host_exits_2_with_one_line_naming_it(string alias)
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_REGION"] = "us-west-2",
            ["EcrDaemon__Registries__0__AccountId"] = "111111111111",
            ["EcrDaemon__Registries__0__Aliases__0"] = alias,
            ["EcrDaemon__Registries__1__AccountId"] = "222222222222",
            ["EcrDaemon__Registries__2__Public"] = "true",
        };

        var run = await DaemonProcess.RunAsync(env, "check");

        AssertOneLineNaming(run, "EcrDaemon:Registries:0:Aliases:0", $"'{alias}' is the host of EcrDaemon:Registries:");
    }

    private static void AssertOneLineNaming(ProcessResult run, string key, string? value)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(MotoTests.Lines(run.StandardError));
        Assert.StartsWith("ecrdaemon: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(key, line, StringComparison.Ordinal);
        if (value is not null)
        {
            Assert.Contains(value, line, StringComparison.Ordinal);
        }
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
