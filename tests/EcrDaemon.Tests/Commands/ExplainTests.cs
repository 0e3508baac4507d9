using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrDaemon.Commands;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// One test cluster with a namespace for each verdict of <c>explain</c>, brought there by the real daemon (then
/// stopped) and by an administrator: in sync; not labelled; excluded; Terminating; an unowned secret; a
/// ServiceAccount missing the entry; an expired secret. The daemon runs under the chart's RBAC
/// (<c>daemon-rbac.yaml</c>, which a chart test keeps equal to what the chart renders).
/// </summary>
public sealed class ExplainFixture : IAsyncLifetime
{
    /// <summary>The unowned secret's password: no output may show it.</summary>
    public const string ForeignPassword = "hunter2-foreign-password";

    public const string ForeignHost = "registry.example.com";

    internal DaemonHarness H { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // A namespace being deleted stays Terminating for the whole class (the test cluster's default is 2 s).
        var h = H = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = DaemonHarness.RbacYaml, NamespaceDeletionDelay = TimeSpan.FromHours(1) });
        foreach (var ns in new[] { "synced", "unowned", "missing-entry", "expired" })
        {
            await h.CreateNamespaceAsync(ns, optedIn: true);
        }

        await h.CreateNamespaceAsync("plain", optedIn: false);
        await h.LabelAsync("kube-system", optedIn: true);
        await h.CreateNamespaceAsync("leaving", optedIn: true);
        await h.Admin.CoreV1.DeleteNamespaceAsync("leaving");

        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"someone:{ForeignPassword}"));
        var config = new JsonObject
        {
            ["auths"] = new JsonObject { [ForeignHost] = new JsonObject { ["username"] = "someone", ["password"] = ForeignPassword, ["auth"] = auth } },
        }.ToJsonString();
        await h.Admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = DaemonHarness.SecretName },
            Type = Markers.DockerConfigJsonType,
            Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = Encoding.UTF8.GetBytes(config) },
        }, "unowned");

        await h.StartDaemonAsync();
        await h.WaitInSyncAsync("synced", "missing-entry", "expired");
        await h.IdleAsync();
        Assert.Equal(0, await h.StopDaemonAsync());

        // After the daemon: a ServiceAccount loses its entry, a secret's token expires (its annotation says so).
        await h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(new V1Patch("""{"imagePullSecrets":null}""", V1Patch.PatchType.MergePatch), "default", "missing-entry");
        var past = DateTimeOffset.UtcNow.AddHours(-3).AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        await h.Admin.CoreV1.PatchNamespacedSecretAsync(new V1Patch(
            new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [Markers.ExpiresAtAnnotation] = past } } }.ToJsonString(),
            V1Patch.PatchType.MergePatch), DaemonHarness.SecretName, "expired");
    }

    public async Task DisposeAsync() => await H.DisposeAsync();
}

public sealed class ExplainTests(ExplainFixture fixture) : IClassFixture<ExplainFixture>
{
    private DaemonHarness H => fixture.H;

    [Fact]
    public async Task A_namespace_in_sync_shows_its_opt_in_secret_registries_expiry_ServiceAccount_and_Events_and_exits_0()
    {
        var result = await ExplainAsync("synced");

        Assert.True(result.Exit == 0, result.ToString());
        var host = H.Ecr.HostFor(H.Ecr.DefaultAccountId);
        Assert.Contains("namespace synced: opted in (profile default)", result.Out, StringComparison.Ordinal);
        Assert.Contains($"selector ok    {DaemonHarness.OptInLabel}=true  (label {DaemonHarness.OptInLabel}=true)", result.Out, StringComparison.Ordinal);
        Assert.Contains($"secret {DaemonHarness.SecretName}: present, owned by the daemon, type kubernetes.io/dockerconfigjson", result.Out, StringComparison.Ordinal);
        Assert.Contains($"registries: {host}", result.Out, StringComparison.Ordinal);
        Assert.Matches(@"expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, in ", result.Out);
        Assert.Contains($"serviceaccount default: lists {DaemonHarness.SecretName} (added by the daemon)", result.Out, StringComparison.Ordinal);
        Assert.Contains("events from ecr-daemon (newest first):", result.Out, StringComparison.Ordinal);
        Assert.Contains("verdict: in sync:", result.Out, StringComparison.Ordinal);
        AssertClean(result);
    }

    [Fact]
    public async Task A_namespace_without_the_label_says_which_requirement_failed_and_how_to_label_it()
    {
        var result = await ExplainAsync("plain");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains("namespace plain: not opted in", result.Out, StringComparison.Ordinal);
        Assert.Contains($"selector FAIL  {DaemonHarness.OptInLabel}=true  (no such label)", result.Out, StringComparison.Ordinal);
        Assert.Contains($"verdict: NOT IN SYNC: namespace plain is not opted in: its labels do not match {DaemonHarness.OptInLabel}=true (profile default): "
            + $"label the namespace: kubectl label namespace plain {DaemonHarness.OptInLabel}=true", result.Out, StringComparison.Ordinal);
        AssertClean(result);
    }

    [Fact]
    public async Task An_excluded_namespace_says_it_is_excluded_although_its_labels_match()
    {
        var result = await ExplainAsync("kube-system");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains("profile default: does not select kube-system (excluded: ExcludedNamespaces)", result.Out, StringComparison.Ordinal);
        Assert.Contains($"selector ok    {DaemonHarness.OptInLabel}=true", result.Out, StringComparison.Ordinal);
        Assert.Contains("verdict: NOT IN SYNC: namespace kube-system is excluded (ExcludedNamespaces; profile default): "
            + "if it should get secret aws-registry, remove kube-system from EcrDaemon:ExcludedNamespaces", result.Out, StringComparison.Ordinal);
        AssertClean(result);
    }

    [Fact]
    public async Task A_Terminating_namespace_says_the_daemon_leaves_it_alone()
    {
        var result = await ExplainAsync("leaving");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains("namespace leaving: Terminating (the daemon leaves it alone)", result.Out, StringComparison.Ordinal);
        Assert.Contains("verdict: NOT IN SYNC: namespace leaving is Terminating: nothing to do", result.Out, StringComparison.Ordinal);
        AssertClean(result);
    }

    [Fact]
    public async Task An_unowned_secret_shows_its_registry_host_but_never_its_password_and_says_how_to_adopt_it()
    {
        var result = await ExplainAsync("unowned");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains($"secret {DaemonHarness.SecretName}: present, NOT owned by the daemon (no label {Markers.ManagedSelector})", result.Out, StringComparison.Ordinal);
        Assert.Contains($"registries: {ExplainFixture.ForeignHost}", result.Out, StringComparison.Ordinal);
        Assert.Contains("no expiry annotation", result.Out, StringComparison.Ordinal);
        Assert.Contains($"serviceaccount default: does NOT list {DaemonHarness.SecretName}", result.Out, StringComparison.Ordinal);
        Assert.Contains($"verdict: NOT IN SYNC: secret {DaemonHarness.SecretName} is not the daemon's", result.Out, StringComparison.Ordinal);
        Assert.Contains($"adopt the unowned secret with kubectl -n unowned label secret {DaemonHarness.SecretName} {Markers.ManagedSelector} "
            + "(or set EcrDaemon:AdoptUnmanagedSecrets=true)", result.Out, StringComparison.Ordinal);
        Assert.Contains("(1 more problem above)", result.Out, StringComparison.Ordinal); // the ServiceAccount, listed under problems
        Assert.Matches(@"Warning\s+\S+\s+Secret/aws-registry", result.Out); // the daemon's Warning Event about the conflict
        AssertClean(result);
    }

    [Fact]
    public async Task A_ServiceAccount_missing_the_entry_is_named_in_the_verdict()
    {
        var result = await ExplainAsync("missing-entry");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains($"secret {DaemonHarness.SecretName}: present, owned by the daemon", result.Out, StringComparison.Ordinal);
        Assert.Contains($"verdict: NOT IN SYNC: ServiceAccount default does not list {DaemonHarness.SecretName}: the daemon fixes it on its next reconcile", result.Out, StringComparison.Ordinal);
        AssertClean(result);
    }

    [Fact]
    public async Task An_expired_secret_says_how_long_ago_and_points_at_check()
    {
        var result = await ExplainAsync("expired");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains("EXPIRED at ", result.Out, StringComparison.Ordinal);
        Assert.Matches(@"verdict: NOT IN SYNC: the token in secret aws-registry expired 3 h \d+ min ago \(at [^)]+\): see `ecrdaemon check`", result.Out);
        AssertClean(result);
    }

    [Fact]
    public async Task An_unknown_namespace_is_one_clear_line_and_exit_1()
    {
        var result = await ExplainAsync("no-such-namespace");

        Assert.True(result.Exit == 1, result.ToString());
        Assert.Contains("namespace no-such-namespace: not found", result.Out, StringComparison.Ordinal);
        Assert.Contains("verdict: NOT IN SYNC: namespace no-such-namespace not found", result.Out, StringComparison.Ordinal);
        Assert.Equal("", result.Err);
        AssertClean(result);
    }

    [Fact]
    public async Task An_API_server_that_cannot_be_reached_is_one_line_and_exit_1()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CommandDispatcher.RunAsync(["explain", "synced"], stdout, stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(H.Settings());
            builder.Services.Replace(ServiceDescriptor.Singleton(new KubernetesClientConfiguration { Host = "http://127.0.0.1:9" }));
        });

        Assert.Equal(1, exit);
        Assert.Equal("", stdout.ToString());
        var line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon explain: could not read the cluster: HttpRequestException: ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "explain" }, "give a NAMESPACE, or --all")]
    [InlineData(new[] { "explain", "synced", "--all" }, "not both")]
    [InlineData(new[] { "explain", "Not_A_Namespace" }, "'Not_A_Namespace' is not a namespace name")]
    [InlineData(new[] { "explain", "synced", "-o", "yaml" }, "yaml")]
    public async Task Bad_input_is_exit_2_with_one_line(string[] args, string expected)
    {
        var result = await RunAsync(args);

        Assert.True(result.Exit == 2, result.ToString());
        var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task Json_output_is_the_same_report_as_JSON()
    {
        var synced = await ExplainAsync("synced", "-o", "json");
        var unowned = await ExplainAsync("unowned", "--output", "json");

        Assert.True(synced.Exit == 0, synced.ToString());
        Assert.True(unowned.Exit == 1, unowned.ToString());
        using var ok = JsonDocument.Parse(synced.Out);
        Assert.True(ok.RootElement.GetProperty("inSync").GetBoolean());
        Assert.True(ok.RootElement.GetProperty("optedIn").GetBoolean());
        var profile = Assert.Single(ok.RootElement.GetProperty("profiles").EnumerateArray());
        Assert.Equal(DaemonHarness.SecretName, profile.GetProperty("secretName").GetString());
        Assert.True(profile.GetProperty("secret").GetProperty("managed").GetBoolean());
        Assert.Equal([H.Ecr.HostFor(H.Ecr.DefaultAccountId)], profile.GetProperty("secret").GetProperty("registries").EnumerateArray().Select(e => e.GetString()));
        Assert.True(profile.GetProperty("secret").GetProperty("secondsLeft").GetInt64() > 0);
        var sa = Assert.Single(profile.GetProperty("serviceAccounts").EnumerateArray());
        Assert.Equal("default", sa.GetProperty("name").GetString());
        Assert.True(sa.GetProperty("addedByDaemon").GetBoolean());
        Assert.NotEmpty(ok.RootElement.GetProperty("events").EnumerateArray());
        Assert.StartsWith("in sync", ok.RootElement.GetProperty("verdict").GetString(), StringComparison.Ordinal);

        using var bad = JsonDocument.Parse(unowned.Out);
        Assert.False(bad.RootElement.GetProperty("inSync").GetBoolean());
        Assert.False(bad.RootElement.GetProperty("profiles")[0].GetProperty("secret").GetProperty("managed").GetBoolean());
        Assert.Equal(2, bad.RootElement.GetProperty("problems").GetArrayLength());
        AssertClean(synced);
        AssertClean(unowned);
    }

    [Fact]
    public async Task All_prints_a_line_per_opted_in_or_excluded_namespace_and_exits_1_when_one_is_not_in_sync()
    {
        var text = await ExplainAsync("--all");
        var json = await ExplainAsync("--all", "-o", "json");

        Assert.True(text.Exit == 1, text.ToString());
        var lines = text.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.Matches(@"^synced\s+in sync$", lines.Single(l => l.StartsWith("synced ", StringComparison.Ordinal)));
        Assert.Matches(@"^unowned\s+NOT IN SYNC\s+secret aws-registry is not the daemon's.* \(and 1 more: explain unowned\)$", lines.Single(l => l.StartsWith("unowned ", StringComparison.Ordinal)));
        Assert.Matches(@"^missing-entry\s+NOT IN SYNC\s+", lines.Single(l => l.StartsWith("missing-entry ", StringComparison.Ordinal)));
        Assert.Matches(@"^expired\s+NOT IN SYNC\s+the token in secret aws-registry expired", lines.Single(l => l.StartsWith("expired ", StringComparison.Ordinal)));
        Assert.Matches(@"^kube-system\s+excluded\s+", lines.Single(l => l.StartsWith("kube-system ", StringComparison.Ordinal)));
        Assert.Matches(@"^leaving\s+terminating\s+", lines.Single(l => l.StartsWith("leaving ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("plain ", StringComparison.Ordinal));
        Assert.Equal("explain --all: 5 opted in, 1 in sync, 3 not in sync, 1 excluded although a selector matches; `ecrdaemon explain NAMESPACE` for one in detail", lines[^1]);

        Assert.True(json.Exit == 1, json.ToString());
        using var document = JsonDocument.Parse(json.Out);
        Assert.Equal(3, document.RootElement.GetProperty("notInSync").GetInt32());
        Assert.Equal(6, document.RootElement.GetProperty("namespaces").GetArrayLength());
        AssertClean(text);
        AssertClean(json);
    }

    /// <summary>No output holds a password or auth, and the daemon's identity was never refused (the daemon's run included).</summary>
    private void AssertClean(Result result)
    {
        var output = result.Out + result.Err;
        var passwords = new[] { ExplainFixture.ForeignPassword, EcrStandIn.PasswordFor(H.Ecr.DefaultAccountId, H.Ecr.Generation) };
        foreach (var secret in passwords)
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"AWS:{secret}")), output, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"someone:{secret}")), output, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("\"auth\"", output, StringComparison.Ordinal);
        Assert.DoesNotContain("password", output, StringComparison.OrdinalIgnoreCase);
        var refused = H.Requests.All.Where(r => r.Identity == DaemonHarness.Identity && r.Code is 401 or 403).ToList();
        Assert.True(refused.Count == 0, "refused: " + DaemonHarness.Summary(refused));
    }

    private Task<Result> ExplainAsync(params string[] args) => RunAsync(["explain", .. args]);

    /// <summary>Runs the command line in process as the daemon's ServiceAccount, with the harness's settings.</summary>
    private async Task<Result> RunAsync(string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var kubeconfig = new MemoryStream(Encoding.UTF8.GetBytes(H.Cluster.Kubeconfig(H.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon")));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(KubernetesClientConfiguration.LoadKubeConfig(kubeconfig));
        var exit = await CommandDispatcher.RunAsync(args, stdout, stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(H.Settings());
            builder.Services.Replace(ServiceDescriptor.Singleton(config));
        });
        return new(exit, stdout.ToString(), stderr.ToString());
    }

    private sealed record Result(int Exit, string Out, string Err)
    {
        public override string ToString() => $"exit {Exit}\nstdout:\n{Out}\nstderr:\n{Err}";
    }
}
