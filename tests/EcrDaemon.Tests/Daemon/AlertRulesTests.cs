using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>The shipped alert rules are valid and behave as their unit tests say (promtool).</summary>
public sealed class AlertRulesTests
{
    private static readonly string Directory = Path.Combine(Tools.RepositoryRoot, "deploy", "prometheus");

    [ToolFact("promtool")]
    public async Task The_rules_pass_promtool_check_and_their_unit_tests()
    {
        var check = await Tools.RunAsync(Tools.Require("promtool"), ["check", "rules", Path.Combine(Directory, "ecr-daemon-alerts.yaml")]);
        var test = await Tools.RunAsync(Tools.Require("promtool"), ["test", "rules", Path.Combine(Directory, "ecr-daemon-alerts.test.yaml")]);

        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("SUCCESS: 6 rules found", check.StandardOutput, StringComparison.Ordinal);
        Assert.True(test.ExitCode == 0, test.ToString());
    }
}
