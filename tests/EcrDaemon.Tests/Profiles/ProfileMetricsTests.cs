using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using Xunit;
using static EcrDaemon.Tests.Profiles.ProfileSetup;

namespace EcrDaemon.Tests.Profiles;

/// <summary>
/// ecr_daemon_namespaces_managed and ecr_daemon_namespaces_out_of_sync carry a profile label: one
/// series per profile, and profile="default" for the configuration without profiles.
/// </summary>
[Collection(MetricsTestGroup.Name)]
public sealed class ProfileMetricsTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private static async Task<IReadOnlyList<PrometheusSample>> Scrape(DaemonHarness h) =>
        PrometheusText.Parse(await Http.GetStringAsync(new Uri(await h.BoundHttpEndpointAsync(), "/metrics")));

    private static string Series(IReadOnlyList<PrometheusSample> samples, string name) =>
        string.Join("; ", samples.Where(s => s.Name == name).Select(s => $"{{{string.Join(",", s.Labels.Select(l => $"{l.Key}={l.Value}"))}}} {s.Value}"));

    private static async Task<IReadOnlyList<PrometheusSample>> UntilAsync(DaemonHarness h, IReadOnlyDictionary<string, double> managed)
    {
        IReadOnlyList<PrometheusSample> last = [];
        await Poll.UntilAsync(async () =>
        {
            last = await Scrape(h);
            return managed.All(m => last.Value("ecr_daemon_namespaces_managed", ("profile", m.Key)) == m.Value);
        }, () => Series(last, "ecr_daemon_namespaces_managed"));
        return last;
    }

    private static void AssertOneSeriesPerProfile(IReadOnlyList<PrometheusSample> m, IReadOnlyDictionary<string, double> managed)
    {
        foreach (var name in new[] { "ecr_daemon_namespaces_managed", "ecr_daemon_namespaces_out_of_sync" })
        {
            var series = m.Where(s => s.Name == name).ToList();
            Assert.True(series.All(s => s.Labels.ContainsKey("profile")), Series(m, name));
            Assert.Equal(managed.Keys.Order(StringComparer.Ordinal), series.Select(s => s.Labels["profile"]).Order(StringComparer.Ordinal));
        }

        foreach (var (profile, count) in managed)
        {
            Assert.Equal(count, m.Value("ecr_daemon_namespaces_managed", ("profile", profile)));
            Assert.Equal(0, m.Value("ecr_daemon_namespaces_out_of_sync", ("profile", profile)));
        }
    }

    [Fact]
    public async Task Without_profiles_the_namespace_gauges_have_the_one_profile_default()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        await h.CreateNamespaceAsync("b", optedIn: true);
        await h.CreateNamespaceAsync("c", optedIn: false);
        await h.StartDaemonAsync();
        await h.WaitInSyncAsync("a", "b");
        await h.IdleAsync();

        var expected = new Dictionary<string, double>(StringComparer.Ordinal) { ["default"] = 2 };
        var m = await UntilAsync(h, expected);

        AssertOneSeriesPerProfile(m, expected);
    }

    [Fact]
    public async Task With_three_profiles_each_profile_counts_its_own_namespaces()
    {
        await using var h = await StartAsync(Three);
        await h.CreateNamespaceAsync("a1", new Dictionary<string, string> { ["team"] = "a" });
        await h.CreateNamespaceAsync("b1", new Dictionary<string, string> { ["team"] = "b" });
        await h.CreateNamespaceAsync("p1", new Dictionary<string, string> { ["platform"] = "true" });
        await h.CreateNamespaceAsync("ap", new Dictionary<string, string> { ["team"] = "a", ["platform"] = "true" });
        await h.CreateNamespaceAsync("none", new Dictionary<string, string> { ["team"] = "c" });
        await h.StartDaemonAsync(Settings(Three, h.Ecr));
        await Poll.Until(() => h.SecretNames("ap").Length == 2 && h.SecretNames("a1").Length == 1 && h.SecretNames("b1").Length == 1 && h.SecretNames("p1").Length == 1,
            () => h.State("a1", "b1", "p1", "ap"));
        await h.IdleAsync();

        var expected = new Dictionary<string, double>(StringComparer.Ordinal) { ["team-a"] = 2, ["team-b"] = 1, ["platform"] = 2 };
        var m = await UntilAsync(h, expected);

        AssertOneSeriesPerProfile(m, expected);
    }
}
