using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using EcrDaemon.Aws;
using EcrDaemon.Commands;
using EcrDaemon.Controller;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
using EcrDaemon.Queues;
using EcrDaemon.Reconciliation;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// The real daemon (CommandDispatcher's <c>run</c>: the real host, KubernetesClient and HTTP)
/// against the test cluster and the ECR stand-in. The daemon authenticates as the ecr-daemon
/// ServiceAccount under <c>daemon-rbac.yaml</c>, so a request outside its RBAC is a 403. The test
/// looks at the cluster through the store (no requests) or an admin client, and counts the
/// daemon's requests in the request log by identity.
/// </summary>
internal sealed class DaemonHarness : IAsyncDisposable
{
    public const string Identity = "system:serviceaccount:ecr-daemon:ecr-daemon";
    public const string SecretName = "aws-registry";
    public const string OptInLabel = "ecr-daemon.io/enabled";

    private TaskCompletionSource<IServiceProvider> _services = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _temporaryDirectories = [];
    private CancellationTokenSource? _stop;
    private Task<int>? _run;

    private DaemonHarness(TestClusterServer cluster, EcrStandIn ecr, k8s.Kubernetes admin)
    {
        Cluster = cluster;
        Ecr = ecr;
        Admin = admin;
    }

    public TestClusterServer Cluster { get; }

    public EcrStandIn Ecr { get; }

    public k8s.Kubernetes Admin { get; }

    public CapturingLoggerProvider Logs { get; } = new();

    public StringWriter Stderr { get; } = new();

    public IServiceProvider Services => _services.Task.IsCompletedSuccessfully ? _services.Task.Result : throw new InvalidOperationException("the daemon is not running");

    public TokenRefresher Refresher => Services.GetRequiredService<TokenRefresher>();

    public WorkQueue Queue => Services.GetRequiredService<WorkQueue>();

    public RequestLog Requests => Cluster.Requests;

    /// <summary>Informer timings with short backoffs, so that recovery tests stay fast.</summary>
    public static InformerSettings FastInformers { get; } = new() { InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromMilliseconds(500) };

    public static string RbacYaml => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Daemon", "daemon-rbac.yaml"));

    public static async Task<DaemonHarness> StartAsync(TestClusterOptions? options = null)
    {
        var cluster = await TestClusterServer.StartAsync(options ?? new TestClusterOptions { RbacYaml = RbacYaml });
        var ecr = await EcrStandIn.StartAsync();
        var admin = Client(cluster, null, "default");
        await admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "ecr-daemon" } });
        return new DaemonHarness(cluster, ecr, admin);
    }

    /// <summary>A KubernetesClient client of the test cluster, for the tests' own setup and checks.</summary>
    public static k8s.Kubernetes Client(TestClusterServer cluster, string? token, string contextNamespace) =>
        new(Config(cluster, token, contextNamespace));

    /// <summary>The daemon's own client of the test cluster (no handlers), for tests of the parts that take one.</summary>
    public static KubernetesApi Api(TestClusterServer cluster, string? token, string contextNamespace) =>
        new(Config(cluster, token, contextNamespace));

    private static KubernetesClientConfiguration Config(TestClusterServer cluster, string? token, string contextNamespace)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(cluster.Kubeconfig(token, contextNamespace)));
        return KubernetesClientConfiguration.BuildConfigFromConfigObject(KubernetesClientConfiguration.LoadKubeConfig(stream));
    }

    /// <summary>The daemon's settings for this harness: the stand-in's registry, fast ECR retries, plus <paramref name="extra"/>.</summary>
    public Dictionary<string, string?> Settings(IDictionary<string, string?>? extra = null)
    {
        var settings = EcrTestServices.ForStandIn(Ecr, Ecr.DefaultAccountId);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Starts the daemon and waits until its informers have synced and it holds a token.</summary>
    public async Task StartDaemonAsync(IDictionary<string, string?>? settings = null, bool waitForSync = true, InformerSettings? informers = null,
        Action<IHostApplicationBuilder>? customize = null)
    {
        using var kubeconfig = new MemoryStream(Encoding.UTF8.GetBytes(Cluster.Kubeconfig(Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon")));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(KubernetesClientConfiguration.LoadKubeConfig(kubeconfig));
        if (_run is { IsCompleted: false })
        {
            throw new InvalidOperationException("the daemon is already running; stop it first");
        }

        var all = Settings(settings);
        all["Logging:LogLevel:Default"] = "Trace"; // every line, so that the tests can also check that none leaks a secret
        var stop = _stop = new CancellationTokenSource();
        var services = _services = new TaskCompletionSource<IServiceProvider>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Locals, not the fields: a stop during the start (StopDaemonAsync, or DisposeAsync of a failing test) clears the fields.
        var run = _run = Task.Run(() => CommandDispatcher.RunAsync(["run", "--urls=http://127.0.0.1:0"], TextWriter.Null, Stderr, builder =>
        {
            builder.Configuration.AddInMemoryCollection(all);
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Trace);
            builder.Logging.AddProvider(Logs);
            builder.Services.Replace(ServiceDescriptor.Singleton(config));
            builder.Services.Replace(ServiceDescriptor.Singleton<IAwsCredentialSource>(
                new StaticCredentialSource(new BasicAWSCredentials(EcrStandIn.DefaultAccessKeyId, EcrStandIn.DefaultSecretAccessKey))));
            builder.Services.Replace(ServiceDescriptor.Singleton(informers ?? FastInformers));
            builder.Services.AddHostedService(sp => new ServicesProbe(sp, services));
            // HeapTrimmer counts the allocations of the whole process: in a test host running many daemons at once it would
            // compact the host's heap every few seconds: here it never trims. HeapTrimmerTests test it; the published daemon runs it.
            builder.Services.Replace(ServiceDescriptor.Singleton(sp =>
                new HeapTrimmer(sp.GetRequiredService<WorkQueue>(), () => false, TimeProvider.System, sp.GetRequiredService<ILogger<HeapTrimmer>>())));
            customize?.Invoke(builder);
        }, stop.Token));

        await Poll.Within(Task.WhenAny(services.Task, run), "the daemon's host start");
        if (run.IsCompleted)
        {
            throw new InvalidOperationException($"the daemon exited with {await run}: {Stderr}\n{Logs.AllText}");
        }

        if (waitForSync)
        {
            await Poll.Until(() => run.IsCompleted || (Services.GetRequiredService<PullSecretController>().Synced && Refresher.Current is not null),
                () => $"token={Refresher.Current}\n{Logs.AllText}");
            if (run.IsCompleted)
            {
                throw new InvalidOperationException($"the daemon exited with {await run} while starting: {Stderr}\n{Logs.AllText}");
            }

            // The loops run in the background (.NET 10), so they can sync before Kestrel has bound its port.
            await BoundHttpEndpointAsync();
        }
    }

    /// <summary>
    /// The daemon's HTTP address (/metrics, /livez, /readyz) once Kestrel has bound it: the loops run in
    /// the background and can be far ahead of the web server, whose address reads port 0 until it binds.
    /// </summary>
    public async Task<Uri> BoundHttpEndpointAsync()
    {
        await Poll.Until(() => HasExited || Address is { Port: not 0 }, () => $"address {Address?.ToString() ?? "(none yet)"}");
        AssertRunning();
        return Address!;
    }

    /// <summary>True once the daemon's run has ended.</summary>
    public bool HasExited => _run is { IsCompleted: true };

    /// <summary>Fails when the daemon has exited (it never should while a test runs).</summary>
    public void AssertRunning()
    {
        if (_run is { IsCompleted: true })
        {
            throw new InvalidOperationException($"the daemon exited with {_run.Result}: {Stderr}\n{Logs.AllText}");
        }
    }

    /// <summary>
    /// Stops the daemon as SIGTERM would, at any point of its start or run; returns its exit code.
    /// An exception instead of an exit code fails with the daemon's stderr and logs.
    /// </summary>
    public async Task<int> StopDaemonAsync()
    {
        if (_run is not { } run)
        {
            return 0;
        }

        var stop = _stop!;
        _run = null;
        _stop = null;
        try
        {
            await stop.CancelAsync();
            return await Poll.Within(run, "the daemon's shutdown");
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            throw new InvalidOperationException(
                $"the daemon's run ended with {e.GetType().Name} ({e.Message}) instead of an exit code: {Stderr}\n{Logs.AllText}", e);
        }
        finally
        {
            stop.Dispose();
        }
    }

    /// <summary>
    /// Starts another replica: the built program (<c>dotnet EcrDaemon.dll run</c>) as a process that
    /// authenticates as ServiceAccount <paramref name="serviceAccount"/> (in namespace ecr-daemon),
    /// with POD_NAME <paramref name="podName"/> (its leader-election identity), this harness's
    /// registry at the stand-in, and <paramref name="settings"/> (keys like EcrDaemon:LeaderElection:Enabled).
    /// Dispose it to kill it hard (SIGKILL).
    /// </summary>
    public BackgroundProcess StartReplicaProcess(string serviceAccount, string podName, IDictionary<string, string?> settings)
    {
        var home = Directory.CreateTempSubdirectory("ecrdaemon-replica-").FullName;
        _temporaryDirectories.Add(home);
        var kubeconfig = Path.Combine(home, "kubeconfig");
        Cluster.WriteKubeconfig(kubeconfig, Cluster.ServiceAccountToken("ecr-daemon", serviceAccount), "ecr-daemon");
        var environment = new Dictionary<string, string?>
        {
            ["KUBECONFIG"] = kubeconfig,
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
            ["POD_NAME"] = podName,
            ["POD_NAMESPACE"] = "ecr-daemon",
        };
        foreach (var (key, value) in Settings(settings))
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        return BackgroundProcess.Start("dotnet", [DaemonProcess.DllPath, "run"], DaemonProcess.ScrubbedEnvironment(home, environment));
    }

    /// <summary>Runs the built program (<c>dotnet EcrDaemon.dll COMMAND</c>) as the ecr-daemon ServiceAccount against this cluster.</summary>
    public async Task<ProcessResult> RunProgramAsync(string command)
    {
        var kubeconfig = Path.GetTempFileName();
        try
        {
            Cluster.WriteKubeconfig(kubeconfig, Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon"), "ecr-daemon");
            return await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = Ecr.Region, ["KUBECONFIG"] = kubeconfig }, command);
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    /// <summary>Waits until the daemon has nothing queued or running.</summary>
    public Task IdleAsync() => Poll.Until(() => Queue.Idle, () => $"queue depth {Queue.Depth}");

    public async Task CreateNamespaceAsync(string name, bool optedIn, params string[] serviceAccounts)
    {
        var labels = optedIn ? new Dictionary<string, string> { [OptInLabel] = "true" } : null;
        await Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name, Labels = labels } });
        foreach (var sa in serviceAccounts)
        {
            await Admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = sa } }, name);
        }
    }

    public Task LabelAsync(string ns, bool optedIn) =>
        Admin.CoreV1.PatchNamespaceAsync(new V1Patch(
            new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { [OptInLabel] = optedIn ? "true" : null } } }.ToJsonString(),
            V1Patch.PatchType.MergePatch), ns);

    /// <summary>The stored secret (no request is made), or null.</summary>
    public JsonObject? Secret(string ns, string name = SecretName) => Cluster.Store.Get(ResourceType.Secrets, ns, name)?.Node;

    public long? SecretVersion(string ns, string name = SecretName) => Cluster.Store.Get(ResourceType.Secrets, ns, name)?.ResourceVersion;

    /// <summary>The password for <paramref name="host"/> in the stored secret's .dockerconfigjson, or null.</summary>
    public string? PasswordIn(string ns, string? host = null)
    {
        var data = Secret(ns)?["data"]?[Markers.DockerConfigJsonKey]?.GetValue<string>();
        if (data is null)
        {
            return null;
        }

        var config = JsonNode.Parse(Convert.FromBase64String(data))!;
        return config["auths"]?[host ?? Ecr.HostFor(Ecr.DefaultAccountId)]?["password"]?.GetValue<string>();
    }

    /// <summary>The stored ServiceAccount's imagePullSecrets names, in order (empty when none; null when no such ServiceAccount).</summary>
    public string[]? PullSecrets(string ns, string sa = "default")
    {
        var node = Cluster.Store.Get(ResourceType.ServiceAccounts, ns, sa)?.Node;
        return node is null ? null : node["imagePullSecrets"]?.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToArray() ?? [];
    }

    /// <summary>True when the namespace has the current token's secret and its default ServiceAccount lists it.</summary>
    public bool InSync(string ns, string sa = "default") =>
        PasswordIn(ns) == EcrStandIn.PasswordFor(Ecr.DefaultAccountId, Ecr.Generation)
        && PullSecrets(ns, sa)?.Count(n => n == SecretName) == 1;

    public Task WaitInSyncAsync(params string[] namespaces) =>
        Poll.Until(() => namespaces.All(ns => InSync(ns)), () => Describe(namespaces));

    /// <summary>The daemon's requests since <paramref name="mark"/>.</summary>
    public IReadOnlyList<RequestRecord> DaemonRequests(long mark) => [.. Requests.Since(mark).Where(r => r.Identity == Identity)];

    /// <summary>The daemon's writes since <paramref name="mark"/>, Events excluded (they are rate-limited, and counted apart).</summary>
    public IReadOnlyList<RequestRecord> DaemonWrites(long mark) => [.. DaemonRequests(mark).Where(r => r.IsWrite && r.Resource != "events")];

    /// <summary>The daemon's HTTP endpoint (/metrics, /livez, /readyz).</summary>
    /// <summary>Null until Kestrel has published its address: the list starts empty, then holds port 0 until it binds.</summary>
    private Uri? Address => Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.FirstOrDefault() is { } address ? new(address) : null;

    public string Describe(IEnumerable<string> namespaces) =>
        string.Join("; ", namespaces.Select(ns => $"{ns}: password={PasswordIn(ns)}, default SA={string.Join(",", PullSecrets(ns) ?? ["(none)"])}"))
        + $"\nlogs:\n{string.Join('\n', Logs.Entries.TakeLast(20))}";

    public static string Summary(IEnumerable<RequestRecord> requests) =>
        string.Join(", ", requests.GroupBy(r => $"{r.Verb} {r.Resource} {r.Code}").Select(g => $"{g.Key} ×{g.Count()}"));

    public async ValueTask DisposeAsync()
    {
        await StopDaemonAsync();
        _temporaryDirectories.ForEach(d => Directory.Delete(d, recursive: true));
        Admin.Dispose();
        await Ecr.DisposeAsync();
        await Cluster.DisposeAsync();
        Logs.Dispose();
        Stderr.Dispose();
    }

    /// <summary>Hands the host's service provider to the harness once the host starts.</summary>
    private sealed class ServicesProbe(IServiceProvider services, TaskCompletionSource<IServiceProvider> target) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            target.TrySetResult(services);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
