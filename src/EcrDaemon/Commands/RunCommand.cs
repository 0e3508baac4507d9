using EcrDaemon.Controller;
using EcrDaemon.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Commands;

/// <summary>
/// The daemon: runs the token refresher and the controller until SIGTERM/Ctrl-C (exit 0), also
/// when the stop comes while it is still starting. No Kubernetes configuration is exit 2; a
/// background loop that fails is exit 1 (the .NET host alone would exit 0).
/// </summary>
internal static class RunCommand
{
    public static async Task<int> RunAsync(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (await CommandDispatcher.KubernetesClientAsync(host, stderr) is null)
        {
            return CommandDispatcher.InvalidConfiguration;
        }

        if (host is WebApplication app)
        {
            app.MapDaemonEndpoints();
        }

        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("EcrDaemon");
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        try
        {
            // Not host.RunAsync: that disposes the host, and the loops' outcome is read below.
            await host.StartAsync(cancellationToken);
        }
        catch (Exception e) when (IsCancellation(e) && (cancellationToken.IsCancellationRequested || stopping.IsCancellationRequested))
        {
            // SIGTERM (or the caller's stop) while a hosted service or Kestrel was starting: a stop like any other.
            logger.StoppedDuringStart();
        }

        // Returns at once when the stop came during the start; stops the host either way.
        await host.WaitForShutdownAsync(cancellationToken);

        var failed = host.Services.GetServices<IHostedService>().OfType<BackgroundService>()
            .Where(s => s.ExecuteTask is { IsFaulted: true }).ToList();
        foreach (var service in failed)
        {
            var error = service.ExecuteTask!.Exception!.GetBaseException();
            logger.ServiceFailed(error, service.GetType().Name);
        }

        return failed.Count == 0 ? 0 : 1;
    }

    private static bool IsCancellation(Exception e) =>
        e is OperationCanceledException || (e is AggregateException all && all.InnerExceptions.All(IsCancellation));
}
