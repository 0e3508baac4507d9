using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// The scale benchmark (bash scripts/benchmark.sh) at a small size, so that it cannot rot: every
/// phase runs, the real daemon process converges, and the counts it reports are the minimum.
/// Its timings are printed, never checked.
/// </summary>
public sealed class BenchmarkSmokeTests
{
    private static readonly string Benchmark = Path.Combine(AppContext.BaseDirectory, "EcrDaemon.Benchmarks.dll");

    [ToolFact("kubectl", "aws", "bash")]
    public async Task A_small_benchmark_run_reports_every_phase_at_the_minimum_and_the_seed_breakage()
    {
        var work = Directory.CreateTempSubdirectory("ecrdaemon-benchmark-smoke-");
        try
        {
            var result = await Tools.RunAsync("dotnet",
                [Benchmark, "--namespaces", "6", "--latency-namespaces", "5", "--steady", "3", "--first-token-lifetime", "20",
                 "--rate-limit-namespaces", "6", "--seed-namespaces", "6", "--wide-service-accounts", "0", "--profile-namespaces", "0", "--work", work.FullName],
                new Dictionary<string, string?> { ["PATH"] = $"{Path.Combine(Tools.RepositoryRoot, ".tools", "bin")}:{Environment.GetEnvironmentVariable("PATH")}" },
                TimeSpan.FromMinutes(4));

            Assert.True(result.ExitCode == 0, result.ToString());
            var table = result.StandardOutput;
            Assert.Contains("| secret creates / minimum (N) | 6 / 6 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount patches / minimum (3N) | 18 / 18 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| secret writes / minimum (N) | 6 / 6 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount writes (minimum 0) | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| GetAuthorizationToken calls (minimum 1 per registry) | 1 |", table, StringComparison.Ordinal);
            Assert.Contains("| **Steady state**, 3 s with no changes: writes | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| other pull secrets removed / secrets deleted | 0 / 0 |", table, StringComparison.Ordinal);
            Assert.Matches(@"\| \*\*New namespace\*\*.* \| \d+ / \d+ \|", table);
            Assert.Matches(@"\| \*\*daemon peak RSS, whole run \(VmHWM, MB\)\*\* \| \d+ \|", table);
            Assert.Matches(@"\| off \| 0 \(off\) \| \d+ \| [\d.]+ \| \d+ \| \d+ \| [\d,]+ \|", table);

            // The seed's workflow, measured with the real aws CLI and kubectl: it replaced the other team's
            // pull secret on all 6 default ServiceAccounts, left the 12 others uncovered, and each of the
            // 6 namespaces had a window with no secret. The daemon did none of that.
            Assert.Contains("| other teams' pull secrets removed from default ServiceAccounts | 6 | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccounts left without the pull secret (of 3 per namespace) | 12 | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| namespaces with a window with no secret, when the token changed | 6 | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| GetAuthorizationToken calls, token changed | 6 | 1 |", table, StringComparison.Ordinal);
            Assert.DoesNotContain("FAILED", table, StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The comparison mode (issue 20: the JIT and the Native AOT build side by side in one run) with two labels of the
    /// daemon built next to the tests: each N runs once per label, and the idle run too; the comparison table and the
    /// builds table have a column per label, with every count at its minimum. Timings and sizes are printed, never checked.
    /// </summary>
    [Fact]
    public async Task A_small_comparison_run_reports_both_daemons_side_by_side_at_the_minimum()
    {
        var work = Directory.CreateTempSubdirectory("ecrdaemon-benchmark-compare-");
        try
        {
            var daemon = Path.Combine(AppContext.BaseDirectory, "EcrDaemon.dll");
            var result = await Tools.RunAsync("dotnet",
                [Benchmark, "--daemon", $"first={daemon}", "--daemon", $"second={daemon}", "--publish-seconds", "second=12.4",
                 "--namespaces", "3", "--latency-namespaces", "2", "--steady", "2", "--first-token-lifetime", "20",
                 "--idle-namespaces", "2", "--idle-settle", "1", "--work", work.FullName],
                null, TimeSpan.FromMinutes(4));

            Assert.True(result.ExitCode == 0, result.ToString());
            var table = result.StandardOutput;
            Assert.Contains("## first vs second: the scale run side by side", table, StringComparison.Ordinal);
            Assert.Contains("|  | N = 3, first | N = 3, second |", table, StringComparison.Ordinal);
            Assert.Contains("| cold start: secret and ServiceAccount writes / minimum (N + 3N) | 12 / 12 = 1.00 | 12 / 12 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| rotation: secret writes / minimum (N) | 3 / 3 = 1.00 | 3 / 3 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| rotation: ServiceAccount writes / GetAuthorizationToken calls (minimum 0 / 1) | 0 / 1 | 0 / 1 |", table, StringComparison.Ordinal);
            Assert.Contains("| steady state: writes (minimum 0) | 0 | 0 |", table, StringComparison.Ordinal);
            Assert.Matches(@"\| process start to the first /readyz 200 \(s\) \| [\d.]+ \| [\d.]+ \|", table);
            Assert.Matches(@"\| \*\*steady RSS\*\* \(MB\): median over the 2 s steady state / at its end \| \d+ / \d+ \| \d+ / \d+ \|", table);
            Assert.Matches(@"\| CPU \(s\): cold start \| [\d.]+ \| [\d.]+ \|", table);

            // The full scale table keeps its rows, one column per label.
            Assert.Contains("| secret creates / minimum (N) | 3 / 3 = 1.00 | 3 / 3 = 1.00 |", table, StringComparison.Ordinal);

            // The builds: sizes of the same files for both, the publish time only where given, the idle run per label.
            Assert.Contains("|  | first | second |", table, StringComparison.Ordinal);
            Assert.Contains("| publish wall time (s) | – | 12 |", table, StringComparison.Ordinal);
            Assert.Matches(@"\| \*\*image content\*\* .* \| [\d,.]+ \| [\d,.]+ \|", table);
            Assert.Matches(@"\| \*\*idle RSS\*\* \(MB\), N = 2: .* \| \d+ / \d+ \| \d+ / \d+ \|", table);
            Assert.Contains("| idle run, N = 2: secret and ServiceAccount writes / minimum | 8 / 8 = 1.00 | 8 / 8 = 1.00 |", table, StringComparison.Ordinal);

            // Comparing skips the single-daemon runs.
            Assert.DoesNotContain("## Convergence with client-side rate limiting", table, StringComparison.Ordinal);
            Assert.DoesNotContain("## The seed's CronJob workflow", table, StringComparison.Ordinal);
            Assert.DoesNotContain("FAILED", table, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(work.FullName, "daemon-first-3.log")));
            Assert.True(File.Exists(Path.Combine(work.FullName, "daemon-second-3.log")));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_small_one_namespace_run_reports_its_writes_at_the_minimum()
    {
        var work = Directory.CreateTempSubdirectory("ecrdaemon-benchmark-wide-");
        try
        {
            var result = await Tools.RunAsync("dotnet", [Benchmark, "--only-wide", "--wide-service-accounts", "20", "--work", work.FullName],
                null, TimeSpan.FromMinutes(4));

            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.DoesNotContain("## Scale", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("| secret creates / ServiceAccount patches | 1 / 20 |", result.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount patches / minimum | 20 / 20 = 1.00 |", result.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The three-profile run at 10 namespaces: 4 team=a, 4 team=b, 2 team=a and platform=true, so 6 team-a secrets, 4 team-b,
    /// 2 platform (12), 30 ServiceAccounts. Rotating account B while account A's token comes back with a new expiry rewrites
    /// all 12 (team-a's for the expiry annotation); while A's token comes back unchanged, team-b's 4 and platform's 2, no team-a one.
    /// </summary>
    [Fact]
    public async Task A_small_three_profile_run_reports_each_count_at_its_minimum()
    {
        var work = Directory.CreateTempSubdirectory("ecrdaemon-benchmark-profiles-");
        try
        {
            var result = await Tools.RunAsync("dotnet",
                [Benchmark, "--only-profiles", "--profile-namespaces", "10", "--steady", "3", "--first-token-lifetime", "40", "--work", work.FullName],
                null, TimeSpan.FromMinutes(4));

            Assert.True(result.ExitCode == 0, result.ToString());
            var table = result.StandardOutput;
            Assert.DoesNotContain("## Scale", table, StringComparison.Ordinal);
            Assert.Contains("| namespaces matching team-a / team-b / platform (of which in two profiles) | 6 / 4 / 2 (2) |", table, StringComparison.Ordinal);
            Assert.Contains("| GetAuthorizationToken calls / minimum (1: both registries share credentials, region and endpoint) | 1 / 1 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Matches(@"\| registry ids per GetAuthorizationToken call \| \[(A, B|B, A)\] \|", table);
            Assert.Contains("| secret creates / minimum (one per namespace and profile) | 12 / 12 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount patches / minimum (3N: one per ServiceAccount, both entries in one patch where two profiles target it) | 30 / 30 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount entries to add (one per ServiceAccount and profile) | 36 |", table, StringComparison.Ordinal);
            Assert.Contains("| secret lists and watches (minimum: one list and one watch per secret name) | 6 / 6 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| their field selectors | `metadata.name=ecr-platform`, `metadata.name=ecr-team-a`, `metadata.name=ecr-team-b` |", table, StringComparison.Ordinal);
            Assert.Contains("| secret writes / minimum (every secret: B's password or A's expiry annotation changed) | 12 / 12 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| of which to team-a's secrets (same password, new expiry) | 6 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount writes / GetAuthorizationToken calls (minimum 0 / 1) | 0 / 1 |", table, StringComparison.Ordinal);
            Assert.Contains("| secret writes / minimum (team-b's and platform's secrets) | 6 / 6 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| of which to team-a's secrets (minimum 0) | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount writes when B rotates (minimum 0) | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| GetAuthorizationToken calls when B rotates (minimum 1) | 1 |", table, StringComparison.Ordinal);
            Assert.Contains("| secret writes / minimum (every secret) | 12 / 12 = 1.00 |", table, StringComparison.Ordinal);
            Assert.Contains("| ServiceAccount writes when both rotate (minimum 0) | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| GetAuthorizationToken calls when both rotate (minimum 1) | 1 |", table, StringComparison.Ordinal);
            Assert.Contains("| **Steady state**, 3 s with no changes: writes (minimum 0) | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| creates and patches without `fieldManager=ecr-daemon`, whole run | 0 |", table, StringComparison.Ordinal);
            Assert.Contains("| namespaces holding a registry host outside their profiles / other pull secrets removed / secrets deleted | 0 / 0 / 0 |", table, StringComparison.Ordinal);
            Assert.Matches(@"\| \*\*daemon peak RSS, whole run \(VmHWM, MB\)\*\* \| \d+ \|", table);
            Assert.DoesNotContain("FAILED", table, StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [ToolFact("bash")]
    public async Task A_daemon_that_exits_at_once_is_a_failure_with_its_exit_code_not_a_crash()
    {
        var work = Directory.CreateTempSubdirectory("ecrdaemon-benchmark-broken-");
        try
        {
            var daemon = Path.Combine(work.FullName, "broken-daemon");
            await File.WriteAllTextAsync(daemon, "#!/bin/sh\necho 'this build cannot start' >&2\nexit 3\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(daemon, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var result = await Tools.RunAsync("dotnet",
                [Benchmark, "--daemon", daemon, "--namespaces", "2", "--latency-namespaces", "0", "--steady", "1",
                 "--rate-limit-namespaces", "0", "--seed-namespaces", "0", "--wide-service-accounts", "0", "--profile-namespaces", "0", "--deadline", "30", "--work", Path.Combine(work.FullName, "logs")],
                timeout: TimeSpan.FromMinutes(2));

            Assert.True(result.ExitCode == 1, result.ToString());
            Assert.Contains("FAILED: N=2: the cold start did not reach sync; the daemon exited with code 3 (daemon log: ", result.StandardOutput, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", result.StandardError, StringComparison.Ordinal);
            Assert.Contains("this build cannot start", await File.ReadAllTextAsync(Path.Combine(work.FullName, "logs", "daemon-2.log")), StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("--namespaces 100,x", "--namespaces needs positive whole numbers separated by commas, got '100,x'")]
    [InlineData("--namespaces 0", "--namespaces needs positive whole numbers separated by commas, got '0'")]
    [InlineData("--steady -5", "--steady needs a positive number of seconds, got '-5'")]
    [InlineData("--seed-namespaces many", "--seed-namespaces needs a whole number, got 'many'")]
    [InlineData("--deadline", "--deadline needs a value")]
    [InlineData("--daemon /nonexistent/EcrDaemon", "--daemon: no such file: /nonexistent/EcrDaemon")]
    [InlineData("--namespace 100", "unknown argument '--namespace'")]
    [InlineData("--profile-namespaces ten", "--profile-namespaces needs a whole number, got 'ten'")]
    [InlineData("--daemon a={dll} --daemon {dll}", "--daemon: to compare daemons, give each as LABEL=PATH")]
    [InlineData("--daemon a={dll} --daemon a={dll}", "--daemon: each label once")]
    [InlineData("--daemon a={dll} --daemon b={dll} --seed-namespaces 10", "--seed-namespaces runs with one daemon, not when comparing 2")]
    [InlineData("--daemon a={dll} --publish-seconds b=3", "--publish-seconds: no daemon labelled 'b'")]
    [InlineData("--publish-seconds a", "--publish-seconds needs LABEL=SECONDS, got 'a'")]
    public async Task A_bad_argument_exits_2_with_what_was_wrong_and_the_usage(string arguments, string message)
    {
        // {dll} is a daemon that exists: the one built next to the tests.
        var daemon = Path.Combine(AppContext.BaseDirectory, "EcrDaemon.dll");
        var result = await Tools.RunAsync("dotnet", [Benchmark, .. arguments.Split(' ').Select(a => a.Replace("{dll}", daemon, StringComparison.Ordinal))],
            timeout: TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"benchmark: {message}", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("usage: EcrDaemon.Benchmarks [options]", result.StandardError, StringComparison.Ordinal);
        Assert.Empty(result.StandardOutput);
    }

    [Fact]
    public async Task Help_prints_the_usage_and_exits_0()
    {
        var result = await Tools.RunAsync("dotnet", [Benchmark, "--help"],
            timeout: TimeSpan.FromMinutes(1));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("--first-token-lifetime SECONDS", result.StandardOutput, StringComparison.Ordinal);
    }
}
