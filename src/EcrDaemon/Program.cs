// EcrDaemon's entry point: `ecrdaemon [run|check] [--Key=Value ...]` (run is the default).
// Services are registered by extension methods (AddEcr, ...) in CommandDispatcher.
using EcrDaemon.Commands;

return await CommandDispatcher.RunAsync(args, Console.Out, Console.Error);
