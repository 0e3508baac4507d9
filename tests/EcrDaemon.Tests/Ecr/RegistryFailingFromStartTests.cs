using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// One registry fails from the very start (its endpoint refuses every connection) while another
/// works: the profile on the working registry gets its secrets; only the profile on the failing one waits.
/// </summary>
public sealed class RegistryFailingFromStartTests : IAsyncLifetime
{
    private const string AccountA = "111111111111";
    private const string AccountB = "222222222222";
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync(new TestClusterOptions
    {
        // The chart's RBAC for these two profiles: resourceNames list both secret names.
        RbacYaml = DaemonHarness.RbacYaml.Replace("""resourceNames: ["aws-registry"]""", """resourceNames: ["aws-registry", "ecr-team-b"]""", StringComparison.Ordinal),
    });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_registry_failing_from_the_start_holds_back_only_the_profile_that_uses_it()
    {
        await Labelled("a1", "team", "a");
        await Labelled("b1", "team", "b");
        var settings = new Dictionary<string, string?>
        {
            ["EcrDaemon:Registries:0:Name"] = "acct-a",
            ["EcrDaemon:Registries:0:AccountId"] = AccountA,
            ["EcrDaemon:Registries:1:Name"] = "acct-b",
            ["EcrDaemon:Registries:1:Region"] = _h.Ecr.Region,
            ["EcrDaemon:Registries:1:AccountId"] = AccountB,
            ["EcrDaemon:Registries:1:Endpoint"] = "http://127.0.0.1:1/", // nothing listens: every call is refused
            ["EcrDaemon:Profiles:0:Name"] = "team-a",
            ["EcrDaemon:Profiles:0:NamespaceSelector"] = "team=a",
            ["EcrDaemon:Profiles:0:SecretName"] = "aws-registry",
            ["EcrDaemon:Profiles:0:Registries:0"] = "acct-a",
            ["EcrDaemon:Profiles:1:Name"] = "team-b",
            ["EcrDaemon:Profiles:1:NamespaceSelector"] = "team=b",
            ["EcrDaemon:Profiles:1:SecretName"] = "ecr-team-b",
            ["EcrDaemon:Profiles:1:Registries:0"] = "acct-b",
        };

        await _h.StartDaemonAsync(settings);
        await Poll.Until(() => _h.Secret("a1") is not null, () => _h.Describe(["a1", "b1"]));

        var auths = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(
            _h.Secret("a1")!["data"]![Markers.DockerConfigJsonKey]!.GetValue<string>())))!["auths"]!.AsObject();
        Assert.Equal([_h.Ecr.HostFor(AccountA)], auths.Select(a => a.Key));
        await _h.IdleAsync();
        Assert.Null(_h.Secret("b1", "ecr-team-b"));
        Assert.Null(_h.Secret("b1"));
        Assert.Empty((await _h.Admin.CoreV1.ReadNamespacedServiceAccountAsync("default", "b1")).ImagePullSecrets ?? []);
        Assert.Equal(1, _h.Services.GetRequiredService<NamespaceReconciler>().OutOfSync); // b1, for team-b
    }

    private Task<V1Namespace> Labelled(string name, string key, string value) =>
        _h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { [key] = value } } });
}
