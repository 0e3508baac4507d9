using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using EcrDaemon.TestCluster.Admission;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Auth;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.TestCluster.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.TestCluster;

/// <summary>
/// An in-process Kubernetes API server on 127.0.0.1 for namespaces, secrets, serviceaccounts,
/// events and leases. Start it, write a kubeconfig for real kubectl or KubernetesClient, and use
/// <see cref="Faults"/>, <see cref="Requests"/> and <see cref="Store"/> to inject trouble and
/// count what clients did.
/// </summary>
public sealed class TestClusterServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Identity> _tokens = new(StringComparer.Ordinal);
    private Rbac _rbac;
    private AdmissionPolicies _admission;

    private TestClusterServer(WebApplication app, TestClusterOptions options, ObjectStore store, Operations operations,
        Faults faults, RequestLog requests, Rbac rbac, AdmissionPolicies admission)
    {
        _app = app;
        Options = options;
        Store = store;
        Operations = operations;
        Faults = faults;
        Requests = requests;
        _rbac = rbac;
        _admission = admission;
    }

    public TestClusterOptions Options { get; }

    public ObjectStore Store { get; }

    public Operations Operations { get; }

    public Faults Faults { get; }

    public RequestLog Requests { get; }

    public Uri Url { get; private set; } = null!;

    public string AdminToken { get; private set; } = null!;

    /// <summary>The serving certificate (PEM), which clients trust as the cluster's CA.</summary>
    public string CertificateAuthorityPem { get; private init; } = null!;

    public Rbac Rbac => _rbac;

    /// <summary>The ValidatingAdmissionPolicies and bindings every write is held to (every identity, the admin too, as on a real server).</summary>
    public AdmissionPolicies AdmissionPolicies => _admission;

    public static async Task<TestClusterServer> StartAsync(TestClusterOptions? options = null, TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new TestClusterOptions();
        time ??= TimeProvider.System;
        var store = new ObjectStore { HistoryLimit = options.HistoryLimit };
        var operations = new Operations(store, options, time);
        var faults = new Faults();
        var requests = new RequestLog();
        var rbac = options.RbacYaml is null ? Rbac.Empty : Rbac.Load(options.RbacYaml);
        var admission = options.RbacYaml is null ? AdmissionPolicies.Empty : AdmissionPolicies.Load(options.RbacYaml);

        var certificate = ServingCertificate.Create();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, options.Port, listen => listen.UseHttps(certificate));
            k.Limits.MinResponseDataRate = null;
            k.Limits.MaxRequestBodySize = 3 * 1024 * 1024;
            k.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
        });
        var app = builder.Build();
        var server = new TestClusterServer(app, options, store, operations, faults, requests, rbac, admission)
        {
            CertificateAuthorityPem = ServingCertificate.ToPem(certificate),
        };
        var handler = new ApiHandler(operations, options, server._tokens, () => server._rbac, () => server._admission, faults, requests, time);
        app.Run(handler.HandleAsync);

        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            operations.CreateNamespace(ns);
        }

        server.AdminToken = server.IssueToken(Identity.Admin);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(address);
        return server;
    }

    /// <summary>Replaces the RBAC rules ServiceAccount identities are held to (multi-document YAML).</summary>
    public void LoadRbac(string yaml) => _rbac = Rbac.Load(yaml);

    /// <summary>Replaces the ValidatingAdmissionPolicies and bindings (multi-document YAML; other kinds are ignored).</summary>
    public void LoadAdmissionPolicies(string yaml) => _admission = AdmissionPolicies.Load(yaml);

    /// <summary>
    /// Loads everything the test cluster enforces from one set of manifests (for example the whole
    /// <c>helm template</c> output): RBAC and ValidatingAdmissionPolicies with their bindings.
    /// </summary>
    public void LoadManifests(string yaml)
    {
        _rbac = Rbac.Load(yaml);
        _admission = AdmissionPolicies.Load(yaml);
    }

    /// <summary>A bearer token that authenticates as <paramref name="identity"/>.</summary>
    public string IssueToken(Identity identity)
    {
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        _tokens[token] = identity;
        return token;
    }

    public string ServiceAccountToken(string ns, string name) => IssueToken(Identity.ServiceAccount(ns, name));

    /// <summary>A kubeconfig document for this server. With no token, the admin's.</summary>
    public string Kubeconfig(string? token = null, string contextNamespace = "default") =>
        KubeconfigFile.Render(Url, CertificateAuthorityPem, token ?? AdminToken, contextNamespace);

    /// <summary>Writes a kubeconfig atomically: the file appears complete or not at all.</summary>
    public void WriteKubeconfig(string path, string? token = null, string contextNamespace = "default") =>
        KubeconfigFile.WriteAtomically(path, Kubeconfig(token, contextNamespace));

    /// <summary>Cuts every connection and refuses new ones (true), or serves again (false).</summary>
    public void SetDown(bool down)
    {
        Faults.Down = down;
        if (down)
        {
            Store.CloseAllWatches();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Store.CloseAllWatches();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
