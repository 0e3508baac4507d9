using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// Renaming SecretName as the README says: deploy the new name, then <c>ecrdaemon cleanup --secret-name OLD</c>
/// (with credentials allowed on the old name) removes the old name's secrets and the entries the daemon added,
/// while the new daemon keeps running; entries someone else added stay.
/// </summary>
public sealed class RenameCleanupTests
{
    private const string NewName = "ecr-pull";

    [Fact]
    public async Task After_a_rename_cleanup_with_the_old_name_removes_only_the_old_secrets_and_the_entries_the_daemon_added()
    {
        // The daemon's RBAC covers both names here, as during a rolling chart upgrade; cleanup runs as an administrator.
        var rbac = DaemonHarness.RbacYaml.Replace("resourceNames: [\"aws-registry\"]", $"resourceNames: [\"aws-registry\", \"{NewName}\"]", StringComparison.Ordinal);
        Assert.NotEqual(DaemonHarness.RbacYaml, rbac);
        await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rbac });
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.CreateNamespaceAsync("b", optedIn: true);
        await Poll.Until(() => h.PullSecrets("b") is not null, () => "no default ServiceAccount in b");
        await h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch("""{"imagePullSecrets":[{"name":"aws-registry"}]}""", V1Patch.PatchType.MergePatch), "default", "b");
        await h.StartDaemonAsync();
        await h.WaitInSyncAsync("a", "b");
        Assert.Equal(0, await h.StopDaemonAsync());

        // Deploy with the new name: it adds its own entry next to the old one.
        await h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:SecretName"] = NewName });
        await Poll.Until(() => h.PullSecrets("a")!.Contains(NewName) && h.PullSecrets("b")!.Contains(NewName) && h.Secret("a", NewName) is not null,
            () => h.Describe(["a", "b"]));
        Assert.Equal(["aws-registry", NewName], h.PullSecrets("a")!);

        var bad = await CleanupAsync(h, "--secret-name", "AWS_Registry");
        var result = await CleanupAsync(h, "--secret-name", "aws-registry");

        Assert.True(bad.ExitCode == 2, bad.ToString());
        var line = Assert.Single(bad.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("--secret-name 'AWS_Registry' is not a valid secret name", line, StringComparison.Ordinal);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("deleted secret a/aws-registry", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("deleted secret b/aws-registry", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("removed aws-registry from serviceaccount a/default", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("cleanup: removed 3, failed 0", result.StandardOutput, StringComparison.Ordinal);
        Assert.Null(h.Secret("a"));
        Assert.Null(h.Secret("b"));
        Assert.Equal([NewName], h.PullSecrets("a")!);
        Assert.Equal(["aws-registry", NewName], h.PullSecrets("b")!); // added by hand before the daemon: stays
        Assert.NotNull(h.Secret("a", NewName));
        Assert.NotNull(h.Secret("b", NewName));
        h.AssertRunning();
    }

    private static async Task<ProcessResult> CleanupAsync(DaemonHarness h, params string[] arguments)
    {
        var kubeconfig = Path.GetTempFileName();
        try
        {
            h.Cluster.WriteKubeconfig(kubeconfig); // the administrator: the chart's role after the rename covers only the new name
            return await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = h.Ecr.Region, ["KUBECONFIG"] = kubeconfig }, ["cleanup", .. arguments]);
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }
}
