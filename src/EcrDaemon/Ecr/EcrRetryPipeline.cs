using EcrDaemon.Configuration;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace EcrDaemon.Ecr;

/// <summary>
/// Polly pipeline for one GetAuthorizationToken call: transient failures are retried with capped
/// exponential backoff and jitter; attempts and backoffs together are bounded by TotalTimeout.
/// Permanent failures return at once.
/// </summary>
internal static class EcrRetryPipeline
{
    public delegate void RetryObserver(int attempt, TimeSpan delay, EcrFailure failure);

    public static ResiliencePipeline<EcrCallResult> Create(EcrRetryOptions options, TimeProvider timeProvider, RetryObserver onRetry)
    {
        var builder = new ResiliencePipelineBuilder<EcrCallResult> { TimeProvider = timeProvider }
            .AddTimeout(new TimeoutStrategyOptions { Timeout = options.TotalTimeout });
        if (options.MaxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions<EcrCallResult>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result?.Failure?.IsTransient == true),
                MaxRetryAttempts = options.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.BaseDelay,
                MaxDelay = options.MaxDelay,
                OnRetry = args =>
                {
                    onRetry(args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Result!.Failure!);
                    return ValueTask.CompletedTask;
                },
            });
        }

        return builder.Build();
    }

    /// <summary>Runs <paramref name="call"/> through the pipeline; a spent total bound becomes a timeout failure.</summary>
    public static async Task<EcrCallResult> ExecuteAsync(
        this ResiliencePipeline<EcrCallResult> pipeline,
        Func<CancellationToken, Task<EcrCallResult>> call,
        TimeSpan totalTimeout,
        CancellationToken cancellationToken)
    {
        EcrCallResult? last = null;
        try
        {
            return await pipeline.ExecuteAsync(async token => last = await call(token), cancellationToken);
        }
        catch (TimeoutRejectedException)
        {
            var after = last?.Failure is { } failure ? $"; the last attempt failed: {failure.ReasonLabel}: {failure.Message}" : "";
            return EcrCallResult.Failed(EcrFailure.Transient(EcrFailureReason.Timeout,
                $"gave up after the total retry bound of {totalTimeout.TotalSeconds:0.###} s{after}"));
        }
    }
}
