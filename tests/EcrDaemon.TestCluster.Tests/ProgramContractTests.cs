using System.Diagnostics;
using System.Net;
using System.Text;
using EcrDaemon.Testing;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>The runnable test cluster as scripts use it: a real process, kubeconfig files, RBAC, SIGTERM, exit codes.</summary>
public sealed class ProgramContractTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan ProcessDeadline = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("testcluster-program-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string ProgramDll => typeof(TestClusterServer).Assembly.Location;

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";

    [Fact]
    public async Task Serves_seeded_namespaces_with_kubeconfigs_held_to_RBAC_and_exits_0_on_SIGTERM()
    {
        Assert.False(OperatingSystem.IsWindows(), "the contract is SIGTERM, which needs a POSIX system");
        var kubeconfig = Path.Combine(_dir, "admin", "kubeconfig");
        var saKubeconfig = Path.Combine(_dir, "sa", "kubeconfig");
        var rbac = Path.Combine(_dir, "rbac.yaml");
        await File.WriteAllTextAsync(rbac, ClientRbacTests.DaemonRbac);

        var psi = new ProcessStartInfo(Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     ProgramDll, "--kubeconfig", kubeconfig, "--namespaces", "3", "--serviceaccounts", "2", "--rbac", rbac,
                     "--serviceaccount-kubeconfig", $"ecr-daemon/ecr-daemon={saKubeconfig}",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.AppendLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Seen()
        {
            lock (stdout)
            {
                lock (stderr)
                {
                    return $"exited={process.HasExited} stdout: {stdout} stderr: {stderr}";
                }
            }
        }

        try
        {
            await Cluster.Until(() => File.Exists(kubeconfig) || process.HasExited, Seen, ProcessDeadline);
            Assert.False(process.HasExited, Seen());

            // Both kubeconfigs are written before the admin one appears, and only the owner may read them.
            Assert.True(File.Exists(saKubeconfig), "the ServiceAccount kubeconfig is written before the admin one");
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(kubeconfig));
            }

            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(kubeconfig)!, "*.tmp-*"));

            using var admin = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
            var namespaces = (await admin.CoreV1.ListNamespaceAsync()).Items.Select(n => n.Metadata.Name).ToHashSet();
            foreach (var ns in new[] { "ns-1", "ns-2", "ns-3" })
            {
                Assert.Contains(ns, namespaces);
                var accounts = await admin.CoreV1.ListNamespacedServiceAccountAsync(ns);
                Assert.Equal(["default", "sa-1", "sa-2"], accounts.Items.Select(s => s.Metadata.Name).Order(StringComparer.Ordinal));
            }

            Assert.DoesNotContain("ns-4", namespaces);
            await admin.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("other", data: "x"), "ns-1");

            var saConfig = KubernetesClientConfiguration.BuildConfigFromConfigFile(saKubeconfig);
            Assert.Equal("ecr-daemon", saConfig.Namespace);
            using var daemon = new Kubernetes(saConfig);
            Assert.Contains("ns-2", (await daemon.CoreV1.ListNamespaceAsync()).Items.Select(n => n.Metadata.Name));
            await daemon.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret("aws-registry", data: "x"), "ns-1");
            await daemon.CoreV1.ReadNamespacedSecretAsync("aws-registry", "ns-1");
            var denied = await Cluster.FailsWith(HttpStatusCode.Forbidden, () => daemon.CoreV1.ReadNamespacedSecretAsync("other", "ns-1"));
            Assert.Equal("secrets \"other\" is forbidden: User \"system:serviceaccount:ecr-daemon:ecr-daemon\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns-1\"", denied.Message);
            await Cluster.FailsWith(HttpStatusCode.Forbidden, () => daemon.CoreV1.ListSecretForAllNamespacesAsync());
            await Cluster.FailsWith(HttpStatusCode.Forbidden, () => daemon.CoreV1.DeleteNamespaceAsync("ns-3"));
            await daemon.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch("""{"imagePullSecrets":[{"name":"aws-registry"}]}""", V1Patch.PatchType.StrategicMergePatch), "sa-1", "ns-1");

            // An open watch must not keep the process from stopping.
            await using var watch = WatchRecorder<V1Namespace>.Start((onError, ct) => admin.CoreV1.WatchListNamespaceAsync(onError: onError, cancellationToken: ct));
            await watch.WaitForEvent(WatchEventType.Added, "ns-3");

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
                Assert.Equal(0, kill.ExitCode);
            }

            await Cluster.Within(process.WaitForExitAsync(), "the test cluster after SIGTERM", ProcessDeadline);
            process.WaitForExit(); // drains the redirected output
            output.WriteLine(Seen());
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}; {Seen()}");
            Assert.Contains("testcluster: serving https://127.0.0.1:", stdout.ToString(), StringComparison.Ordinal);
            Assert.Contains("(rbac rules: 4)", stdout.ToString(), StringComparison.Ordinal);
            Assert.Contains("testcluster: stopping", stdout.ToString(), StringComparison.Ordinal);
            await watch.WaitForEnd();
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Theory]
    [InlineData("testcluster: --kubeconfig is required")]
    [InlineData("testcluster: unknown argument '--bogus'", "--kubeconfig", "k", "--bogus")]
    [InlineData("testcluster: --namespaces needs a non-negative whole number, got 'three'", "--kubeconfig", "k", "--namespaces", "three")]
    [InlineData("testcluster: --kubeconfig needs a value", "--kubeconfig")]
    [InlineData("testcluster: --serviceaccount-kubeconfig needs NS/NAME=PATH, got 'ecr-daemon=x'", "--kubeconfig", "k", "--serviceaccount-kubeconfig", "ecr-daemon=x")]
    [InlineData("testcluster: --rbac file not found: /nonexistent/rbac.yaml", "--kubeconfig", "k", "--rbac", "/nonexistent/rbac.yaml")]
    [InlineData("testcluster: --bookmark-interval needs a positive number of seconds, got '0'", "--kubeconfig", "k", "--bookmark-interval", "0")]
    public async Task A_bad_argument_exits_2_with_a_one_line_reason_then_usage(string reason, params string[] args)
    {
        var result = await Tools.RunAsync(Dotnet, [ProgramDll, .. args], timeout: ProcessDeadline);
        Assert.True(result.ExitCode == 2, result.ToString());
        var lines = result.StandardError.Split('\n');
        Assert.Equal(reason, lines[0].TrimEnd('\r'));
        Assert.StartsWith("usage: EcrDaemon.TestCluster --kubeconfig PATH", lines[1].Trim(), StringComparison.Ordinal);
        Assert.Equal("", result.StandardOutput);
        Assert.False(File.Exists("k"), "nothing is written on a usage error");
    }
}
