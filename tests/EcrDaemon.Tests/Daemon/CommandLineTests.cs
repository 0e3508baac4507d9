using EcrDaemon.Commands;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>Bad configuration of the built program, and the cleanup command against a synced cluster.</summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData("EcrDaemon__NamespaceSelector", "team in prod", "EcrDaemon:NamespaceSelector 'team in prod' is not a label selector")]
    [InlineData("EcrDaemon__NamespaceSelector", "", "EcrDaemon:NamespaceSelector '' is not a label selector: it is empty")]
    [InlineData("EcrDaemon__SecretName", "AWS_Registry", "EcrDaemon:SecretName 'AWS_Registry' is not a valid secret name")]
    [InlineData("EcrDaemon__RefreshAt", "1.5", "EcrDaemon:RefreshAt must be between 0 and 1, exclusive (it is 1.5)")]
    [InlineData("EcrDaemon__RefreshAt", "0", "EcrDaemon:RefreshAt must be between 0 and 1, exclusive (it is 0)")]
    [InlineData("EcrDaemon__ServiceAccounts__0", "Default", "EcrDaemon:ServiceAccounts:0 'Default' is not a ServiceAccount name")]
    [InlineData("EcrDaemon__Concurrency", "0", "EcrDaemon:Concurrency must be between 1 and 256")]
    [InlineData("AWS_REGION", null, "EcrDaemon:Registries:0:Region is required (or set AWS_REGION)")]
    public async Task Bad_configuration_exits_2_with_one_clear_line(string key, string? value, string expected)
    {
        var environment = new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", [key] = value };

        var result = await DaemonProcess.RunAsync(environment, "run");

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::", "no kubeconfig at (no file listed)")]
    [InlineData("MISSING", "no kubeconfig at MISSING")]
    [InlineData("BAD", "BAD is not a valid kubeconfig")]
    [InlineData("GOOD:BAD", "BAD is not a valid kubeconfig")]
    [InlineData("EMPTY", "EMPTY is not a usable kubeconfig")]
    [InlineData("", "no kubeconfig at")]
    public async Task A_bad_KUBECONFIG_exits_2_with_one_line_naming_it_and_the_file(string variable, string expected)
    {
        using var directory = new TemporaryDirectory();
        var result = await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["KUBECONFIG"] = directory.Expand(variable) }, "run");

        Assert.True(result.ExitCode == 2, result.ToString());
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon: no Kubernetes configuration: ", line, StringComparison.Ordinal);
        Assert.Contains("KUBECONFIG", line, StringComparison.Ordinal);
        Assert.Contains(directory.Expand(expected), line, StringComparison.Ordinal);
    }

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
        using var directory = new TemporaryDirectory();
        var result = await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["KUBECONFIG"] = directory.Expand(variable) }, "cleanup");

        Assert.True(result.ExitCode == 1, result.ToString());
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon cleanup: could not list what to remove, nothing was changed: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.StandardError, StringComparison.Ordinal);
    }

    private sealed class TemporaryDirectory : IDisposable
    {
        public TemporaryDirectory()
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
