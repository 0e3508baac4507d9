using System.Globalization;

namespace EcrDaemon.Benchmarks;

internal sealed record BenchmarkOptions
{
    public const string Usage = """
        usage: EcrDaemon.Benchmarks [options]            (bash scripts/benchmark.sh runs it on the published daemon;
                                                         bash scripts/benchmark.sh --compare on the JIT and the AOT build)
          --namespaces N,N,...           opted-in namespaces per scale run (default 100,1000,10000), 3 ServiceAccounts each
          --latency-namespaces N         namespaces labelled one at a time for the latency percentiles (default 200)
          --steady SECONDS               steady state with no changes (default 300; 60 when comparing daemons)
          --first-token-lifetime SECONDS life of the first token; the daemon refreshes it at about half (default 120)
          --rate-limit-namespaces N      namespaces for the rate-limit comparison (default 1000; 0 skips it)
          --seed-namespaces N            namespaces for the seed's CronJob workflow (default 100; 0 skips it)
          --wide-service-accounts N      ServiceAccounts in the one-namespace run (default 10000; 0 skips it)
          --profile-namespaces N         namespaces in the three-profile run (default 1000; 0 skips it), 3 ServiceAccounts each
          --idle-namespaces N            namespaces in the idle run: sync, settle, then the RSS at rest
                                         (default 0, i.e. skipped, with one daemon; 5 when comparing daemons)
          --idle-settle SECONDS          how long the idle run waits after the sync before it samples the RSS (default 30)
          --only-wide                    run only the one-namespace run (no scale, rate-limit, seed or three-profile runs)
          --only-profiles                run only the three-profile run (no scale, rate-limit, seed or one-namespace runs)
          --daemon PATH                  the daemon to run: EcrDaemon.dll or the published apphost (default: the one built here)
          --daemon LABEL=PATH            a labelled daemon; give two or more to compare them side by side in one run
                                         (e.g. --daemon jit=out/jit/EcrDaemon --daemon aot=out/aot/EcrDaemon). Comparing runs
                                         the scale run at each N and the idle run once per daemon (N by N, the daemons in turn),
                                         and prints a comparison table and the builds' sizes; the rate-limit, seed, one-namespace
                                         and three-profile runs are for one daemon and are skipped (giving one of them is an error).
          --publish-seconds LABEL=S      how long LABEL's publish took (scripts/benchmark.sh --compare times it), for the report
          --work DIR                     where daemon logs go (default: a new temporary directory)
          --deadline SECONDS             give up on a phase after this long (default 900)
        Prints Markdown tables on stdout, progress on stderr. Exits 1 when a count the issue fixes is not met
        (minimum writes, 0 steady-state writes, nothing lost), 2 on bad arguments. Timings are reported, never checked.
        """;

    /// <summary>A label is a letter or digit, then letters, digits, '.', '_' or '-': what may stand before '=' in <c>--daemon LABEL=PATH</c>.</summary>
    private static readonly System.Text.RegularExpressions.Regex LabelledPath = new("^([A-Za-z0-9][A-Za-z0-9._-]*)=(.+)$");

    public IReadOnlyList<int> Namespaces { get; init; } = [100, 1_000, 10_000];

    public int LatencyNamespaces { get; init; } = 200;

    public TimeSpan Steady { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan FirstTokenLifetime { get; init; } = TimeSpan.FromMinutes(2);

    public int RateLimitNamespaces { get; init; } = 1_000;

    public int SeedNamespaces { get; init; } = 100;

    public int WideServiceAccounts { get; init; } = 10_000;

    public int ProfileNamespaces { get; init; } = 1_000;

    /// <summary>The daemons to run: one (unlabelled unless given as LABEL=PATH), or two or more to compare.</summary>
    public IReadOnlyList<DaemonBuild> Daemons { get; init; } = [new DaemonBuild("", Path.Combine(AppContext.BaseDirectory, "EcrDaemon.dll"))];

    /// <summary>The daemon of the single-daemon runs (rate limit, seed, one namespace, three profiles): the first.</summary>
    public string Daemon => Daemons[0].Path;

    /// <summary>Two or more daemons side by side.</summary>
    public bool Comparing => Daemons.Count > 1;

    public int IdleNamespaces { get; init; }

    public TimeSpan IdleSettle { get; init; } = TimeSpan.FromSeconds(30);

    public string WorkDirectory { get; init; } = "";

    public TimeSpan Deadline { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a phase's window stays open after it converged, to catch late requests.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(2);

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions();
        var daemons = new List<DaemonBuild>();
        var publishSeconds = new Dictionary<string, double>(StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var flag = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value");
            int Count() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{flag} needs a whole number, got '{args[i]}'");
            TimeSpan Seconds() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0
                ? TimeSpan.FromSeconds(s) : throw new ArgumentException($"{flag} needs a positive number of seconds, got '{args[i]}'");
            given.Add(flag);
            options = flag switch
            {
                "--namespaces" => options with
                {
                    Namespaces = [.. Value().Split(',').Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
                        ? v : throw new ArgumentException($"--namespaces needs positive whole numbers separated by commas, got '{args[i]}'"))],
                },
                "--latency-namespaces" => options with { LatencyNamespaces = Count() },
                "--steady" => options with { Steady = Seconds() },
                "--first-token-lifetime" => options with { FirstTokenLifetime = Seconds() },
                "--rate-limit-namespaces" => options with { RateLimitNamespaces = Count() },
                "--seed-namespaces" => options with { SeedNamespaces = Count() },
                "--wide-service-accounts" => options with { WideServiceAccounts = Count() },
                "--profile-namespaces" => options with { ProfileNamespaces = Count() },
                "--only-wide" => options with { Namespaces = [], RateLimitNamespaces = 0, SeedNamespaces = 0, ProfileNamespaces = 0 },
                "--only-profiles" => options with { Namespaces = [], RateLimitNamespaces = 0, SeedNamespaces = 0, WideServiceAccounts = 0 },
                "--idle-namespaces" => options with { IdleNamespaces = Count() },
                "--idle-settle" => options with { IdleSettle = Seconds() },
                "--daemon" => Add(daemons, Value(), options),
                "--publish-seconds" => AddPublishSeconds(publishSeconds, Value(), options),
                "--work" => options with { WorkDirectory = Path.GetFullPath(Value()) },
                "--deadline" => options with { Deadline = Seconds() },
                _ => throw new ArgumentException($"unknown argument '{flag}'"),
            };
        }

        if (daemons.Count > 0)
        {
            options = options with { Daemons = daemons };
        }

        foreach (var daemon in options.Daemons)
        {
            if (!File.Exists(daemon.Path))
            {
                throw new ArgumentException($"--daemon: no such file: {daemon.Path}");
            }
        }

        if (daemons.Count > 1)
        {
            if (daemons.Any(d => d.Label.Length == 0))
            {
                throw new ArgumentException("--daemon: to compare daemons, give each as LABEL=PATH");
            }

            if (daemons.Select(d => d.Label).Distinct(StringComparer.Ordinal).Count() != daemons.Count)
            {
                throw new ArgumentException("--daemon: each label once");
            }

            string[] single = ["--rate-limit-namespaces", "--seed-namespaces", "--wide-service-accounts", "--profile-namespaces", "--only-wide", "--only-profiles"];
            foreach (var flag in single)
            {
                var value = flag switch
                {
                    "--rate-limit-namespaces" => options.RateLimitNamespaces,
                    "--seed-namespaces" => options.SeedNamespaces,
                    "--wide-service-accounts" => options.WideServiceAccounts,
                    "--profile-namespaces" => options.ProfileNamespaces,
                    _ => 1,
                };
                if (given.Contains(flag) && value > 0)
                {
                    throw new ArgumentException($"{flag} runs with one daemon, not when comparing {daemons.Count}");
                }
            }

            options = options with
            {
                RateLimitNamespaces = 0,
                SeedNamespaces = 0,
                WideServiceAccounts = 0,
                ProfileNamespaces = 0,
                Steady = given.Contains("--steady") ? options.Steady : TimeSpan.FromSeconds(60),
                IdleNamespaces = given.Contains("--idle-namespaces") ? options.IdleNamespaces : 5,
            };
        }

        foreach (var (label, seconds) in publishSeconds)
        {
            var index = options.Daemons.ToList().FindIndex(d => d.Label == label);
            if (index < 0)
            {
                throw new ArgumentException($"--publish-seconds: no daemon labelled '{label}'");
            }

            options = options with { Daemons = [.. options.Daemons.Select((d, i) => i == index ? d with { PublishSeconds = seconds } : d)] };
        }

        return options;
    }

    private static BenchmarkOptions Add(List<DaemonBuild> daemons, string value, BenchmarkOptions options)
    {
        var labelled = LabelledPath.Match(value);
        daemons.Add(labelled.Success
            ? new DaemonBuild(labelled.Groups[1].Value, Path.GetFullPath(labelled.Groups[2].Value))
            : new DaemonBuild("", Path.GetFullPath(value)));
        return options;
    }

    private static BenchmarkOptions AddPublishSeconds(Dictionary<string, double> publishSeconds, string value, BenchmarkOptions options)
    {
        var parts = value.Split('=', 2);
        publishSeconds[parts[0]] = parts.Length == 2 && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0
            ? s : throw new ArgumentException($"--publish-seconds needs LABEL=SECONDS, got '{value}'");
        return options;
    }
}

/// <summary>
/// One daemon build under test: its label (empty for the one unlabelled daemon), the file to start (EcrDaemon.dll,
/// the apphost, or the Native AOT binary) and, when the script timed it, how long its publish took.
/// </summary>
internal sealed record DaemonBuild(string Label, string Path, double PublishSeconds = double.NaN)
{
    /// <summary>How the daemon's runs are named in failures: <c>N=100</c>, or <c>N=100 (aot)</c> when labelled.</summary>
    public string Name(int n) => Label.Length == 0 ? $"N={n}" : $"N={n} ({Label})";
}
