using k8s;
using k8s.Models;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// What an informer keeps of one resource: a small projection (<typeparamref name="TView"/>) of
/// each object, grouped by namespace, never the whole object. Every change reports the namespace
/// it touched, which is the work-queue key. Writers keep it current with what the API answered
/// (<see cref="Upsert"/>), so a reconcile that follows its own write does not repeat it.
/// </summary>
internal sealed class ObjectCache<T, TView>(Func<T, TView> project, Action<string> changed) : IInformerSink<T>
    where T : IKubernetesObject<V1ObjectMeta>
    where TView : class
{
    private readonly Dictionary<string, Dictionary<string, TView>> _byNamespace = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byNamespace.Values.Sum(d => d.Count);
            }
        }
    }

    public TView? Get(string ns, string name)
    {
        lock (_lock)
        {
            return _byNamespace.TryGetValue(ns, out var objects) && objects.TryGetValue(name, out var view) ? view : null;
        }
    }

    public IReadOnlyList<TView> InNamespace(string ns)
    {
        lock (_lock)
        {
            return _byNamespace.TryGetValue(ns, out var objects) ? [.. objects.Values] : [];
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
        var view = project(obj);
        lock (_lock)
        {
            if (!_byNamespace.TryGetValue(ns, out var objects))
            {
                _byNamespace[ns] = objects = new Dictionary<string, TView>(StringComparer.Ordinal);
            }

            objects[name] = view;
        }

        changed(ns);
    }

    public void Remove(T obj) => Remove(Key(obj));

    public void Remove((string Namespace, string Name) key)
    {
        lock (_lock)
        {
            if (_byNamespace.TryGetValue(key.Namespace, out var objects) && objects.Remove(key.Name) && objects.Count == 0)
            {
                _byNamespace.Remove(key.Namespace);
            }
        }

        changed(key.Namespace);
    }

    /// <summary>Replaces everything with a fresh list; every namespace that had or has an object is reported.</summary>
    public void Replace(IEnumerable<T> objects)
    {
        var fresh = new Dictionary<string, Dictionary<string, TView>>(StringComparer.Ordinal);
        foreach (var obj in objects)
        {
            var (ns, name) = Key(obj);
            if (!fresh.TryGetValue(ns, out var inNamespace))
            {
                fresh[ns] = inNamespace = new Dictionary<string, TView>(StringComparer.Ordinal);
            }

            inNamespace[name] = project(obj);
        }

        List<string> touched;
        lock (_lock)
        {
            touched = [.. _byNamespace.Keys.Union(fresh.Keys)];
            _byNamespace.Clear();
            foreach (var (ns, inNamespace) in fresh)
            {
                _byNamespace[ns] = inNamespace;
            }
        }

        touched.ForEach(changed);
    }

    /// <summary>Namespaced objects are keyed (namespace, name); a Namespace object is keyed (its name, "").</summary>
    private static (string Namespace, string Name) Key(T obj) =>
        obj.Metadata.NamespaceProperty is { Length: > 0 } ns ? (ns, obj.Metadata.Name) : (obj.Metadata.Name, "");
}

/// <summary>Where an informer delivers what it lists and watches.</summary>
internal interface IInformerSink<in T>
{
    void Replace(IEnumerable<T> objects);

    void Upsert(T obj);

    void Remove(T obj);
}
