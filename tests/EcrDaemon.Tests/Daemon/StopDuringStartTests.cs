using EcrDaemon.Diagnostics;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// A stop (SIGTERM, or the harness's cancellation) that arrives while the daemon is still starting
/// ends it with exit code 0, like any other stop: while a hosted service (or Kestrel) is starting,
/// while the first list waits for a slow API server, and while the API server is down.
/// </summary>
public sealed class StopDuringStartTests
{
    /// <summary>A hosted service whose start takes as long as it is let, honouring the start's cancellation (as Kestrel's binding does).</summary>
    private sealed class SlowStart(TaskCompletionSource entered) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            entered.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public async Task A_stop_while_the_host_is_still_starting_exits_0()
    {
        await using var h = await DaemonHarness.StartAsync();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var start = h.StartDaemonAsync(waitForSync: false, customize: b => b.Services.AddHostedService(_ => new SlowStart(entered)));
        await Poll.Within(entered.Task, "the slow hosted service's start");

        Assert.Equal(0, await h.StopDaemonAsync());
        // The harness's start returned when its probe started (before the slow service), or says that the daemon exited with 0.
        var error = await Record.ExceptionAsync(() => start);
        Assert.True(error is null || error.Message.Contains("the daemon exited with 0", StringComparison.Ordinal), error?.ToString());
        Assert.Contains(h.Logs.Entries, e => e.EventId.Id == LogEvents.StoppedDuringStart);
        Assert.DoesNotContain(h.Logs.Entries, e => e.EventId.Id == LogEvents.ServiceFailed);
    }

    [Fact]
    public async Task A_stop_while_the_first_list_waits_for_a_slow_API_server_exits_0()
    {
        await using var h = await DaemonHarness.StartAsync();
        h.Cluster.Faults.AddLatency(TimeSpan.FromMinutes(5), verb: "list");

        await h.StartDaemonAsync(waitForSync: false);

        Assert.Equal(0, await h.StopDaemonAsync());
    }

    [Fact]
    public async Task A_stop_while_the_API_server_is_down_at_start_exits_0()
    {
        await using var h = await DaemonHarness.StartAsync();
        h.Cluster.SetDown(true);

        await h.StartDaemonAsync(waitForSync: false);
        await Poll.Until(() => h.Logs.Entries.Any(e => e.EventId.Id == LogEvents.WatchFailed), () => h.Logs.AllText);

        Assert.Equal(0, await h.StopDaemonAsync());
    }

    /// <summary>Where the SIGTERM lands: at the first log line (the host is starting), while the informers retry an API server that is down, while the first list hangs.</summary>
    public static TheoryData<string> ProcessStopPoints => ["first log line", "API down", "first list slow"];

    [Theory]
    [MemberData(nameof(ProcessStopPoints))]
    public async Task SIGTERM_during_start_exits_0(string point)
    {
        await using var h = await DaemonHarness.StartAsync();
        switch (point)
        {
            case "API down":
                h.Cluster.SetDown(true);
                break;
            case "first list slow":
                h.Cluster.Faults.AddLatency(TimeSpan.FromMinutes(5), verb: "list");
                break;
        }

        using var replica = h.StartReplicaProcess("ecr-daemon", "stop-during-start", new Dictionary<string, string?>());
        Func<bool> reached = point switch
        {
            "first log line" => () => replica.StandardErrorLines.Count > 0,
            "API down" => () => replica.StandardErrorLines.Any(l => l.Contains("failed", StringComparison.Ordinal)),
            _ => () => replica.StandardErrorLines.Any(l => l.Contains("Got an ECR token", StringComparison.Ordinal)),
        };
        await Poll.Until(() => reached() || replica.HasExited, replica.ToString);
        Assert.False(replica.HasExited, replica.ToString());
        Assert.DoesNotContain(replica.StandardErrorLines, l => l.Contains("Synced:", StringComparison.Ordinal) && point != "first log line");

        await replica.TerminateAsync();

        Assert.True(await replica.WaitForExitAsync() == 0, replica.ToString());
        Assert.DoesNotContain(replica.StandardErrorLines, l => l.Contains("Unhandled exception", StringComparison.Ordinal));
    }
}
