using System.Net;
using EcrDaemon.Diagnostics;
using EcrDaemon.Primitives;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Kubernetes;

/// <summary>Timings of every informer; tests shorten them.</summary>
internal sealed record InformerSettings
{
    /// <summary>Objects per list page.</summary>
    public int PageSize { get; init; } = 500;

    /// <summary>The server closes each watch after a random time in [WatchTimeout, 2 × WatchTimeout).</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A watch with no event and no bookmark for this long is treated as stalled and restarted.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The first delay after a failed list or watch; it doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The delay after the <paramref name="failures"/>-th failed list or watch in a row:
    /// <see cref="InitialBackoff"/>, doubling, capped at <see cref="MaxBackoff"/>, times a factor in
    /// [0.8, 1.2) chosen by <paramref name="jitter"/> in [0, 1).
    /// </summary>
    public TimeSpan RetryDelay(int failures, double jitter) => Backoff.Jittered(Backoff.Exponential(InitialBackoff, MaxBackoff, failures), jitter);
}

/// <summary>What liveness needs to know of an informer.</summary>
internal interface IInformerStatus
{
    string Resource { get; }

    /// <summary>When the informer last heard from the server (a list, an event or a bookmark); <see cref="DateTimeOffset.MinValue"/> before that.</summary>
    DateTimeOffset LastActivity { get; }

    /// <summary>
    /// The loop's heartbeat: when it last got on (started an attempt, finished a backoff, received a
    /// page or an event, or its watchdog found the stream within its stall timeout). It beats while
    /// the server is down too; only a loop that is itself stuck stops beating.
    /// </summary>
    DateTimeOffset LastProgress { get; }
}

/// <summary>An informer as its runner sees it: run it, and know when it has listed once.</summary>
internal interface IInformer : IInformerStatus
{
    /// <summary>Completes after the first full list.</summary>
    Task Synced { get; }

    /// <summary>Lists, then watches, until cancelled.</summary>
    Task RunAsync(CancellationToken cancellationToken);
}

/// <summary>
/// List, then watch from the list's resourceVersion, for one resource across all namespaces.
/// Keeps the resourceVersion current from every event and bookmark; on 410 it lists again (and
/// the cache reports what vanished), at once after a healthy watch, but with backoff when the
/// watch expires again right after a list; any other failure waits with capped, jittered backoff
/// and watches again from where it was. A watch silent past <see cref="InformerSettings.StallTimeout"/>
/// is restarted by a watchdog. <see cref="Synced"/> completes after the first full list.
/// </summary>
internal sealed class Informer<T>(
    string resource,
    Informer<T>.ListPage list,
    Informer<T>.Watch watch,
    IInformerSink<T> sink,
    InformerSettings settings,
    TimeProvider time,
    KubernetesMetrics metrics,
    ILogger logger)
    : IInformer
    where T : IKubernetesObject<V1ObjectMeta>
{
    public delegate Task<(IList<T> Items, string ResourceVersion, string? Continue)> ListPage(int limit, string? continueToken, CancellationToken cancellationToken);

    public delegate IAsyncEnumerable<(WatchEventType Type, T Object)> Watch(string resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken);

    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastActivityTicks;
    private long _lastProgressTicks = time.GetUtcNow().UtcTicks;

    public string Resource => resource;

    public Task Synced => _synced.Task;

    public DateTimeOffset LastActivity => new(Interlocked.Read(ref _lastActivityTicks), TimeSpan.Zero);

    public DateTimeOffset LastProgress => new(Interlocked.Read(ref _lastProgressTicks), TimeSpan.Zero);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        string? resourceVersion = null;
        var failures = 0;
        var expired = 0; // 410s in a row without a healthy watch between them
        while (!cancellationToken.IsCancellationRequested)
        {
            Beat();
            Exception? failure;
            try
            {
                if (resourceVersion is null)
                {
                    resourceVersion = await ListAllAsync(cancellationToken);
                    _synced.TrySetResult();
                }

                var outcome = await WatchOnceAsync(resourceVersion, cancellationToken);
                resourceVersion = outcome.Gone ? null : outcome.ResourceVersion;
                metrics.WatchRestarted(resource, outcome.Reason);
                expired = outcome switch
                {
                    { Gone: true, Healthy: true } => 1,
                    { Gone: true } => expired + 1,
                    { Healthy: true } => 0,
                    _ => expired,
                };
                if (outcome.Gone && expired == 1)
                {
                    logger.WatchExpired(resource);
                }
                else if (outcome.Healthy && outcome.Error is not null && logger.IsEnabled(LogLevel.Information))
                {
                    logger.WatchRestarted(resource, ApiErrors.Describe(outcome.Error));
                }

                failure = outcome.Gone || outcome.Healthy ? null : outcome.Error ?? new IOException("the watch ended at once without an event");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                failure = e;
                metrics.WatchRestarted(resource, "error");
                if (e is HttpOperationException { Response.StatusCode: HttpStatusCode.Gone })
                {
                    resourceVersion = null; // an expired continue token while paging
                }
            }

            // One 410 relists at once; a watch that expires again right after its list (list, 410, list...)
            // backs off like any other failure, so that it cannot loop as fast as the rate limit allows.
            var expiredAgain = failure is null && resourceVersion is null && expired > 1;
            if (failure is null && !expiredAgain)
            {
                failures = 0;
                continue;
            }

            failures++;
            var delay = settings.RetryDelay(failures, Random.Shared.NextDouble());
            if (failure is null)
            {
                logger.WatchExpiredAgain(resource, expired, delay);
            }
            else
            {
                logger.WatchFailed(resource, ApiErrors.Describe(failure), delay);
            }

            try
            {
                await Task.Delay(delay, time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Lists every page and hands the objects to the sink as each page arrives, so that only one
    /// page of full objects is held at a time; the sink replaces its contents once the list is complete.
    /// </summary>
    private async Task<string> ListAllAsync(CancellationToken cancellationToken)
    {
        var count = 0;
        var resourceVersion = "";
        await sink.ReplaceAsync(Pages(), cancellationToken);
        logger.Listed(resource, count, resourceVersion);
        return resourceVersion;

        async IAsyncEnumerable<T> Pages()
        {
            string? continueToken = null;
            do
            {
                var page = await list(settings.PageSize, continueToken, cancellationToken);
                foreach (var item in page.Items)
                {
                    yield return item;
                }

                Beat();
                count += page.Items.Count;
                continueToken = string.IsNullOrEmpty(page.Continue) ? null : page.Continue;
                resourceVersion = page.ResourceVersion;
            }
            while (continueToken is not null);

            Touch();
        }
    }

    /// <param name="Reason">
    /// Why it ended, the <c>reason</c> label of <c>ecr_daemon_watch_restarts_total</c>: <c>closed</c>
    /// (the server ended it), <c>expired</c> (410), <c>stalled</c> (the watchdog), <c>dropped</c> (the
    /// connection broke, or an ERROR event or a bad line arrived), <c>error</c> (the server refused to open it).
    /// </param>
    private sealed record WatchOutcome(string ResourceVersion, bool Gone, bool Healthy, Exception? Error, string Reason);

    /// <summary>
    /// One watch stream, until the server ends it, it fails, expires (410) or stalls. It was
    /// healthy when it delivered an event or lasted a while; a stream that fails at once is not.
    /// </summary>
    private async Task<WatchOutcome> WatchOnceAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        using var stream = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var gone = false;
        var sawEvent = false;
        Exception? error = null;
        var started = time.GetUtcNow();
        var timeoutSeconds = Math.Max(1, (int)(settings.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble())));
        Touch();
        await using var watchdog = time.CreateTimer(_ =>
        {
            if (time.GetUtcNow() - LastActivity > settings.StallTimeout)
            {
                // No beat: if the stream does not end now that it is cancelled, the loop is stuck.
                logger.WatchStalled(resource, settings.StallTimeout);
                stream.Cancel();
            }
            else
            {
                Beat();
            }
        }, null, Tick(), Tick());

        try
        {
            var events = watch(resourceVersion, timeoutSeconds, e =>
            {
                if (e is KubernetesException { Status.Code: 410 })
                {
                    gone = true;
                }
                else
                {
                    error ??= e;
                }
            }, stream.Token);
            await foreach (var (type, obj) in events.WithCancellation(stream.Token))
            {
                Touch();
                sawEvent = true;
                resourceVersion = obj.Metadata?.ResourceVersion ?? resourceVersion;
                switch (type)
                {
                    case WatchEventType.Added or WatchEventType.Modified:
                        sink.Upsert(obj);
                        break;
                    case WatchEventType.Deleted:
                        sink.Remove(obj);
                        break;
                    default:
                        break; // BOOKMARK: only its resourceVersion matters.
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error ??= new TimeoutException($"no event or bookmark for {settings.StallTimeout}");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Gone)
        {
            gone = true; // the server refused the watch itself with 410: the resourceVersion is too old
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            error ??= e;
        }

        var healthy = sawEvent || time.GetUtcNow() - started >= TimeSpan.FromSeconds(1);
        var reason = gone ? "expired" : error switch
        {
            null => "closed",
            TimeoutException => "stalled",
            HttpOperationException => "error",
            _ => "dropped",
        };
        return new WatchOutcome(resourceVersion, gone, healthy, error, reason);
    }

    private TimeSpan Tick() => settings.StallTimeout / 4;

    private void Touch()
    {
        Interlocked.Exchange(ref _lastActivityTicks, time.GetUtcNow().UtcTicks);
        Beat();
    }

    private void Beat() => Interlocked.Exchange(ref _lastProgressTicks, time.GetUtcNow().UtcTicks);
}
