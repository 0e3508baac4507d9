using EcrDaemon.Testing;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>Helpers shared by the KubernetesClient tests: clients, polling with a deadline, status checks, watch recording.</summary>
internal static class Cluster
{
    /// <summary>Generous: a loaded 2-core machine is slow, but a hang must still end the test with a message.</summary>
    public static readonly TimeSpan Deadline = Poll.Deadline;

    /// <summary>A real KubernetesClient built from the kubeconfig the server renders (admin when no token).</summary>
    public static Kubernetes Client(TestClusterServer server, string? token = null, string contextNamespace = "default")
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(server.Kubeconfig(token, contextNamespace)));
        var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(KubernetesClientConfiguration.LoadKubeConfig(stream));
        return new Kubernetes(config);
    }

    /// <summary>A plain HttpClient that trusts only the server's certificate and sends the given bearer token.</summary>
    public static HttpClient RawClient(TestClusterServer server, string? token = null)
    {
        var ca = X509Certificate2.CreateFromPem(server.CertificateAuthorityPem);
#pragma warning disable CA2000 // The handler is owned and disposed by the HttpClient.
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, errors) =>
            {
                if (cert is null)
                {
                    return false;
                }

                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(cert);
            },
        };
#pragma warning restore CA2000
        var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = server.Url };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token ?? server.AdminToken);
        return client;
    }

    /// <summary>Awaits a call that must fail with an HTTP status; returns the decoded Status.</summary>
    public static async Task<V1Status> FailsWith(HttpStatusCode code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(call);
        Assert.True(e.Response.StatusCode == code, $"expected {(int)code} {code}, got {(int)e.Response.StatusCode}: {e.Response.Content}");
        var status = KubernetesJson.Deserialize<V1Status>(e.Response.Content);
        Assert.Equal("Status", status.Kind);
        Assert.Equal("Failure", status.Status);
        Assert.Equal((int)code, status.Code);
        return status;
    }

    public static Task Until(Func<bool> condition, Func<string> lastSeen, TimeSpan? deadline = null) => Poll.Until(condition, lastSeen, deadline);

    public static Task UntilAsync(Func<Task<bool>> condition, Func<string> lastSeen, TimeSpan? deadline = null) => Poll.UntilAsync(condition, lastSeen, deadline);

    public static Task<T> Within<T>(Task<T> task, string what, TimeSpan? deadline = null) => Poll.Within(task, what, deadline);

    public static Task Within(Task task, string what, TimeSpan? deadline = null) => Poll.Within(task, what, deadline);

    public static V1Secret Secret(string name, IDictionary<string, string>? labels = null, string? data = null, string? type = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = labels },
        Type = type,
        Data = data is null ? null : new Dictionary<string, byte[]> { ["key"] = Encoding.UTF8.GetBytes(data) },
    };

    public static V1Namespace Namespace(string name, IDictionary<string, string>? labels = null) =>
        new() { Metadata = new V1ObjectMeta { Name = name, Labels = labels } };
}

/// <summary>
/// Records the events of one watch opened through KubernetesClient's <c>WatchAsync</c>, in order, with
/// the errors its onError path reported and whether the stream has ended.
/// </summary>
internal sealed class WatchRecorder<T> : IAsyncDisposable
    where T : IKubernetesObject<V1ObjectMeta>
{
    private readonly Lock _lock = new();
    private readonly List<(WatchEventType Type, T Object)> _events = [];
    private readonly List<Exception> _errors = [];
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _pump;

    private WatchRecorder(Func<Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> open)
    {
        _pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var (type, obj) in open(OnError, _cts.Token))
                {
                    lock (_lock)
                    {
                        _events.Add((type, obj));
                    }
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested)
            {
                // Disposed.
            }
            catch (Exception e)
            {
                lock (_lock)
                {
                    StreamException = e;
                }
            }
        });
    }

    /// <summary>Opens a watch. <paramref name="open"/> receives the onError callback and the cancellation token.</summary>
    public static WatchRecorder<T> Start(Func<Action<Exception>, CancellationToken, IAsyncEnumerable<(WatchEventType, T)>> open) => new(open);

    private void OnError(Exception e)
    {
        lock (_lock)
        {
            _errors.Add(e);
        }
    }

    /// <summary>The exception that ended the enumeration, if any.</summary>
    public Exception? StreamException { get; private set; }

    public bool Ended => _pump.IsCompleted;

    public Task Completion => _pump;

    public IReadOnlyList<(WatchEventType Type, T Object)> Events
    {
        get
        {
            lock (_lock)
            {
                return _events.ToArray();
            }
        }
    }

    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_lock)
            {
                return _errors.ToArray();
            }
        }
    }

    /// <summary>"ADDED a, MODIFIED a, BOOKMARK" and the errors: what a failing assertion reports.</summary>
    public string Describe()
    {
        var events = string.Join(", ", Events.Select(e => $"{e.Type} {e.Object?.Metadata?.Name}@{e.Object?.Metadata?.ResourceVersion}"));
        var errors = string.Join("; ", Errors.Select(e => e.GetType().Name + ": " + e.Message));
        return $"events [{events}] errors [{errors}] ended={Ended} streamException={StreamException?.Message}";
    }

    /// <summary>The non-bookmark events as "TYPE name" strings.</summary>
    public IReadOnlyList<string> Names() =>
        Events.Where(e => e.Type != WatchEventType.Bookmark).Select(e => $"{e.Type} {e.Object.Metadata.Name}").ToArray();

    public Task WaitFor(Func<IReadOnlyList<(WatchEventType Type, T Object)>, bool> condition, TimeSpan? deadline = null) =>
        Cluster.Until(() => condition(Events), Describe, deadline);

    public Task WaitForEvent(WatchEventType type, string name) =>
        WaitFor(events => events.Any(e => e.Type == type && e.Object?.Metadata?.Name == name));

    public Task WaitForEnd(TimeSpan? deadline = null) => Cluster.Until(() => Ended, Describe, deadline);

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            await _pump.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // The stream did not notice the cancellation; the server is disposed next anyway.
        }

        _cts.Dispose();
    }
}
