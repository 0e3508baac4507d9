using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// Review of issue 20: what only the Native AOT binary can get wrong, run as the image runs it: leader election
/// (the Lease read, created, replaced with managedFields stored by the server, released on SIGTERM), two
/// profiles bound from the environment (a list, an enum), /metrics, then the published <c>cleanup</c>.
/// </summary>
[UsesPublishedDaemon]
public sealed class PublishedReview20Tests
{
    private const string Values = """
        leaderElection: { enabled: true }
        registries:
          - { name: acct-a, region: us-west-2, accountId: "111111111111" }
        profiles:
          - { name: argocd, namespaceSelector: argocd=true, secretName: ecr-helm, registries: [acct-a], format: ArgoCdRepositoryCredentials }
          - { name: team-a, namespaceSelector: team=a, secretName: ecr-team-a, registries: [acct-a] }
        """;

    [ToolFact("helm")]
    public async Task The_published_daemon_leads_with_a_Lease_binds_profiles_serves_metrics_releases_on_SIGTERM_and_cleans_up()
    {
        var output = await PublishedDaemon.OutputAsync();
        var executable = PublishedDaemon.Executable(output);
        var work = Directory.CreateTempSubdirectory("ecrdaemon-published-r20-");
        try
        {
            var rbac = await HelmChart.RenderAsync(Values);
            await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rbac });
            await h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "argocd", Labels = new Dictionary<string, string> { ["argocd"] = "true" } } });
            await h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team", Labels = new Dictionary<string, string> { ["team"] = "a" } } });
            var home = Directory.CreateDirectory(Path.Combine(work.FullName, "home")).FullName;
            var url = PublishedDaemon.FreeLoopbackUrl();
            var environment = PublishedDaemon.RunEnvironment(h, home, url, new Dictionary<string, string?>
            {
                ["POD_NAME"] = "published-0",
                ["POD_NAMESPACE"] = "ecr-daemon",
                ["EcrDaemon__LeaderElection__Enabled"] = "true",
                ["EcrDaemon__LeaderElection__LeaseDuration"] = "00:00:04",
                ["EcrDaemon__LeaderElection__RenewDeadline"] = "00:00:03",
                ["EcrDaemon__LeaderElection__RetryPeriod"] = "00:00:00.500",
                ["EcrDaemon__Registries__0__Name"] = "acct-a",
                ["EcrDaemon__Profiles__0__Name"] = "argocd",
                ["EcrDaemon__Profiles__0__NamespaceSelector"] = "argocd=true",
                ["EcrDaemon__Profiles__0__SecretName"] = "ecr-helm",
                ["EcrDaemon__Profiles__0__Registries__0"] = "acct-a",
                ["EcrDaemon__Profiles__0__Format"] = "ArgoCdRepositoryCredentials",
                ["EcrDaemon__Profiles__1__Name"] = "team-a",
                ["EcrDaemon__Profiles__1__NamespaceSelector"] = "team=a",
                ["EcrDaemon__Profiles__1__SecretName"] = "ecr-team-a",
                ["EcrDaemon__Profiles__1__Registries__0"] = "acct-a",
            });

            using var daemon = BackgroundProcess.Start(executable, ["run"], environment);
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) };
            string? Holder() => h.Cluster.Store.Get(ResourceType.Leases, "ecr-daemon", "ecr-daemon")?.Node["spec"]?["holderIdentity"]?.GetValue<string>();
            await Poll.Until(() => daemon.HasExited || (Holder() == "published-0" && h.Secret("argocd", "ecr-helm-acct-a") is not null && h.Secret("team", "ecr-team-a") is not null),
                () => $"holder {Holder()}\n{h.Describe(["argocd", "team"])}\n{daemon}");
            Assert.False(daemon.HasExited, daemon.ToString());

            // Several renews (replaces of the Lease as read, managedFields and all) go through.
            var renewed = h.Cluster.Store.Get(ResourceType.Leases, "ecr-daemon", "ecr-daemon")!.Node["spec"]!["renewTime"]!.GetValue<string>();
            await Poll.Until(() => h.Cluster.Store.Get(ResourceType.Leases, "ecr-daemon", "ecr-daemon")!.Node["spec"]!["renewTime"]!.GetValue<string>() != renewed || daemon.HasExited,
                () => $"the Lease was not renewed\n{daemon}");
            Assert.DoesNotContain(daemon.StandardErrorLines, l => l.Contains("LeaderElection", StringComparison.Ordinal) && l.Contains("Error", StringComparison.Ordinal));

            var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            Assert.Contains("ecr_daemon_kubernetes_requests_total", metrics, StringComparison.Ordinal);
            Assert.Contains("resource=\"leases\"", metrics, StringComparison.Ordinal);

            await daemon.TerminateAsync();
            Assert.True(await daemon.WaitForExitAsync() == 0, daemon.ToString());
            Assert.Equal("", Holder());

            var cleanup = await Tools.RunAsync(executable, ["cleanup"], environment, TimeSpan.FromSeconds(60));
            Assert.True(cleanup.ExitCode == 0, cleanup.ToString());
            Assert.Null(h.Secret("argocd", "ecr-helm-acct-a"));
            Assert.Null(h.Secret("team", "ecr-team-a"));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
