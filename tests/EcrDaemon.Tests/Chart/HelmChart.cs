using EcrDaemon.Testing;
using k8s;

namespace EcrDaemon.Tests.Chart;

/// <summary>Renders helm/ecr-daemon with the real helm (release "ecr-daemon" in namespace "ecr-daemon").</summary>
internal static class HelmChart
{
    public static string Directory { get; } = Path.Combine(Tools.RepositoryRoot, "helm", "ecr-daemon");

    /// <summary>Every optional feature on.</summary>
    public const string AllFeatures = """
        serviceAccount:
          annotations:
            eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/ecr-daemon
        registries:
          - region: us-west-2
            accountId: "111111111111"
          - region: eu-central-1
            accountId: "333333333333"
            roleArn: arn:aws:iam::333333333333:role/ecr-pull
            externalId: my-cluster
        aws:
          region: us-west-2
          staticCredentials:
            create: true
            accessKeyId: AKIAEXAMPLE
            secretAccessKey: example-secret
        service:
          prometheusAnnotations: true
        serviceMonitor:
          enabled: true
          labels: { release: prometheus }
        prometheusRule:
          enabled: true
        grafanaDashboard:
          enabled: true
        """;

    /// <summary>Runs helm template with a values file (YAML text); returns the result, failed or not.</summary>
    public static async Task<ProcessResult> TryRenderAsync(string valuesYaml = "", params string[] extraArguments)
    {
        var values = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(values, valuesYaml);
            return await Tools.RunAsync(Tools.Require("helm"),
                ["template", "ecr-daemon", Directory, "--namespace", "ecr-daemon", "-f", values, .. extraArguments]);
        }
        finally
        {
            File.Delete(values);
        }
    }

    public static async Task<string> RenderAsync(string valuesYaml = "", params string[] extraArguments)
    {
        var result = await TryRenderAsync(valuesYaml, extraArguments);
        return result.ExitCode == 0 ? result.StandardOutput : throw new InvalidOperationException($"helm template failed: {result}");
    }

    /// <summary>The rendered documents that KubernetesClient has models for, deserialized strictly (an unknown field throws).</summary>
    public static List<object> LoadStrict(string rendered)
    {
        var builtIn = Documents(rendered).Where(d => !d.Contains("apiVersion: monitoring.coreos.com/", StringComparison.Ordinal));
        return KubernetesYaml.LoadAllFromString(string.Join("\n---\n", builtIn), strict: true);
    }

    public static IEnumerable<string> Documents(string rendered) =>
        rendered.Split("\n---", StringSplitOptions.RemoveEmptyEntries).Where(d => d.Contains("kind:", StringComparison.Ordinal));
}
