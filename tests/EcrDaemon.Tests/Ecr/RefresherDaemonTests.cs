using EcrDaemon.Controller;
using EcrDaemon.Diagnostics;
using EcrDaemon.Ecr;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Daemon;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>The token refresher inside the real daemon: partial failures, a failure at cold start, a surprising expiry.</summary>
public sealed class RefresherDaemonTests : IAsyncLifetime
{
    private const string OtherAccount = "210987654321";
    private DaemonHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaemonHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task While_one_of_two_registries_fails_for_five_rounds_only_it_is_called_and_no_secret_is_written()
    {
        // Registry B has an endpoint of its own (as a registry in another region would): a call of its own.
        await using var other = await EcrStandIn.StartAsync(defaultAccountId: OtherAccount);
        other.TokenLifetime = TimeSpan.FromSeconds(4); // B is due within seconds; A's 12-hour token is not
        _h.Ecr.RotateEveryRequest = true; // any call for A would hand out a new password, and so rewrite every secret
        string[] all = ["one", "two"];
        foreach (var ns in all)
        {
            await _h.CreateNamespaceAsync(ns, optedIn: true);
        }

        await _h.StartDaemonAsync(new Dictionary<string, string?>
        {
            ["EcrDaemon:MinRefreshInterval"] = "00:00:01",
            ["EcrDaemon:Registries:1:Region"] = other.Region,
            ["EcrDaemon:Registries:1:AccountId"] = OtherAccount,
            ["EcrDaemon:Registries:1:Endpoint"] = other.Endpoint.ToString(),
        }, customize: b => b.Services.Replace(ServiceDescriptor.Singleton(new FailureBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)))));
        await Poll.Until(() => all.All(ns => _h.PasswordIn(ns, other.HostFor(OtherAccount)) is not null), () => _h.Describe(all));

        other.Enqueue(EcrFault.ServerError, 10_000);
        await Poll.Until(() => _h.Refresher.ConsecutiveFailures >= 1, () => other.ToString());
        await _h.IdleAsync();
        var mark = _h.Requests.Mark();
        var callsForA = _h.Ecr.RequestCount;
        var callsForB = other.RequestCount;
        var failures = _h.Refresher.ConsecutiveFailures;

        await Poll.Until(() => _h.Refresher.ConsecutiveFailures >= failures + 5, () => $"{_h.Refresher.ConsecutiveFailures} failed rounds; {other}",
            TimeSpan.FromSeconds(60));
        await _h.IdleAsync();

        _h.AssertRunning();
        var writes = _h.DaemonWrites(mark);
        Assert.True(writes.Count == 0, "secret writes while B failed: " + DaemonHarness.Summary(writes));
        Assert.True(_h.Ecr.RequestCount == callsForA, $"calls for the healthy registry A during the failing rounds: {_h.Ecr.RequestCount - callsForA}");
        Assert.True(other.RequestCount >= callsForB + 5, $"calls for B: {other.RequestCount - callsForB}");
        Assert.All(other.Requests.Skip(callsForB), r => Assert.Equal([OtherAccount], r.RegistryIds));

        // B recovers: its new token is written on its own schedule.
        other.ClearFaults();
        other.Generation = 1;
        await Poll.Until(() => all.All(ns => _h.PasswordIn(ns, other.HostFor(OtherAccount)) == EcrStandIn.PasswordFor(OtherAccount, 1)), () => _h.Describe(all));
    }

    [Fact]
    public async Task A_token_failure_at_cold_start_is_recorded_as_an_Event_once_the_namespaces_have_synced()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        await _h.CreateNamespaceAsync("b", optedIn: true);
        await _h.CreateNamespaceAsync("c", optedIn: false);
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 10_000);
        // The namespaces list answers late, so the first failed round comes before the informers have synced.
        _h.Cluster.Faults.AddLatency(TimeSpan.FromSeconds(3), verb: "list", resource: "namespaces");

        await _h.StartDaemonAsync(waitForSync: false);
        await Poll.Until(() => _h.HasExited || _h.Refresher.ConsecutiveFailures >= 1, () => _h.Logs.AllText);
        var controller = _h.Services.GetRequiredService<PullSecretController>();
        Assert.False(controller.Synced);
        _h.Cluster.Faults.Clear();
        await Poll.Until(() => _h.HasExited || controller.Synced, () => "not synced");

        await Poll.Until(() => TokenEvents("a").Count == 1 && TokenEvents("b").Count == 1,
            () => $"a: {TokenEvents("a").Count}, b: {TokenEvents("b").Count}; events: "
                + string.Join("; ", _h.Cluster.Store.InNamespace(ResourceType.Events, "a").Select(e => e.Node.ToJsonString())));
        _h.AssertRunning();
        Assert.Empty(TokenEvents("c"));
        foreach (var e in TokenEvents("a").Concat(TokenEvents("b")))
        {
            Assert.Equal("Warning", e["type"]!.GetValue<string>());
            Assert.Equal("Secret", e["involvedObject"]!["kind"]!.GetValue<string>());
            Assert.Equal(DaemonHarness.SecretName, e["involvedObject"]!["name"]!.GetValue<string>());
            var message = e["message"]!.GetValue<string>();
            Assert.Contains("access_denied", message, StringComparison.Ordinal);
            Assert.DoesNotContain("password", message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(EcrStandIn.DefaultSecretAccessKey, message, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The loops start in parallel (.NET 10 runs every ExecuteAsync in the background), so the
    /// refresher's first round can fail before the controller has subscribed to its failures. Here
    /// the controller is held back until that has happened; it must still record the Event.
    /// </summary>
    [Fact]
    public async Task A_token_failure_that_happens_before_the_controller_starts_is_still_recorded_as_an_Event()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        _h.Ecr.Enqueue(EcrFault.XmlAccessDenied, 10_000);

        await _h.StartDaemonAsync(waitForSync: false, customize: b =>
        {
            // A hosted service started just before the controller, that returns once the first round has failed.
            var controller = b.Services.Single(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService)
                && d.ImplementationFactory?.Method.ReturnType == typeof(PullSecretController));
            b.Services.Insert(b.Services.IndexOf(controller), ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService>(
                sp => new StartAfter(() => sp.GetRequiredService<TokenRefresher>().ConsecutiveFailures >= 1)));
        });

        await Poll.Until(() => _h.HasExited || TokenEvents("a").Count == 1, () => $"a: {TokenEvents("a").Count}\n{_h.Logs.AllText}");
        _h.AssertRunning();
    }

    private sealed class StartAfter(Func<bool> condition) : Microsoft.Extensions.Hosting.IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Poll.Until(condition, () => "the first round has not failed");

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public async Task A_token_that_expires_in_the_year_2100_is_written_and_the_daemon_keeps_running()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        _h.Ecr.ExpiresAt = new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

        await _h.StartDaemonAsync(waitForSync: false);
        await Poll.Until(() => _h.HasExited || _h.Logs.Entries.Any(e => e.EventId.Id == LogEvents.NextRefresh), () => _h.Logs.AllText);
        await _h.WaitInSyncAsync("a");

        _h.AssertRunning();
        Assert.Single(_h.Logs.Entries, e => e.EventId.Id == LogEvents.SurprisingExpiry);
        Assert.Contains("2100", _h.Secret("a")!["metadata"]!["annotations"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(1, _h.Ecr.RequestCount);
    }

    [Fact]
    public async Task An_exception_nobody_foresaw_is_classified_other_logged_by_type_and_retried_until_it_stops()
    {
        await _h.CreateNamespaceAsync("a", optedIn: true);
        var throwing = new ThrowingEcrClient();
        await _h.StartDaemonAsync(new Dictionary<string, string?> { ["EcrDaemon:MinRefreshInterval"] = "00:00:01" }, customize: b =>
        {
            b.Services.Replace(ServiceDescriptor.Singleton<IEcrAuthorizationClient>(sp =>
                throwing.Wrap(ActivatorUtilities.CreateInstance<SigV4EcrAuthorizationClient>(sp))));
            b.Services.Replace(ServiceDescriptor.Singleton(new FailureBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400))));
        });
        await _h.WaitInSyncAsync("a");

        throwing.Throwing = true;
        _h.Refresher.RequestRefresh();
        await Poll.Until(() => _h.HasExited || _h.Refresher.ConsecutiveFailures >= 3, () => _h.Logs.AllText);

        _h.AssertRunning();
        var failure = _h.Logs.Entries.Last(e => e.EventId.Id == LogEvents.TokenFailed).Message;
        Assert.Contains("other (permanent)", failure, StringComparison.Ordinal);
        Assert.Contains(typeof(ArithmeticException).FullName!, failure, StringComparison.Ordinal);
        Assert.DoesNotContain(ThrowingEcrClient.SecretLookingMessage, _h.Logs.AllText, StringComparison.Ordinal);
        Assert.Equal(EcrStandIn.PasswordFor(_h.Ecr.DefaultAccountId, 0), _h.PasswordIn("a"));

        throwing.Throwing = false;
        _h.Ecr.Generation = 1;
        await _h.WaitInSyncAsync("a");
        Assert.Equal(0, _h.Refresher.ConsecutiveFailures);
    }

    /// <summary>Throws an exception type nothing in the ECR path expects, with a message that must never be logged.</summary>
    private sealed class ThrowingEcrClient
    {
        public const string SecretLookingMessage = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

        public volatile bool Throwing;

        public IEcrAuthorizationClient Wrap(IEcrAuthorizationClient inner) => new Client(this, inner);

        private sealed class Client(ThrowingEcrClient owner, IEcrAuthorizationClient inner) : IEcrAuthorizationClient
        {
            public Task<EcrCallResult> GetAuthorizationTokenAsync(EcrAuthorizationRequest request, CancellationToken cancellationToken) =>
                owner.Throwing ? throw new ArithmeticException(SecretLookingMessage) : inner.GetAuthorizationTokenAsync(request, cancellationToken);
        }
    }

    private List<System.Text.Json.Nodes.JsonObject> TokenEvents(string ns) =>
        [.. _h.Cluster.Store.InNamespace(ResourceType.Events, ns).Select(e => e.Node).Where(e => e["reason"]?.GetValue<string>() == "TokenRefreshFailed")];
}
