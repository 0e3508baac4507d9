using System.Text;
using EcrDaemon.Commands;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.TestCluster;
using k8s;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// explain under the RBAC of a chart from before explain (Events: create only): the Events cannot be read, which
/// it says in one line, and it explains the rest.
/// </summary>
public sealed class ExplainOlderChartTests
{
    [Fact]
    public async Task Without_list_on_Events_explain_says_they_could_not_be_read_and_explains_the_rest()
    {
        var older = DaemonHarness.RbacYaml.Replace("verbs: [\"create\", \"list\"]", "verbs: [\"create\"]", StringComparison.Ordinal);
        Assert.NotEqual(DaemonHarness.RbacYaml, older);
        await using var h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = older });
        await h.CreateNamespaceAsync("team", optedIn: true);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var kubeconfig = new MemoryStream(Encoding.UTF8.GetBytes(h.Cluster.Kubeconfig(h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon")));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(KubernetesClientConfiguration.LoadKubeConfig(kubeconfig));

        var exit = await CommandDispatcher.RunAsync(["explain", "team"], stdout, stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(h.Settings());
            builder.Services.Replace(ServiceDescriptor.Singleton(config));
        });

        var output = stdout.ToString();
        Assert.True(exit == 1, $"{exit}\n{output}\n{stderr}");
        Assert.Contains("events: could not be read (HTTP 403 ", output, StringComparison.Ordinal);
        Assert.Contains("verdict: NOT IN SYNC: secret aws-registry is missing", output, StringComparison.Ordinal);
        Assert.Equal("", stderr.ToString());
    }
}
