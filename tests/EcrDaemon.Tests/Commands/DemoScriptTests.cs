using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>The README's first command: the demo starts the test cluster, the ECR stand-in and the real daemon, which syncs.</summary>
public sealed class DemoScriptTests
{
    [ToolFact("kubectl", "bash")]
    public async Task The_demo_syncs_its_opted_in_namespaces_and_keeps_the_other_pull_secret()
    {
        // --check uses the binaries this test run built, waits for the sync, prints the state and stops everything.
        var result = await Tools.RunAsync("bash", [Path.Combine(Tools.RepositoryRoot, "scripts", "demo.sh"), "--check"],
            new Dictionary<string, string?>(), TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("demo: check passed", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("team-registry aws-registry", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("ns-1        aws-registry   kubernetes.io/dockerconfigjson", result.StandardOutput, StringComparison.Ordinal);
    }
}
