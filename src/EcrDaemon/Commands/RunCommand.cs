namespace EcrDaemon.Commands;

/// <summary>The daemon itself. Not built yet: it says so and fails, rather than pretending to run.</summary>
internal static class RunCommand
{
    public static async Task<int> RunAsync(IServiceProvider services, TextWriter stdout, CancellationToken cancellationToken)
    {
        await Console.Error.WriteLineAsync("ecrdaemon run: not implemented yet; 'ecrdaemon check' fetches every registry's token once");
        return 1;
    }
}
