using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.TestCluster.Storage;
using Microsoft.AspNetCore.Http;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// A watch response: newline-delimited <c>{"type":..,"object":..}</c> events, BOOKMARKs when asked
/// for, an ERROR event with 410 Expired when the requested resourceVersion is too old, and an end
/// after <c>timeoutSeconds</c>.
/// </summary>
public static class WatchResponder
{
    /// <summary>About 24 days: the longest delay a CancellationTokenSource takes.</summary>
    private const long MaxTimeoutSeconds = int.MaxValue / 1000;

    public static async Task ServeAsync(HttpContext ctx, ObjectStore store, ApiRequest request, LabelSelector labels,
        FieldSelector fields, ListParameters parameters, bool table, TestClusterOptions options, Faults faults, TimeProvider time)
    {
        // The store counts in long; a resourceVersion beyond it is in the future either way.
        var from = QueryParameters.ResourceVersion(parameters.ResourceVersion) is { } rv ? (long)Math.Min(rv, long.MaxValue) : (long?)null;

        var ns = request.Type.Namespaced && request.Namespace.Length > 0 ? request.Namespace : null;
        var (watcher, compacted) = faults.TakeWatchExpiry() ? (null, -1) : store.Watch(request.Type, ns, labels, fields, from);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = table ? ApiHandler.TableContentType : "application/json";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        if (watcher is null)
        {
            var expired = ApiException.Expired(compacted < 0
                ? string.Create(CultureInfo.InvariantCulture, $"too old resource version: {from} (injected)")
                : string.Create(CultureInfo.InvariantCulture, $"too old resource version: {from} ({compacted})"));
            await WriteLineAsync(ctx, "ERROR", JsonSerializer.SerializeToUtf8Bytes(expired.ToStatus()));
            return;
        }

        // handlers/get.go: timeoutSeconds unset or 0 means the server's own timeout; a negative one
        // is a timer that has already fired, so the watch ends at once.
        var timeout = parameters.TimeoutSeconds is { } seconds and not 0
            ? TimeSpan.FromSeconds(Math.Clamp(seconds, 0, MaxTimeoutSeconds))
            : options.DefaultWatchTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        cts.CancelAfter(timeout);
        var bookmarks = parameters.AllowWatchBookmarks
            ? BookmarkLoopAsync(watcher, options.BookmarkInterval, time, cts.Token)
            : Task.CompletedTask;
        var firstTable = true;
        try
        {
            await foreach (var message in watcher.Reader.ReadAllAsync(cts.Token))
            {
                byte[] payload;
                if (message.Item is null)
                {
                    payload = JsonSerializer.SerializeToUtf8Bytes(new JsonObject
                    {
                        ["kind"] = request.Type.Kind,
                        ["apiVersion"] = request.Type.ApiVersion,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = message.ResourceVersion.ToString(CultureInfo.InvariantCulture) },
                    });
                }
                else if (table)
                {
                    payload = JsonSerializer.SerializeToUtf8Bytes(Tables.ForObject(request.Type, message.Item.Node, time.GetUtcNow(), firstTable));
                    firstTable = false;
                }
                else
                {
                    payload = message.Item.Json;
                }

                if (message.Item is not null)
                {
                    await faults.HoldWatchEventAsync(request.Type.Plural, message.Item.Node["metadata"]?["namespace"]?.GetValue<string>() ?? "", cts.Token);
                }

                switch (faults.TakeWatchBreak())
                {
                    case WatchBreak.BadJson:
                        await ctx.Response.Body.WriteAsync("{\"type\":\"MODIFIED\",\"object\":{\"kind\":\n"u8.ToArray(), cts.Token);
                        await ctx.Response.Body.FlushAsync(cts.Token);
                        break;
                    case WatchBreak.ResetMidEvent:
                        await ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($"{{\"type\":\"{message.Type}\",\"object\":"), cts.Token);
                        await ctx.Response.Body.WriteAsync(payload.AsMemory(0, payload.Length / 2), cts.Token);
                        await ctx.Response.Body.FlushAsync(cts.Token);
                        ctx.Abort();
                        return;
                    default:
                        break;
                }

                await WriteLineAsync(ctx, message.Type, payload, cts.Token);
                if (message.Item is not null && !watcher.Delivered())
                {
                    break;
                }
            }

            if (faults.Down)
            {
                ctx.Abort();
            }
        }
        catch (OperationCanceledException)
        {
            // Timeout or client gone: the stream simply ends.
        }
        finally
        {
            watcher.Close();
            watcher.Dispose();
            await cts.CancelAsync();
            await bookmarks;
        }
    }

    private static async Task BookmarkLoopAsync(Watcher watcher, TimeSpan interval, TimeProvider time, CancellationToken token)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(token))
            {
                watcher.Bookmark();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task WriteLineAsync(HttpContext ctx, string type, byte[] obj, CancellationToken token = default)
    {
        var head = Encoding.UTF8.GetBytes($"{{\"type\":\"{type}\",\"object\":");
        var buffer = new byte[head.Length + obj.Length + 2];
        head.CopyTo(buffer, 0);
        obj.CopyTo(buffer, head.Length);
        buffer[^2] = (byte)'}';
        buffer[^1] = (byte)'\n';
        await ctx.Response.Body.WriteAsync(buffer, token);
        await ctx.Response.Body.FlushAsync(token);
    }
}
