using EcrDaemon.Kubernetes;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>The informer cache's cost grows linearly with the objects of one namespace (issue 14, item 11).</summary>
public sealed class ObjectCacheTests
{
    private const int Many = 10_000;

    /// <summary>A linear budget per object: the entry, its share of a growing table, and the bookkeeping, with room to spare.</summary>
    private const long BytesPerObject = 256;

    private static ObjectCache<V1ServiceAccount, string> NewCache() => new(sa => sa.Metadata.Name, _ => { });

    private static V1ServiceAccount[] ServiceAccounts(string ns) =>
        [.. Enumerable.Range(0, Many).Select(i => new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = $"sa-{i}", NamespaceProperty = ns } })];

    [Fact]
    public void Upserting_and_removing_10000_objects_in_one_namespace_allocates_linearly()
    {
        var cache = NewCache();
        var objects = ServiceAccounts("wide");

        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var sa in objects)
        {
            cache.Upsert(sa);
        }

        var upserts = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(Many, cache.Count);
        Assert.True(upserts < Many * BytesPerObject, $"upserting {Many} objects into one namespace allocated {upserts:N0} bytes; a linear budget is {Many * BytesPerObject:N0}");

        before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var sa in objects.Take(Many - 1))
        {
            cache.Remove(sa);
        }

        var removes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(["sa-9999"], cache.InNamespace("wide"));
        Assert.True(removes < Many * BytesPerObject, $"removing {Many - 1} objects from one namespace allocated {removes:N0} bytes; a linear budget is {Many * BytesPerObject:N0}");
    }
}
