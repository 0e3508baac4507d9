using EcrDaemon.Testing;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.Tests.Support;

/// <summary>Renders the repository's Helm chart (helm/ecr-daemon) with the real helm, as release "t" in namespace "default".</summary>
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
}
