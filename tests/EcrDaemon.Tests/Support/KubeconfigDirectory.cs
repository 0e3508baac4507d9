namespace EcrDaemon.Tests.Support;

/// <summary>
/// A temporary directory with three kubeconfig files, and <see cref="Expand"/> to write a KUBECONFIG
/// value with them: GOOD (usable, its server a closed port), EMPTY (parses, names no cluster),
/// BAD (not YAML) and MISSING (no such file).
/// </summary>
internal sealed class KubeconfigDirectory : IDisposable
{
    public KubeconfigDirectory()
    {
        // GOOD is usable but its server is a closed port; EMPTY parses but names no cluster; BAD is not YAML.
        File.WriteAllText(System.IO.Path.Combine(Path, "good"), """
            apiVersion: v1
            kind: Config
            current-context: c
            clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
            contexts: [{name: c, context: {cluster: c, user: u}}]
            users: [{name: u, user: {token: t}}]
            """);
        File.WriteAllText(System.IO.Path.Combine(Path, "empty"), "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
        File.WriteAllText(System.IO.Path.Combine(Path, "bad"), "apiVersion: v1\nclusters:\n  - cluster: {server: [unclosed\n");
    }

    public string Path { get; } = Directory.CreateTempSubdirectory("ecrdaemon-kubeconfig-").FullName;

    public string Expand(string text) => text
        .Replace("GOOD", System.IO.Path.Combine(Path, "good"), StringComparison.Ordinal)
        .Replace("EMPTY", System.IO.Path.Combine(Path, "empty"), StringComparison.Ordinal)
        .Replace("BAD", System.IO.Path.Combine(Path, "bad"), StringComparison.Ordinal)
        .Replace("MISSING", System.IO.Path.Combine(Path, "missing"), StringComparison.Ordinal);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
