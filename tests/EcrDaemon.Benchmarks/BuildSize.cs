using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace EcrDaemon.Benchmarks;

/// <summary>
/// What a daemon build weighs on disk, in bytes:
/// <list type="bullet">
/// <item><see cref="Binary"/>: the daemon's own executable code: the Native AOT binary; for a framework-dependent build
/// the file started (the apphost) and its <c>EcrDaemon.dll</c>.</item>
/// <item><see cref="PublishDirectory"/>: every file in the directory the daemon was started from (what the Dockerfile copies to /app).</item>
/// <item><see cref="ImageContent"/>: what the runtime image needs on top of its base runtime-deps layer: the publish
/// directory, and for a framework-dependent build (one with a <c>*.runtimeconfig.json</c>) the .NET install it runs on:
/// the <c>dotnet</c> host, <c>host/fxr</c> and each shared framework its runtimeconfig names, at the newest installed
/// patch of that version (<see cref="Frameworks"/>), as the aspnet image carries them.</item>
/// </list>
/// </summary>
internal sealed record BuildSize(long Binary, long PublishDirectory, long ImageContent, IReadOnlyList<string> Frameworks)
{
    public static BuildSize Of(string daemon)
    {
        var directory = Path.GetDirectoryName(daemon)!;
        var stem = Path.GetFileNameWithoutExtension(daemon);
        var dll = Path.Combine(directory, stem + ".dll");
        var binary = new FileInfo(daemon).Length + (!daemon.EndsWith(".dll", StringComparison.Ordinal) && File.Exists(dll) ? new FileInfo(dll).Length : 0);
        var publish = SizeOf(directory);
        var runtimeConfig = Path.Combine(directory, stem + ".runtimeconfig.json");
        if (!File.Exists(runtimeConfig))
        {
            return new BuildSize(binary, publish, publish, []);
        }

        // The runtime this program runs on is the one the daemon rolls forward to: <root>/shared/Microsoft.NETCore.App/<version>/.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var options = JsonNode.Parse(File.ReadAllText(runtimeConfig))?["runtimeOptions"];
        var named = (options?["frameworks"]?.AsArray().Select(f => f) ?? [options?["framework"]])
            .Where(f => f is not null)
            .Select(f => (Name: f!["name"]!.GetValue<string>(), Version: f["version"]!.GetValue<string>()))
            .ToList();
        var counted = new List<string>();
        var total = publish;
        foreach (var (name, version) in named)
        {
            var installed = Newest(Path.Combine(root, "shared", name), version);
            if (installed is not null)
            {
                counted.Add(Path.GetRelativePath(root, installed));
                total += SizeOf(installed);
            }
        }

        var fxr = Newest(Path.Combine(root, "host", "fxr"), "");
        if (fxr is not null)
        {
            counted.Add(Path.GetRelativePath(root, fxr));
            total += SizeOf(fxr);
        }

        var host = Path.Combine(root, "dotnet");
        if (File.Exists(host))
        {
            counted.Add("dotnet");
            total += new FileInfo(host).Length;
        }

        return new BuildSize(binary, publish, total, [.. counted.Select(c => Path.Combine(root, c))]);
    }

    private static long SizeOf(string directory) =>
        new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    /// <summary>The newest version directory whose major.minor is <paramref name="version"/>'s (any, for an empty version).</summary>
    private static string? Newest(string parent, string version)
    {
        if (!Directory.Exists(parent))
        {
            return null;
        }

        var band = string.Join('.', version.Split('.').Take(2));
        return Directory.EnumerateDirectories(parent)
            .Select(d => (Path: d, Version: Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : null))
            .Where(d => d.Version is not null && (band.Length == 0 || $"{d.Version.Major}.{d.Version.Minor}" == band))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Path)
            .FirstOrDefault();
    }
}
