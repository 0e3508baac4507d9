using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>Cold start: exactly the labelled namespaces are synced, with the minimum of writes, under the daemon's RBAC.</summary>
public sealed class ColdStartTests : IAsyncLifetime
{
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Fifty_labelled_namespaces_of_a_hundred_get_the_secret_and_the_default_ServiceAccount_entry()
    {
        var labelled = Enumerable.Range(1, 50).Select(i => $"in-{i}").ToArray();
        var unlabelled = Enumerable.Range(1, 50).Select(i => $"out-{i}").ToArray();
        foreach (var ns in labelled)
        {
            await _h.CreateNamespaceAsync(ns, optedIn: true, "builder");
        }

        foreach (var ns in unlabelled)
        {
            await _h.CreateNamespaceAsync(ns, optedIn: false);
        }

        var mark = _h.Requests.Mark();
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync(labelled);
        await _h.IdleAsync();

        foreach (var ns in unlabelled)
        {
            Assert.Null(_h.Secret(ns));
            Assert.Empty(_h.PullSecrets(ns)!);
        }

        foreach (var ns in labelled)
        {
            Assert.Empty(_h.PullSecrets(ns, "builder")!); // only "default" is targeted by default
        }

        var writes = _h.DaemonWrites(mark);
        Assert.Equal(50, writes.Count(r => r is { Verb: "create", Resource: "secrets" }));
        Assert.Equal(50, writes.Count(r => r is { Verb: "patch", Resource: "serviceaccounts" }));
        Assert.True(writes.Count == 100, DaemonHarness.Summary(writes));
        Assert.All(writes, w => Assert.StartsWith("in-", w.Namespace, StringComparison.Ordinal));
        var refused = _h.DaemonRequests(mark).Where(r => r.Code >= 400).ToList();
        Assert.True(refused.Count == 0, "the daemon made requests its RBAC refuses or that failed: " + DaemonHarness.Summary(refused));
        Assert.Equal(1, _h.Ecr.RequestCount);
    }

    [Fact]
    public async Task The_secret_is_a_labelled_dockerconfigjson_with_the_expiry_annotation()
    {
        await _h.CreateNamespaceAsync("app", optedIn: true);
        await _h.StartDaemonAsync();
        await _h.WaitInSyncAsync("app");

        var secret = _h.Secret("app")!;
        Assert.Equal("kubernetes.io/dockerconfigjson", secret["type"]!.GetValue<string>());
        Assert.Equal("ecr-daemon", secret["metadata"]!["labels"]![Markers.ManagedByLabel]!.GetValue<string>());
        var expiry = DateTimeOffset.Parse(secret["metadata"]!["annotations"]![Markers.ExpiresAtAnnotation]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiry, DateTimeOffset.UtcNow.AddHours(11), DateTimeOffset.UtcNow.AddHours(13));

        var config = JsonNode.Parse(Convert.FromBase64String(secret["data"]![".dockerconfigjson"]!.GetValue<string>()))!;
        var auths = config["auths"]!.AsObject();
        var entry = Assert.Single(auths);
        Assert.Equal(_h.Ecr.HostFor(_h.Ecr.DefaultAccountId), entry.Key);
        var password = EcrStandIn.PasswordFor(_h.Ecr.DefaultAccountId);
        Assert.Equal("AWS", entry.Value!["username"]!.GetValue<string>());
        Assert.Equal(password, entry.Value["password"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:" + password)), entry.Value["auth"]!.GetValue<string>());
        Assert.Equal([DaemonHarness.SecretName], _h.PullSecrets("app")!);
    }
}
