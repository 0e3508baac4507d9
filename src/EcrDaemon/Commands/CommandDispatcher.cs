using EcrDaemon.Controller;
using EcrDaemon.Kubernetes;
using EcrDaemon.Primitives;
using k8s;
using k8s.Exceptions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Commands;

/// <summary>
/// Picks the command from the first argument (<c>run</c> when there is none), builds the host,
/// validates the configuration and runs the command. Exit codes: 0 success, 1 failure,
/// 2 invalid configuration or usage (one line on stderr, never a stack trace).
/// </summary>
internal static class CommandDispatcher
{
    public const int InvalidConfiguration = 2;

    /// <summary>The HTTP port of /metrics, /livez and /readyz unless ASPNETCORE_HTTP_PORTS, ASPNETCORE_URLS or --urls say otherwise.</summary>
    public const string DefaultHttpPort = "8080";

    private static readonly Dictionary<string, Func<IHost, TextWriter, TextWriter, CancellationToken, Task<int>>> Commands = new(StringComparer.Ordinal)
    {
        ["run"] = RunCommand.RunAsync,
        ["check"] = CheckCommand.RunAsync,
        ["cleanup"] = CleanupCommand.RunAsync,
    };

    /// <param name="customize">Lets tests replace services or add configuration before the host is built.</param>
    public static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        Action<IHostApplicationBuilder>? customize = null,
        CancellationToken cancellationToken = default)
    {
        var named = args.Length > 0 && !args[0].StartsWith('-');
        var name = named ? args[0] : "run";
        if (!Commands.TryGetValue(name, out var command))
        {
            await stderr.WriteLineAsync($"ecrdaemon: unknown command '{name}'; use one of: {string.Join(", ", Commands.Keys)}");
            return InvalidConfiguration;
        }

        // A web host, because `run` serves /metrics, /livez and /readyz; the other commands never start it.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = named ? args[1..] : args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.Configuration["http_ports"] = DefaultHttpPort;
        }

        ConfigureLogging(builder);
        builder.Services.AddEcrDaemon(builder.Configuration);
        customize?.Invoke(builder);

        using var host = builder.Build();
        var problem = ConfigurationProblem(host.Services);
        if (problem is not null)
        {
            await stderr.WriteLineAsync($"ecrdaemon: invalid configuration: {problem}");
            return InvalidConfiguration;
        }

        try
        {
            return await command(host, stdout, stderr, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A one-shot command (check, cleanup) stopped by SIGTERM/Ctrl-C before it finished; `run` exits 0 by itself.
            await stderr.WriteLineAsync($"ecrdaemon {name}: stopped before it finished");
            return 1;
        }
    }

    /// <summary>The Kubernetes client, or null after one line on stderr saying why there is no configuration.</summary>
    public static async Task<KubernetesApi?> KubernetesClientAsync(IHost host, TextWriter stderr)
    {
        try
        {
            return host.Services.GetRequiredService<KubernetesApi>();
        }
        catch (KubeConfigException e)
        {
            await stderr.WriteLineAsync($"ecrdaemon: no Kubernetes configuration: {e.Message.ReplaceLineEndings(" ")}");
            return null;
        }
    }

    /// <summary>
    /// Logs go to stderr: JSON lines in a container (DOTNET_RUNNING_IN_CONTAINER=true, which .NET
    /// images set), plain single lines on a terminal; <c>Logging:Console:FormatterName</c> overrides.
    /// </summary>
    private static void ConfigureLogging(IHostApplicationBuilder builder)
    {
        var formatter = builder.Configuration["Logging:Console:FormatterName"]
            ?? (string.Equals(Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER"), "true", StringComparison.OrdinalIgnoreCase)
                ? ConsoleFormatterNames.Json
                : ConsoleFormatterNames.Simple);
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(console =>
        {
            console.LogToStandardErrorThreshold = LogLevel.Trace;
            console.FormatterName = formatter;
        });
        // Options only: AddJsonConsole/AddSimpleConsole would also set FormatterName, the last one winning.
        builder.Services.Configure<JsonConsoleFormatterOptions>(json =>
        {
            json.UseUtcTimestamp = true;
            json.TimestampFormat = Rfc3339.MillisecondsFormat;
        });
        builder.Services.Configure<SimpleConsoleFormatterOptions>(simple =>
        {
            simple.SingleLine = true;
            simple.UseUtcTimestamp = true;
            simple.TimestampFormat = "HH:mm:ss ";
        });
    }

    /// <summary>Runs the ValidateOnStart checks now; returns the problems as one line, or null.</summary>
    private static string? ConfigurationProblem(IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
            return null;
        }
        catch (OptionsValidationException e)
        {
            return string.Join("; ", e.Failures);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is OptionsValidationException))
        {
            return string.Join("; ", e.InnerExceptions.SelectMany(i => ((OptionsValidationException)i).Failures));
        }
        catch (InvalidOperationException e)
        {
            // The binder's "Failed to convert configuration value ... at 'EcrDaemon:Ecr:Timeout' ...", unless the
            // validator says it better (the values allowed).
            var named = new EcrDaemonOptionsValidator(services.GetRequiredService<IConfiguration>()).UnconvertibleValues();
            return named.Count > 0 ? string.Join("; ", named) : e.Message.ReplaceLineEndings(" ");
        }
    }
}
