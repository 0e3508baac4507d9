using System.Formats.Tar;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EcrDaemon.Testing;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// A real registry server on loopback: Debian's <c>docker-registry</c> (the CNCF Distribution
/// registry), serving TLS with a self-signed certificate for <see cref="HostNames"/> (and 127.0.0.1),
/// with htpasswd authentication for the single user <c>AWS</c>. <see cref="SetPasswordAsync"/>
/// replaces the accepted password (the registry re-reads its htpasswd file when it changes, so the
/// old one is refused from then on). <see cref="CertDirectory"/> holds the certificate as a CA for
/// skopeo's <c>--cert-dir</c>, so TLS is verified against the host name the client asked for.
/// </summary>
internal sealed partial class LoopbackRegistry : IDisposable
{
    public const string User = "AWS";

    private readonly BackgroundProcess _process;
    private readonly string _root;

    private LoopbackRegistry(BackgroundProcess process, string root, int port, IReadOnlyList<string> hostNames)
    {
        _process = process;
        _root = root;
        Port = port;
        HostNames = hostNames;
    }

    public int Port { get; }

    /// <summary>The address without a host name: <c>127.0.0.1:port</c>.</summary>
    public string LoopbackHost => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The DNS names the certificate is for.</summary>
    public IReadOnlyList<string> HostNames { get; }

    /// <summary>A directory with the certificate as <c>ca.crt</c>, for skopeo's <c>--cert-dir</c>.</summary>
    public string CertDirectory => Path.Combine(_root, "certs");

    private string HtpasswdPath => Path.Combine(_root, "htpasswd");

    /// <summary>Starts the registry accepting <c>AWS</c>/<paramref name="password"/>, with a certificate for <paramref name="hostNames"/>.</summary>
    public static async Task<LoopbackRegistry> StartAsync(string password, params string[] hostNames)
    {
        var root = Directory.CreateTempSubdirectory("ecrdaemon-registry-").FullName;
        Directory.CreateDirectory(Path.Combine(root, "certs"));
        WriteCertificate(root, hostNames);
        await WriteHtpasswdAsync(Path.Combine(root, "htpasswd"), password);
        var config = Path.Combine(root, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root, "data")}
            http:
              addr: 127.0.0.1:0
              tls:
                certificate: {Path.Combine(root, "registry.crt")}
                key: {Path.Combine(root, "registry.key")}
            auth:
              htpasswd:
                realm: ecr-daemon-test
                path: {Path.Combine(root, "htpasswd")}
            """);
        var process = BackgroundProcess.Start(Tools.Require("docker-registry"), ["serve", config], new Dictionary<string, string?>());
        try
        {
            string? address = null;
            await Poll.Until(() => process.HasExited || (address = ListeningOn(process)) is not null, process.ToString);
            if (address is null)
            {
                throw new InvalidOperationException($"docker-registry did not start: {process}");
            }

            return new LoopbackRegistry(process, root, int.Parse(address, CultureInfo.InvariantCulture), hostNames);
        }
        catch
        {
            process.Dispose();
            Directory.Delete(root, recursive: true);
            throw;
        }
    }

    /// <summary>From now on the registry accepts only <paramref name="password"/> (the file is replaced at once; the registry re-reads it on its next request).</summary>
    public Task SetPasswordAsync(string password) => WriteHtpasswdAsync(HtpasswdPath, password);

    /// <summary>
    /// A one-layer image in an OCI layout directory (built here, byte by byte), tagged <paramref name="tag"/>;
    /// returns the directory.
    /// </summary>
    public static string WriteOciImage(string directory, string tag)
    {
        Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "hello.txt") { DataStream = new MemoryStream("hello from ecr-daemon\n"u8.ToArray()) };
            entry.ModificationTime = DateTimeOffset.UnixEpoch;
            writer.WriteEntry(entry);
        }

        var layer = tar.ToArray();
        var layerDigest = Blob(directory, layer);
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layerDigest) },
        }.ToJsonString());
        var configDigest = Blob(directory, config);
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = Descriptor("application/vnd.oci.image.config.v1+json", configDigest, config.Length),
            ["layers"] = new JsonArray(Descriptor("application/vnd.oci.image.layer.v1.tar", layerDigest, layer.Length)),
        }.ToJsonString());
        var manifestDigest = Blob(directory, manifest);
        var index = Descriptor("application/vnd.oci.image.manifest.v1+json", manifestDigest, manifest.Length);
        index["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        File.WriteAllText(Path.Combine(directory, "index.json"), new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray(index) }.ToJsonString());
        File.WriteAllText(Path.Combine(directory, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        return directory;
    }

    public override string ToString() => $"docker-registry at {LoopbackHost}: {_process}";

    public void Dispose()
    {
        _process.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static string? ListeningOn(BackgroundProcess process) =>
        process.StandardErrorLines.Concat(process.StandardOutputLines).Select(l => ListeningPattern().Match(l)).FirstOrDefault(m => m.Success)?.Groups[1].Value;

    /// <summary>A bcrypt htpasswd line (the only hash the registry accepts) by Apache's htpasswd, the password on stdin; then renamed into place.</summary>
    private static async Task WriteHtpasswdAsync(string path, string password)
    {
        var next = path + ".next";
        var result = await Tools.RunAsync(Tools.Require("htpasswd"), ["-B", "-i", "-c", next, User], standardInput: password);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"htpasswd failed: exit {result.ExitCode}");
        }

        File.Move(next, path, overwrite: true);
    }

    private static void WriteCertificate(string root, IEnumerable<string> hostNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ecr-daemon test registry", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var name in hostNames)
        {
            names.AddDnsName(name);
        }

        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(root, "registry.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(root, "certs", "ca.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(root, "registry.key"), key.ExportPkcs8PrivateKeyPem());
    }

    private static string Blob(string directory, byte[] content)
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(content));
        File.WriteAllBytes(Path.Combine(directory, "blobs", "sha256", hex), content);
        return "sha256:" + hex;
    }

    private static JsonObject Descriptor(string mediaType, string digest, int size) =>
        new() { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = size };

    [GeneratedRegex(@"listening on 127\.0\.0\.1:([0-9]+)")]
    private static partial Regex ListeningPattern();
}
