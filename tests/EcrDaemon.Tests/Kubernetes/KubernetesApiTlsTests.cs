using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EcrDaemon.Kubernetes;
using k8s;
using k8s.Exceptions;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>
/// The daemon's client against a real TLS server on loopback: the trust it takes from the configuration
/// (a cluster CA, <c>insecure-skip-tls-verify</c>) and the client certificate it presents. A cluster CA
/// is trusted for the API server's name only, as kubectl trusts it: a certificate the CA issued to
/// another name (a kubelet's, a user's) is not the API server's.
/// </summary>
public sealed class KubernetesApiTlsTests
{
    private const string NamespaceList = """{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}""";

    /// <summary>A CA and the certificates it issues, made fresh for each test.</summary>
    private sealed class Authority : IDisposable
    {
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        /// <param name="parent">The CA that issues this one (an intermediate), or null for a root.</param>
        public Authority(string name, Authority? parent = null)
        {
            var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var now = DateTimeOffset.UtcNow;
            if (parent is null)
            {
                Certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
            }
            else
            {
                using var issued = request.Create(parent.Certificate, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
                Certificate = issued.CopyWithPrivateKey(_key);
            }
        }

        public X509Certificate2 Certificate { get; }

        public string Pem => PemEncoding.WriteString("CERTIFICATE", Certificate.RawData);

        /// <summary>A leaf certificate (with its key) for <paramref name="names"/> (IP addresses or DNS names), for serving or for a client.</summary>
        public X509Certificate2 Issue(string subject, bool server, params string[] names)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var ip))
                {
                    san.AddIpAddress(ip);
                }
                else
                {
                    san.AddDnsName(name);
                }
            }

            if (names.Length > 0)
            {
                request.CertificateExtensions.Add(san.Build());
            }

            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
            var now = DateTimeOffset.UtcNow;
            using var issued = request.Create(Certificate, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(8));
            using var withKey = issued.CopyWithPrivateKey(key);
            return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        }

        public void Dispose()
        {
            Certificate.Dispose();
            _key.Dispose();
        }
    }

    /// <summary>A one-connection HTTPS/1.1 server on loopback answering every request with a namespace list; it records the client certificate it was shown.</summary>
    private sealed class TlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly SslStreamCertificateContext _certificate;
        private readonly Task _serving;
        private readonly CancellationTokenSource _stop = new();

        /// <param name="intermediates">The CA certificates sent with <paramref name="certificate"/> (its chain up to the root).</param>
        public TlsServer(X509Certificate2 certificate, params X509Certificate2[] intermediates)
        {
            _certificate = SslStreamCertificateContext.Create(certificate, [.. intermediates], offline: true);
            _listener.Start();
            _serving = ServeAsync();
        }

        public string Url => $"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public string? ClientCertificateSubject { get; private set; }

        private async Task ServeAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient tcp;
                try
                {
                    tcp = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception)
                {
                    return;
                }

                using (tcp)
                {
                    try
                    {
                        await using var tls = new SslStream(tcp.GetStream(), false, (_, _, _, errors) => (errors & ~(SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateChainErrors)) == 0);
                        // The client certificate is asked for, and recorded rather than verified.
                        await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                        {
                            ServerCertificateContext = _certificate,
                            ClientCertificateRequired = true,
                            EnabledSslProtocols = SslProtocols.None,
                        }, _stop.Token);
                        ClientCertificateSubject = tls.RemoteCertificate?.Subject;
                        var request = new StringBuilder();
                        var buffer = new byte[4096];
                        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            var n = await tls.ReadAsync(buffer, _stop.Token);
                            if (n == 0)
                            {
                                break;
                            }

                            request.Append(Encoding.ASCII.GetString(buffer, 0, n));
                        }

                        var body = Encoding.UTF8.GetBytes(NamespaceList);
                        await tls.WriteAsync(Encoding.ASCII.GetBytes(
                            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), _stop.Token);
                        await tls.WriteAsync(body, _stop.Token);
                    }
                    catch (Exception)
                    {
                        // The client refused the certificate, or went away: next connection.
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _serving;
            _stop.Dispose();
        }
    }

    private static async Task<Exception?> ListAsync(KubernetesClientConfiguration config)
    {
        using var api = new KubernetesApi(config);
        try
        {
            await api.ListNamespacesAsync(null, null, CancellationToken.None);
            return null;
        }
        catch (HttpRequestException e)
        {
            return e;
        }
    }

    private static KubernetesClientConfiguration Config(string url, Authority ca) =>
        new() { Host = url, AccessToken = "tls-test-token", SslCaCerts = [ca.Certificate] };

    [Fact]
    public async Task A_server_certificate_the_cluster_CA_issued_for_the_servers_address_is_trusted()
    {
        using var ca = new Authority("cluster-ca");
        await using var server = new TlsServer(ca.Issue("kube-apiserver", server: true, "127.0.0.1", "kubernetes.default.svc"));

        Assert.Null(await ListAsync(Config(server.Url, ca)));
    }

    [Fact]
    public async Task A_server_certificate_from_an_intermediate_of_the_cluster_CA_is_trusted_with_the_chain_the_server_sends()
    {
        using var root = new Authority("cluster-root-ca");
        using var intermediate = new Authority("kube-apiserver-signer", root);
        await using var server = new TlsServer(intermediate.Issue("kube-apiserver", server: true, "127.0.0.1"), intermediate.Certificate);

        Assert.Null(await ListAsync(Config(server.Url, root)));
    }

    [Fact]
    public async Task A_server_certificate_from_another_CA_is_refused()
    {
        using var ca = new Authority("cluster-ca");
        using var other = new Authority("other-ca");
        await using var server = new TlsServer(other.Issue("kube-apiserver", server: true, "127.0.0.1"));

        var refused = await ListAsync(Config(server.Url, ca));

        Assert.IsType<AuthenticationException>(Assert.IsType<HttpRequestException>(refused).InnerException);
    }

    [Fact]
    public async Task A_certificate_the_cluster_CA_issued_to_another_name_is_refused()
    {
        // A node's or a user's certificate from the same CA, presented by whoever holds its key.
        using var ca = new Authority("cluster-ca");
        await using var server = new TlsServer(ca.Issue("system:node:worker-1", server: true, "worker-1.internal"));

        var refused = await ListAsync(Config(server.Url, ca));

        Assert.IsType<AuthenticationException>(Assert.IsType<HttpRequestException>(refused).InnerException);
    }

    [Fact]
    public async Task The_tls_server_name_is_the_name_the_certificate_is_checked_against()
    {
        using var ca = new Authority("cluster-ca");
        await using var server = new TlsServer(ca.Issue("kube-apiserver", server: true, "kubernetes.default.svc"));

        var config = Config(server.Url, ca);
        Assert.NotNull(await ListAsync(config)); // reached by IP: the name is not 127.0.0.1
        config.TlsServerName = "kubernetes.default.svc";
        Assert.Null(await ListAsync(config));
    }

    [Fact]
    public async Task Insecure_skip_tls_verify_accepts_any_certificate()
    {
        using var other = new Authority("other-ca");
        await using var server = new TlsServer(other.Issue("anything", server: true, "elsewhere.example"));

        Assert.Null(await ListAsync(new KubernetesClientConfiguration { Host = server.Url, AccessToken = "t", SkipTlsVerify = true }));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_client_certificate_without_its_key_or_a_key_without_its_certificate_is_a_configuration_error(bool certificate)
    {
        // kubectl refuses such a kubeconfig; the daemon must not start and run without the identity it was given.
        using var ca = new Authority("cluster-ca");
        using var client = ca.Issue("ecr-daemon-user", server: false);
        var config = new KubernetesClientConfiguration { Host = "https://127.0.0.1:6443", SslCaCerts = [ca.Certificate] };
        if (certificate)
        {
            config.ClientCertificateData = Convert.ToBase64String(Encoding.UTF8.GetBytes(client.ExportCertificatePem()));
        }
        else
        {
            config.ClientCertificateKeyData = Convert.ToBase64String(Encoding.UTF8.GetBytes(client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem()));
        }

        var e = Assert.Throws<KubeConfigException>(() => new KubernetesApi(config));
        Assert.DoesNotContain("PRIVATE KEY", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("another key")]
    [InlineData("not base64")]
    [InlineData("not PEM")]
    [InlineData("missing file")]
    public void A_client_certificate_and_key_that_cannot_be_loaded_are_a_configuration_error_naming_no_key(string problem)
    {
        using var ca = new Authority("cluster-ca");
        using var client = ca.Issue("ecr-daemon-user", server: false);
        using var another = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));
        var config = new KubernetesClientConfiguration
        {
            Host = "https://127.0.0.1:6443",
            ClientCertificateData = Base64(client.ExportCertificatePem()),
            ClientCertificateKeyData = problem switch
            {
                "another key" => Base64(another.ExportPkcs8PrivateKeyPem()),
                "not base64" => "-----BEGIN PRIVATE KEY-----",
                "not PEM" => Base64("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"),
                _ => null,
            },
            ClientKeyFilePath = problem == "missing file" ? Path.Combine(Path.GetTempPath(), $"ecr-daemon-no-such-key-{Guid.NewGuid():N}.pem") : null,
        };

        var e = Assert.Throws<KubeConfigException>(() => new KubernetesApi(config));
        Assert.StartsWith("the client certificate and key of the configuration could not be loaded", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("MIGHAgEA", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY-", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_client_certificate_of_the_configuration_is_presented_inline_or_from_files(bool files)
    {
        using var ca = new Authority("cluster-ca");
        await using var server = new TlsServer(ca.Issue("kube-apiserver", server: true, "127.0.0.1"));
        using var client = ca.Issue("ecr-daemon-user", server: false);
        var certificatePem = client.ExportCertificatePem();
        var keyPem = client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
        var config = Config(server.Url, ca);
        config.AccessToken = null;
        var dir = Directory.CreateTempSubdirectory("ecr-daemon-tls-");
        try
        {
            if (files)
            {
                config.ClientCertificateFilePath = Path.Combine(dir.FullName, "client.crt");
                config.ClientKeyFilePath = Path.Combine(dir.FullName, "client.key");
                await File.WriteAllTextAsync(config.ClientCertificateFilePath, certificatePem);
                await File.WriteAllTextAsync(config.ClientKeyFilePath, keyPem);
            }
            else
            {
                config.ClientCertificateData = Convert.ToBase64String(Encoding.UTF8.GetBytes(certificatePem));
                config.ClientCertificateKeyData = Convert.ToBase64String(Encoding.UTF8.GetBytes(keyPem));
            }

            Assert.Null(await ListAsync(config));
            Assert.Equal("CN=ecr-daemon-user", server.ClientCertificateSubject);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
