using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Ecr;

/// <summary>
/// Holds the current ECR token of every registry and keeps it fresh. It fetches all registries at
/// start; after that each registry has its own schedule: it is fetched again when <c>RefreshAt</c>
/// of its token's life has passed (the round wakes with jitter, never sooner than
/// <c>MinRefreshInterval</c>, never later than <see cref="RefreshSchedule.MaxDelay"/>). A round
/// fetches only the registries that are due or failing (due ones that share credentials in one
/// call), so a failing registry never makes a healthy one hand out a new password. A failed
/// registry keeps its last good token and is retried after 30 s, doubling to 5 minutes. Once a
/// registry has a token, the <see cref="TokenSet"/> of those held is published, and again whenever
/// it changes (a profile's secrets wait until each of its registries has one). No exception ends the loop: an unforeseen one fails the round, which is retried.
/// </summary>
internal sealed class TokenRefresher(
    EcrTokenService ecr,
    FailureBackoff backoff,
    TokenMetrics metrics,
    IOptions<EcrDaemonOptions> options,
    TimeProvider time,
    ILogger<TokenRefresher> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private RegistryHosts? _hosts;
    private readonly TaskCompletionSource _firstToken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile TokenSet? _current;
    private readonly Lock _failureLock = new();
    private Action<string>? _failureStarted;
    private string? _ongoingFailure;
    private int _refreshAll;

    /// <summary>The tokens held, one per registry that has one, or null until one has.</summary>
    public TokenSet? Current => _current;

    /// <summary>The tokens before <see cref="Current"/>: a secret that still holds them is due a routine rotation, not a repair.</summary>
    public TokenSet? Previous { get; private set; }

    /// <summary>Raised (on the refresher's loop) when <see cref="Current"/> changes.</summary>
    public event Action<TokenSet>? Changed;

    /// <summary>
    /// Raised when a round fails after one that did not: the registries and reasons, in one sentence
    /// without secrets. A handler added while that failure lasts is told of it at once, so that a
    /// subscriber that starts after the first round (the loops start in parallel) misses nothing.
    /// </summary>
    public event Action<string>? FailureStarted
    {
        add
        {
            string? ongoing;
            lock (_failureLock)
            {
                _failureStarted += value;
                ongoing = _ongoingFailure;
            }

            if (ongoing is not null)
            {
                value?.Invoke(ongoing);
            }
        }

        remove
        {
            lock (_failureLock)
            {
                _failureStarted -= value;
            }
        }
    }

    /// <summary>Completes once a registry has a token for the first time.</summary>
    public Task FirstToken => _firstToken.Task;

    /// <summary>The indexes of the registries whose last fetch failed (empty when none is failing).</summary>
    public IReadOnlyList<int> FailingRegistries => _failing;

    private volatile int[] _failing = [];

    /// <summary>Failed refresh rounds in a row; 0 after a round in which every registry succeeded.</summary>
    public int ConsecutiveFailures { get; private set; }

    /// <summary>Runs a refresh round of every registry now instead of at the scheduled times.</summary>
    public void RequestRefresh()
    {
        Interlocked.Exchange(ref _refreshAll, 1);
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A refresh is already requested.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var daemonOptions = options.Value;
        var targets = ecr.Targets();
        var registries = targets.Select(t => new RegistrySchedule(t)).ToArray();
        foreach (var target in targets.Where(t => t.AccountId is not null || t.Public))
        {
            metrics.RegistryConfigured(target.ExpectedHost);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var refreshAll = Interlocked.Exchange(ref _refreshAll, 0) == 1;
            var due = registries.Where(r => refreshAll || r.IsDue(now)).ToList();
            try
            {
                if (due.Count > 0)
                {
                    await RoundAsync(registries, due, daemonOptions, stoppingToken);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Never seen so far; if it comes, the loop lives on: the round counts as failed, and is retried.
                logger.RefreshRoundFailed(e.GetType().FullName ?? e.GetType().Name, due.Count);
                Record(registries, [.. due.Select(r => (r, (EcrAuthorizationToken?)null, (string?)"other"))], time.GetUtcNow(), daemonOptions);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            now = time.GetUtcNow();
            var next = registries.Min(r => r.NextAt);
            var delay = RefreshSchedule.Clamp(next - now);
            logger.NextRefresh(now + delay, delay);
            await SleepAsync(delay, stoppingToken);
        }
    }

    /// <summary>Fetches the due registries (batched by <see cref="EcrTokenService"/>), records the outcome and publishes changed tokens.</summary>
    private async Task RoundAsync(RegistrySchedule[] registries, List<RegistrySchedule> due, EcrDaemonOptions daemonOptions, CancellationToken stoppingToken)
    {
        var results = await ecr.FetchAsync([.. due.Select(r => r.Target)], stoppingToken);
        var now = time.GetUtcNow();
        foreach (var result in results.Where(r => r.Token is { } t && t.ExpiresAt - now > RefreshSchedule.MaxDelay && !registries[r.Registry.Index].WarnedExpiry))
        {
            registries[result.Registry.Index].WarnedExpiry = true;
            logger.SurprisingExpiry(result.Token!.RegistryHost, result.Token.ExpiresAt, RefreshSchedule.MaxDelay);
        }

        Record(registries, [.. results.Select(r => (registries[r.Registry.Index], r.Token, r.Failure?.ReasonLabel))], now, daemonOptions);
    }

    private void Record(RegistrySchedule[] registries, List<(RegistrySchedule Registry, EcrAuthorizationToken? Token, string? FailureReason)> outcomes,
        DateTimeOffset now, EcrDaemonOptions daemonOptions)
    {
        var failed = outcomes.Count(o => o.Token is null);
        ConsecutiveFailures = failed > 0 ? ConsecutiveFailures + 1 : registries.Any(r => r.Failing) ? ConsecutiveFailures : 0;
        foreach (var (registry, token, reason) in outcomes)
        {
            if (token is not null)
            {
                registry.Succeeded(token, now, daemonOptions, Random.Shared.NextDouble());
                metrics.TokenRefreshed(token.RegistryHost, token.ExpiresAt, now);
            }
            else
            {
                registry.Failed(now, RefreshSchedule.AfterFailure(ConsecutiveFailures, now, registry.Held?.ExpiresAt, daemonOptions.MinRefreshInterval, backoff));
                metrics.TokenRefreshFailed(registry.Held?.RegistryHost ?? registry.Target.ExpectedHost, reason!);
            }
        }

        if (!registries.Any(r => r.Failing))
        {
            ConsecutiveFailures = 0;
        }

        _failing = [.. registries.Where(r => r.Failing).Select(r => r.Target.Index)];
        Action<string>? notify = null;
        string? started = null;
        lock (_failureLock)
        {
            if (ConsecutiveFailures == 0)
            {
                _ongoingFailure = null;
            }
            else if (failed > 0 && ConsecutiveFailures == 1)
            {
                _ongoingFailure = started = string.Join("; ", outcomes.Where(o => o.Token is null).Select(o => $"{o.Registry.Target.DisplayName}: {o.FailureReason}"));
                notify = _failureStarted;
            }
        }

        notify?.Invoke(started!);

        Publish([.. registries.Select(r => r.Held)], failed);
    }

    /// <summary>
    /// Publishes what is held once at least one registry has a token: a registry that keeps failing
    /// from the start holds back only the profiles that use it, never the others.
    /// </summary>
    private void Publish(EcrAuthorizationToken?[] held, int failed)
    {
        var missing = held.Count(t => t is null);
        if (missing > 0)
        {
            logger.WaitingForTokens(missing, held.Length);
        }

        if (missing == held.Length)
        {
            return;
        }

        var published = TokenSet.From(held, _hosts ??= RegistryHosts.From(options.Value.Registries));
        var previous = _current;
        if (published.SameAs(previous))
        {
            return;
        }

        Previous = previous;
        _current = published;
        logger.TokensPublished(published.Tokens.Count, published.Expiry, failed);
        _firstToken.TrySetResult();
        Changed?.Invoke(published);
    }

    private async Task SleepAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        using var timeout = new CancellationTokenSource(RefreshSchedule.Clamp(delay), time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
        try
        {
            await _wake.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The scheduled time has come.
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
