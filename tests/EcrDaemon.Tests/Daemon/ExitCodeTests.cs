using EcrDaemon.Diagnostics;
using EcrDaemon.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>An unhandled failure in a background loop stops the daemon with exit code 1 (the .NET host alone would exit 0).</summary>
public sealed class ExitCodeTests
{
    private sealed class FailOnSignal(TaskCompletionSource signal) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await signal.Task.WaitAsync(stoppingToken);
            throw new InvalidOperationException("a background loop failed");
        }
    }

    [Fact]
    public async Task A_background_loop_that_fails_stops_the_daemon_with_exit_code_1_and_says_which()
    {
        await using var h = await DaemonHarness.StartAsync();
        var signal = new TaskCompletionSource();
        await h.StartDaemonAsync(customize: b => b.Services.AddHostedService(_ => new FailOnSignal(signal)));

        signal.SetResult();
        await Poll.Until(() => h.HasExited, () => "the daemon kept running after a background loop failed");

        Assert.Equal(1, await h.StopDaemonAsync());
        var fatal = Assert.Single(h.Logs.Entries, e => e.EventId.Id == LogEvents.ServiceFailed);
        Assert.Contains("FailOnSignal failed", fatal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stop_request_ends_the_daemon_with_exit_code_0()
    {
        await using var h = await DaemonHarness.StartAsync();
        await h.StartDaemonAsync();

        Assert.Equal(0, await h.StopDaemonAsync());
        Assert.DoesNotContain(h.Logs.Entries, e => e.EventId.Id == LogEvents.ServiceFailed);
    }
}
