using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// An HTTP CONNECT proxy on loopback that sends a tunnel for one of <see cref="Routes"/>' host names
/// to that route's loopback port, and refuses (403) every other host. Given to one client process
/// as <c>HTTPS_PROXY</c>, it makes a real host name (an ECR registry host) reach a local server for
/// that process only: the client still asks for the host name, looks up its credentials by it and
/// checks the server's certificate against it; nothing global (/etc/hosts, DNS) changes.
/// <see cref="Tunnelled"/> lists the hosts it tunnelled, in order.
/// </summary>
internal sealed class HostRoutingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _tunnelled = new();
    private readonly Task _accepting;

    public HostRoutingProxy(IReadOnlyDictionary<string, int> routes)
    {
        Routes = routes;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Host name (as in CONNECT host:443) to loopback port.</summary>
    public IReadOnlyDictionary<string, int> Routes { get; }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public IReadOnlyList<string> Tunnelled => [.. _tunnelled];

    private async Task AcceptAsync()
    {
        var clients = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                clients.Add(ServeAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Stopped.
        }

        await Task.WhenAll(clients);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var head = await ReadHeadAsync(stream);
            var parts = head.Split("\r\n")[0].Split(' ');
            var target = parts.Length == 3 && parts[0] == "CONNECT" ? parts[1] : null;
            var colon = target?.LastIndexOf(':') ?? -1;
            if (target is null || colon < 0 || target[(colon + 1)..] != "443" || !Routes.TryGetValue(target[..colon], out var port))
            {
                await stream.WriteAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), _stop.Token);
                return;
            }

            using var upstream = new TcpClient();
            await upstream.ConnectAsync(IPAddress.Loopback, port, _stop.Token);
            _tunnelled.Enqueue(target[..colon]);
            await stream.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(), _stop.Token);
            var other = upstream.GetStream();
            await Task.WhenAny(CopyAsync(stream, other), CopyAsync(other, stream));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client or the server hung up, or the proxy stops.
        }
    }

    private async Task CopyAsync(Stream from, Stream to)
    {
        try
        {
            await from.CopyToAsync(to, _stop.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side closed.
        }
    }

    /// <summary>The request line and headers, up to the blank line (read byte by byte, so no tunnel byte is consumed).</summary>
    private async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (head.Length < 8192 && !head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0)
            {
                break;
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
