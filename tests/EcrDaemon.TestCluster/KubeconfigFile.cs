namespace EcrDaemon.TestCluster;

/// <summary>A kubeconfig with one cluster, one bearer-token user and one context.</summary>
public static class KubeconfigFile
{
    public static string Render(Uri server, string certificateAuthorityPem, string token, string contextNamespace) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: testcluster
          cluster:
            server: {server.GetLeftPart(UriPartial.Authority)}
            certificate-authority-data: {Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(certificateAuthorityPem))}
        users:
        - name: testcluster-user
          user:
            token: {token}
        contexts:
        - name: testcluster
          context:
            cluster: testcluster
            user: testcluster-user
            namespace: {contextNamespace}
        current-context: testcluster
        preferences: {"{}"}

        """;

    public static void WriteAtomically(string path, string content)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temp, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, full, overwrite: true);
    }
}
