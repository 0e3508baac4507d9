using EcrDaemon.Kubernetes;
using EcrDaemon.LeaderElection;
using EcrDaemon.TestCluster;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EcrDaemon.Tests.LeaderElection;

/// <summary>
/// <see cref="LeaseElector"/> against the in-process test cluster, on a fake clock that the test moves one
/// RetryPeriod at a time, once every running elector has finished its attempt and waits for the next one:
/// the API calls take no time on that clock, so every time below is exact.
/// </summary>
public sealed class LeaseElectorTests : IAsyncLifetime
{
    private const string Ns = "default";
    private const string Name = "ecr-daemon";

    /// <summary>Lease 4 s, renew deadline 3 s, an attempt every 0.5 s.</summary>
    private static readonly LeaseTimings Timings = new(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(500));

    private static readonly DateTimeOffset Start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly List<Runner> _runners = [];
    private TestClusterServer _cluster = null!;
    private k8s.Kubernetes _admin = null!;
    private KubernetesApi _api = null!;

    public async Task InitializeAsync()
    {
        _cluster = await TestClusterServer.StartAsync(new TestClusterOptions());
        _admin = DaemonHarness.Client(_cluster, null, Ns);
        _api = DaemonHarness.Api(_cluster, null, Ns);
    }

    public async Task DisposeAsync()
    {
        foreach (var runner in _runners)
        {
            await runner.StopAsync();
            runner.Dispose();
        }

        _admin.Dispose();
        _api.Dispose();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Creates_the_Lease_when_there_is_none_and_leads()
    {
        var a = await StartAsync("replica-a");

        Assert.True(a.Elector.IsLeader);
        var spec = (await ReadAsync()).Spec;
        Assert.Equal("replica-a", spec.HolderIdentity);
        Assert.Equal(4, spec.LeaseDurationSeconds);
        Assert.Equal(0, spec.LeaseTransitions);
        Assert.Equal(Start.UtcDateTime, spec.AcquireTime);
        Assert.Equal(Start.UtcDateTime, spec.RenewTime);
        Assert.Equal([("replica-a", Start, (DateTimeOffset?)null)], a.Terms);

        // It renews every RetryPeriod with the clock moving: renewTime follows, acquireTime stays.
        await StepAsync(4);
        spec = (await ReadAsync()).Spec;
        Assert.Equal((Start + TimeSpan.FromSeconds(2)).UtcDateTime, spec.RenewTime);
        Assert.Equal(Start.UtcDateTime, spec.AcquireTime);
        Assert.Equal(0, spec.LeaseTransitions);
        Assert.Single(a.Terms);
    }

    [Fact]
    public async Task A_follower_does_not_take_an_unexpired_Lease_then_takes_it_once_expired_with_leaseTransitions_plus_one()
    {
        await CreateLeaseAsync("other-replica", 4, transitions: 2);
        var a = await StartAsync("replica-a");

        // 3.5 s with the record unchanged: not yet expired by this replica's clock.
        await StepAsync(7);
        Assert.False(a.Elector.IsLeader);
        Assert.Equal("other-replica", (await ReadAsync()).Spec.HolderIdentity);
        Assert.Empty(a.Terms);

        // At 4 s it has been unchanged for a whole lease duration since this replica first saw it.
        await StepAsync(1);
        Assert.True(a.Elector.IsLeader);
        var spec = (await ReadAsync()).Spec;
        Assert.Equal("replica-a", spec.HolderIdentity);
        Assert.Equal(3, spec.LeaseTransitions);
        Assert.Equal((Start + TimeSpan.FromSeconds(4)).UtcDateTime, spec.AcquireTime);
        Assert.Equal(spec.AcquireTime, spec.RenewTime);
        Assert.Equal(4, spec.LeaseDurationSeconds);
    }

    [Fact]
    public async Task A_released_Lease_with_an_empty_holder_is_taken_at_once()
    {
        await CreateLeaseAsync("", 1, transitions: 5);
        var a = await StartAsync("replica-a"); // the clock has not moved

        Assert.True(a.Elector.IsLeader);
        var spec = (await ReadAsync()).Spec;
        Assert.Equal("replica-a", spec.HolderIdentity);
        Assert.Equal(6, spec.LeaseTransitions);
        Assert.Equal(Start.UtcDateTime, spec.AcquireTime);
    }

    [Fact]
    public async Task A_renew_that_meets_a_409_reads_again_and_does_not_overwrite_the_new_holder()
    {
        var a = await StartAsync("replica-a");
        var mark = _cluster.Requests.Mark();

        // Its next renew reaches the server only after an admin has handed the Lease to another replica.
        using var held = _cluster.Faults.HoldResponses("update", "leases", Ns, beforeCommit: true);
        _time.Advance(Timings.RetryPeriod);
        await Poll.Within(held.Committed, "the renew");
        await _admin.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(
            """{"spec":{"holderIdentity":"other-replica","leaseDurationSeconds":60}}""", V1Patch.PatchType.MergePatch), Name, Ns);
        held.Release();

        // With the clock stopped: the write is refused, the record read again, and the term ended.
        await Poll.Until(() => !a.Elector.IsLeader, () => Show(a));
        await Poll.Until(() => a.Elector.Rounds > 1, () => Show(a));
        Assert.Equal(1, _cluster.Requests.Count("update", "leases", Ns, code: 409, since: mark));
        Assert.Equal(2, _cluster.Requests.Count("get", "leases", Ns, since: mark));
        Assert.Equal(Start + Timings.RetryPeriod, a.Terms.Single().End);

        // Long after, short of the other's 60 s: never written over.
        await StepAsync(20);
        Assert.Equal("other-replica", (await ReadAsync()).Spec.HolderIdentity);
        Assert.Equal(0, _cluster.Requests.Count("update", "leases", Ns, code: 200, since: mark));
        Assert.Single(a.Terms);
    }

    [Fact]
    public async Task A_leader_that_cannot_renew_steps_down_at_the_renew_deadline_before_the_Lease_could_expire()
    {
        var a = await StartAsync("replica-a");
        await StepAsync(2);
        _cluster.Faults.FailNext(1_000, 500, "update", "leases");
        var lastRenew = new DateTimeOffset((await ReadAsync()).Spec.RenewTime!.Value, TimeSpan.Zero);
        Assert.Equal(Start + TimeSpan.FromSeconds(1), lastRenew);

        await StepUntilAsync(() => !a.Elector.IsLeader, a);

        var end = a.Terms.Single().End!.Value;
        Assert.InRange(end - lastRenew, Timings.RenewDeadline, Timings.LeaseDuration - TimeSpan.FromTicks(1));
        Assert.Equal("replica-a", (await ReadAsync()).Spec.HolderIdentity); // nobody else took it meanwhile
        Assert.False(a.Run.IsCompleted); // the 500s did not end the loop

        // Once the API answers again, the record still names it: it renews and leads again.
        _cluster.Faults.Clear();
        await StepUntilAsync(() => a.Elector.IsLeader, a);
        Assert.Equal(2, a.Terms.Count);
    }

    [Fact]
    public async Task Throttling_a_cut_connection_and_a_request_that_never_answers_are_failed_attempts_and_the_loop_goes_on()
    {
        var a = await StartAsync("replica-a");
        var mark = _cluster.Requests.Mark();

        // Two 429s, then two attempts on a cut connection (1 s in all, within the renew deadline): it still leads.
        _cluster.Faults.FailNext(2, 429, "get", "leases", retryAfterSeconds: 1);
        await StepAsync(2);
        _cluster.Faults.Down = true;
        await StepAsync(2);
        _cluster.Faults.Down = false;
        Assert.Equal(2, _cluster.Requests.Count("get", "leases", Ns, code: 429, since: mark));
        Assert.True(a.Elector.IsLeader, Show(a));
        Assert.Equal(Start.UtcDateTime, (await ReadAsync()).Spec.RenewTime);

        await StepAsync(1);
        var lastRenew = Start + TimeSpan.FromSeconds(2.5);
        Assert.Equal(lastRenew.UtcDateTime, (await ReadAsync()).Spec.RenewTime);

        // The next read never answers: the term ends at the renew deadline, and the attempt gives up (by the clock) so the loop goes on.
        _cluster.Faults.AddLatency(TimeSpan.FromSeconds(20), "get", "leases", count: 1);
        var rounds = a.Elector.Rounds;
        _time.Advance(Timings.RetryPeriod);
        await Poll.Until(() =>
        {
            if (a.Elector.Rounds > rounds)
            {
                return true;
            }

            _time.Advance(TimeSpan.FromMilliseconds(100));
            return false;
        }, () => Show(a));
        Assert.False(a.Elector.IsLeader);
        Assert.InRange(a.Terms.Single().End!.Value - lastRenew, Timings.RenewDeadline, Timings.LeaseDuration - TimeSpan.FromTicks(1));
        Assert.False(a.Run.IsCompleted);

        await StepUntilAsync(() => a.Elector.IsLeader, a);
        Assert.Equal(2, a.Terms.Count);
    }

    [Fact]
    public async Task Release_on_stop_empties_the_holder_only_while_this_replica_holds_the_Lease()
    {
        var a = await StartAsync("replica-a");
        await StepAsync(2);

        await a.StopAsync();
        Assert.False(a.Elector.IsLeader);
        Assert.NotNull(a.Terms.Single().End);
        Assert.True(await a.Elector.ReleaseAsync(CancellationToken.None));
        var spec = (await ReadAsync()).Spec;
        Assert.Equal("", spec.HolderIdentity);
        Assert.Equal(1, spec.LeaseDurationSeconds);
        Assert.Equal((Start + TimeSpan.FromSeconds(1)).UtcDateTime, spec.RenewTime);

        // Another replica holds it now: a release changes nothing.
        await _admin.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(
            """{"spec":{"holderIdentity":"other-replica","leaseDurationSeconds":60}}""", V1Patch.PatchType.MergePatch), Name, Ns);
        var version = (await ReadAsync()).Metadata.ResourceVersion;
        Assert.False(await a.Elector.ReleaseAsync(CancellationToken.None));
        Assert.Equal(version, (await ReadAsync()).Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Two_electors_racing_for_the_Lease_never_lead_at_the_same_time()
    {
        var a = Run("replica-a");
        var b = Run("replica-b");
        await Poll.Until(() => a.Elector.Rounds >= 1 && b.Elector.Rounds >= 1, () => $"{Show(a)}; {Show(b)}");
        Assert.True(a.Elector.IsLeader ^ b.Elector.IsLeader, $"{Show(a)}; {Show(b)}"); // both created; one won
        var (leader, follower) = a.Elector.IsLeader ? (a, b) : (b, a);

        // Renewals fail for a while (whoever sends them), more than once; then the leader dies without releasing.
        for (var round = 0; round < 3; round++)
        {
            _cluster.Faults.FailNext(9, 500, "update", "leases");
            await StepAsync(16, a, b);
        }

        await leader.StopAsync();
        await StepUntilAsync(() => follower.Elector.IsLeader, follower);
        await StepAsync(4, follower);

        List<(string Who, DateTimeOffset Start, DateTimeOffset? End)> terms = [.. a.Terms, .. b.Terms];
        terms.Sort((x, y) => x.Start.CompareTo(y.Start));
        for (var i = 1; i < terms.Count; i++)
        {
            Assert.True(terms[i - 1].End is { } end && end < terms[i].Start, $"overlapping terms: {string.Join("; ", terms)}");
        }

        Assert.Contains(terms, t => t.Who == "replica-a");
        Assert.Contains(terms, t => t.Who == "replica-b");
    }

    [Theory]
    [InlineData(-3650)]
    [InlineData(3650)]
    public async Task A_skewed_renewTime_does_not_make_a_follower_take_a_Lease_that_is_being_renewed(int skewDays)
    {
        // The holder's clock is ten years off this replica's; it renews every second by its own clock.
        var theirs = Start.AddDays(skewDays);
        await CreateLeaseAsync("other-replica", 4, transitions: 0, renewTime: theirs);
        var a = await StartAsync("replica-a");
        for (var second = 1; second <= 12; second++)
        {
            await StepAsync(2);
            await _admin.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(
                $$$"""{"spec":{"renewTime":"{{{theirs.AddSeconds(second):yyyy-MM-ddTHH:mm:ss.ffffffZ}}}"}}""", V1Patch.PatchType.MergePatch), Name, Ns);
            Assert.False(a.Elector.IsLeader, $"took a renewed Lease at {second} s");
        }

        Assert.Empty(a.Terms);
        Assert.Equal("other-replica", (await ReadAsync()).Spec.HolderIdentity);

        // The holder stops renewing: this replica sees its last renewal at its next attempt and takes over 4 s after that.
        var lastRenewal = _time.GetUtcNow();
        await StepUntilAsync(() => a.Elector.IsLeader, a);
        Assert.Equal(lastRenewal + Timings.RetryPeriod + Timings.LeaseDuration, a.Terms.Single().Start);
        Assert.Equal(1, (await ReadAsync()).Spec.LeaseTransitions);
    }

    private Runner Run(string identity)
    {
        var elector = new LeaseElector(_api, Ns, Name, identity, Timings, _time, NullLogger.Instance);
        var runner = new Runner(elector, _time);
        _runners.Add(runner);
        return runner;
    }

    /// <summary>Starts an elector and waits for its first attempt (the clock does not move).</summary>
    private async Task<Runner> StartAsync(string identity)
    {
        var runner = Run(identity);
        await Poll.Until(() => runner.Elector.Rounds >= 1, () => Show(runner));
        return runner;
    }

    /// <summary>Moves the clock one RetryPeriod <paramref name="steps"/> times, each once the running electors have made their next attempt.</summary>
    private async Task StepAsync(int steps, params Runner[] only)
    {
        var runners = only.Length > 0 ? only : [.. _runners];
        for (var i = 0; i < steps; i++)
        {
            var running = runners.Where(r => !r.Run.IsCompleted).Select(r => (r, r.Elector.Rounds)).ToList();
            _time.Advance(Timings.RetryPeriod);
            await Poll.Until(() => running.All(x => x.r.Elector.Rounds > x.Rounds), () => string.Join("; ", running.Select(x => Show(x.r))));
        }
    }

    private async Task StepUntilAsync(Func<bool> condition, Runner runner)
    {
        for (var i = 0; i < 60 && !condition(); i++)
        {
            await StepAsync(1, runner);
        }

        Assert.True(condition(), Show(runner));
    }

    private Task<V1Lease> ReadAsync() => _admin.CoordinationV1.ReadNamespacedLeaseAsync(Name, Ns);

    private Task<V1Lease> CreateLeaseAsync(string holder, int seconds, int transitions, DateTimeOffset? renewTime = null) =>
        _admin.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = Name },
            Spec = new V1LeaseSpec
            {
                HolderIdentity = holder, LeaseDurationSeconds = seconds, LeaseTransitions = transitions,
                AcquireTime = (renewTime ?? Start).UtcDateTime, RenewTime = (renewTime ?? Start).UtcDateTime,
            },
        }, Ns);

    private static string Show(Runner r) =>
        $"{r.Elector.Identity}: leader {r.Elector.IsLeader}, rounds {r.Elector.Rounds}, terms [{string.Join(", ", r.Terms)}], run {r.Run.Status}";

    /// <summary>An elector running in the background, with the terms it reported (by the fake clock).</summary>
    private sealed class Runner : IDisposable
    {
        private readonly Lock _lock = new();
        private readonly List<(string Who, DateTimeOffset Start, DateTimeOffset? End)> _terms = [];
        private readonly CancellationTokenSource _stop = new();

        public Runner(LeaseElector elector, TimeProvider time)
        {
            Elector = elector;
            elector.StartedLeading += () =>
            {
                lock (_lock)
                {
                    _terms.Add((elector.Identity, time.GetUtcNow(), null));
                }
            };
            elector.StoppedLeading += () =>
            {
                lock (_lock)
                {
                    _terms[^1] = _terms[^1] with { End = time.GetUtcNow() };
                }
            };
            Run = Task.Run(() => elector.RunAsync(_stop.Token));
        }

        public LeaseElector Elector { get; }

        public Task Run { get; }

        public List<(string Who, DateTimeOffset Start, DateTimeOffset? End)> Terms
        {
            get
            {
                lock (_lock)
                {
                    return [.. _terms];
                }
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Poll.Within(Run, $"{Elector.Identity}'s elector");
        }

        public void Dispose()
        {
            _stop.Dispose();
            Elector.Dispose();
        }
    }
}
