using System.Text;
using EcrDaemon.Commands;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Profiles;
using EcrDaemon.Tests.Support;
using EcrDaemon.TestCluster;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// explain with two profiles on one namespace, under the RBAC the chart renders for their two secret names: each
/// profile is explained, each secret read by its name only, and a problem of one profile makes the namespace not in sync.
/// </summary>
public sealed class ExplainProfilesTests : IAsyncLifetime
{
    private const string SecretB = TwoProfilesSetup.SecretB;
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await TwoProfilesSetup.StartHarnessAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [ToolFact("helm")]
    public async Task Each_profile_of_a_namespace_is_explained_and_one_profiles_missing_secret_makes_it_not_in_sync()
    {
        await _h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace
        {
            Metadata = new V1ObjectMeta { Name = "both", Labels = new Dictionary<string, string> { ["a"] = "true", ["b"] = "true" } },
        });
        await _h.StartDaemonAsync(TwoProfilesSetup.Settings());
        await Poll.Until(() => _h.PullSecrets("both") is [DaemonHarness.SecretName, SecretB], () => _h.Describe(["both"]));
        await _h.IdleAsync();
        Assert.Equal(0, await _h.StopDaemonAsync());

        var synced = await ExplainAsync("both");
        await _h.Admin.CoreV1.DeleteNamespacedSecretAsync(SecretB, "both");
        var missing = await ExplainAsync("both");
        var all = await ExplainAsync("--all");

        Assert.True(synced.Exit == 0, synced.ToString());
        Assert.Contains("namespace both: opted in (profiles team-a, team-b)", synced.Out, StringComparison.Ordinal);
        Assert.Contains($"secret {DaemonHarness.SecretName}: present, owned by the daemon", synced.Out, StringComparison.Ordinal);
        Assert.Contains($"secret {SecretB}: present, owned by the daemon", synced.Out, StringComparison.Ordinal);
        Assert.Contains($"verdict: in sync: secret {DaemonHarness.SecretName} is current and listed by 1 targeted ServiceAccount(s); "
            + $"secret {SecretB} is current and listed by 1 targeted ServiceAccount(s); nothing to do", synced.Out, StringComparison.Ordinal);
        Assert.True(missing.Exit == 1, missing.ToString());
        Assert.Contains($"secret {SecretB}: absent", missing.Out, StringComparison.Ordinal);
        Assert.Contains($"verdict: NOT IN SYNC: secret {SecretB} is missing", missing.Out, StringComparison.Ordinal);
        Assert.True(all.Exit == 1, all.ToString());
        Assert.Matches($@"(?m)^both\s+NOT IN SYNC\s+secret {SecretB} is missing", all.Out);
        var refused = _h.Requests.All.Where(r => r.Identity == DaemonHarness.Identity && r.Code is 401 or 403).ToList();
        Assert.True(refused.Count == 0, "refused: " + DaemonHarness.Summary(refused));
        Assert.Contains(_h.Requests.All, r => r is { Identity: DaemonHarness.Identity, Verb: "list", Resource: "events", Code: 200 });
    }

    private async Task<(int Exit, string Out, string Err)> ExplainAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var kubeconfig = new MemoryStream(Encoding.UTF8.GetBytes(_h.Cluster.Kubeconfig(_h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon")));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(KubernetesClientConfiguration.LoadKubeConfig(kubeconfig));
        var exit = await CommandDispatcher.RunAsync(["explain", .. args], stdout, stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(_h.Settings(TwoProfilesSetup.Settings()));
            builder.Services.Replace(ServiceDescriptor.Singleton(config));
        });
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
