using System.Text.Json.Nodes;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The secret the daemon writes, handed to a real registry client (skopeo) against a real registry
/// server (the Distribution registry, Debian's docker-registry) that accepts only the stand-in's
/// current password. The registry answers under the stand-in's registry host, its dual-stack host
/// and an alias: skopeo reaches the two ECR names through <see cref="HostRoutingProxy"/> (so it asks
/// for the ECR host name, looks its credentials up by that name in the authfile, and verifies the
/// registry's certificate for it), and the alias (127.0.0.1:port) directly.
/// </summary>
public sealed class RealRegistryClientTests : IAsyncLifetime
{
    private const string Namespace = "app";
    private const string Image = "tiny:1";
    private DaemonHarness _h = null!;
    private string _work = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        await _h.CreateNamespaceAsync(Namespace, optedIn: true);
        _work = Directory.CreateTempSubdirectory("ecrdaemon-skopeo-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _h.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [ToolFact("skopeo", "docker-registry", "htpasswd")]
    public async Task Skopeo_pulls_with_the_written_secret_under_every_host_is_refused_with_a_stale_one_and_pulls_again_after_rotation()
    {
        var account = _h.Ecr.DefaultAccountId;
        var ecrHost = _h.Ecr.HostFor(account);
        var dualStackHost = RegistryHosts.DualStackHost(account, _h.Ecr.Region);
        using var registry = await LoopbackRegistry.StartAsync(EcrStandIn.PasswordFor(account, 0), ecrHost, dualStackHost);
        await using var proxy = new HostRoutingProxy(new Dictionary<string, int> { [ecrHost] = registry.Port, [dualStackHost] = registry.Port });
        string[] hosts = [ecrHost, dualStackHost, registry.LoopbackHost];

        // A tiny image, pushed with credentials of our own (not the daemon's).
        var layout = LoopbackRegistry.WriteOciImage(Path.Combine(_work, "layout"), "1");
        var pushAuth = WriteAuthFile("push.json", new JsonObject
        {
            ["auths"] = new JsonObject { [registry.LoopbackHost] = Entry(EcrStandIn.PasswordFor(account, 0)) },
        });
        var digest = await PushAsync(proxy, registry, layout, pushAuth);

        await _h.StartDaemonAsync(new Dictionary<string, string?>
        {
            ["EcrDaemon:Registries:0:DualStack"] = "true",
            ["EcrDaemon:Registries:0:Aliases:0"] = registry.LoopbackHost,
        });
        await _h.WaitInSyncAsync(Namespace);
        var before = WriteAuthFile("before.json", SecretConfig());
        Assert.Equal(hosts.Order(StringComparer.Ordinal), AuthsHosts(before));

        foreach (var host in hosts)
        {
            await AssertPullsAsync(proxy, registry, before, host, digest);
        }

        // The registry moves on to the next password: the secret written before is refused under every host.
        _h.Ecr.Generation = 1;
        await registry.SetPasswordAsync(EcrStandIn.PasswordFor(account, 1));
        foreach (var host in hosts)
        {
            await AssertRefusedAsync(proxy, registry, before, host);
        }

        // The daemon rotates: the rewritten secret pulls again under every host.
        _h.Refresher.RequestRefresh();
        await _h.WaitInSyncAsync(Namespace);
        var after = WriteAuthFile("after.json", SecretConfig());
        Assert.Equal(hosts.Order(StringComparer.Ordinal), AuthsHosts(after));
        foreach (var host in hosts)
        {
            await AssertPullsAsync(proxy, registry, after, host, digest);
        }

        // The two ECR names went through the proxy to the registry (the alias, a loopback address, never does).
        Assert.Contains(ecrHost, proxy.Tunnelled);
        Assert.Contains(dualStackHost, proxy.Tunnelled);
        Assert.DoesNotContain(proxy.Tunnelled, h => h != ecrHost && h != dualStackHost);
    }

    [ToolFact("skopeo", "docker-registry", "htpasswd")]
    public async Task Skopeo_finds_no_credentials_for_a_host_the_secret_does_not_name()
    {
        // The control: without DualStack, the dual-stack host has no auths entry, and the registry refuses skopeo there while the ECR host pulls.
        var account = _h.Ecr.DefaultAccountId;
        var ecrHost = _h.Ecr.HostFor(account);
        var dualStackHost = RegistryHosts.DualStackHost(account, _h.Ecr.Region);
        using var registry = await LoopbackRegistry.StartAsync(EcrStandIn.PasswordFor(account, 0), ecrHost, dualStackHost);
        await using var proxy = new HostRoutingProxy(new Dictionary<string, int> { [ecrHost] = registry.Port, [dualStackHost] = registry.Port });
        var layout = LoopbackRegistry.WriteOciImage(Path.Combine(_work, "layout"), "1");
        var pushAuth = WriteAuthFile("push.json", new JsonObject { ["auths"] = new JsonObject { [registry.LoopbackHost] = Entry(EcrStandIn.PasswordFor(account, 0)) } });
        var digest = await PushAsync(proxy, registry, layout, pushAuth);

        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync(Namespace);
        var secret = WriteAuthFile("secret.json", SecretConfig());
        Assert.Equal([ecrHost], AuthsHosts(secret));

        await AssertPullsAsync(proxy, registry, secret, ecrHost, digest);
        await AssertRefusedAsync(proxy, registry, secret, dualStackHost);
    }

    /// <summary>Pushes the OCI layout to the registry (by its loopback address); returns the digest of the manifest as pushed.</summary>
    private async Task<string> PushAsync(HostRoutingProxy proxy, LoopbackRegistry registry, string layout, string authFile)
    {
        var digestFile = Path.Combine(_work, "pushed.digest");
        var push = await SkopeoAsync(proxy, "copy", "--insecure-policy", "--dest-authfile", authFile, "--dest-cert-dir", registry.CertDirectory,
            "--digestfile", digestFile, $"oci:{layout}:1", $"docker://{registry.LoopbackHost}/{Image}");
        Assert.True(push.ExitCode == 0, $"push: {push}\n{registry}");
        return File.ReadAllText(digestFile).Trim();
    }

    private async Task AssertPullsAsync(HostRoutingProxy proxy, LoopbackRegistry registry, string authFile, string host, string digest)
    {
        var inspect = await InspectAsync(proxy, registry, authFile, host);
        Assert.True(inspect.ExitCode == 0, $"skopeo inspect docker://{host}/{Image} with {Path.GetFileName(authFile)}: {inspect}\n{registry}");
        var output = JsonNode.Parse(inspect.StandardOutput)!;
        Assert.Equal(digest, output["Digest"]?.GetValue<string>());
        Assert.Equal($"{host}/tiny", output["Name"]?.GetValue<string>());
    }

    private async Task AssertRefusedAsync(HostRoutingProxy proxy, LoopbackRegistry registry, string authFile, string host)
    {
        var inspect = await InspectAsync(proxy, registry, authFile, host);
        Assert.True(inspect.ExitCode != 0, $"skopeo inspect docker://{host}/{Image} with {Path.GetFileName(authFile)} should be refused: {inspect}");

        // Refused by the registry's authentication, not lost on the way.
        Assert.Contains("unauthorized", inspect.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    private Task<ProcessResult> InspectAsync(HostRoutingProxy proxy, LoopbackRegistry registry, string authFile, string host) =>
        SkopeoAsync(proxy, "inspect", "--authfile", authFile, "--cert-dir", registry.CertDirectory, $"docker://{host}/{Image}");

    /// <summary>
    /// Runs skopeo with nothing from the machine: its own HOME and registries.conf (empty), no
    /// credential files but the ones given, and the proxy for HTTPS (Go never proxies a loopback address).
    /// </summary>
    private Task<ProcessResult> SkopeoAsync(HostRoutingProxy proxy, params string[] arguments)
    {
        var home = Path.Combine(_work, "home");
        Directory.CreateDirectory(home);
        var registriesConf = Path.Combine(_work, "registries.conf");
        File.WriteAllText(registriesConf, "");
        var environment = new Dictionary<string, string?>
        {
            ["HOME"] = home,
            ["XDG_RUNTIME_DIR"] = home,
            ["XDG_CONFIG_HOME"] = Path.Combine(home, ".config"),
            ["CONTAINERS_REGISTRIES_CONF"] = registriesConf,
            ["REGISTRY_AUTH_FILE"] = null,
            ["DOCKER_CONFIG"] = null,
            ["HTTPS_PROXY"] = proxy.Address.ToString(),
            ["HTTP_PROXY"] = proxy.Address.ToString(),
            ["https_proxy"] = null,
            ["http_proxy"] = null,
            ["NO_PROXY"] = null,
            ["no_proxy"] = null,
        };
        return Tools.RunAsync(Tools.Require("skopeo"), arguments, environment, TimeSpan.FromSeconds(60));
    }

    /// <summary>The .dockerconfigjson of the daemon's secret in the namespace, as stored.</summary>
    private JsonObject SecretConfig()
    {
        var data = _h.Secret(Namespace)?["data"]?[Markers.DockerConfigJsonKey]?.GetValue<string>() ?? throw new InvalidOperationException("no secret");
        return JsonNode.Parse(Convert.FromBase64String(data))!.AsObject();
    }

    private string WriteAuthFile(string name, JsonObject config)
    {
        var path = Path.Combine(_work, name);
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private static IEnumerable<string> AuthsHosts(string authFile) =>
        JsonNode.Parse(File.ReadAllText(authFile))!["auths"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal);

    private static JsonObject Entry(string password) => new()
    {
        ["auth"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{LoopbackRegistry.User}:{password}")),
    };
}
