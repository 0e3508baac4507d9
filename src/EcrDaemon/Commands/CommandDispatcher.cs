using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
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
/// The command line (System.CommandLine): <c>ecrdaemon [run|check|cleanup|explain|help] [options] [--Section:Key=value ...]</c>,
/// <c>run</c> when no command is given. Help (<c>--help</c>, <c>-h</c>, <c>help [COMMAND]</c>) and <c>--version</c> need no
/// configuration. For a command it builds the host, validates the configuration and runs the command. Tokens the
/// command line does not know (<c>--EcrDaemon:Key=value</c>, <c>--urls=...</c>, <c>--Key value</c>) go to the
/// configuration, as with the .NET command-line configuration provider. Exit codes: 0 success, 1 failure,
/// 2 invalid configuration or usage (one line on stderr, never a stack trace).
/// </summary>
internal static class CommandDispatcher
{
    public const int InvalidConfiguration = 2;

    /// <summary>The HTTP port of /metrics, /livez and /readyz unless ASPNETCORE_HTTP_PORTS, ASPNETCORE_URLS or --urls say otherwise.</summary>
    public const string DefaultHttpPort = "8080";

    /// <summary>The program's name in usage, help and error lines.</summary>
    public const string ProgramName = "ecrdaemon";

    private const string UsageExitCode = "2  invalid configuration, or a usage error (one line on stderr)";

    /// <summary>A command that runs with the host built and the configuration valid.</summary>
    internal delegate Task<int> HostedCommand(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken);

    /// <summary>
    /// One command of the command line: what it does, its exit codes, and its options and arguments (made anew for
    /// each command line: a symbol belongs to one). The values of its options are also configuration keys
    /// (<c>--secret-name X</c> is <c>secret-name</c>), and the <see cref="ParseResult"/> is a service, for arguments a
    /// command reads itself (<c>parse.GetValue&lt;string&gt;("NAMESPACE")</c>).
    /// </summary>
    internal sealed record CommandSpec(string Name, string Description, string[] ExitCodes, HostedCommand Run, Func<Symbol[]>? Symbols = null);

    /// <summary>The commands. A new command is one more entry here.</summary>
    internal static IReadOnlyList<CommandSpec> Commands { get; } =
    [
        new("run", "The daemon (the default command): keeps the pull secrets fresh until SIGTERM/Ctrl-C; serves /metrics, /livez, /readyz.",
            ["0  stopped by SIGTERM/Ctrl-C", "1  a background loop failed", "2  invalid configuration, no Kubernetes configuration, or a usage error"],
            RunCommand.RunAsync),
        new("check", "Fetches every configured registry's token once; prints one line per registry (host, expiry, credentials; never the token) and a warning when the local clock and ECR's differ by more than 60 s.",
            ["0  every registry has a token that expires after MinRefreshInterval from now",
             "1  a registry failed, or its token is expired or expires within MinRefreshInterval",
             UsageExitCode],
            CheckCommand.RunAsync),
        new("cleanup", "For uninstall or after a rename: deletes our secrets and the ServiceAccount entries we added, in every namespace; one line per removal. Stop the daemon first.",
            ["0  everything was removed", "1  something could not be removed", "2  invalid configuration, NAME is not a secret name, or a usage error"],
            CleanupCommand.RunAsync,
            () => [new Option<string>($"--{CleanupCommand.SecretNameFlag}")
            {
                Description = "Clean only this secret name (after a rename); default: SecretName, or every profile's SecretName.",
                HelpName = "NAME",
            }]),
        new("explain", "Why a namespace does or does not get its pull secret: opt-in and why, each profile's secret (registry hosts only), "
            + "its ServiceAccounts, the daemon's recent Events, and a verdict with what to do; --all: one line per namespace. Reads only.",
            ["0  in sync (--all: every opted-in namespace)", "1  not in sync, an unknown namespace, or the cluster could not be read",
             "2  invalid configuration, no NAMESPACE (or both NAMESPACE and --all), or a usage error"],
            ExplainCommand.RunAsync,
            ExplainCommand.Symbols),
    ];

    /// <param name="customize">Lets tests replace services or add configuration before the host is built.</param>
    public static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        Action<IHostApplicationBuilder>? customize = null,
        CancellationToken cancellationToken = default)
    {
        var root = CommandLine((spec, parse, token) => RunParsedAsync(spec, parse, args.Length == 0, stdout, stderr, customize, token));
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null, EnablePosixBundling = false });
        if (parse.Action is ParseErrorAction)
        {
            // Tokens the command line does not know are configuration switches (--EcrDaemon:Key=value) when
            // they are the only errors; ConfigurationArguments refuses the ones that are not.
            var command = parse.CommandResult.Command;
            var spec = command.Parents.Any() ? Commands.FirstOrDefault(c => c.Name == command.Name) : Commands[0];
            return spec is not null && parse.Errors.Count == parse.UnmatchedTokens.Count
                ? await RunParsedAsync(spec, parse, args.Length == 0, stdout, stderr, customize, cancellationToken)
                : await UsageErrorAsync(stderr, parse, parse.Errors[0].Message);
        }

        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        return await parse.InvokeAsync(invocation, cancellationToken);
    }

    private static async Task<int> RunParsedAsync(
        CommandSpec spec,
        ParseResult parse,
        bool noArguments,
        TextWriter stdout,
        TextWriter stderr,
        Action<IHostApplicationBuilder>? customize,
        CancellationToken cancellationToken)
    {
        var (configurationArgs, problem) = ConfigurationArguments(parse);
        return problem is not null
            ? await UsageErrorAsync(stderr, parse, problem)
            : await RunHostedAsync(spec, parse, configurationArgs, noArguments, stdout, stderr, customize, cancellationToken);
    }

    /// <summary>
    /// The command line: the root command (<c>run</c> when no command is named), one subcommand per
    /// <see cref="Commands"/> entry, <c>help [COMMAND]</c>, <c>--help</c>/<c>-h</c> everywhere and <c>--version</c>.
    /// <paramref name="run"/> runs a command.
    /// </summary>
    internal static Command CommandLine(Func<CommandSpec, ParseResult, CancellationToken, Task<int>> run)
    {
        var runSpec = Commands[0];
        var root = new Command(ProgramName,
            "Keeps Amazon ECR image pull secrets fresh in the namespaces that opt in, and the ServiceAccounts' imagePullSecrets pointing at them.\n"
            + "Configuration: appsettings.json next to the program, environment variables (EcrDaemon__SecretName=NAME) or switches after the command "
            + "(--EcrDaemon:SecretName=NAME, --urls=http://*:8080); see the README.");
        var help = new HelpOption();
        help.Action = new HelpWithExitCodes(help.Action!);
        root.Options.Add(help);
        root.Options.Add(new VersionOption { Action = new VersionAction() });
        Bind(root, runSpec);

        foreach (var spec in Commands)
        {
            var command = new Command(spec.Name, spec.Description);
            foreach (var symbol in spec.Symbols?.Invoke() ?? [])
            {
                switch (symbol)
                {
                    case Option option:
                        command.Options.Add(option);
                        break;
                    case Argument argument:
                        command.Arguments.Add(argument);
                        break;
                    default:
                        throw new InvalidOperationException($"{spec.Name}: unsupported symbol {symbol.Name}");
                }
            }

            Bind(command, spec);
            root.Subcommands.Add(command);
        }

        var topic = new Argument<string?>("COMMAND") { Description = "The command to describe.", Arity = ArgumentArity.ZeroOrOne };
        topic.AcceptOnlyFromAmong([.. Commands.Select(c => c.Name)]);
        var helpCommand = new Command("help", "Shows the usage of ecrdaemon or of one command.") { topic };
        helpCommand.SetAction(parse =>
        {
            var name = parse.GetValue(topic);
            var again = root.Parse(name is null ? ["--help"] : [name, "--help"]);
            return again.Invoke(new InvocationConfiguration { Output = parse.InvocationConfiguration.Output, Error = parse.InvocationConfiguration.Error });
        });
        root.Subcommands.Add(helpCommand);
        return root;

        void Bind(Command command, CommandSpec spec) => command.SetAction((parse, token) => run(spec, parse, token));
    }

    /// <summary>
    /// The tokens the command line does not know, as configuration arguments (the forms of the .NET
    /// command-line configuration provider: <c>--Key=value</c>, <c>/Key=value</c>, <c>Key=value</c>,
    /// <c>--Key value</c>), then the command's options as <c>--name=value</c>; or the one token that is none of these.
    /// </summary>
    internal static (IReadOnlyList<string> Arguments, string? Problem) ConfigurationArguments(ParseResult parse)
    {
        var result = new List<string>();
        var tokens = parse.UnmatchedTokens;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var switchForm = (token.StartsWith("--", StringComparison.Ordinal) && token.Length > 2) || (token.StartsWith('/') && token.Length > 1);
            var equals = token.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? token : token[..equals]; // never the value: it may be a secret
            var key = name.TrimStart('-', '/');
            if ((switchForm || (!token.StartsWith('-') && equals > 0)) && !IsConfigurationKey(key) && token is not "--version")
            {
                // A typo of an option (cleanup --secretname OLD) would otherwise be a setting nothing reads, and
                // the command would run without it (cleanup: every current secret instead of OLD's).
                return ([], switchForm ? $"unknown option '{name}'" : $"unexpected argument '{name}=...'");
            }

            if (switchForm && token.Contains('=', StringComparison.Ordinal))
            {
                result.Add(token);
            }
            else if (switchForm)
            {
                if (token is "--version")
                {
                    return ([], $"--version goes before any command: {ProgramName} --version");
                }

                if (i + 1 >= tokens.Count)
                {
                    return ([], $"'{token}' has no value (write {token}=VALUE)");
                }

                result.Add(token);
                result.Add(tokens[++i]);
            }
            else if (!token.StartsWith('-') && token.IndexOf('=', StringComparison.Ordinal) > 0)
            {
                result.Add(token);
            }
            else if (parse.CommandResult.Command.Parents.Any() || token.StartsWith('-') || i > 0)
            {
                return ([], token.StartsWith('-') ? $"unknown option '{name}'" : $"unexpected argument '{token}'");
            }
            else
            {
                return ([], $"unknown command '{token}'; use one of: {string.Join(", ", Commands.Select(c => c.Name))}, help");
            }
        }

        foreach (var option in parse.CommandResult.Command.Options)
        {
            if (parse.GetResult(option) is { Implicit: false, Tokens.Count: > 0 } given)
            {
                result.Add($"{option.Name}={given.Tokens[0].Value}");
            }
        }

        return (result, null);
    }

    /// <summary>
    /// The host's own settings that a switch may name without a section (<c>--urls=...</c>); any other switch names a
    /// section path (<c>EcrDaemon:Key</c>, <c>Logging:LogLevel:Default</c>).
    /// </summary>
    private static readonly HashSet<string> HostKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "urls", "http_ports", "https_ports", "environment", "contentRoot", "applicationName", "shutdownTimeoutSeconds", "AllowedHosts",
    };

    /// <summary>Whether a switch's key is configuration: a section path, or one of <see cref="HostKeys"/>.</summary>
    private static bool IsConfigurationKey(string key) =>
        (key.Contains(':', StringComparison.Ordinal) && !key.StartsWith(':') && !key.EndsWith(':')) || HostKeys.Contains(key);

    private static async Task<int> UsageErrorAsync(TextWriter stderr, ParseResult parse, string problem)
    {
        var command = parse.CommandResult.Command;
        var helpFor = command.Parents.Any() ? $"{ProgramName} {command.Name} --help" : $"{ProgramName} --help";
        var line = string.Join(' ', problem.Split((char[])[' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).TrimEnd('.');
        await stderr.WriteLineAsync($"{ProgramName}: {line}; see '{helpFor}'");
        return InvalidConfiguration;
    }

    private static async Task<int> RunHostedAsync(
        CommandSpec spec,
        ParseResult parse,
        IReadOnlyList<string> configurationArgs,
        bool noArguments,
        TextWriter stdout,
        TextWriter stderr,
        Action<IHostApplicationBuilder>? customize,
        CancellationToken cancellationToken)
    {
        // A web host, because `run` serves /metrics, /livez and /readyz; the other commands never start it.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [.. configurationArgs],
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.Configuration["http_ports"] = DefaultHttpPort;
        }

        ConfigureLogging(builder);
        builder.Services.AddSingleton(parse);
        builder.Services.AddEcrDaemon(builder.Configuration);
        customize?.Invoke(builder);

        using var host = builder.Build();
        var problem = ConfigurationProblem(host.Services);
        if (problem is not null)
        {
            var hint = noArguments ? $" (no command given, so `run`; {ProgramName} --help lists the commands)" : "";
            await stderr.WriteLineAsync($"{ProgramName}: invalid configuration: {problem}{hint}");
            return InvalidConfiguration;
        }

        try
        {
            return await spec.Run(host, stdout, stderr, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A one-shot command (check, cleanup) stopped by SIGTERM/Ctrl-C before it finished; `run` exits 0 by itself.
            await stderr.WriteLineAsync($"{ProgramName} {spec.Name}: stopped before it finished");
            return 1;
        }
    }

    /// <summary>The version and the commit it was built from (the build's SourceRevisionId, in the informational version).</summary>
    internal static string VersionLine()
    {
        var informational = typeof(CommandDispatcher).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus < 0
            ? $"{ProgramName} {informational} (commit unknown)"
            : $"{ProgramName} {informational[..plus]} (commit {informational[(plus + 1)..]})";
    }

    private sealed class VersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(VersionLine());
            return 0;
        }
    }

    /// <summary>The standard help, then the command's exit codes.</summary>
    private sealed class HelpWithExitCodes(CommandLineAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            if (standard is HelpAction help)
            {
                help.MaxWidth = 110;
            }

            ((SynchronousCommandLineAction)standard).Invoke(parseResult);
            var command = parseResult.CommandResult.Command;
            var spec = command.Parents.Any() ? Commands.FirstOrDefault(c => c.Name == command.Name) : Commands[0];
            var output = parseResult.InvocationConfiguration.Output;
            if (command.Name == "help")
            {
                return 0;
            }

            output.WriteLine(command.Parents.Any() ? "Exit codes:" : "Exit codes (no command: run):");
            foreach (var line in spec?.ExitCodes ?? [])
            {
                output.WriteLine($"  {line}");
            }

            output.WriteLine();
            output.WriteLine("Settings: appsettings.json, environment variables (EcrDaemon__Key=value), or switches after the command");
            output.WriteLine("(--EcrDaemon:Key=value, --urls=URL); see the README, Configuration.");
            output.WriteLine();
            return 0;
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
