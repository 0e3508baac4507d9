using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// The daemon with a profile over a private registry and an ECR Public one (both at the stand-in): the
/// profile's secret holds both hosts, each with its own password, through the unchanged TokenSet/profile
/// machinery; a public rotation rewrites the public entry; the metrics name public.ecr.aws.
/// </summary>
public sealed class PublicRegistryDaemonTests
{
    private static Dictionary<string, string?> MixedProfile(DaemonHarness h) => new()
    {
        ["EcrDaemon:Registries:0:Name"] = "private",
        ["EcrDaemon:Registries:1:Name"] = "public",
        ["EcrDaemon:Registries:1:Public"] = "true",
        ["EcrDaemon:Registries:1:Endpoint"] = h.Ecr.Endpoint.ToString(),
        ["EcrDaemon:Profiles:0:Name"] = "mixed",
        ["EcrDaemon:Profiles:0:NamespaceSelector"] = $"{DaemonHarness.OptInLabel}=true",
        ["EcrDaemon:Profiles:0:SecretName"] = DaemonHarness.SecretName,
        ["EcrDaemon:Profiles:0:Registries:0"] = "private",
        ["EcrDaemon:Profiles:0:Registries:1"] = "public",
    };

    private static JsonObject? Auths(DaemonHarness h, string ns)
    {
        var data = h.Secret(ns)?["data"]?[Markers.DockerConfigJsonKey]?.GetValue<string>();
        return data is null ? null : JsonNode.Parse(Convert.FromBase64String(data))?["auths"]?.AsObject();
    }

    private static string? Password(DaemonHarness h, string ns, string host) => Auths(h, ns)?[host]?["password"]?.GetValue<string>();

    [Fact]
    public async Task A_profile_with_a_private_and_a_public_registry_writes_both_hosts_and_rotates_the_public_one()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.CreateNamespaceAsync("a", optedIn: true);
        var privateHost = h.Ecr.HostFor(h.Ecr.DefaultAccountId);

        await h.StartDaemonAsync(MixedProfile(h));
        await Poll.Until(() => Password(h, "a", "public.ecr.aws") == EcrStandIn.PublicPassword() && h.InSync("a"), () => h.Describe(["a"]));

        var auths = Auths(h, "a")!;
        Assert.Equal([privateHost, "public.ecr.aws"], auths.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("AWS", auths["public.ecr.aws"]!["username"]!.GetValue<string>());
        Assert.Equal(EcrStandIn.PasswordFor(h.Ecr.DefaultAccountId), Password(h, "a", privateHost));
        Assert.Contains(h.Ecr.Requests, r => r.Public && r.SignatureValid && r.Region == "us-east-1" && r.Service == "ecr-public");
        Assert.Contains(h.Ecr.Requests, r => !r.Public && r.SignatureValid);

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(await h.BoundHttpEndpointAsync(), "/metrics"));
        Assert.Contains("registry=\"public.ecr.aws\"", metrics, StringComparison.Ordinal);

        h.Ecr.SetGeneration(EcrStandIn.PublicAccount, 1);
        h.Refresher.RequestRefresh();
        await Poll.Until(() => Password(h, "a", "public.ecr.aws") == EcrStandIn.PublicPassword(1), () => h.Describe(["a"]));
        Assert.Equal(EcrStandIn.PasswordFor(h.Ecr.DefaultAccountId), Password(h, "a", privateHost));
        Assert.DoesNotContain(EcrStandIn.PublicPassword(1), h.Logs.AllText, StringComparison.Ordinal);
    }
}
