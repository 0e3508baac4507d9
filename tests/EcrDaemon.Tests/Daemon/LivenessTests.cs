using System.Net;
using System.Text.RegularExpressions;
using EcrDaemon.Diagnostics;
using EcrDaemon.LeaderElection;
using EcrDaemon.Controller;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// /livez as a kubelet sees it: probed on a period across several (shortened) <c>LivenessTimeout</c>s.
/// Liveness is "this replica's own loops make progress": a follower, a replica without a token, an
/// ex-leader and a replica whose API server is down stay live; a leader whose workers wedge does not.
/// </summary>
public sealed partial class LivenessTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static readonly Dictionary<string, string?> Short = new() { ["EcrDaemon:LivenessTimeout"] = "00:00:05" };

    private static readonly Dictionary<string, string?> Election = new(Short)
    {
        ["EcrDaemon:LeaderElection:Enabled"] = "true",
        ["EcrDaemon:LeaderElection:LeaseNamespace"] = "ecr-daemon",
        ["EcrDaemon:LeaderElection:LeaseDuration"] = "00:00:04",
        ["EcrDaemon:LeaderElection:RenewDeadline"] = "00:00:03",
        ["EcrDaemon:LeaderElection:RetryPeriod"] = "00:00:00.500",
    };

    /// <summary>Every second for 16 s: more than three 5-second liveness timeouts.</summary>
    private const int InProcessRounds = 16;

    private DaemonHarness _h = null!;

    public async Task InitializeAsync()
    {
        var rbac = Tools.Find("helm") is null && !Tools.IsCi ? DaemonHarness.RbacYaml : await HelmChart.RenderAsync("leaderElection: { enabled: true }");
        _h = await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = rbac });
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private string? Holder() => _h.Cluster.Store.Get(TestCluster.Api.ResourceType.Leases, "ecr-daemon", "ecr-daemon")?.Node["spec"]?["holderIdentity"]?.GetValue<string>();

    [ToolFact("helm")]
    public async Task Two_replica_processes_both_answer_livez_200_every_2_s_across_three_liveness_timeouts()
    {
        _h.Cluster.LoadRbac(await HelmChart.RenderAsync("leaderElection: { enabled: true }") + LeaderElectionTests.ReplicaBBindings);
        var namespaces = Enumerable.Range(1, 8).Select(i => $"ns-{i}").ToArray();
        foreach (var ns in namespaces)
        {
            await _h.CreateNamespaceAsync(ns, optedIn: true);
        }

        var settings = new Dictionary<string, string?>(Election) { ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information" };
        using var a = _h.StartReplicaProcess("ecr-daemon", "replica-a", settings);
        using var b = _h.StartReplicaProcess("replica-b", "replica-b", settings);
        Replica[] replicas = [new("replica-a", await ListeningOnAsync(a)), new("replica-b", await ListeningOnAsync(b))];

        // Both ready (synced, with a token); the leader has synced every namespace; the follower has them all queued and runs no workers.
        await Poll.UntilAsync(async () => (await Task.WhenAll(replicas.Select(r => ProbeAsync(r.Endpoint, "/readyz")))).All(p => p.Code == HttpStatusCode.OK),
            () => $"lease holder {Holder()}\n{a}\n{b}", TimeSpan.FromSeconds(90));
        await _h.WaitInSyncAsync(namespaces);

        // A kubelet's liveness probe: every 2 s, for 9 rounds (18 s, more than three 5 s timeouts).
        var answers = await ProbeEveryAsync(TimeSpan.FromSeconds(2), 9, replicas, "/livez");

        var failed = answers.Where(x => x.Code != HttpStatusCode.OK).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {answers.Count} probes failed:\n{string.Join('\n', failed)}\nlease holder {Holder()}\n{a}\n{b}");
        Assert.Equal(18, answers.Count);
        Assert.False(a.HasExited || b.HasExited, $"{a}\n{b}");

        // One leads, one follows, and each says so through ecr_daemon_leader.
        double?[] leading = [];
        await Poll.UntilAsync(async () =>
        {
            leading = await Task.WhenAll(replicas.Select(async r => PrometheusText.Parse(await Http.GetStringAsync(new Uri(r.Endpoint, "/metrics"))).Value("ecr_daemon_leader")));
            return leading.Order().SequenceEqual([0d, 1d]);
        }, () => $"ecr_daemon_leader: {string.Join(", ", leading)}");
    }

    [Fact]
    public async Task A_replica_that_never_got_a_token_stays_live_and_not_ready_past_the_liveness_timeout()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 1_000); // every token request is refused
        await _h.StartDaemonAsync(Election, waitForSync: false);
        var controller = _h.Services.GetRequiredService<PullSecretController>();
        await Poll.Until(() => controller.Synced && _h.Refresher.ConsecutiveFailures >= 1 && _h.Queue.Depth >= 1,
            () => $"synced {controller.Synced}, failures {_h.Refresher.ConsecutiveFailures}, depth {_h.Queue.Depth}");

        var answers = await ProbeEveryAsync(TimeSpan.FromSeconds(1), InProcessRounds, [new("daemon", await _h.BoundHttpEndpointAsync())], "/livez", "/readyz");

        AssertAll(answers, "/livez", HttpStatusCode.OK, "progress: Healthy");
        AssertAll(answers, "/readyz", HttpStatusCode.ServiceUnavailable, "no ECR token is held yet");
        Assert.Null(_h.Refresher.Current);
        Assert.False(_h.Services.GetRequiredService<Leadership>().IsLeader); // it never competed
        Assert.True(_h.Queue.Depth >= 1, $"depth {_h.Queue.Depth}"); // its keys waited all along
    }

    [ToolFact("helm")]
    public async Task A_leader_that_lost_its_Lease_stays_live_and_ready_past_the_liveness_timeout()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync(Election);
        var leadership = _h.Services.GetRequiredService<Leadership>();
        await _h.WaitInSyncAsync("a");
        await Poll.Until(() => leadership.IsLeader, () => $"lease holder {Holder()}");

        // An admin hands the Lease to another replica for 10 minutes: this one cannot renew, steps down and stops its workers.
        await _h.Admin.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(
            $$$"""{"spec":{"holderIdentity":"other-replica","leaseDurationSeconds":600,"renewTime":"{{{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.ffffffZ}}}"}}""",
            V1Patch.PatchType.MergePatch), "ecr-daemon", "ecr-daemon");
        await Poll.Until(() => !leadership.IsLeader, () => $"still leading; lease holder {Holder()}");
        await _h.CreateNamespaceAsync("b", optedIn: true);
        await _h.CreateNamespaceAsync("c", optedIn: true);
        await Poll.Until(() => _h.Queue.Depth >= 2, () => $"depth {_h.Queue.Depth}");

        var answers = await ProbeEveryAsync(TimeSpan.FromSeconds(1), InProcessRounds, [new("ex-leader", await _h.BoundHttpEndpointAsync())], "/livez", "/readyz");

        AssertAll(answers, "/livez", HttpStatusCode.OK, "progress: Healthy");
        AssertAll(answers, "/readyz", HttpStatusCode.OK, "synced, with an unexpired token");
        Assert.False(leadership.IsLeader);
        Assert.Equal("other-replica", Holder());
        Assert.Null(_h.Secret("b")); // it wrote nothing since
        Assert.True(_h.Queue.Depth >= 2, $"depth {_h.Queue.Depth}");
    }

    [ToolFact("helm")]
    public async Task An_elected_leader_whose_reconcile_hangs_past_the_liveness_timeout_fails_livez()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.StartDaemonAsync(Election);
        var leadership = _h.Services.GetRequiredService<Leadership>();
        await _h.WaitInSyncAsync("a");
        await Poll.Until(() => leadership.IsLeader, () => $"lease holder {Holder()}");
        Assert.Equal(HttpStatusCode.OK, (await ProbeAsync(await _h.BoundHttpEndpointAsync(), "/livez")).Code);

        // The API server stops answering secret creates: a worker hangs in its request for longer than LivenessTimeout.
        _h.Cluster.Faults.AddLatency(TimeSpan.FromMinutes(5), verb: "create", resource: "secrets");
        await _h.CreateNamespaceAsync("stuck", optedIn: true);

        var last = (Code: HttpStatusCode.OK, Body: "");
        await Poll.UntilAsync(async () => (last = await ProbeAsync(await _h.BoundHttpEndpointAsync(), "/livez")).Code == HttpStatusCode.ServiceUnavailable,
            () => $"livez {(int)last.Code}: {last.Body}");
        Assert.Contains("the work loop is wedged: namespace stuck has been reconciling since", last.Body, StringComparison.Ordinal);
        Assert.True(leadership.IsLeader);
        _h.Cluster.Faults.Clear();
    }

    [Fact]
    public async Task A_leader_whose_one_long_reconcile_keeps_writing_stays_live_past_the_liveness_timeout()
    {
        // One namespace with many ServiceAccounts, all targeted, at a low request rate (as the runbook advises under
        // throttling): its one reconcile takes far longer than LivenessTimeout, and makes progress with every write.
        const int accounts = 60;
        var names = Enumerable.Range(0, accounts).Select(i => $"sa-{i}").ToArray();
        await _h.CreateNamespaceAsync("big", optedIn: true, names);
        await _h.StartDaemonAsync(new Dictionary<string, string?>(Short)
        {
            ["EcrDaemon:ServiceAccounts:0"] = "*",
            ["EcrDaemon:KubernetesQps"] = "2",
            ["EcrDaemon:KubernetesBurst"] = "1",
        });
        int Patched() => _h.Requests.Count("patch", "serviceaccounts", "big", DaemonHarness.Identity);
        await Poll.Until(() => Patched() >= 1, () => "no ServiceAccount patched in big yet");

        // 16 s of probes: more than three 5 s timeouts. At 2 requests per second, 60 patches need 30 s, so the reconcile is still running at the end.
        var answers = await ProbeEveryAsync(TimeSpan.FromSeconds(1), InProcessRounds, [new("leader", await _h.BoundHttpEndpointAsync())], "/livez");
        var patched = Patched();

        Assert.True(patched < accounts, $"all {patched} patches done before the probes ended; the test proves nothing");
        AssertAll(answers, "/livez", HttpStatusCode.OK, "progress: Healthy");
        await Poll.Until(() => names.All(sa => _h.PullSecrets("big", sa)?.Contains(DaemonHarness.SecretName) == true), () => $"{Patched()} patches in big",
            TimeSpan.FromMinutes(2));
        _h.AssertRunning();
    }

    [Fact]
    public async Task With_the_API_server_down_from_before_the_start_the_daemon_stays_live_not_ready_and_syncs_when_it_returns()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        _h.Cluster.SetDown(true);
        await _h.StartDaemonAsync(Short, waitForSync: false);
        await Poll.Until(() => _h.Logs.Entries.Count(e => e.EventId.Id == LogEvents.WatchFailed) >= 3, () => "the informers are not retrying");

        var answers = await ProbeEveryAsync(TimeSpan.FromSeconds(1), InProcessRounds, [new("daemon", await _h.BoundHttpEndpointAsync())], "/livez", "/readyz");

        AssertAll(answers, "/livez", HttpStatusCode.OK, "progress: Healthy");
        AssertAll(answers, "/readyz", HttpStatusCode.ServiceUnavailable, "the first sync has not finished");
        Assert.False(_h.Services.GetRequiredService<PullSecretController>().Synced);

        _h.Cluster.SetDown(false);
        await _h.WaitInSyncAsync("a");
        Assert.Equal(HttpStatusCode.OK, (await ProbeAsync(await _h.BoundHttpEndpointAsync(), "/readyz")).Code);
        Assert.Equal(HttpStatusCode.OK, (await ProbeAsync(await _h.BoundHttpEndpointAsync(), "/livez")).Code);
        _h.AssertRunning();
    }

    private sealed record Replica(string Name, Uri Endpoint);

    private sealed record Answer(int Round, string Replica, string Path, HttpStatusCode Code, string Body)
    {
        public override string ToString() => $"round {Round}, {Replica} {Path}: {(int)Code} {Body.Trim()}";
    }

    private static void AssertAll(IReadOnlyList<Answer> answers, string path, HttpStatusCode code, string body)
    {
        var these = answers.Where(x => x.Path == path).ToList();
        var wrong = these.Where(x => x.Code != code || !x.Body.Contains(body, StringComparison.Ordinal)).ToList();
        Assert.True(these.Count > 0 && wrong.Count == 0, $"{wrong.Count} of {these.Count} {path} answers were not {(int)code} '{body}':\n{string.Join('\n', wrong)}");
    }

    private static async Task<(HttpStatusCode Code, string Body)> ProbeAsync(Uri endpoint, string path)
    {
        using var response = await Http.GetAsync(new Uri(endpoint, path));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Probes every replica's paths once a period, as a kubelet does, and returns every answer.</summary>
    private static async Task<IReadOnlyList<Answer>> ProbeEveryAsync(TimeSpan period, int rounds, IReadOnlyList<Replica> replicas, params string[] paths)
    {
        var answers = new List<Answer>();
        using var timer = new PeriodicTimer(period);
        for (var round = 1; round <= rounds; round++)
        {
            await timer.WaitForNextTickAsync();
            foreach (var replica in replicas)
            {
                foreach (var path in paths)
                {
                    var (code, body) = await ProbeAsync(replica.Endpoint, path);
                    answers.Add(new Answer(round, replica.Name, path, code, body));
                }
            }
        }

        return answers;
    }

    /// <summary>The replica process's HTTP address, from Kestrel's "Now listening on:" line (it binds port 0).</summary>
    private static async Task<Uri> ListeningOnAsync(BackgroundProcess replica)
    {
        Match? found = null;
        await Poll.Until(() => replica.HasExited
                || (found = replica.StandardErrorLines.Concat(replica.StandardOutputLines).Select(l => ListeningLine().Match(l)).FirstOrDefault(m => m.Success)) is not null,
            replica.ToString, TimeSpan.FromSeconds(90));
        return found is null ? throw new InvalidOperationException($"the replica exited: {replica}") : new Uri(found.Groups["url"].Value);
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://\S+)")]
    private static partial Regex ListeningLine();
}
