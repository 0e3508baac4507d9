using System.Text.RegularExpressions;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// The README's first command: the demo starts the test cluster, the ECR stand-in and the real daemon, which runs
/// under the RBAC the chart renders for the demo's two profiles and syncs each profile's namespaces.
/// </summary>
public sealed partial class DemoScriptTests
{
    private static readonly string Script = Path.Combine(Tools.RepositoryRoot, "scripts", "demo.sh");

    [ToolFact("kubectl", "helm", "bash")]
    public async Task The_demo_syncs_each_profiles_namespaces_with_only_its_registries_and_keeps_the_other_pull_secret()
    {
        // --check uses the binaries this test run built, waits for the sync, prints the state and stops everything.
        var result = await Tools.RunAsync("bash", [Script, "--check"], new Dictionary<string, string?>(), TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.ToString());
        var output = result.StandardOutput;
        Assert.Contains("demo: check passed", output, StringComparison.Ordinal);

        // kubectl get secrets -A: profile shared's secret in ns-1 and ns-2, profile team-a's in ns-3, nothing in demo.
        Assert.Matches(SecretRow("ns-1", "aws-registry"), output);
        Assert.Matches(SecretRow("ns-2", "aws-registry"), output);
        Assert.Matches(SecretRow("ns-3", "ecr-team-a"), output);
        Assert.DoesNotMatch(SecretRow("ns-[12]", "ecr-team-a"), output);
        Assert.DoesNotMatch(SecretRow("ns-3", "aws-registry"), output);
        Assert.DoesNotMatch(new Regex(@"^demo\s", RegexOptions.Multiline), output);

        // ServiceAccounts: ns-2 keeps its own pull secret first.
        Assert.Contains("ns-2 default ServiceAccount: team-registry aws-registry\n", output, StringComparison.Ordinal);
        Assert.Contains("ns-3 default ServiceAccount: ecr-team-a\n", output, StringComparison.Ordinal);

        // Each secret holds only its profile's registries: shared's never account 111111111111.
        Assert.Contains("ns-1/aws-registry: 123456789012.dkr.ecr.us-west-2.amazonaws.com\n", output, StringComparison.Ordinal);
        Assert.Contains("ns-3/ecr-team-a: 111111111111.dkr.ecr.us-west-2.amazonaws.com 123456789012.dkr.ecr.us-west-2.amazonaws.com\n", output, StringComparison.Ordinal);
    }

    [ToolFact("helm")]
    public async Task The_demos_daemon_gets_the_settings_the_chart_renders_for_the_demos_values()
    {
        var script = await File.ReadAllTextAsync(Script);
        var values = ValuesHeredoc().Match(script);
        Assert.True(values.Success, "scripts/demo.sh has no values heredoc");

        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(values.Groups[1].Value)).OfType<V1Deployment>().Single();
        var profileSettings = deployment.Spec.Template.Spec.Containers[0].Env
            .Where(e => e.Name.StartsWith("EcrDaemon__Profiles__", StringComparison.Ordinal)
                || (e.Name.StartsWith("EcrDaemon__Registries__", StringComparison.Ordinal) && e.Name.EndsWith("__Name", StringComparison.Ordinal))
                || (e.Name.StartsWith("EcrDaemon__Registries__", StringComparison.Ordinal) && e.Name.EndsWith("__AccountId", StringComparison.Ordinal)))
            .Select(e => $"{e.Name}={e.Value}")
            .ToList();

        Assert.Equal(13, profileSettings.Count); // 2 registries x (Name, AccountId); profile team-a 5 keys, shared 4
        var daemonLines = script.Split('\n').Select(l => l.TrimEnd(' ', '\\')).ToHashSet(StringComparer.Ordinal);
        Assert.All(profileSettings, setting => Assert.Contains(setting, daemonLines));
        Assert.Equal(profileSettings.Count, daemonLines.Count(l => l.StartsWith("EcrDaemon__Profiles__", StringComparison.Ordinal)) +
            daemonLines.Count(l => l.StartsWith("EcrDaemon__Registries__", StringComparison.Ordinal) && !l.Contains("__Endpoint=", StringComparison.Ordinal)));
    }

    private static Regex SecretRow(string ns, string secret) =>
        new($@"^{ns}\s+{Regex.Escape(secret)}\s+kubernetes\.io/dockerconfigjson\s", RegexOptions.Multiline);

    [GeneratedRegex(@"<<'VALUES'\n(.*?)\nVALUES\n", RegexOptions.Singleline)]
    private static partial Regex ValuesHeredoc();
}
