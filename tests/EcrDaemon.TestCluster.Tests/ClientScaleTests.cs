using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Api;
using k8s;
using k8s.Models;
using Xunit.Abstractions;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>Runs alone, after the parallel tests, so that its measurements are not mixed with theirs.</summary>
[CollectionDefinition(nameof(ScaleRunsAlone), DisableParallelization = true)]
public sealed class ScaleRunsAlone;

/// <summary>
/// 10,000 namespaces with 5 ServiceAccounts each, listed in pages of 500 and watched through
/// KubernetesClient. Asserts exact counts; prints (does not assert) timings and memory.
/// </summary>
[Collection(nameof(ScaleRunsAlone))]
[Trait("Category", "Scale")]
public sealed class ClientScaleTests(ITestOutputHelper output)
{
    private const int Namespaces = 10_000;
    private const int ExtraServiceAccounts = 4;
    private const int SystemNamespaces = 4;
    private const int NewObjects = 1_000;

    private void Report(string what, TimeSpan elapsed, string? extra = null) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-52} {elapsed.TotalMilliseconds,9:F0} ms{(extra is null ? "" : "  " + extra)}"));

    private void Memory(string when)
    {
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"memory {when,-45} working set {Environment.WorkingSet / 1048576.0,7:F0} MiB, GC heap {heap / 1048576.0,7:F0} MiB"));
    }

    [Fact]
    public async Task Ten_thousand_namespaces_and_fifty_thousand_serviceaccounts_list_and_watch_completely()
    {
        Memory("before start");
        await using var server = await TestClusterServer.StartAsync(new TestClusterOptions { BookmarkInterval = TimeSpan.FromSeconds(1) });
        using var client = Cluster.Client(server);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Namespaces; i++)
        {
            var ns = $"scale-{i:D5}";
            server.Operations.CreateNamespace(ns, new Dictionary<string, string> { ["tier"] = (i % 10).ToString(CultureInfo.InvariantCulture) });
            for (var j = 1; j <= ExtraServiceAccounts; j++)
            {
                server.Operations.Create(ResourceType.ServiceAccounts, ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"sa-{j}" } });
            }
        }

        Report($"seed {Namespaces} namespaces x {ExtraServiceAccounts + 1} serviceaccounts", clock.Elapsed);
        Memory("after seeding");

        clock.Restart();
        var namespaceNames = new List<string>();
        var pages = 0;
        string? next = null;
        do
        {
            var page = await client.CoreV1.ListNamespaceAsync(limit: 500, continueParameter: next);
            namespaceNames.AddRange(page.Items.Select(n => n.Metadata.Name));
            next = page.Metadata.ContinueProperty;
            pages++;
        }
        while (!string.IsNullOrEmpty(next));

        Report("list namespaces, limit=500", clock.Elapsed, $"{namespaceNames.Count} items, {pages} pages");
        Assert.Equal(Namespaces + SystemNamespaces, namespaceNames.Count);
        Assert.Equal(namespaceNames.Count, namespaceNames.Distinct().Count());

        clock.Restart();
        var accountKeys = new HashSet<string>(StringComparer.Ordinal);
        var duplicates = 0;
        string listResourceVersion = "";
        pages = 0;
        next = null;
        do
        {
            var page = await client.CoreV1.ListServiceAccountForAllNamespacesAsync(limit: 500, continueParameter: next);
            foreach (var sa in page.Items)
            {
                duplicates += accountKeys.Add($"{sa.Metadata.NamespaceProperty}/{sa.Metadata.Name}") ? 0 : 1;
            }

            listResourceVersion = page.Metadata.ResourceVersion;
            next = page.Metadata.ContinueProperty;
            pages++;
        }
        while (!string.IsNullOrEmpty(next));

        Report("list serviceaccounts (all namespaces), limit=500", clock.Elapsed, $"{accountKeys.Count} items, {pages} pages");
        Assert.Equal(0, duplicates);
        Assert.Equal((Namespaces * (ExtraServiceAccounts + 1)) + SystemNamespaces, accountKeys.Count);

        clock.Restart();
        var oneNamespace = await client.CoreV1.ListNamespacedServiceAccountAsync("scale-04711");
        Report("list serviceaccounts in one namespace", clock.Elapsed);
        Assert.Equal(ExtraServiceAccounts + 1, oneNamespace.Items.Count);

        clock.Restart();
        var tier = await client.CoreV1.ListNamespaceAsync(labelSelector: "tier=3");
        Report("list namespaces with a label selector (1 in 10)", clock.Elapsed);
        Assert.Equal(Namespaces / 10, tier.Items.Count);
        Memory("after listing");

        // Two watches across all namespaces: one resumes from the list (the informer pattern), one
        // starts from scratch and first receives every existing ServiceAccount as ADDED.
        clock.Restart();
        await using var resumed = WatchRecorder<V1ServiceAccount>.Start((onError, ct) => client.CoreV1.WatchListServiceAccountForAllNamespacesAsync(
            resourceVersion: listResourceVersion, allowWatchBookmarks: true, onError: onError, cancellationToken: ct));
        await using var fromScratch = WatchRecorder<V1ServiceAccount>.Start((onError, ct) => client.CoreV1.WatchListServiceAccountForAllNamespacesAsync(
            onError: onError, cancellationToken: ct));
        await fromScratch.WaitFor(e => e.Count >= accountKeys.Count, TimeSpan.FromSeconds(90));
        Report("watch from scratch: initial ADDED events received", clock.Elapsed, $"{fromScratch.Events.Count} events");
        await resumed.WaitFor(e => e.Any(x => x.Type == WatchEventType.Bookmark));

        clock.Restart();
        var created = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < NewObjects; i++)
        {
            var ns = $"scale-{i * (Namespaces / NewObjects):D5}";
            var sa = await client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = $"new-{i:D4}" } }, ns);
            created.Add($"{sa.Metadata.NamespaceProperty}/{sa.Metadata.Name}");
        }

        Report($"create {NewObjects} serviceaccounts through the API", clock.Elapsed);
        clock.Restart();

        static HashSet<string> Added(WatchRecorder<V1ServiceAccount> w) => w.Events
            .Where(e => e.Type == WatchEventType.Added && e.Object.Metadata.Name.StartsWith("new-", StringComparison.Ordinal))
            .Select(e => $"{e.Object.Metadata.NamespaceProperty}/{e.Object.Metadata.Name}")
            .ToHashSet(StringComparer.Ordinal);

        await Cluster.Until(() => Added(resumed).Count == NewObjects && Added(fromScratch).Count == NewObjects,
            () => $"resumed saw {Added(resumed).Count}, from scratch saw {Added(fromScratch).Count} of {NewObjects}; errors {resumed.Errors.Count + fromScratch.Errors.Count}");
        Report("watch catch-up after the last create", clock.Elapsed);
        Memory("after watching");

        Assert.Equal(created, Added(resumed));
        Assert.Equal(created, Added(fromScratch));
        Assert.Equal(NewObjects, resumed.Events.Count(e => e.Type != WatchEventType.Bookmark));
        Assert.Equal(accountKeys.Count + NewObjects, fromScratch.Events.Count);
        Assert.Equal(accountKeys.Order(StringComparer.Ordinal),
            fromScratch.Events.Take(accountKeys.Count).Select(e => $"{e.Object.Metadata.NamespaceProperty}/{e.Object.Metadata.Name}").Order(StringComparer.Ordinal));
        Assert.Empty(resumed.Errors);
        Assert.Empty(fromScratch.Errors);
        Assert.Null(resumed.StreamException);
        Assert.Null(fromScratch.StreamException);
    }
}
