using k8s;
using k8s.Models;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// What an informer keeps of one resource: a small projection (<typeparamref name="TView"/>) of
/// each object, grouped by namespace, never the whole object. Every change reports the namespace
/// it touched, which is the work-queue key. Writers keep it current with what the API answered
/// (<see cref="Upsert"/>), so a reconcile that follows its own write does not repeat it.
/// </summary>
/// <remarks>
/// A namespace's objects are a small array, not a dictionary: a namespace holds one Namespace
/// object, one managed secret and a few ServiceAccounts, and the cache holds thousands of
/// namespaces, so a dictionary per namespace would cost several times the views it holds.
/// </remarks>
internal sealed class ObjectCache<T, TView>(Func<T, TView> project, Action<string> changed) : IInformerSink<T>
    where T : IKubernetesObject<V1ObjectMeta>
    where TView : class
{
    private readonly Dictionary<string, Entry[]> _byNamespace = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byNamespace.Values.Sum(d => d.Length);
            }
        }
    }

    public TView? Get(string ns, string name)
    {
        lock (_lock)
        {
            return _byNamespace.TryGetValue(ns, out var objects) && IndexOf(objects, name) is var i and >= 0 ? objects[i].View : null;
        }
    }

    public IReadOnlyList<TView> InNamespace(string ns)
    {
        lock (_lock)
        {
            return _byNamespace.TryGetValue(ns, out var objects) ? Array.ConvertAll(objects, e => e.View) : [];
        }
    }

    public IReadOnlyList<string> Namespaces()
    {
        lock (_lock)
        {
            return [.. _byNamespace.Keys];
        }
    }

    public void Upsert(T obj)
    {
        var (ns, name) = Key(obj);
        var entry = new Entry(name, project(obj));
        lock (_lock)
        {
            if (!_byNamespace.TryGetValue(ns, out var objects))
            {
                _byNamespace[ns] = [entry];
            }
            else if (IndexOf(objects, name) is var i and >= 0)
            {
                objects[i] = entry;
            }
            else
            {
                _byNamespace[ns] = [.. objects, entry];
            }
        }

        changed(ns);
    }

    public void Remove(T obj) => Remove(Key(obj));

    public void Remove((string Namespace, string Name) key)
    {
        lock (_lock)
        {
            if (_byNamespace.TryGetValue(key.Namespace, out var objects) && IndexOf(objects, key.Name) is var i and >= 0)
            {
                if (objects.Length == 1)
                {
                    _byNamespace.Remove(key.Namespace);
                }
                else
                {
                    _byNamespace[key.Namespace] = [.. objects[..i], .. objects[(i + 1)..]];
                }
            }
        }

        changed(key.Namespace);
    }

    /// <summary>
    /// Replaces everything with a fresh list, projecting each object as it arrives, so that the
    /// whole list is never held as full objects. Only a list read to its end replaces anything;
    /// then every namespace that had or has an object is reported.
    /// </summary>
    public async Task ReplaceAsync(IAsyncEnumerable<T> objects, CancellationToken cancellationToken)
    {
        var fresh = new Dictionary<string, List<Entry>>(StringComparer.Ordinal);
        await foreach (var obj in objects.WithCancellation(cancellationToken))
        {
            var (ns, name) = Key(obj);
            if (!fresh.TryGetValue(ns, out var inNamespace))
            {
                fresh[ns] = inNamespace = [];
            }

            inNamespace.Add(new Entry(name, project(obj))); // a list holds each object once
        }

        List<string> touched;
        lock (_lock)
        {
            touched = [.. _byNamespace.Keys.Union(fresh.Keys)];
            _byNamespace.Clear();
            foreach (var (ns, inNamespace) in fresh)
            {
                _byNamespace[ns] = [.. inNamespace];
            }
        }

        touched.ForEach(changed);
    }

    private static int IndexOf(Entry[] objects, string name) => Array.FindIndex(objects, e => e.Name == name);

    /// <summary>Namespaced objects are keyed (namespace, name); a Namespace object is keyed (its name, "").</summary>
    private static (string Namespace, string Name) Key(T obj) =>
        obj.Metadata.NamespaceProperty is { Length: > 0 } ns ? (ns, obj.Metadata.Name) : (obj.Metadata.Name, "");

    private readonly record struct Entry(string Name, TView View);
}

/// <summary>Where an informer delivers what it lists and watches.</summary>
internal interface IInformerSink<in T>
{
    /// <summary>Replaces everything with <paramref name="objects"/>, a full list read as it arrives.</summary>
    Task ReplaceAsync(IAsyncEnumerable<T> objects, CancellationToken cancellationToken);

    void Upsert(T obj);

    void Remove(T obj);
}
