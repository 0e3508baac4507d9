using System.Buffers;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace EcrDaemon.Kubernetes;

/// <summary>The type of a watch event the informers act on (an <c>ERROR</c> event is reported, not delivered).</summary>
internal enum WatchEventType
{
    Added,
    Modified,
    Deleted,

    /// <summary>Only the object's <c>metadata.resourceVersion</c> means anything.</summary>
    Bookmark,
}

/// <summary>
/// The daemon's own watch client: <c>GET &lt;path&gt;?watch=true</c> through <see cref="KubernetesApi"/>,
/// so that a watch is authenticated and handled like every other request of the client (<see cref="ApiRequestHandler"/>
/// counts it in the request metrics, and by its own rule exempts it from the rate limit and the
/// per-request timeout). Each newline-delimited event is decoded with a source-generated
/// <see cref="JsonTypeInfo{T}"/>, in one pass per line, from a pooled buffer (no string per line).
/// <list type="bullet">
/// <item>A non-2xx answer to the request is thrown as <see cref="HttpOperationException"/> with the status and body, as every other call.</item>
/// <item>An <c>ERROR</c> event (410 Expired or any other status) is passed to <c>onError</c> as a <see cref="KubernetesException"/> with its status, and the stream ends.</item>
/// <item>A line that is not a watch event (not JSON, unknown type, no object), or a last line cut short, is passed to <c>onError</c> as <see cref="InvalidDataException"/>, and the stream ends; no half event is delivered.</item>
/// <item>The server ending the stream at a line boundary (its <c>timeoutSeconds</c>) ends the enumeration without an error.</item>
/// <item>A broken connection throws what the response stream threw; cancellation throws <see cref="OperationCanceledException"/>.</item>
/// </list>
/// </summary>
internal sealed class WatchStream(KubernetesApi api)
{
    /// <summary>The first size of a stream's line buffer (pooled); it doubles for longer lines.</summary>
    private const int InitialBufferSize = 16 * 1024;

    /// <summary>A line longer than this is not a watch event (an object in etcd is at most about 1.5 MB).</summary>
    internal const int MaxLineLength = 64 * 1024 * 1024;

    /// <summary>
    /// Watches the collection at <paramref name="path"/> (e.g. <c>/api/v1/namespaces</c>) from
    /// <paramref name="resourceVersion"/>, with bookmarks, until the server ends it after
    /// <paramref name="timeoutSeconds"/>, it breaks, or <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync<T>(
        string path,
        JsonTypeInfo<T> typeInfo,
        string resourceVersion,
        int timeoutSeconds,
        string? fieldSelector,
        Action<Exception> onError,
        [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class
    {
        using var response = await OpenAsync(path, resourceVersion, timeoutSeconds, fieldSelector, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        try
        {
            var start = 0; // the unconsumed bytes are buffer[start..end)
            var end = 0;
            var scanned = 0; // buffer[start..scanned) holds no newline
            var line = 0;
            while (true)
            {
                var newline = buffer.AsSpan(scanned, end - scanned).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var length = scanned + newline - start;
                    var decoded = Decode(buffer.AsSpan(start, length), typeInfo, path, ++line);
                    start = scanned = start + length + 1;
                    if (decoded.Error is not null)
                    {
                        onError(decoded.Error);
                        yield break;
                    }

                    if (decoded.Object is not null)
                    {
                        yield return (decoded.Type, decoded.Object);
                    }

                    continue;
                }

                scanned = end;
                if (start == end)
                {
                    start = end = scanned = 0;
                }
                else if (end == buffer.Length)
                {
                    if (end - start >= MaxLineLength)
                    {
                        onError(new InvalidDataException($"line {line + 1} of the watch of {path} is longer than {MaxLineLength} bytes"));
                        yield break;
                    }

                    (buffer, start, end, scanned) = MakeRoom(buffer, start, end);
                }

                int read;
                try
                {
                    read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken);
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    // Cancelling a read can surface as an IOException or ObjectDisposedException from the transport.
                    throw new OperationCanceledException(cancellationToken);
                }

                if (read == 0)
                {
                    if (!IsBlank(buffer.AsSpan(start, end - start)))
                    {
                        onError(new InvalidDataException($"the watch of {path} ended in the middle of line {line + 1} ({end - start} bytes without a newline)"));
                    }

                    yield break;
                }

                end += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Sends the watch request; a non-2xx answer is read and thrown as <see cref="HttpOperationException"/>.</summary>
    private Task<HttpResponseMessage> OpenAsync(string path, string resourceVersion, int timeoutSeconds, string? fieldSelector, CancellationToken cancellationToken)
    {
        var query = string.Create(CultureInfo.InvariantCulture,
            $"?watch=true&allowWatchBookmarks=true&resourceVersion={Uri.EscapeDataString(resourceVersion)}&timeoutSeconds={timeoutSeconds}");
        if (fieldSelector is not null)
        {
            query += $"&fieldSelector={Uri.EscapeDataString(fieldSelector)}";
        }

        return api.SendAsync(HttpMethod.Get, path + query, null, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    /// <summary>Room for more bytes: the unconsumed ones moved to the front, or a buffer twice as large.</summary>
    private static (byte[] Buffer, int Start, int End, int Scanned) MakeRoom(byte[] buffer, int start, int end)
    {
        var length = end - start;
        if (start > 0)
        {
            buffer.AsSpan(start, length).CopyTo(buffer);
            return (buffer, 0, length, length);
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxLineLength + 1));
        buffer.AsSpan(0, length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(buffer);
        return (larger, 0, length, length);
    }

    private static bool IsBlank(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept(" \t\r\n"u8) < 0;

    private readonly record struct Decoded<T>(WatchEventType Type, T? Object, Exception? Error);

    /// <summary>
    /// One line, <c>{"type":..,"object":..}</c> in either order, decoded in one pass when the type
    /// comes first (the API server's order); when the object comes first it is skipped and decoded
    /// once the type is known. A blank line decodes to nothing.
    /// </summary>
    private static Decoded<T> Decode<T>(ReadOnlySpan<byte> line, JsonTypeInfo<T> typeInfo, string path, int number)
        where T : class
    {
        if (IsBlank(line))
        {
            return default;
        }

        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Bad("it is not a JSON object");
            }

            string? type = null;
            T? obj = null;
            V1Status? status = null;
            var objectStart = -1L;
            var objectLength = 0L;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    type = reader.TokenType == JsonTokenType.String ? Type(ref reader) : null;
                    if (type is null)
                    {
                        return Bad("its type is not one of ADDED, MODIFIED, DELETED, BOOKMARK, ERROR");
                    }
                }
                else if (reader.ValueTextEquals("object"u8))
                {
                    reader.Read();
                    if (type is null)
                    {
                        objectStart = reader.TokenStartIndex;
                        reader.Skip();
                        objectLength = reader.BytesConsumed - objectStart;
                    }
                    else if (type == "ERROR")
                    {
                        status = JsonSerializer.Deserialize(ref reader, StatusSourceGenerationContext.Default.V1Status);
                    }
                    else
                    {
                        obj = JsonSerializer.Deserialize(ref reader, typeInfo);
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return Bad("it is not one JSON object");
            }

            if (type is null)
            {
                return Bad("it has no type");
            }

            if (objectStart >= 0)
            {
                // The object came before the type: decode it now that the type is known.
                var value = line.Slice((int)objectStart, (int)objectLength);
                if (type == "ERROR")
                {
                    status = JsonSerializer.Deserialize(value, StatusSourceGenerationContext.Default.V1Status);
                }
                else
                {
                    obj = JsonSerializer.Deserialize(value, typeInfo);
                }
            }

            if (type == "ERROR")
            {
                return status is null ? Bad("its ERROR has no status") : new(default, null, new KubernetesException(status));
            }

            return obj is null ? Bad("it has no object") : new(Event(type), obj, null);
        }
        catch (JsonException e)
        {
            // The reader's and serializer's messages name a position or a JSON path, never a value.
            return Bad($"it is not valid JSON: {e.Message}");
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or NotSupportedException or OverflowException or ArgumentException)
        {
            // A model's own converter refused a value (a timestamp, a quantity); its message may quote the value, so only its type.
            return Bad($"a value in it could not be decoded ({e.GetType().Name})");
        }

        Decoded<T> Bad(string why) => new(default, null, new InvalidDataException($"line {number} of the watch of {path} is not a watch event: {why}"));
    }

    private static string? Type(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("ADDED"u8) ? "ADDED"
        : reader.ValueTextEquals("MODIFIED"u8) ? "MODIFIED"
        : reader.ValueTextEquals("DELETED"u8) ? "DELETED"
        : reader.ValueTextEquals("BOOKMARK"u8) ? "BOOKMARK"
        : reader.ValueTextEquals("ERROR"u8) ? "ERROR"
        : null;

    private static WatchEventType Event(string type) => type switch
    {
        "ADDED" => WatchEventType.Added,
        "MODIFIED" => WatchEventType.Modified,
        "DELETED" => WatchEventType.Deleted,
        _ => WatchEventType.Bookmark,
    };
}
