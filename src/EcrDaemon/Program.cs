// EcrDaemon's entry point: `ecrdaemon [run|check|cleanup [--secret-name NAME]|explain NAMESPACE|--all [-o json]|help [COMMAND]] [--Section:Key=value ...]`,
// `ecrdaemon --help` or `-h` (also after a command), `ecrdaemon --version`. No command is `run`. The command line is
// CommandDispatcher's (System.CommandLine); services are registered by AddEcrDaemon (Controller/, the composition root).
using System.Runtime.InteropServices;
using EcrDaemon.Commands;

// SIGTERM or Ctrl-C from the first line on, so that a stop while the host is still being built is a stop, not a kill
// (once the host runs, its console lifetime hears the same signal).
using var stop = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
return await CommandDispatcher.RunAsync(args, Console.Out, Console.Error, cancellationToken: stop.Token);

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
