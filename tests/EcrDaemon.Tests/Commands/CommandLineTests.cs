using System.Reflection;
using EcrDaemon.Commands;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// Issue 21: the command line of the built program (<c>dotnet EcrDaemon.dll</c>) in an environment with no
/// configuration at all (no AWS_REGION, no kubeconfig, which every command needs): help in its three forms
/// for the program and for each command, <c>--version</c> with the commit, and parse errors as one line and
/// exit 2. <see cref="PublishedCommandLineTests"/> runs the same from the Native AOT binary.
/// </summary>
public sealed class CommandLineTests
{
    /// <summary>No configuration: without AWS_REGION no registry is valid, without a kubeconfig no command can run.</summary>
    internal static readonly Dictionary<string, string?> NoConfiguration = new()
    {
        ["KUBECONFIG"] = "/nonexistent/kubeconfig",
        ["AWS_REGION"] = null,
        ["AWS_DEFAULT_REGION"] = null,
    };

    public static TheoryData<string[], string?> HelpRequests()
    {
        var data = new TheoryData<string[], string?>
        {
            { ["--help"], null },
            { ["-h"], null },
            { ["help"], null },
        };
        foreach (var command in new[] { "run", "check", "cleanup", "explain" })
        {
            data.Add([command, "--help"], command);
            data.Add([command, "-h"], command);
            data.Add(["help", command], command);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(HelpRequests))]
    public async Task Help_prints_usage_options_and_exit_codes_without_any_configuration(string[] arguments, string? command)
    {
        var result = await DaemonProcess.RunAsync(NoConfiguration, arguments);

        AssertHelp(result, command);
    }

    [Fact]
    public async Task Version_prints_the_version_and_the_commit_of_the_build_without_any_configuration()
    {
        var result = await DaemonProcess.RunAsync(NoConfiguration, "--version");

        AssertVersion(result);
    }

    public static TheoryData<string[], string> ParseErrors() => new()
    {
        { ["frobnicate"], "ecrdaemon: unknown command 'frobnicate'; use one of: run, check, cleanup, explain, help; see 'ecrdaemon --help'" },
        { ["--frobnicate"], "ecrdaemon: unknown option '--frobnicate'; see 'ecrdaemon --help'" },
        { ["--EcrDaemon:SecretName"], "ecrdaemon: '--EcrDaemon:SecretName' has no value (write --EcrDaemon:SecretName=VALUE); see 'ecrdaemon --help'" },
        { ["run", "--urlz=http://*:9090"], "ecrdaemon: unknown option '--urlz'; see 'ecrdaemon run --help'" },
        { ["cleanup", "--secretname", "old"], "ecrdaemon: unknown option '--secretname'; see 'ecrdaemon cleanup --help'" },
        { ["-x"], "ecrdaemon: unknown option '-x'; see 'ecrdaemon --help'" },
        { ["run", "extra"], "ecrdaemon: unexpected argument 'extra'; see 'ecrdaemon run --help'" },
        { ["check", "-x"], "ecrdaemon: unknown option '-x'; see 'ecrdaemon check --help'" },
        { ["check", "--version"], "ecrdaemon: --version goes before any command: ecrdaemon --version; see 'ecrdaemon check --help'" },
        { ["cleanup", "--secret-name"], "ecrdaemon: Required argument missing for option: '--secret-name'; see 'ecrdaemon cleanup --help'" },
        { ["cleanup", "extra"], "ecrdaemon: unexpected argument 'extra'; see 'ecrdaemon cleanup --help'" },
        { ["help", "frobnicate"], "ecrdaemon: Argument 'frobnicate' not recognized. Must be one of: 'run' 'check' 'cleanup' 'explain'; see 'ecrdaemon help --help'" },
    };

    [Theory]
    [MemberData(nameof(ParseErrors))]
    public async Task A_parse_error_exits_2_with_one_line_pointing_at_help(string[] arguments, string expected)
    {
        var result = await DaemonProcess.RunAsync(NoConfiguration, arguments);

        AssertParseError(result, expected);
    }

    [Fact]
    public async Task No_arguments_is_run_and_its_configuration_error_points_at_help()
    {
        var result = await DaemonProcess.RunAsync(NoConfiguration);

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(MotoTests.Lines(result.StandardError));
        Assert.Equal("ecrdaemon: invalid configuration: EcrDaemon:Registries:0:Region is required (or set AWS_REGION) (no command given, so `run`; ecrdaemon --help lists the commands)", line);
    }

    [Fact]
    public void Configuration_switches_and_options_reach_the_configuration_in_the_order_given()
    {
        var root = CommandDispatcher.CommandLine((_, _, _) => Task.FromResult(0));
        var parse = root.Parse(["cleanup", "--EcrDaemon:SecretName=a", "--urls", "http://127.0.0.1:0", "EcrDaemon:Concurrency=3", "/EcrDaemon:RefreshAt=0.5", "--secret-name", "old"]);

        var (arguments, problem) = CommandDispatcher.ConfigurationArguments(parse);

        Assert.Null(problem);
        Assert.Equal("cleanup", parse.CommandResult.Command.Name);
        Assert.Equal(["--EcrDaemon:SecretName=a", "--urls", "http://127.0.0.1:0", "EcrDaemon:Concurrency=3", "/EcrDaemon:RefreshAt=0.5", "--secret-name=old"], arguments);
    }

    [Theory]
    [InlineData("cleanup", "--secretname", "old")] // cleanup would clean the current secret name everywhere instead of old
    [InlineData("cleanup", "--secret_name=old")]
    [InlineData("run", "--urlz", "http://*:9090")]
    [InlineData("check", "/aws-secret-access-key=wJalrXUtnFEMI-not-to-be-echoed")]
    [InlineData("check", "aws-secret-access-key=wJalrXUtnFEMI-not-to-be-echoed")]
    public void A_switch_that_names_no_configuration_section_nor_a_host_setting_is_refused_without_echoing_its_value(params string[] args)
    {
        var root = CommandDispatcher.CommandLine((_, _, _) => Task.FromResult(0));

        var (arguments, problem) = CommandDispatcher.ConfigurationArguments(root.Parse(args));

        Assert.Empty(arguments);
        Assert.NotNull(problem);
        Assert.DoesNotContain("wJalr", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("old", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("9090", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--urls=http://*:9090")]
    [InlineData("--URLS", "http://*:9090")]
    [InlineData("--http_ports=9090")]
    [InlineData("--environment=Production")]
    [InlineData("--Logging:LogLevel:Default=Debug")]
    [InlineData("EcrDaemon:Concurrency=3")]
    public void Configuration_sections_and_the_hosts_own_settings_stay_switches(params string[] args)
    {
        var root = CommandDispatcher.CommandLine((_, _, _) => Task.FromResult(0));

        var (arguments, problem) = CommandDispatcher.ConfigurationArguments(root.Parse(["run", .. args]));

        Assert.Null(problem);
        Assert.Equal(args, arguments);
    }

    [Fact]
    public async Task A_switch_on_the_command_line_sets_the_configuration_as_the_README_says()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        // An invalid value shows that the switch reached the options' validation (exit 2 naming it) before anything ran.
        var exit = await CommandDispatcher.RunAsync(["check", "--EcrDaemon:Registries:0:Region=us-west-2", "--EcrDaemon:SecretName=Not_A_Name"], stdout, stderr);

        Assert.True(exit == 2, stderr.ToString());
        Assert.Contains("EcrDaemon:SecretName 'Not_A_Name' is not a valid secret name", stderr.ToString(), StringComparison.Ordinal);
    }

    internal static void AssertHelp(ProcessResult result, string? command)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.StandardError);
        var output = result.StandardOutput;
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
        Assert.Contains(command switch
        {
            null => "ecrdaemon [command] [options]",
            "explain" => "ecrdaemon explain [<NAMESPACE>] [options]",
            _ => $"ecrdaemon {command} [options]",
        }, output, StringComparison.Ordinal);
        Assert.Contains("-h, --help", output, StringComparison.Ordinal);
        Assert.Contains(command is null ? "Exit codes (no command: run):" : "Exit codes:", output, StringComparison.Ordinal);
        Assert.Contains("  2  ", output, StringComparison.Ordinal);
        Assert.Contains("--EcrDaemon:", output, StringComparison.Ordinal);
        switch (command)
        {
            case null:
                Assert.Contains("--version", output, StringComparison.Ordinal);
                foreach (var name in new[] { "run", "check", "cleanup", "explain", "help" })
                {
                    Assert.Matches($"(?m)^  {name} ", output);
                }

                break;
            case "check":
                Assert.Contains("1  a registry failed, or its token is expired or expires within MinRefreshInterval", output, StringComparison.Ordinal);
                break;
            case "cleanup":
                Assert.Contains("--secret-name <NAME>", output, StringComparison.Ordinal);
                break;
            case "explain":
                Assert.Contains("--all", output, StringComparison.Ordinal);
                Assert.Contains("-o, --output <text|json>", output, StringComparison.Ordinal);
                Assert.Contains("0  in sync", output, StringComparison.Ordinal);
                break;
            default:
                Assert.Contains("0  stopped by SIGTERM/Ctrl-C", output, StringComparison.Ordinal);
                break;
        }
    }

    internal static void AssertVersion(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.StandardError);
        var informational = typeof(CommandDispatcher).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        var commit = informational[(informational.IndexOf('+', StringComparison.Ordinal) + 1)..];
        Assert.Matches("^[0-9a-f]{40}$", commit);
        Assert.Equal($"ecrdaemon {informational[..informational.IndexOf('+', StringComparison.Ordinal)]} (commit {commit})", Assert.Single(MotoTests.Lines(result.StandardOutput)));
    }

    internal static void AssertParseError(ProcessResult result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Empty(result.StandardOutput);
        Assert.Equal(expected, Assert.Single(MotoTests.Lines(result.StandardError)));
    }
}

/// <summary>The command line of the Native AOT binary (the image's), with no configuration and no .NET runtime.</summary>
[UsesPublishedDaemon]
public sealed class PublishedCommandLineTests
{
    [ToolFact("bash", "git")]
    public async Task The_published_daemon_helps_tells_its_version_and_refuses_a_bad_command_line_without_any_configuration()
    {
        var executable = PublishedDaemon.Executable(await PublishedDaemon.OutputAsync());
        var home = Directory.CreateTempSubdirectory("ecrdaemon-published-cli-");
        try
        {
            var environment = PublishedDaemon.WithoutDotnet(DaemonProcess.ScrubbedEnvironment(home.FullName, CommandLineTests.NoConfiguration));
            Task<ProcessResult> Run(params string[] arguments) => Tools.RunAsync(executable, arguments, environment, TimeSpan.FromSeconds(60));

            CommandLineTests.AssertHelp(await Run("--help"), null);
            CommandLineTests.AssertHelp(await Run("help"), null);
            foreach (var command in new[] { "run", "check", "cleanup", "explain" })
            {
                CommandLineTests.AssertHelp(await Run(command, "-h"), command);
                CommandLineTests.AssertHelp(await Run("help", command), command);
            }

            // Published from the checkout: the commit is HEAD's.
            var head = (await Tools.RunAsync("git", ["-C", Tools.RepositoryRoot, "rev-parse", "HEAD"])).StandardOutput.Trim();
            var version = await Run("--version");
            Assert.True(version.ExitCode == 0, version.ToString());
            Assert.Matches($"^ecrdaemon [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit {head}\\)$", Assert.Single(MotoTests.Lines(version.StandardOutput)));
            CommandLineTests.AssertParseError(await Run("frobnicate"),
                "ecrdaemon: unknown command 'frobnicate'; use one of: run, check, cleanup, explain, help; see 'ecrdaemon --help'");
            CommandLineTests.AssertParseError(await Run("check", "-x"), "ecrdaemon: unknown option '-x'; see 'ecrdaemon check --help'");
            CommandLineTests.AssertParseError(await Run("cleanup", "--secret-name"),
                "ecrdaemon: Required argument missing for option: '--secret-name'; see 'ecrdaemon cleanup --help'");
        }
        finally
        {
            home.Delete(recursive: true);
        }
    }
}
