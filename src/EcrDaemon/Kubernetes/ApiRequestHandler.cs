using System.Threading.RateLimiting;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// Sits under KubernetesClient: applies the client-side rate limit (<c>KubernetesQps</c>,
/// <c>KubernetesBurst</c>) and a per-request timeout to every request except watches. Watches are
/// long-lived streams; the informer's own watchdog looks after them.
/// </summary>
internal sealed class ApiRequestHandler : DelegatingHandler
{
    private readonly TokenBucketRateLimiter? _limiter;
    private readonly TimeSpan _timeout;

    public ApiRequestHandler(double qps, int burst, TimeSpan timeout)
    {
        _timeout = timeout;
        if (qps > 0)
        {
            // Refill in small steps so that the limit holds at fractions of a second too.
            var period = TimeSpan.FromMilliseconds(Math.Max(10, 1000 / qps));
            _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = burst,
                TokensPerPeriod = Math.Max(1, (int)Math.Round(qps * period.TotalSeconds)),
                ReplenishmentPeriod = period,
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            });
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (IsWatch(request.RequestUri))
        {
            return await base.SendAsync(request, cancellationToken);
        }

        if (_limiter is not null)
        {
            using var lease = await _limiter.AcquireAsync(1, cancellationToken);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            return await base.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{request.Method} {request.RequestUri?.AbsolutePath} got no answer within {_timeout.TotalSeconds:0} s");
        }
    }

    internal static bool IsWatch(Uri? uri) =>
        uri is not null && uri.Query.Split('&', '?').Any(p => p.Equals("watch=true", StringComparison.OrdinalIgnoreCase) || p == "watch=1");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _limiter?.Dispose();
        }

        base.Dispose(disposing);
    }
}
