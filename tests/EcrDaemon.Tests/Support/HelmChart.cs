using System.Globalization;
using EcrDaemon.Testing;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster;
using k8s;
using k8s.Models;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// Renders the repository's Helm chart (helm/ecr-daemon) with the real helm: <see cref="TemplateAsync"/>
/// as release "t" in namespace "default" (the alert and dashboard tests), <see cref="RenderAsync"/>
/// as release "ecr-daemon" in namespace "ecr-daemon" with a values file (the chart and RBAC tests).
/// </summary>
public static class HelmChart
{
    public static string ChartDirectory { get; } = Path.Combine(Tools.RepositoryRoot, "helm", "ecr-daemon");

    /// <summary>The objects <c>helm template t helm/ecr-daemon [arguments]</c> renders, one mapping per YAML document.</summary>
    public static async Task<IReadOnlyList<YamlMappingNode>> TemplateAsync(params string[] arguments)
    {
        var result = await Tools.RunAsync(Tools.Require("helm"), ["template", "t", ChartDirectory, .. arguments]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var stream = new YamlStream();
        stream.Load(new StringReader(result.StandardOutput));
        return [.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()];
    }

    /// <summary>The rendered objects of one kind.</summary>
    public static IEnumerable<YamlMappingNode> OfKind(this IEnumerable<YamlMappingNode> objects, string kind) =>
        objects.Where(o => o.Scalar("kind") == kind);

    /// <summary>The scalar at a path of mapping keys, or null when there is none.</summary>
    public static string? Scalar(this YamlNode node, params string[] path) => (node.At(path) as YamlScalarNode)?.Value;

    /// <summary>The node at a path of mapping keys, or null when there is none.</summary>
    public static YamlNode? At(this YamlNode node, params string[] path)
    {
        YamlNode? current = node;
        foreach (var key in path)
        {
            if (current is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out current))
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>A node written as a YAML document of its own.</summary>
    public static string ToYaml(this YamlNode node)
    {
        using var writer = new StringWriter();
        new YamlStream(new YamlDocument(node)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>Every optional feature on.</summary>
    public const string AllFeatures = """
        replicaCount: 2
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
        admissionPolicy:
          enabled: true
        networkPolicy:
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
                ["template", "ecr-daemon", ChartDirectory, "--namespace", "ecr-daemon", "-f", values, .. extraArguments]);
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
        return [.. YamlJson.Documents(string.Join("\n---\n", builtIn)).OfType<JsonObject>().Select(document =>
        {
            var key = $"{document["apiVersion"]}/{document["kind"]}";
            var type = ModelTypes.Value.TryGetValue(key, out var t) ? t : throw new InvalidOperationException($"no KubernetesClient model for {key}");
            return JsonSerializer.Deserialize(document, type, ModelJson.Strict) ?? throw new InvalidOperationException($"{key} deserialized to null");
        })];
    }

    /// <summary>Every KubernetesClient model by "apiVersion/kind", from its KubernetesEntity attribute.</summary>
    private static readonly Lazy<Dictionary<string, Type>> ModelTypes = new(() => typeof(V1Deployment).Assembly.GetTypes()
        .Select(t => (Type: t, Entity: t.GetCustomAttribute<KubernetesEntityAttribute>()))
        .Where(m => m.Entity is { Kind.Length: > 0 } && !m.Type.Name.EndsWith("List", StringComparison.Ordinal))
        .ToDictionary(m => $"{(string.IsNullOrEmpty(m.Entity!.Group) ? "" : m.Entity.Group + "/")}{m.Entity.ApiVersion}/{m.Entity.Kind}", m => m.Type));

    /// <summary>
    /// The RBAC the chart renders for <paramref name="valuesYaml"/> (release "ecr-daemon" in namespace "ecr-daemon"):
    /// the daemon's ServiceAccount, ClusterRole and ClusterRoleBinding, exactly as <c>scripts/render-rbac.sh</c> writes
    /// <c>daemon-rbac.yaml</c> for the default values; with <paramref name="admissionPolicy"/> also the chart's
    /// ValidatingAdmissionPolicy and its binding. Give it to the test cluster as <c>TestClusterOptions.RbacYaml</c>, so that
    /// the daemon runs under exactly what the chart grants for these values (e.g. every profile's secret name).
    /// </summary>
    public static Task<string> RbacAsync(string valuesYaml = "", bool admissionPolicy = false) =>
        RenderAsync(valuesYaml,
        [
            "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/clusterrole.yaml",
            .. admissionPolicy ? ["--set", "admissionPolicy.enabled=true", "--show-only", "templates/validatingadmissionpolicy.yaml"] : Array.Empty<string>(),
        ]);

    /// <summary>
    /// The chart's RBAC (<see cref="RbacAsync"/>) for profiles with these secret names, in this order: profile i is named
    /// <c>p{i}</c>, selects <c>p{i}=true</c> and uses the one registry <c>r</c>. RBAC depends only on the secret names.
    /// </summary>
    public static Task<string> RbacForSecretNamesAsync(IReadOnlyList<string> secretNames, bool admissionPolicy = false) =>
        RbacAsync(ProfileValues([.. secretNames.Select((secret, i) => new ChartProfile($"p{i}", $"p{i}=true", secret, ["r"]))]), admissionPolicy);

    /// <summary>
    /// Chart values (YAML) with these profiles and one named registry (us-west-2, account 123456789012) for each registry
    /// name they use, in order of first use.
    /// </summary>
    public static string ProfileValues(IReadOnlyList<ChartProfile> profiles)
    {
        var registries = profiles.SelectMany(p => p.Registries).Distinct(StringComparer.Ordinal).ToList();
        var yaml = new System.Text.StringBuilder("registries:\n");
        foreach (var registry in registries)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  - {{ name: {registry}, region: us-west-2, accountId: \"123456789012\" }}\n");
        }

        yaml.Append("profiles:\n");
        foreach (var p in profiles)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  - name: {p.Name}\n    namespaceSelector: {Quoted(p.NamespaceSelector)}\n    secretName: {p.SecretName}\n");
            yaml.Append(CultureInfo.InvariantCulture, $"    registries: [{string.Join(", ", p.Registries)}]\n");
            if (p.ServiceAccounts is not null)
            {
                yaml.Append(CultureInfo.InvariantCulture, $"    serviceAccounts: [{string.Join(", ", p.ServiceAccounts.Select(Quoted))}]\n");
            }
        }

        return yaml.ToString();

        static string Quoted(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    public static IEnumerable<string> Documents(string rendered) =>
        rendered.Split("\n---", StringSplitOptions.RemoveEmptyEntries).Where(d => d.Contains("kind:", StringComparison.Ordinal));
}

/// <summary>A profile in chart values (<see cref="HelmChart.ProfileValues"/>); null <paramref name="ServiceAccounts"/>: omitted.</summary>
public sealed record ChartProfile(string Name, string NamespaceSelector, string SecretName, IReadOnlyList<string> Registries, IReadOnlyList<string>? ServiceAccounts = null);
