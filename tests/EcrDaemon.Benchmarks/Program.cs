using EcrDaemon.Benchmarks;

// The scale benchmark (issue 8): bash scripts/benchmark.sh [options]; usage in BenchmarkOptions.Usage.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchmarkOptions.Usage);
    return 0;
}

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"benchmark: {e.Message}\n{BenchmarkOptions.Usage}");
    return 2;
}

if (options.WorkDirectory.Length == 0)
{
    options = options with { WorkDirectory = Directory.CreateTempSubdirectory("ecrdaemon-benchmark-").FullName };
}

Directory.CreateDirectory(options.WorkDirectory);
Console.Error.WriteLine($"benchmark: daemon logs in {options.WorkDirectory}");
Section(Report.Machine(options));

var failures = new List<string>();
var scale = new List<ScaleResult>();
foreach (var n in options.Namespaces)
{
    foreach (var daemon in options.Daemons)
    {
        var run = await ScaleRun.RunAsync(options, daemon, n);
        failures.AddRange(run.Failures);
        scale.Add(run);
    }
}

var idle = new List<IdleResult>();
if (options.IdleNamespaces > 0)
{
    foreach (var daemon in options.Daemons)
    {
        var run = await IdleRun.RunAsync(options, daemon);
        failures.AddRange(run.Failures);
        idle.Add(run);
    }
}

if (options.Comparing || idle.Count > 0)
{
    Section(Report.Builds(options, idle));
}

if (options.Comparing && scale.Count > 0)
{
    Section(Report.Comparison(scale, options));
}

if (scale.Count > 0)
{
    Section(Report.Scale(scale, options));
    Section(Report.Requests(scale));
}

if (options.ProfileNamespaces > 0)
{
    var profiles = await ProfileRun.RunAsync(options);
    failures.AddRange(profiles.Failures);
    Section(Report.Profiles(profiles));
}

if (options.WideServiceAccounts > 0)
{
    var wide = await WideRun.RunAsync(options);
    failures.AddRange(wide.Failures);
    Section(Report.Wide(wide));
}

if (options.RateLimitNamespaces > 0)
{
    Section(Report.RateLimit(await RateLimitRun.RunAsync(options, failures), options));
}

if (options.SeedNamespaces > 0)
{
    var seed = await SeedRun.RunAsync(options);
    Section(Report.Seed(seed, scale.FirstOrDefault(r => r.Namespaces == seed.Namespaces && r.Label == options.Daemons[0].Label)));
}

foreach (var failure in failures)
{
    Console.WriteLine($"FAILED: {failure}");
}

Console.Error.WriteLine(failures.Count == 0 ? "benchmark: every count at its minimum" : $"benchmark: {failures.Count} failures");
return failures.Count == 0 ? 0 : 1;

// One Markdown section and the blank line that ends its table.
static void Section(string markdown) => Console.WriteLine(markdown.TrimEnd() + Environment.NewLine);
