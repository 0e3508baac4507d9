using EcrDaemon.Commands;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>KUBECONFIG read as kubectl reads it, and the cleanup command against a synced cluster (invalid configuration: Configuration/InvalidConfigurationTests).</summary>
public sealed class CommandLineTests
{
    /// <summary>
    /// As kubectl reads KUBECONFIG: empty elements and missing files are skipped, so the file that is
    /// there is used. Its server (a closed port) cannot be reached, so cleanup says so in one line, exit 1.
    /// </summary>
    [Theory]
    [InlineData("GOOD::")]
    [InlineData(":GOOD")]
    [InlineData("MISSING:GOOD")]
    [InlineData("GOOD::MISSING:GOOD")]
    public async Task KUBECONFIG_skips_empty_elements_and_missing_files_as_kubectl_does(string variable)
    {
        using var directory = new KubeconfigDirectory();
        var result = await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["KUBECONFIG"] = directory.Expand(variable) }, "cleanup");

        Assert.True(result.ExitCode == 1, result.ToString());
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon cleanup: could not list what to remove, nothing was changed: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cleanup_removes_every_secret_and_entry_the_daemon_made_and_nothing_else()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.CreateNamespaceAsync("b", optedIn: true);
        await h.CreateNamespaceAsync("theirs", optedIn: false);
        await h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName }, StringData = new Dictionary<string, string> { ["k"] = "v" } }, "theirs");
        await Poll.Until(() => h.PullSecrets("b") is not null, () => "no default ServiceAccount in b");
        await h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch("""{"imagePullSecrets":[{"name":"team-registry"}]}""", V1Patch.PatchType.MergePatch), "default", "b");
        await h.StartDaemonAsync();
        await h.WaitInSyncAsync("a", "b");
        Assert.Equal(0, await h.StopDaemonAsync());

        var result = await h.RunProgramAsync("cleanup");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("deleted secret a/aws-registry", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("removed aws-registry from serviceaccount b/default", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("cleanup: removed 4, failed 0", result.StandardOutput, StringComparison.Ordinal);
        Assert.Null(h.Secret("a"));
        Assert.Null(h.Secret("b"));
        Assert.NotNull(h.Secret("theirs"));
        Assert.Empty(h.PullSecrets("a")!);
        Assert.Equal(["team-registry"], h.PullSecrets("b")!);
    }

    [Fact]
    public async Task No_log_line_or_Event_of_a_daemon_run_holds_the_token_or_the_AWS_secret_key()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.StartDaemonAsync();
        await h.WaitInSyncAsync("a");
        h.Ecr.Generation = 1;
        h.Ecr.Enqueue(EcrFault.ServerError, 4);
        h.Refresher.RequestRefresh();
        await Poll.Until(() => h.Refresher.ConsecutiveFailures == 1, () => "no failure");
        h.Refresher.RequestRefresh();
        await h.WaitInSyncAsync("a");
        await h.StopDaemonAsync();

        // Every log line, and every Event the daemon recorded (Created, PullSecretChanged, TokenRefreshFailed ...).
        var events = h.Cluster.Store.InNamespace(TestCluster.Api.ResourceType.Events, "a");
        Assert.Contains(events, e => e.Node["reason"]!.GetValue<string>() == "TokenRefreshFailed");
        var text = h.Logs.AllText + string.Join('\n', events.Select(e => e.Node.ToJsonString()));
        Assert.Contains("Created secret a/aws-registry", text, StringComparison.Ordinal);
        foreach (var generation in new[] { 0, 1 })
        {
            var password = EcrStandIn.PasswordFor(h.Ecr.DefaultAccountId, generation);
            Assert.DoesNotContain(password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("AWS:" + password)), text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(EcrStandIn.DefaultSecretAccessKey, text, StringComparison.Ordinal);
    }
}
