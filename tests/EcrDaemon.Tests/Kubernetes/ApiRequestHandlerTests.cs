using System.Diagnostics;
using System.Net;
using EcrDaemon.Kubernetes;
using EcrDaemon.Testing;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

public sealed class ApiRequestHandlerTests
{
    private const string List = "https://kubernetes.test/api/v1/namespaces";
    private const string Watch = "https://kubernetes.test/api/v1/namespaces?watch=true&resourceVersion=1";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    /// <summary>The API server's stand-in: counts the requests that reach it and answers as told.</summary>
    private sealed class Inner(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer) : HttpMessageHandler
    {
        private int _arrived;

        public int Arrived => Volatile.Read(ref _arrived);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _arrived);
            return answer(request, cancellationToken);
        }
    }

    private static Task<HttpResponseMessage> Ok(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });

    private static async Task<HttpResponseMessage> Never(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new UnreachableException();
    }

    private static (HttpMessageInvoker Invoker, Inner Inner) Build(double qps, int burst, TimeSpan timeout, Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer)
    {
        var inner = new Inner(answer);
#pragma warning disable CA2000 // The invoker disposes the handler, and the handler its inner handler.
        var handler = new ApiRequestHandler(qps, burst, timeout) { InnerHandler = inner };
#pragma warning restore CA2000
        return (new HttpMessageInvoker(handler), inner);
    }

    private static async Task<HttpStatusCode> Get(HttpMessageInvoker invoker, string uri, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var response = await invoker.SendAsync(request, cancellationToken);
        return response.StatusCode;
    }

    [Theory]
    [InlineData("https://k/api/v1/namespaces?watch=true", true)]
    [InlineData("https://k/api/v1/namespaces?watch=True", true)]
    [InlineData("https://k/api/v1/namespaces?resourceVersion=5&watch=1", true)]
    [InlineData("https://k/api/v1/secrets?fieldSelector=type%3Dx&watch=true&timeoutSeconds=300", true)]
    [InlineData("https://k/api/v1/namespaces?watchers=true", false)]
    [InlineData("https://k/api/v1/namespaces?watch=false", false)]
    [InlineData("https://k/api/v1/namespaces?watch=0", false)]
    [InlineData("https://k/api/v1/namespaces?labelSelector=watch%3Dtrue", false)]
    [InlineData("https://k/api/v1/namespaces?nowatch=true", false)]
    [InlineData("https://k/api/v1/namespaces", false)]
    public void IsWatch_reads_the_watch_query_parameter(string uri, bool watch)
    {
        Assert.Equal(watch, ApiRequestHandler.IsWatch(new Uri(uri)));
    }

    [Fact]
    public void A_request_without_a_uri_is_not_a_watch()
    {
        Assert.False(ApiRequestHandler.IsWatch(null));
    }

    [Fact]
    public async Task Without_a_rate_limit_every_request_passes_straight_through()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (invoker, inner) = Build(0, 1, Long, async (request, _) =>
        {
            await release.Task;
            return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request };
        });
        using var _ = invoker;

        var requests = Enumerable.Range(0, 12).Select(_ => Get(invoker, List)).ToList();

        // Nothing waits before the inner handler: all twelve are there while none has been answered.
        Assert.Equal(12, inner.Arrived);
        Assert.DoesNotContain(requests, r => r.IsCompleted);
        release.SetResult();
        Assert.All(await Task.WhenAll(requests).WaitAsync(Deadline), status => Assert.Equal(HttpStatusCode.OK, status));
    }

    [Fact]
    public async Task With_a_rate_limit_requests_beyond_the_burst_wait_for_tokens()
    {
        var (invoker, inner) = Build(5, 2, Long, Ok);
        using var _ = invoker;
        var clock = Stopwatch.StartNew();

        var requests = Enumerable.Range(0, 12).Select(_ => Get(invoker, List)).ToList();
        var arrivedAtOnce = inner.Arrived;
        var completedAtOnce = requests.Count(r => r.IsCompletedSuccessfully);

        // The burst of two goes at once; the other ten get a token each 200 ms.
        Assert.InRange(arrivedAtOnce, 2, 11);
        Assert.InRange(completedAtOnce, 2, 11);
        Assert.All(await Task.WhenAll(requests).WaitAsync(Deadline), status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(12, inner.Arrived);
        // Ten more tokens at 5 per second take at least 1.8 s; a generous lower bound cannot flake.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1), $"12 requests at 5 qps finished in {clock.Elapsed}");
    }

    [Fact]
    public async Task Watches_are_not_rate_limited()
    {
        var (invoker, inner) = Build(5, 2, Long, Ok);
        using var _ = invoker;

        var lists = Enumerable.Range(0, 3).Select(_ => Get(invoker, List)).ToList();
        var afterLists = inner.Arrived;
        var watches = Enumerable.Range(0, 5).Select(_ => Get(invoker, Watch)).ToList();

        // The burst is spent (the third list waits), yet all five watches reach the server at once.
        Assert.InRange(afterLists, 2, 2 + 1);
        Assert.All(watches, w => Assert.True(w.IsCompletedSuccessfully));
        Assert.Equal(afterLists + 5, inner.Arrived);
        await Task.WhenAll(lists).WaitAsync(Deadline);
    }

    [Fact]
    public async Task A_request_that_gets_no_answer_fails_with_a_timeout()
    {
        var (invoker, inner) = Build(0, 1, TimeSpan.FromMilliseconds(200), Never);
        using var _ = invoker;

        var error = await Assert.ThrowsAsync<TimeoutException>(() => Get(invoker, List).WaitAsync(Deadline));

        Assert.Contains("GET /api/v1/namespaces got no answer within", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, inner.Arrived);
    }

    /// <summary>A body that sends its first bytes and then nothing more, as an API server (or a proxy before it) that stalls.</summary>
    private sealed class StalledBody : Stream
    {
        private bool _sent;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_sent)
            {
                _sent = true;
                buffer.Span[0] = (byte)'{';
                return 1;
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    [Theory]
    [InlineData(HttpStatusCode.OK)]
    [InlineData(HttpStatusCode.InternalServerError)]
    public async Task A_body_that_stalls_after_the_headers_fails_with_a_timeout_too(HttpStatusCode status)
    {
        // explain, check's callers and every list read a body after its headers: without a bound, a stall there hangs them for ever.
        var (invoker, _) = Build(0, 1, TimeSpan.FromMilliseconds(200), (request, _) =>
            Task.FromResult(new HttpResponseMessage(status) { RequestMessage = request, Content = new StreamContent(new StalledBody()) }));
        using var __ = invoker;
        using var request = new HttpRequestMessage(HttpMethod.Get, List);
        using var response = await invoker.SendAsync(request, CancellationToken.None).WaitAsync(Deadline);

        var stream = await response.Content.ReadAsStreamAsync();
        var body = await Assert.ThrowsAsync<TimeoutException>(async () =>
        {
            var buffer = new byte[16];
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }).WaitAsync(Deadline);
        Assert.Contains("GET /api/v1/namespaces", body.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_caller_gets_a_cancellation_not_a_timeout()
    {
        var (invoker, inner) = Build(0, 1, Long, Never);
        using var _ = invoker;
        using var cancel = new CancellationTokenSource();

        var request = Get(invoker, List, cancel.Token);
        Assert.Equal(1, inner.Arrived);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitAsync(Deadline));
    }

    [Fact]
    public async Task A_watch_is_not_subject_to_the_timeout()
    {
        var (invoker, inner) = Build(0, 1, TimeSpan.FromMilliseconds(200), Never);
        using var _ = invoker;
        using var cancelWatch = new CancellationTokenSource();

        var watch = Get(invoker, Watch, cancelWatch.Token);
        await Poll.Until(() => inner.Arrived == 1, () => $"{inner.Arrived} requests arrived");

        // Two lists started after the watch time out one after the other, so well over the
        // timeout has passed for the watch too.
        for (var i = 0; i < 2; i++)
        {
            var error = await Assert.ThrowsAsync<TimeoutException>(() => Get(invoker, List).WaitAsync(Deadline));
            Assert.Contains("got no answer within", error.Message, StringComparison.Ordinal);
        }

        Assert.False(watch.IsCompleted, $"the watch ended: {watch.Status}");
        await cancelWatch.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch.WaitAsync(Deadline));
    }
}
