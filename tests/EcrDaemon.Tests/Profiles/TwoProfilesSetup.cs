using EcrDaemon.TestCluster;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// Two profiles over one registry, r: team-a (namespaces labelled a=true, the harness's secret name) and team-b
/// (b=true, <see cref="SecretB"/>), and a harness under the RBAC the chart renders for both secret names.
/// </summary>
internal static class TwoProfilesSetup
{
    public const string SecretB = "ecr-team-b";

    public static async Task<DaemonHarness> StartHarnessAsync() =>
        await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = await HelmChart.RbacForSecretNamesAsync([DaemonHarness.SecretName, SecretB]) });

    public static Dictionary<string, string?> Settings() => new()
    {
        ["EcrDaemon:Registries:0:Name"] = "r",
        ["EcrDaemon:Profiles:0:Name"] = "team-a",
        ["EcrDaemon:Profiles:0:NamespaceSelector"] = "a=true",
        ["EcrDaemon:Profiles:0:SecretName"] = DaemonHarness.SecretName,
        ["EcrDaemon:Profiles:0:Registries:0"] = "r",
        ["EcrDaemon:Profiles:1:Name"] = "team-b",
        ["EcrDaemon:Profiles:1:NamespaceSelector"] = "b=true",
        ["EcrDaemon:Profiles:1:SecretName"] = SecretB,
        ["EcrDaemon:Profiles:1:Registries:0"] = "r",
    };
}
