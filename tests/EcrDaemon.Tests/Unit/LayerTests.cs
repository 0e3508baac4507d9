using System.Text.RegularExpressions;
using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Unit;

/// <summary>
/// Data flows one way: a folder of <c>src/EcrDaemon</c> may use only the folders below it. Every
/// <c>using EcrDaemon.X</c>, every <c>EcrDaemon.X.</c> and every <c>X.</c> alone (which C# resolves
/// in the enclosing <c>EcrDaemon</c>) in code, interpolation holes and crefs (string literals do not
/// count) are checked against <see cref="Layers"/>, and so is the file's own namespace. No global
/// using and no type outside <c>EcrDaemon.&lt;Folder&gt;</c> (seen by every layer) is allowed.
/// </summary>
public sealed partial class LayerTests
{
    /// <summary>
    /// The one table of the layer order: a folder (= namespace under <c>EcrDaemon</c>) may import a
    /// folder of a strictly lower rank, never one of its own rank or above (besides itself).
    /// <list type="bullet">
    /// <item>-1, the floor, imports no folder: <c>Primitives</c> (what any layer may need and that
    /// knows nothing of the daemon: the one backoff formula, the one RFC 3339 format).</item>
    /// <item>0, the leaves, import only the floor: <c>Configuration</c> (the bound options),
    /// <c>Diagnostics</c> (the [LoggerMessage] log, its event ids and the meter's name) and <c>Queues</c> (the
    /// generic dedup work queue and its result type: the controller owns and runs it, the
    /// reconciler returns its result and reports progress to it, so it sits below both).</item>
    /// <item>1: <c>Aws</c> (credentials) and <c>Kubernetes</c> (client, informer, cache, events, HTTP
    /// handler, selector): facts about the cluster, nothing about pull secrets.</item>
    /// <item>2: <c>Ecr</c> (token client and refresher, built on Aws credentials): publishes tokens.</item>
    /// <item>3: <c>Reconciliation</c> (the desired state: secret body, projected cluster state, opt-in
    /// policy, reconcile) and <c>LeaderElection</c> (the Lease; a replica without a token does not compete).</item>
    /// <item>4: <c>Controller</c>: the composition root, informer registration, event → key mapping,
    /// the leader-gated runner, health checks and the options validator (it checks options against
    /// what the lower layers accept, e.g. the Kubernetes selector grammar).</item>
    /// <item>5: <c>Commands</c>, the entry points; 6: <c>Program</c> (files at the root of the project), which dispatches to them.</item>
    /// </list>
    /// </summary>
    private static readonly Dictionary<string, int> Layers = new(StringComparer.Ordinal)
    {
        ["Primitives"] = -1,
        ["Configuration"] = 0,
        ["Diagnostics"] = 0,
        ["Queues"] = 0,
        ["Aws"] = 1,
        ["Kubernetes"] = 1,
        ["Ecr"] = 2,
        ["Reconciliation"] = 3,
        ["LeaderElection"] = 3,
        ["Controller"] = 4,
        ["Commands"] = 5,
        [Root] = 6,
    };

    /// <summary>The layer of files at the project's root (Program.cs), which declare no namespace of a folder.</summary>
    private const string Root = "Program";

    private static string Source { get; } = Path.Combine(Tools.RepositoryRoot, "src", "EcrDaemon");

    [Fact]
    public void Every_folder_of_src_is_in_the_layer_table()
    {
        var folders = Directory.GetDirectories(Source).Select(Path.GetFileName)
            .Where(f => f is not ("bin" or "obj") && Directory.EnumerateFiles(Path.Combine(Source, f!), "*.cs", SearchOption.AllDirectories).Any())
            .ToList();
        Assert.NotEmpty(folders);
        Assert.All(folders, f => Assert.True(Layers.ContainsKey(f!), $"src/EcrDaemon/{f}/ is not in LayerTests.Layers: give it a rank"));
    }

    [Fact]
    public void No_file_imports_a_layer_at_or_above_its_own()
    {
        var files = SourceFiles().ToList();
        Assert.True(files.Count > 30, $"only {files.Count} source files found under {Source}");
        var violations = files.SelectMany(Violations).ToList();
        Assert.True(violations.Count == 0, "forbidden imports (see LayerTests.Layers):\n" + string.Join('\n', violations));
    }

    /// <summary>The checker itself: an upward import, a fully qualified one and a misplaced namespace are each caught; a string literal is not.</summary>
    [Fact]
    public void The_checker_flags_upward_imports_and_nothing_else()
    {
        string[] lines =
        [
            "using EcrDaemon.Configuration;",
            "using EcrDaemon.Reconciliation;",
            "namespace EcrDaemon.Kubernetes;",
            "var x = e is EcrDaemon.Queues.WorkResult or EcrDaemon.Controller.Thing;",
            "logger = loggers.CreateLogger(\"EcrDaemon.Commands.Whatever\");",
        ];
        var found = Check("src/EcrDaemon/Kubernetes/Sample.cs", "Kubernetes", lines).ToList();
        Assert.Equal(2, found.Count);
        Assert.Contains("Sample.cs:2: Kubernetes (rank 1) imports EcrDaemon.Reconciliation (rank 3)", found[0], StringComparison.Ordinal);
        Assert.Contains("Sample.cs:4: Kubernetes (rank 1) imports EcrDaemon.Controller (rank 4)", found[1], StringComparison.Ordinal);

        var misplaced = Check("src/EcrDaemon/Ecr/Sample.cs", "Ecr", ["namespace EcrDaemon.Reconciliation;"]).ToList();
        Assert.Equal(["src/EcrDaemon/Ecr/Sample.cs:1: a file in Ecr/ declares namespace EcrDaemon.Reconciliation"], misplaced);

        var unknown = Check("src/EcrDaemon/Ecr/Sample.cs", "Ecr", ["using EcrDaemon.Somewhere;"]).ToList();
        Assert.Equal(["src/EcrDaemon/Ecr/Sample.cs:1: Ecr imports EcrDaemon.Somewhere, which is not in the layer table"], unknown);
    }

    /// <summary>
    /// What C# resolves without a <c>using EcrDaemon.X</c> is caught as well: inside
    /// <c>namespace EcrDaemon.Kubernetes</c>, <c>Reconciliation.X</c> names <c>EcrDaemon.Reconciliation.X</c>
    /// (the enclosing namespace is searched); so do an interpolation hole, a <c>global using</c> (it
    /// reaches every file, whichever file holds it), and types that every layer sees without a using
    /// (in <c>namespace EcrDaemon</c>, in no namespace, or in one outside <c>EcrDaemon.&lt;Folder&gt;</c>).
    /// </summary>
    [Fact]
    public void The_checker_is_not_fooled_by_names_that_resolve_without_EcrDaemon()
    {
        string[] lines =
        [
            "namespace EcrDaemon.Kubernetes;",
            "var a = Reconciliation.PullSecretContent.HashOf(null);",
            "/// <see cref=\"Controller.PullSecretController\"/>",
            "var b = $\"{EcrDaemon.LeaderElection.Leadership.Identity}\";",
            "var c = new k8s.Kubernetes(config); var d = builder.Configuration.GetSection(x); var e = Markers.IsManaged(l);",
        ];
        var found = Check("src/EcrDaemon/Kubernetes/Sample.cs", "Kubernetes", lines).ToList();
        Assert.True(found.Count == 3, string.Join('\n', found));
        Assert.Contains("Sample.cs:2: Kubernetes (rank 1) imports EcrDaemon.Reconciliation (rank 3)", found[0], StringComparison.Ordinal);
        Assert.Contains("Sample.cs:3: Kubernetes (rank 1) imports EcrDaemon.Controller (rank 4)", found[1], StringComparison.Ordinal);
        Assert.Contains("Sample.cs:4: Kubernetes (rank 1) imports EcrDaemon.LeaderElection (rank 3)", found[2], StringComparison.Ordinal);

        var global = Check("src/EcrDaemon/Program.cs", Root, ["global using EcrDaemon.Reconciliation;", "using EcrDaemon.Commands;"]).ToList();
        Assert.Equal(["src/EcrDaemon/Program.cs:1: a global using reaches every layer: global using EcrDaemon.Reconciliation;"], global);

        Assert.Single(Check("src/EcrDaemon/Kubernetes/Sample.cs", "Kubernetes", ["namespace EcrDaemon;", "internal static class Shared", "{", "}"]));
        Assert.Single(Check("src/EcrDaemon/Kubernetes/Sample.cs", "Kubernetes", ["namespace Shared;"]));
        Assert.Single(Check("src/EcrDaemon/Kubernetes/Sample.cs", "Kubernetes", ["internal static class Shared", "{", "}"]));
        Assert.Single(Check("src/EcrDaemon/Program.cs", Root, ["return 0;", "internal static class Shared", "{", "}"]));
        Assert.Empty(Check("src/EcrDaemon/Kubernetes/Sample.cs", "Kubernetes", ["namespace EcrDaemon.Kubernetes.Inner;"]));
    }

    /// <summary>A <c>&lt;Using Include="EcrDaemon.X"/&gt;</c> in a project file is a global using of every file.</summary>
    [Fact]
    public void No_project_file_adds_a_global_using_of_a_layer()
    {
        var projects = Directory.EnumerateFiles(Source, "*.csproj").Append(Path.Combine(Tools.RepositoryRoot, "Directory.Build.props")).Where(File.Exists).ToList();
        Assert.NotEmpty(projects);
        Assert.All(projects, p => Assert.DoesNotMatch("""<Using\s+Include\s*=\s*"EcrDaemon""", File.ReadAllText(p)));
    }

    private static IEnumerable<string> SourceFiles() =>
        Directory.EnumerateFiles(Source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(Source, f).Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    private static IEnumerable<string> Violations(string file)
    {
        var relative = Path.GetRelativePath(Source, file).Split(Path.DirectorySeparatorChar);
        var layer = relative.Length == 1 ? Root : relative[0];
        return Check($"src/EcrDaemon/{string.Join('/', relative)}", layer, File.ReadAllLines(file));
    }

    private static IEnumerable<string> Check(string path, string layer, string[] lines)
    {
        var rank = Layers.TryGetValue(layer, out var r) ? r : throw new InvalidOperationException($"{path}: {layer} is not in the layer table");
        var declaredNamespace = false;
        for (var i = 0; i < lines.Length; i++)
        {
            // In a doc comment the quotes are XML attributes (a cref), not string literals.
            var line = lines[i].TrimStart().StartsWith("///", StringComparison.Ordinal) ? lines[i] : StringLiteral().Replace(lines[i], InterpolationHoles);
            var where = $"{path}:{i + 1}";
            if (NamespaceDeclaration().Match(line) is { Success: true } declared)
            {
                // Types in namespace EcrDaemon, or outside EcrDaemon.<Folder>, are seen by every layer without a checked using.
                declaredNamespace = true;
                var name = declared.Groups["name"].Value;
                if (layer == Root || !(name == $"EcrDaemon.{layer}" || name.StartsWith($"EcrDaemon.{layer}.", StringComparison.Ordinal)))
                {
                    yield return $"{where}: a file in {(layer == Root ? "the project's root" : layer + "/")} declares namespace {name}";
                }

                continue;
            }

            if (GlobalUsing().IsMatch(line))
            {
                yield return $"{where}: a global using reaches every layer: {lines[i].Trim()}";
                continue;
            }

            if (layer == Root && TypeDeclaration().IsMatch(line))
            {
                yield return $"{where}: a type at the project's root is in the global namespace, which every layer sees: {lines[i].Trim()}";
            }

            // EcrDaemon.X anywhere, and X. alone: inside namespace EcrDaemon.Y, C# finds X in the enclosing EcrDaemon.
            var references = Reference().Matches(line).Concat(UnqualifiedReference.Matches(line));
            foreach (var used in references.Select(m => m.Groups["layer"].Value).Distinct(StringComparer.Ordinal))
            {
                if (used == layer)
                {
                    continue;
                }

                if (!Layers.TryGetValue(used, out var usedRank))
                {
                    yield return $"{where}: {layer} imports EcrDaemon.{used}, which is not in the layer table";
                }
                else if (usedRank >= rank)
                {
                    yield return $"{where}: {layer} (rank {rank}) imports EcrDaemon.{used} (rank {usedRank}): {lines[i].Trim()}";
                }
            }
        }

        if (layer != Root && !declaredNamespace && lines.Any(l => TypeDeclaration().IsMatch(l)))
        {
            yield return $"{path}: a file in {layer}/ declares no namespace: its types are in the global namespace, which every layer sees";
        }
    }

    /// <summary>A string literal is no reference, but the code in an interpolated string's holes is.</summary>
    private static string InterpolationHoles(Match literal) =>
        literal.Value.StartsWith('$') || literal.Value.StartsWith("@$", StringComparison.Ordinal)
            ? "\"\" " + string.Join(' ', Hole().Matches(literal.Value).Select(h => h.Groups["code"].Value))
            : "\"\"";

    /// <summary>A layer's name alone followed by a member (<c>Reconciliation.PullSecretContent</c>), not after a dot (<c>k8s.Kubernetes</c>, <c>builder.Configuration</c>).</summary>
    private static Regex UnqualifiedReference { get; } = new(
        $"""(?<![\w.:])(?<layer>{string.Join('|', Layers.Keys.Where(k => k != Root))})(?=\s*\.\s*[A-Z])""", RegexOptions.CultureInvariant);

    [GeneratedRegex("""^\s*namespace\s+(?<name>[\w.]+)""")]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex("""^\s*global\s+using\b""")]
    private static partial Regex GlobalUsing();

    [GeneratedRegex("""^\s*(?:(?:public|internal|private|protected|static|sealed|abstract|partial|readonly|file|unsafe|ref)\s+)*(?:class|struct|interface|enum|record|delegate)\s""")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex("""(?<!\{)\{(?!\{)(?<code>[^{}]*)\}""")]
    private static partial Regex Hole();

    /// <summary><c>using EcrDaemon.X;</c>, <c>using static EcrDaemon.X.Y;</c>, <c>using A = EcrDaemon.X.Y;</c> and <c>EcrDaemon.X.</c> in code or a cref.</summary>
    [GeneratedRegex("""(?<![\w.])EcrDaemon\.(?<layer>[A-Z][A-Za-z]*)(?=\s*[;.])""")]
    private static partial Regex Reference();

    [GeneratedRegex(""""(?:\$@?|@\$?)?"(?:[^"\\]|\\.)*"""")]
    private static partial Regex StringLiteral();
}
