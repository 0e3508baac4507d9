using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// Sits under KubernetesClient: counts every request (verb, resource, status code) in
/// <c>ecr_daemon_kubernetes_requests_total</c>, and applies the client-side rate limit
/// (<c>KubernetesQps</c>, <c>KubernetesBurst</c>), a per-request timeout and the retry of a 429
/// after its Retry-After to every request except watches. Watches are long-lived streams; the informer's own watchdog looks after them.
/// Every write (POST, PUT, PATCH: the reconciler's, the Events', the Lease's, cleanup's) names
/// <see cref="Markers.FieldManager"/> as its field manager, so that metadata.managedFields says who wrote what.
/// </summary>
internal sealed class ApiRequestHandler : DelegatingHandler
{
    private readonly TokenBucketRateLimiter? _limiter;
    private readonly TimeSpan _timeout;

    private readonly KubernetesMetrics? _metrics;

    public ApiRequestHandler(double qps, int burst, TimeSpan timeout, KubernetesMetrics? metrics = null)
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

    /// <summary>A 429 is retried this many times, each after its Retry-After (at most <see cref="MaxRetryAfter"/>).</summary>
    public const int MaxThrottledRetries = 5;

    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(30);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        NameFieldManager(request);
        if (IsWatch(request.RequestUri))
        {
            return await CountedAsync(request, () => base.SendAsync(request, cancellationToken));
        }

        for (var attempt = 1; ; attempt++)
        {
            var response = await CountedAsync(request, () => SendOnceAsync(request, cancellationToken));
            if (response.StatusCode != HttpStatusCode.TooManyRequests || attempt > MaxThrottledRetries)
            {
                return response;
            }

            // API priority and fairness said "not now": wait as long as it asks, then send the same request again
            // (KubernetesClient's bodies are buffered, so they can be sent twice).
            var delay = RetryAfter(response);
            response.Dispose();
            await Task.Delay(delay, cancellationToken);
        }
    }

    /// <summary>Adds <c>fieldManager=ecr-daemon</c> to a create, update or patch that does not name a field manager.</summary>
    internal static void NameFieldManager(HttpRequestMessage request)
    {
        if (request.RequestUri is not { } uri || !(request.Method == HttpMethod.Post || request.Method == HttpMethod.Put || request.Method == HttpMethod.Patch)
            || uri.Query.Contains("fieldManager=", StringComparison.Ordinal))
        {
            return;
        }

        var separator = uri.Query.Length > 1 ? "&" : "";
        request.RequestUri = new UriBuilder(uri) { Query = $"{uri.Query.TrimStart('?')}{separator}fieldManager={Markers.FieldManager}" }.Uri;
    }

    internal static TimeSpan RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : TimeSpan.FromSeconds(1));
        return delay < TimeSpan.Zero ? TimeSpan.Zero : delay > MaxRetryAfter ? MaxRetryAfter : delay;
    }

    /// <summary>One attempt, counted by verb, resource and status code (or error/timeout).</summary>
    private async Task<HttpResponseMessage> CountedAsync(HttpRequestMessage request, Func<Task<HttpResponseMessage>> send)
    {
        if (_metrics is null)
        {
            return await send();
        }

        var (verb, resource) = Describe(request);
        var code = "error";
        try
        {
            var response = await send();
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

    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_limiter is not null)
        {
            using var lease = await _limiter.AcquireAsync(1, cancellationToken);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{request.Method} {request.RequestUri?.AbsolutePath} got no answer within {_timeout.TotalSeconds:0} s");
        }

        // The body is read after the headers (the lists are decoded as they stream): its reads are bounded too, or a
        // server that stalls mid-body would hang the caller (explain, an informer's list) for ever.
        response.Content = new BoundedContent(response.Content, _timeout, $"{request.Method} {request.RequestUri?.AbsolutePath}");
        return response;
    }

    /// <summary>A response body whose reading ends with a <see cref="TimeoutException"/> once <c>timeout</c> has passed.</summary>
    private sealed class BoundedContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly TimeSpan _timeout;
        private readonly string _what;
        private readonly CancellationTokenSource _deadline;

        public BoundedContent(HttpContent inner, TimeSpan timeout, string what)
        {
            _inner = inner;
            _timeout = timeout;
            _what = what;
            _deadline = new CancellationTokenSource(timeout);
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            new BoundedStream(await _inner.ReadAsStreamAsync(cancellationToken), this);

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            Bounded(async token => { await _inner.CopyToAsync(stream, token); return 0; }, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                _deadline.Dispose();
            }

            base.Dispose(disposing);
        }

        internal async Task<T> Bounded<T>(Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline.Token);
            try
            {
                return await read(linked.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _deadline.IsCancellationRequested)
            {
                throw new TimeoutException($"{_what} did not send its whole answer within {_timeout.TotalSeconds:0} s");
            }
        }
    }

    /// <summary>The body's stream, each read bounded by its <see cref="BoundedContent"/>'s deadline.</summary>
    private sealed class BoundedStream(Stream inner, BoundedContent content) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            content.Bounded(token => inner.ReadAsync(buffer, offset, count, token), cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(content.Bounded(token => inner.ReadAsync(buffer, token).AsTask(), cancellationToken));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
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
