using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Reconciliation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Ecr;

/// <summary>
/// Holds the current ECR token of every registry and keeps it fresh. It fetches all registries at
/// start, then again when <c>RefreshAt</c> of the soonest token's life has passed (plus jitter,
/// never sooner than <c>MinRefreshInterval</c>). A failed registry keeps its last good token and is
/// retried after 30 s, doubling to 5 minutes. Once every registry has a token, the combined
/// <see cref="PullSecretContent"/> is published, and again whenever it changes.
/// </summary>
internal sealed class TokenRefresher(
    EcrTokenService tokens,
    FailureBackoff backoffs,
    DaemonMetrics metrics,
    IOptions<EcrDaemonOptions> options,
    TimeProvider time,
    ILogger<TokenRefresher> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly TaskCompletionSource _firstToken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile PullSecretContent? _current;

    /// <summary>The content every managed secret should hold, or null until every registry has a token.</summary>
    public PullSecretContent? Current => _current;

    /// <summary>The content before <see cref="Current"/>: a secret that still holds it is due a routine rotation, not a repair.</summary>
    public PullSecretContent? Previous { get; private set; }

    /// <summary>Raised (on the refresher's loop) when <see cref="Current"/> changes.</summary>
    public event Action<PullSecretContent>? Changed;

    /// <summary>Raised when a round fails after one that did not: the registries and reasons, in one sentence without secrets.</summary>
    public event Action<string>? FailureStarted;

    /// <summary>Completes once every registry has a token for the first time.</summary>
    public Task FirstToken => _firstToken.Task;

    /// <summary>Failed refresh rounds in a row; 0 after a round in which every registry succeeded.</summary>
    public int ConsecutiveFailures { get; private set; }

    /// <summary>Runs a refresh round now instead of at the scheduled time.</summary>
    public void RequestRefresh()
    {
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
        var settings = options.Value;
        var targets = tokens.Targets();
        var held = new EcrAuthorizationToken?[targets.Count];
        var fetchedAt = new DateTimeOffset[targets.Count];
        foreach (var target in targets.Where(t => t.AccountId is not null))
        {
            metrics.RegistryConfigured(target.ExpectedHost);
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var results = await tokens.FetchAllAsync(stoppingToken);
            var now = time.GetUtcNow();
            foreach (var result in results)
            {
                var index = result.Registry.Index;
                if (result.Token is not null)
                {
                    held[index] = result.Token;
                    fetchedAt[index] = now;
                    metrics.TokenRefreshed(result.Token.RegistryHost, result.Token.ExpiresAt, now);
                }
                else
                {
                    metrics.TokenRefreshFailed(held[index]?.RegistryHost ?? result.Registry.ExpectedHost, result.Failure!.ReasonLabel);
                }
            }

            var failed = results.Count(r => r.Token is null);
            ConsecutiveFailures = failed > 0 ? ConsecutiveFailures + 1 : 0;
            if (ConsecutiveFailures == 1)
            {
                FailureStarted?.Invoke(string.Join("; ", results.Where(r => r.Failure is not null)
                    .Select(r => $"{r.Registry.DisplayName}: {r.Failure!.ReasonLabel}")));
            }

            Publish(held, failed);

            var delay = NextDelay(held, fetchedAt, now, settings);
            if (failed > 0)
            {
                var soonest = held.Where(t => t is not null).Select(t => (DateTimeOffset?)t!.ExpiresAt).Min();
                var backoff = RefreshSchedule.AfterFailure(ConsecutiveFailures, now, soonest, settings.MinRefreshInterval, backoffs);
                delay = delay is { } d && d < backoff ? d : backoff;
            }

            logger.NextRefresh(now + delay!.Value, delay.Value);
            await SleepAsync(delay.Value, stoppingToken);
        }
    }

    private void Publish(EcrAuthorizationToken?[] held, int failed)
    {
        if (held.Any(t => t is null))
        {
            logger.WaitingForTokens(held.Count(t => t is null), held.Length);
            return;
        }

        var content = PullSecretContent.From(held!);
        var previous = _current;
        if (previous is not null && previous.Hash == content.Hash && previous.Expiry == content.Expiry)
        {
            return;
        }

        Previous = previous;
        _current = content;
        logger.TokensPublished(content.Hosts.Count, content.Expiry, failed);
        _firstToken.TrySetResult();
        Changed?.Invoke(content);
    }

    private static TimeSpan? NextDelay(EcrAuthorizationToken?[] held, DateTimeOffset[] fetchedAt, DateTimeOffset now, EcrDaemonOptions settings)
    {
        TimeSpan? soonest = null;
        for (var i = 0; i < held.Length; i++)
        {
            if (held[i] is { } token)
            {
                var delay = RefreshSchedule.Next(now, fetchedAt[i], token.ExpiresAt, settings.RefreshAt, settings.MinRefreshInterval, Random.Shared.NextDouble());
                soonest = soonest is null || delay < soonest ? delay : soonest;
            }
        }

        return soonest;
    }

    private async Task SleepAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        using var timeout = new CancellationTokenSource(delay, time);
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
