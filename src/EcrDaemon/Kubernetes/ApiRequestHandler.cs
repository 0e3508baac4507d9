using System.Globalization;
using System.Threading.RateLimiting;
using EcrDaemon.Diagnostics;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// Sits under KubernetesClient: counts every request (verb, resource, status code) in
/// <c>ecr_daemon_kubernetes_requests_total</c>, and applies the client-side rate limit
/// (<c>KubernetesQps</c>, <c>KubernetesBurst</c>) and a per-request timeout to every request
/// except watches. Watches are long-lived streams; the informer's own watchdog looks after them.
/// </summary>
internal sealed class ApiRequestHandler : DelegatingHandler
{
    private readonly TokenBucketRateLimiter? _limiter;
    private readonly TimeSpan _timeout;

    private readonly DaemonMetrics? _metrics;

    public ApiRequestHandler(double qps, int burst, TimeSpan timeout, DaemonMetrics? metrics = null)
    {
        _timeout = timeout;
        _metrics = metrics;
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
        if (_metrics is null)
        {
            return await SendLimitedAsync(request, cancellationToken);
        }

        var (verb, resource) = Describe(request);
        var code = "error";
        try
        {
            var response = await SendLimitedAsync(request, cancellationToken);
            code = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            return response;
        }
        catch (TimeoutException)
        {
            code = "timeout";
            throw;
        }
        finally
        {
            _metrics.KubernetesRequest(verb, resource, code);
        }
    }

    /// <summary>The Kubernetes verb and resource of a request, from its method and path (/api/v1/..., /apis/group/version/...).</summary>
    internal static (string Verb, string Resource) Describe(HttpRequestMessage request)
    {
        var segments = (request.RequestUri?.AbsolutePath ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        var rest = segments.Length switch
        {
            >= 2 when segments[0] == "api" => segments[2..],
            >= 3 when segments[0] == "apis" => segments[3..],
            _ => [],
        };
        if (rest.Length >= 3 && rest[0] == "namespaces")
        {
            rest = rest[2..];
        }

        var resource = rest.Length > 0 ? rest[0] : "other";
        var named = rest.Length > 1;
        var verb = request.Method.Method switch
        {
            "GET" when IsWatch(request.RequestUri) => "watch",
            "GET" => named ? "get" : "list",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "other",
        };
        return (verb, resource);
    }

    private async Task<HttpResponseMessage> SendLimitedAsync(HttpRequestMessage request, CancellationToken cancellationToken)
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
