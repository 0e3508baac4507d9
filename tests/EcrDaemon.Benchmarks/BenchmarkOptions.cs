using System.Globalization;

namespace EcrDaemon.Benchmarks;

internal sealed record BenchmarkOptions
{
    public const string Usage = """
        usage: EcrDaemon.Benchmarks [options]            (bash scripts/benchmark.sh runs it on the published daemon)
          --namespaces N,N,...           opted-in namespaces per scale run (default 100,1000,10000), 3 ServiceAccounts each
          --latency-namespaces N         namespaces labelled one at a time for the latency percentiles (default 200)
          --steady SECONDS               steady state with no changes (default 300)
          --first-token-lifetime SECONDS life of the first token; the daemon refreshes it at about half (default 120)
          --rate-limit-namespaces N      namespaces for the rate-limit comparison (default 1000; 0 skips it)
          --seed-namespaces N            namespaces for the seed's CronJob workflow (default 100; 0 skips it)
          --wide-service-accounts N      ServiceAccounts in the one-namespace run (default 10000; 0 skips it)
          --profile-namespaces N         namespaces in the three-profile run (default 1000; 0 skips it), 3 ServiceAccounts each
          --only-wide                    run only the one-namespace run (no scale, rate-limit, seed or three-profile runs)
          --only-profiles                run only the three-profile run (no scale, rate-limit, seed or one-namespace runs)
          --daemon PATH                  the daemon to run: EcrDaemon.dll or the published apphost (default: the one built here)
          --work DIR                     where daemon logs go (default: a new temporary directory)
          --deadline SECONDS             give up on a phase after this long (default 900)
        Prints Markdown tables on stdout, progress on stderr. Exits 1 when a count the issue fixes is not met
        (minimum writes, 0 steady-state writes, nothing lost), 2 on bad arguments. Timings are reported, never checked.
        """;

    public IReadOnlyList<int> Namespaces { get; init; } = [100, 1_000, 10_000];

    public int LatencyNamespaces { get; init; } = 200;

    public TimeSpan Steady { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan FirstTokenLifetime { get; init; } = TimeSpan.FromMinutes(2);

    public int RateLimitNamespaces { get; init; } = 1_000;

    public int SeedNamespaces { get; init; } = 100;

    public int WideServiceAccounts { get; init; } = 10_000;

    public int ProfileNamespaces { get; init; } = 1_000;

    public string Daemon { get; init; } = Path.Combine(AppContext.BaseDirectory, "EcrDaemon.dll");

    public string WorkDirectory { get; init; } = "";

    public TimeSpan Deadline { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a phase's window stays open after it converged, to catch late requests.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(2);

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var flag = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{flag} needs a value");
            int Count() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{flag} needs a whole number, got '{args[i]}'");
            TimeSpan Seconds() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0
                ? TimeSpan.FromSeconds(s) : throw new ArgumentException($"{flag} needs a positive number of seconds, got '{args[i]}'");
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
                "--daemon" => options with { Daemon = Path.GetFullPath(Value()) },
                "--work" => options with { WorkDirectory = Path.GetFullPath(Value()) },
                "--deadline" => options with { Deadline = Seconds() },
                _ => throw new ArgumentException($"unknown argument '{flag}'"),
            };
        }

        if (!File.Exists(options.Daemon))
        {
            throw new ArgumentException($"--daemon: no such file: {options.Daemon}");
        }

        return options;
    }
}
