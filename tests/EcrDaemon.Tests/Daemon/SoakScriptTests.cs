using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The README's soak command (High availability) is scripts/soak.sh, which installs the tools the
/// soak needs before it runs, and runs it with CI=true, so that outside CI a missing helm fails
/// the run instead of skipping the soak silently.
/// </summary>
public sealed class SoakScriptTests
{
    private static readonly string Script = Path.Combine(Tools.RepositoryRoot, "scripts", "soak.sh");

    [Fact]
    public void The_readme_soak_command_is_the_script_that_installs_its_tools_first()
    {
        Assert.Contains("bash scripts/soak.sh 600", Readme.Text, StringComparison.Ordinal);
        var lines = File.ReadAllLines(Script).Where(l => !l.TrimStart().StartsWith('#')).ToList();
        var tools = lines.FindIndex(l => l.Trim() == "bash scripts/tools.sh");
        var test = lines.FindIndex(l => l.Contains("dotnet test", StringComparison.Ordinal) && l.Contains("SoakTests", StringComparison.Ordinal));
        Assert.True(tools >= 0 && test > tools, $"scripts/soak.sh must run scripts/tools.sh before the soak (tools at line {tools}, test at line {test})");
        Assert.Contains(lines, l => l.Contains("export CI=true", StringComparison.Ordinal) && l.Contains("ECR_DAEMON_SOAK_SECONDS=\"$seconds\"", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("ten")]
    [InlineData("-5")]
    public async Task A_duration_that_is_not_a_positive_number_of_seconds_exits_2_with_the_usage(string seconds)
    {
        var result = await Tools.RunAsync("bash", [Script, seconds]);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("usage: bash scripts/soak.sh [SECONDS]", result.StandardError, StringComparison.Ordinal);
    }
}
