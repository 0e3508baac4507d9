using System.Net;
using System.Reflection;
using EcrDaemon.Commands;
using EcrDaemon.Controller;
using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using k8s;
using Xunit;

namespace EcrDaemon.Tests.Configuration;

/// <summary>
/// Every option at its bounds, through the real program: a value just inside is accepted (the
/// daemon runs with it, reconciles where it can, answers /livez, and exits 0 when stopped); a
/// value just outside exits 2 with one line naming the key. Every option of
/// <see cref="EcrDaemonOptions"/> and its nested options must have a row here.
/// </summary>
public sealed class OptionBoundaryTests(OptionBoundaryTests.Cluster cluster) : IClassFixture<OptionBoundaryTests.Cluster>
{
    private const string S = EcrDaemonOptions.SectionName;
    private const string TimerMax = "49.17:02:47.294"; // 4294967294 ms, the longest a .NET timer waits
    private const string PastTimerMax = "49.17:02:47.295";
    private static readonly string Long253 = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)) [..253];
    private static readonly string Long254 = Long253 + "a";

    /// <summary>A value, whether the daemon reconciles namespace "a" with it (else it must only run), and the settings it needs beside it.</summary>
    private sealed record Case(string Value, bool Syncs = true, string With = "")
    {
        public IEnumerable<KeyValuePair<string, string?>> Settings => With.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Split('=', 2)).Select(kv => KeyValuePair.Create($"{S}:{kv[0]}", (string?)kv[1]));
    }

    private sealed record Row(string Key, Case[] Inside, Case[] Outside);

    private static Case C(string value, bool syncs = true, string with = "") => new(value, syncs, with);

    /// <summary>One valid profile, named p, on the registry named r, with the harness's secret name: a profile row overrides one of its keys.</summary>
    private const string Profile =
        "Registries:0:Name=r;Profiles:0:Name=p;Profiles:0:NamespaceSelector=ecr-daemon.io/enabled=true;Profiles:0:SecretName=aws-registry;Profiles:0:Registries:0=r";

    private static Case P(string value, bool syncs = true) => new(value, syncs, Profile);

    private static readonly Row[] Table =
    [
        new("NamespaceSelector", [C("ecr-daemon.io/enabled"), C("ecr-daemon.io/enabled=true,!other")], [C(""), C("team in prod")]),
        new("SecretName", [C("a", syncs: false), C(Long253, syncs: false)], [C("A"), C(Long254), C("-a")]),
        new("ServiceAccounts:0", [C("*"), C(Long253, syncs: false)], [C("Default"), C(Long254)]),
        new("ExcludedNamespaces:0", [C("kube-system"), C(new string('a', 63))], [C("Kube"), C(new string('a', 64))]),
        new("RefreshAt", [C("0.001"), C("0.999")], [C("0"), C("1"), C("NaN")]),
        new("MinRefreshInterval", [C("00:00:01"), C(TimerMax)], [C("00:00:00.999"), C(PastTimerMax)]),
        new("CleanupOnOptOut", [C("true"), C("false")], [C("yes")]),
        new("AdoptUnmanagedSecrets", [C("true"), C("false")], [C("yes")]),
        new("Concurrency", [C("1"), C("256")], [C("0"), C("257")]),
        new("KubernetesQps", [C("0"), C("0.01"), C("100000")], [C("-1"), C("0.009"), C("100001"), C("Infinity"), C("NaN")]),
        new("KubernetesBurst", [C("1"), C("100000")], [C("0"), C("100001")]),
        new("ResyncInterval", [C("00:00:01"), C(TimerMax)], [C("00:00:00.999"), C(PastTimerMax)]),
        new("Events", [C("true"), C("false")], [C("yes")]),
        new("LivenessTimeout", [C("00:00:01"), C(TimerMax)], [C("00:00:00.999"), C(PastTimerMax)]),
        new("Registries:0:Name", [C("r"), C(new string('a', 63))], [C("R"), C(new string('a', 64))]),
        new("Profiles:0:Name", [P("p"), P(new string('a', 63))], [P("P"), P(new string('a', 64)), P("")]),
        new("Profiles:0:NamespaceSelector", [P("ecr-daemon.io/enabled"), P("ecr-daemon.io/enabled=true,!other")], [P(""), P("team in prod")]),
        new("Profiles:0:SecretName", [P("aws-registry"), P(Long253, syncs: false)], [P("A"), P(Long254), P("")]),
        new("Profiles:0:Registries:0", [P("r")], [P("s"), P("")]),
        new("Profiles:0:ServiceAccounts:0", [P("*"), P(Long253, syncs: false)], [P("Default"), P(Long254)]),
        new("Profiles:0:ExcludedNamespaces:0", [P("kube-system"), P(new string('a', 63))], [P("Kube"), P(new string('a', 64))]),
        new("Profiles:0:Format", [P("DockerConfigJson"), P("ArgoCdRepositoryCredentials", syncs: false)], [P("ArgoCD"), P("")]),
        new("Registries:0:Region", [C("eu-west-1", syncs: false)], [C("Oregon"), C("us-west")]),
        new("Registries:0:AccountId", [C("000000000000", syncs: false)], [C("12345678901"), C("1234567890123")]),
        new("Registries:0:RoleArn",
            [C("arn:aws:iam::123456789012:role/x", syncs: false, with: "Ecr:Timeout=00:00:01;Ecr:Retry:TotalTimeout=00:00:02")],
            [C("puller"), C("arn:aws:iam::12345678901:role/x")]),
        new("Registries:0:ExternalId",
            [C("ab", syncs: false, with: "Registries:0:RoleArn=arn:aws:iam::123456789012:role/x;Ecr:Timeout=00:00:01;Ecr:Retry:TotalTimeout=00:00:02")],
            [C("a", with: "Registries:0:RoleArn=arn:aws:iam::123456789012:role/x"), C("ab")]),
        new("Registries:0:Endpoint", [C("http://127.0.0.1:1/", syncs: false)], [C("localhost:4566"), C("ftp://127.0.0.1/")]),
        new("Registries:0:DualStack", [C("true"), C("false")], [C("yes"), C("true", with: "Registries:0:Region=cn-north-1")]),
        new("Registries:0:Aliases:0", [C("registry.example.com:5000"), C(Long253)],
            [C("https://registry.example.com"), C("registry.example.com/team"), C("Registry.example.com"), C("registry.example.com:65536"), C("-a.example.com"), C(Long254)]),
        new("Registries:0:Public",
            [C("false"), C("true", syncs: false, with: "Registries:0:AccountId=;Registries:0:Region=us-east-1")],
            [C("yes"), C("true", with: "Registries:0:Region=us-east-1;Registries:0:AccountId=123456789012")]),
        new("Ecr:UseFips", [C("true"), C("false")], [C("yes")]),
        new("Ecr:Timeout", [C("00:00:00.001", syncs: false), C("1.00:00:00", with: "Ecr:Retry:TotalTimeout=1.00:00:00")],
            [C("00:00:00"), C("00:00:00.0009"), C("1.00:00:00.001", with: "Ecr:Retry:TotalTimeout=1.00:00:00.001")]),
        new("Ecr:Retry:MaxAttempts", [C("1"), C("20")], [C("0"), C("21")]),
        new("Ecr:Retry:BaseDelay", [C("00:00:00.001"), C("1.00:00:00", with: "Ecr:Retry:MaxDelay=1.00:00:00")],
            [C("00:00:00"), C("1.00:00:00.001", with: "Ecr:Retry:MaxDelay=1.00:00:00.001")]),
        new("Ecr:Retry:MaxDelay", [C("00:00:00.010"), C("1.00:00:00")], [C("00:00:00.009"), C("1.00:00:00.001")]),
        new("Ecr:Retry:TotalTimeout", [C("00:00:00.010", syncs: false, with: "Ecr:Timeout=00:00:00.005"), C("1.00:00:00")],
            [C("00:00:00.009", with: "Ecr:Timeout=00:00:00.005"), C("1.00:00:00.001")]),
        // With election on, the harness's RBAC (daemon-rbac.yaml) grants no Lease: these run as followers, their elector retrying on its timers.
        new("LeaderElection:Enabled", [C("true", syncs: false), C("false")], [C("yes")]),
        new("LeaderElection:LeaseName", [C("a", syncs: false, with: "LeaderElection:Enabled=true"), C(Long253, syncs: false, with: "LeaderElection:Enabled=true")],
            [C("Lease"), C(Long254)]),
        new("LeaderElection:LeaseNamespace", [C("ecr-daemon", syncs: false, with: "LeaderElection:Enabled=true"), C(new string('a', 63), syncs: false, with: "LeaderElection:Enabled=true")],
            [C("Ecr"), C(new string('a', 64))]),
        new("LeaderElection:LeaseDuration",
            [
                C("00:00:01", syncs: false, with: "LeaderElection:Enabled=true;LeaderElection:RenewDeadline=00:00:00.800;LeaderElection:RetryPeriod=00:00:00.100"),
                C(TimerMax, syncs: false, with: "LeaderElection:Enabled=true;LeaderElection:RenewDeadline=00:00:10;LeaderElection:RetryPeriod=00:00:01"),
            ],
            [C("00:00:00.999", with: "LeaderElection:RenewDeadline=00:00:00.500;LeaderElection:RetryPeriod=00:00:00.100"), C(PastTimerMax)]),
        new("LeaderElection:RenewDeadline",
            [C("00:00:00.001"), C("49.17:02:47.293", syncs: false, with: "LeaderElection:Enabled=true;LeaderElection:LeaseDuration=" + TimerMax)],
            [C("00:00:00.0009"), C(PastTimerMax)]),
        new("LeaderElection:RetryPeriod",
            [
                C("00:00:00.001", syncs: false, with: "LeaderElection:Enabled=true;LeaderElection:RenewDeadline=00:00:00.500;LeaderElection:LeaseDuration=00:00:01"),
                C("49.17:02:47.293", syncs: false, with: "LeaderElection:LeaseDuration=" + TimerMax),
            ],
            [C("00:00:00.0009"), C(PastTimerMax)]),
    ];

    [Fact]
    public void Every_option_has_a_boundary_row()
    {
        var options = OptionKeys(typeof(EcrDaemonOptions), "").Order(StringComparer.Ordinal).ToList();

        Assert.Equal(options, Table.Select(r => r.Key).Order(StringComparer.Ordinal));
        Assert.All(Table, r => Assert.True(r.Inside.Length > 0 && r.Outside.Length > 0, $"{r.Key} needs a value inside and one outside its bounds"));
    }

    [Fact]
    public void The_bounds_lie_within_what_Polly_accepts()
    {
        var timeout = typeof(Polly.Timeout.TimeoutStrategyOptions).GetProperty("Timeout")!.GetCustomAttribute<System.ComponentModel.DataAnnotations.RangeAttribute>()!;
        var delay = typeof(Polly.Retry.RetryStrategyOptions<object>).GetProperty("Delay")!.GetCustomAttribute<System.ComponentModel.DataAnnotations.RangeAttribute>()!;
        var maxDelay = typeof(Polly.Retry.RetryStrategyOptions<object>).GetProperty("MaxDelay")!.GetCustomAttribute<System.ComponentModel.DataAnnotations.RangeAttribute>()!;

        Assert.True(timeout.IsValid(EcrDaemonOptionsValidator.ShortestPollyTimeout), $"{timeout.Minimum}..{timeout.Maximum}");
        Assert.True(timeout.IsValid(EcrDaemonOptionsValidator.LongestPollyDelay), $"{timeout.Minimum}..{timeout.Maximum}");
        Assert.False(timeout.IsValid(EcrDaemonOptionsValidator.ShortestPollyTimeout - TimeSpan.FromTicks(1)), $"{timeout.Minimum}..{timeout.Maximum}");
        Assert.True(delay.IsValid(EcrDaemonOptionsValidator.LongestPollyDelay) && maxDelay.IsValid(EcrDaemonOptionsValidator.LongestPollyDelay), $"{delay.Maximum}, {maxDelay.Maximum}");
        Assert.False(delay.IsValid(EcrDaemonOptionsValidator.LongestPollyDelay + TimeSpan.FromTicks(1)), $"{delay.Maximum}");
    }

    public static TheoryData<string, string> Outside => Cases(r => r.Outside);

    public static TheoryData<string, string> Inside => Cases(r => r.Inside);

    [Theory]
    [MemberData(nameof(Outside))]
    public async Task A_value_just_outside_its_bounds_exits_2_naming_the_key(string key, string value)
    {
        var settings = new Dictionary<string, string?> { [$"{S}:Registries:0:Region"] = "us-west-2" };
        var @case = Find(r => r.Outside, key, value);
        foreach (var (k, v) in @case.Settings)
        {
            settings[k] = v;
        }

        settings[$"{S}:{key}"] = value;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await CommandDispatcher.RunAsync(["run"], stdout, stderr, b => b.Configuration.AddInMemoryCollection(settings));

        Assert.True(code == 2, $"exit {code}\n{stderr}");
        var line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("ecrdaemon: invalid configuration: ", line, StringComparison.Ordinal);
        Assert.Contains($"{S}:{key}", line, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Inside))]
    public async Task A_value_just_inside_its_bounds_runs_and_exits_0(string key, string value)
    {
        var h = cluster.Harness;
        var @case = Find(r => r.Inside, key, value);
        var settings = new Dictionary<string, string?>(@case.Settings) { [$"{S}:{key}"] = value };
        var mark = h.Logs.Entries.Count;
        if (h.Secret("a") is not null)
        {
            await h.Admin.CoreV1.DeleteNamespacedSecretAsync(DaemonHarness.SecretName, "a"); // so that "in sync" means this daemon wrote it
        }

        try
        {
            await h.StartDaemonAsync(settings, waitForSync: false);
            var fresh = () => h.Logs.Entries.Skip(mark).ToList();
            // The refresher has planned its next round (after a token or a failure), so its timers took the values.
            await Poll.Until(() => h.HasExited || fresh().Any(e => e.EventId.Id is LogEvents.NextRefresh or LogEvents.TokenFailed), () => string.Join('\n', fresh().TakeLast(20)));
            if (@case.Syncs)
            {
                // The controller led, reconciled and started its resync timer with the values.
                await Poll.Until(() => h.HasExited || h.InSync("a"), () => h.Describe(["a"]) + "\n" + string.Join('\n', fresh().TakeLast(40)));
            }

            using var http = new HttpClient();
            var livez = await http.GetAsync(new Uri(await h.BoundHttpEndpointAsync(), "/livez"));

            // A daemon that cannot reconcile (no Lease, no RBAC for its secret name) may fail /livez; the check itself must not fail.
            Assert.True(@case.Syncs ? livez.StatusCode == HttpStatusCode.OK : livez.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable,
                $"/livez {livez.StatusCode}: {await livez.Content.ReadAsStringAsync()}");
            Assert.Equal(0, await h.StopDaemonAsync());
            Assert.DoesNotContain(fresh(), e => e.EventId.Id == LogEvents.ServiceFailed);
        }
        finally
        {
            await h.StopDaemonAsync(); // a failed row leaves no daemon behind for the next
        }
    }

    private static Case Find(Func<Row, Case[]> side, string key, string value) =>
        side(Table.Single(r => r.Key == key)).Single(c => c.Value == value);

    private static TheoryData<string, string> Cases(Func<Row, Case[]> side)
    {
        var data = new TheoryData<string, string>();
        foreach (var row in Table)
        {
            foreach (var @case in side(row))
            {
                data.Add(row.Key, @case.Value);
            }
        }

        return data;
    }

    /// <summary>The configuration keys of every settable option, nested options and list elements (as :0) included.</summary>
    private static IEnumerable<string> OptionKeys(Type type, string prefix)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var key = prefix + property.Name;
            var propertyType = property.PropertyType;
            var element = propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(IList<>) ? propertyType.GetGenericArguments()[0] : null;
            if (element is not null)
            {
                var items = element == typeof(string) ? [key + ":0"] : OptionKeys(element, key + ":0:");
                foreach (var item in items)
                {
                    yield return item;
                }
            }
            else if (property.SetMethod is not { IsPublic: true })
            {
                continue; // computed (TargetServiceAccounts, Excluded, Namespace)
            }
            else if (property.PropertyType.Namespace == typeof(EcrDaemonOptions).Namespace && !property.PropertyType.IsEnum)
            {
                foreach (var item in OptionKeys(property.PropertyType, key + ":"))
                {
                    yield return item;
                }
            }
            else
            {
                yield return key;
            }
        }
    }

    /// <summary>One test cluster and ECR stand-in for every row; each row starts and stops its own daemon.</summary>
    public sealed class Cluster : IAsyncLifetime
    {
        internal DaemonHarness Harness { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Harness = await DaemonHarness.StartAsync();
            await Harness.CreateNamespaceAsync("a", optedIn: true);
        }

        public async Task DisposeAsync() => await Harness.DisposeAsync();
    }
}
