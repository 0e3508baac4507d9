using k8s;
using k8s.Models;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// What an informer keeps of one resource: a small projection (<typeparamref name="TView"/>) of
/// each object, grouped by namespace, never the whole object. Every change reports the namespace
/// it touched, which is the work-queue key.
/// </summary>
/// <remarks>
/// <para>
/// The watch (<see cref="Upsert"/>, <see cref="Remove(T)"/>, <see cref="ReplaceAsync"/>) always
/// applies. A writer keeps the cache current with what the API answered, so that a reconcile that
/// follows its own write does not repeat it, but only through <see cref="Plan"/> and
/// <see cref="Complete"/>: an answer applies only when no watch event touched the object since the
/// write was planned. A watch event that came first is as new as the answer or newer (our writes
/// carry the resourceVersion they were planned from, so nothing else lands between), and the
/// answer of a write that raced a delete must not bring the object back. resourceVersions are
/// opaque, so nothing here orders them.
/// </para>
/// <para>
/// A namespace's objects are a small array, not a dictionary: a namespace holds one Namespace
/// object, one managed secret and a few ServiceAccounts, and the cache holds thousands of
/// namespaces, so a dictionary per namespace would cost several times the views it holds. Past
/// <see cref="ArrayLimit"/> objects a namespace becomes a dictionary, so that one namespace with
/// thousands of objects costs linear time, not a copy of its array per change.
/// </para>
/// </remarks>
internal sealed class ObjectCache<T, TView>(Func<T, TView> project, Action<string> changed) : IInformerSink<T>
    where T : IKubernetesObject<V1ObjectMeta>
    where TView : class
{
    /// <summary>Namespaces with at most this many objects keep them in an array.</summary>
    public const int ArrayLimit = 16;

    /// <summary>Each value is an <see cref="Entry"/>[] (at most <see cref="ArrayLimit"/>) or a Dictionary&lt;string, TView&gt;.</summary>
    private readonly Dictionary<string, object> _byNamespace = new(StringComparer.Ordinal);
    private readonly List<PlannedWrite> _writes = [];
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byNamespace.Values.Sum(b => b is Entry[] a ? a.Length : ((Dictionary<string, TView>)b).Count);
            }
        }
    }

    public TView? Get(string ns, string name)
    {
        lock (_lock)
        {
            return Find(ns, name);
        }
    }

    /// <summary>A copy of the namespace's views.</summary>
    public IReadOnlyList<TView> InNamespace(string ns) => Where(ns, _ => true);

    /// <summary>The namespace's views that match <paramref name="predicate"/> (run under the cache's lock: keep it cheap), copied.</summary>
    public IReadOnlyList<TView> Where(string ns, Func<TView, bool> predicate)
    {
        lock (_lock)
        {
            return _byNamespace.GetValueOrDefault(ns) switch
            {
                Entry[] a => [.. a.Select(e => e.View).Where(predicate)],
                Dictionary<string, TView> d => [.. d.Values.Where(predicate)],
                _ => [],
            };
        }
    }

    public IReadOnlyList<string> Namespaces()
    {
        lock (_lock)
        {
            return [.. _byNamespace.Keys];
        }
    }

    /// <summary>A watch event: the object as it is now.</summary>
    public void Upsert(T obj)
    {
        var (ns, name) = Key(obj);
        var view = project(obj);
        lock (_lock)
        {
            Supersede(ns, name);
            Set(ns, name, view);
        }

        changed(ns);
    }

    /// <summary>A watch event: the object is gone.</summary>
    public void Remove(T obj)
    {
        var (ns, name) = Key(obj);
        lock (_lock)
        {
            Supersede(ns, name);
            Delete(ns, name);
        }

        changed(ns);
    }

    /// <summary>
    /// Starts a write (or a read) of (<paramref name="ns"/>, <paramref name="name"/>) planned from
    /// what the cache holds now; hand its answer to <see cref="Complete"/>. Dispose it in any case.
    /// </summary>
    public PlannedWrite Plan(string ns, string name)
    {
        var write = new PlannedWrite(this, ns, name);
        lock (_lock)
        {
            _writes.Add(write);
        }

        return write;
    }

    /// <summary>
    /// Caches a planned write's answer (null: the object is gone) unless a watch event for the
    /// object or a relist came after <see cref="Plan"/>; the watch then holds a state at least as new.
    /// </summary>
    /// <returns>True when the answer was applied.</returns>
    public bool Complete(PlannedWrite write, T? answer)
    {
        var view = answer is null ? null : project(answer);
        lock (_lock)
        {
            if (!_writes.Remove(write) || write.Superseded)
            {
                return false;
            }

            if (view is null)
            {
                Delete(write.Namespace, write.Name);
            }
            else
            {
                Set(write.Namespace, write.Name, view);
            }
        }

        changed(write.Namespace);
        return true;
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
            _writes.ForEach(w => w.Superseded = true);
            touched = [.. _byNamespace.Keys.Union(fresh.Keys)];
            _byNamespace.Clear();
            foreach (var (ns, inNamespace) in fresh)
            {
                _byNamespace[ns] = inNamespace.Count <= ArrayLimit
                    ? inNamespace.ToArray()
                    : inNamespace.ToDictionary(e => e.Name, e => e.View, StringComparer.Ordinal);
            }
        }

        touched.ForEach(changed);
    }

    private void Supersede(string ns, string name)
    {
        foreach (var write in _writes)
        {
            if (write.Name == name && write.Namespace == ns)
            {
                write.Superseded = true;
            }
        }
    }

    private TView? Find(string ns, string name) => _byNamespace.GetValueOrDefault(ns) switch
    {
        Entry[] a when IndexOf(a, name) is var i and >= 0 => a[i].View,
        Dictionary<string, TView> d => d.GetValueOrDefault(name),
        _ => null,
    };

    private void Set(string ns, string name, TView view)
    {
        switch (_byNamespace.GetValueOrDefault(ns))
        {
            case null:
                _byNamespace[ns] = new[] { new Entry(name, view) };
                break;
            case Entry[] a when IndexOf(a, name) is var i and >= 0:
                a[i] = new Entry(name, view);
                break;
            case Entry[] a when a.Length < ArrayLimit:
                _byNamespace[ns] = (Entry[])[.. a, new Entry(name, view)];
                break;
            case Entry[] a:
                var grown = a.ToDictionary(e => e.Name, e => e.View, StringComparer.Ordinal);
                grown[name] = view;
                _byNamespace[ns] = grown;
                break;
            case Dictionary<string, TView> d:
                d[name] = view;
                break;
        }
    }

    private void Delete(string ns, string name)
    {
        switch (_byNamespace.GetValueOrDefault(ns))
        {
            case Entry[] a when IndexOf(a, name) is var i and >= 0:
                if (a.Length == 1)
                {
                    _byNamespace.Remove(ns);
                }
                else
                {
                    _byNamespace[ns] = (Entry[])[.. a[..i], .. a[(i + 1)..]];
                }

                break;
            case Dictionary<string, TView> d when d.Remove(name) && d.Count == 0:
                _byNamespace.Remove(ns);
                break;
        }
    }

    private static int IndexOf(Entry[] objects, string name) => Array.FindIndex(objects, e => e.Name == name);

    /// <summary>Namespaced objects are keyed (namespace, name); a Namespace object is keyed (its name, "").</summary>
    private static (string Namespace, string Name) Key(T obj) =>
        obj.Metadata.NamespaceProperty is { Length: > 0 } ns ? (ns, obj.Metadata.Name) : (obj.Metadata.Name, "");

    private readonly record struct Entry(string Name, TView View);

    /// <summary>A write in flight on one object; see <see cref="Plan"/>.</summary>
    internal sealed class PlannedWrite(ObjectCache<T, TView> cache, string ns, string name) : IDisposable
    {
        public string Namespace { get; } = ns;

        public string Name { get; } = name;

        /// <summary>Set (under the cache's lock) when a watch event for the object or a relist came after the plan.</summary>
        public bool Superseded { get; set; }

        public void Dispose()
        {
            lock (cache._lock)
            {
                cache._writes.Remove(this);
            }
        }
    }
}

/// <summary>Where an informer delivers what it lists and watches.</summary>
internal interface IInformerSink<in T>
{
    /// <summary>Replaces everything with <paramref name="objects"/>, a full list read as it arrives.</summary>
    Task ReplaceAsync(IAsyncEnumerable<T> objects, CancellationToken cancellationToken);

    void Upsert(T obj);

    void Remove(T obj);
}
