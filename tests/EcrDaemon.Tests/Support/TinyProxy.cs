using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// A real forward proxy (Debian's tinyproxy) on 127.0.0.1, run in the foreground with its own
/// configuration and log in a temporary directory. <see cref="Requests"/> reads the log: every
/// request tinyproxy received, as "METHOD target" (a plain-HTTP request's absolute URL, or
/// "CONNECT host:port" for HTTPS), in order.
/// </summary>
internal sealed partial class TinyProxy : IDisposable
{
    private readonly DirectoryInfo directory;
    private readonly BackgroundProcess process;

    private TinyProxy(DirectoryInfo directory, BackgroundProcess process, int port)
    {
        this.directory = directory;
        this.process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The value for HTTPS_PROXY / HTTP_PROXY.</summary>
    public string Url => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{Port}");

    private string LogPath => Path.Combine(directory.FullName, "tinyproxy.log");

    /// <summary>Every request the proxy received so far, e.g. "POST http://127.0.0.1:41234/" or "CONNECT api.ecr.us-west-2.amazonaws.com:443".</summary>
    public IReadOnlyList<string> Requests => [.. Log().Select(l => RequestLine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value)];

    /// <summary>The whole log, for failure messages.</summary>
    public string Describe() => $"tinyproxy at {Url}:\n{string.Join('\n', Log())}\n{process}";

    /// <summary>
    /// Starts tinyproxy. <paramref name="denyAll"/>: a filter that refuses every host (tinyproxy
    /// answers 403 "Filtered", to a CONNECT as to a plain request), as a corporate proxy does for
    /// a destination it does not allow.
    /// </summary>
    public static async Task<TinyProxy> StartAsync(bool denyAll = false)
    {
        var tinyproxy = Tools.Require("tinyproxy");
        for (var attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateTempSubdirectory("ecrdaemon-tinyproxy-");
            var port = FreePort();
            var config = Path.Combine(directory.FullName, "tinyproxy.conf");
            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"Port {port}"),
                "Listen 127.0.0.1",
                "Timeout 30",
                "MaxClients 50",
                $"LogFile \"{Path.Combine(directory.FullName, "tinyproxy.log")}\"",
                "LogLevel Connect",
            };
            if (denyAll)
            {
                var filter = Path.Combine(directory.FullName, "filter");
                await File.WriteAllTextAsync(filter, "");
                lines.Add($"Filter \"{filter}\"");
                lines.Add("FilterDefaultDeny Yes");
            }

            await File.WriteAllLinesAsync(config, lines);
            var process = BackgroundProcess.Start(tinyproxy, ["-d", "-c", config], new Dictionary<string, string?>());
            var proxy = new TinyProxy(directory, process, port);
            try
            {
                await Poll.UntilAsync(async () => process.HasExited || await AcceptsAsync(port), proxy.Describe);
                if (!process.HasExited)
                {
                    return proxy;
                }
            }
            catch (TimeoutException) when (attempt < 3)
            {
            }

            proxy.Dispose();
            if (attempt >= 3)
            {
                throw new InvalidOperationException($"tinyproxy did not start: {proxy.Describe()}");
            }
        }
    }

    /// <summary>A port on 127.0.0.1 that nothing listens on (just released by a listener).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private string[] Log()
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (FileNotFoundException)
        {
            return [];
        }
    }

    // CONNECT   Dec 02 13:49:33.815 [13871]: Request (file descriptor 5): GET http://127.0.0.1:38124/ HTTP/1.1
    [GeneratedRegex(@"Request \(file descriptor \d+\): (\S+ \S+) HTTP/\d")]
    private static partial Regex RequestLine();

    public void Dispose()
    {
        process.Dispose();
        try
        {
            directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
