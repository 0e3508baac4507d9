using System.Text.Json.Nodes;
using System.Threading.Channels;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.TestCluster.Storage;

/// <summary>
/// One stored object: never mutated after it is stored (writers store a new one). Its JSON is
/// serialized once, and the node tree is fully materialized so that concurrent readers are safe.
/// </summary>
public sealed class StoredObject
{
    public StoredObject(ResourceType type, JsonObject obj, long resourceVersion)
    {
        Type = type;
        Node = obj;
        ResourceVersion = resourceVersion;
        Materialize(obj);
        Json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(obj);
        Namespace = obj["metadata"]?["namespace"]?.GetValue<string>() ?? "";
        Name = obj["metadata"]!["name"]!.GetValue<string>();
        Labels = obj["metadata"]?["labels"] as JsonObject;
    }

    public ResourceType Type { get; }

    public JsonObject Node { get; }

    public long ResourceVersion { get; }

    public byte[] Json { get; }

    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    Materialize(child);
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    Materialize(child);
                }

                break;
            default:
                break;
        }
    }

    // Read once: list filters and watch fan-out consult these for every object.
    public string Namespace { get; }

    public string Name { get; }

    public JsonObject? Labels { get; }

    public string Key => Namespace + "/" + Name;
}

/// <summary>A change, as a watch sees it. <see cref="Previous"/> lets a watcher evaluate selector transitions.</summary>
public sealed record StoreEvent(string Type, ResourceType Resource, StoredObject Item, StoredObject? Previous);

/// <summary>
/// The cluster's objects, one cluster-wide resourceVersion counter, a bounded event history and
/// the open watches. Every method takes the one lock, so a write and its fan-out to watchers are
/// atomic and watchers see events in resourceVersion order.
/// </summary>
public sealed class ObjectStore
{
    private readonly Dictionary<ResourceType, SortedDictionary<string, StoredObject>> _objects =
        ResourceType.All.ToDictionary(t => t, _ => new SortedDictionary<string, StoredObject>(StringComparer.Ordinal));

    private readonly LinkedList<StoreEvent> _history = new();
    private readonly List<Watcher> _watchers = [];
    private long _resourceVersion = 1000;
    private long _compactedRevision = 1000;

    public object Lock { get; } = new();

    /// <summary>How many events the history keeps; a watch from an older resourceVersion gets 410 Expired.</summary>
    public int HistoryLimit { get; set; } = 100_000;

    public long CurrentResourceVersion
    {
        get
        {
            lock (Lock)
            {
                return _resourceVersion;
            }
        }
    }

    /// <summary>The oldest resourceVersion a watch or a continued list can still start from.</summary>
    public long CompactedResourceVersion
    {
        get
        {
            lock (Lock)
            {
                return _compactedRevision;
            }
        }
    }

    public int WatcherCount
    {
        get
        {
            lock (Lock)
            {
                return _watchers.Count;
            }
        }
    }

    public StoredObject? Get(ResourceType type, string ns, string name)
    {
        lock (Lock)
        {
            return _objects[type].GetValueOrDefault(ns + "/" + name);
        }
    }

    /// <summary>
    /// One page of a list, in key order, starting after <paramref name="after"/>.
    /// </summary>
    public (List<StoredObject> Items, long ResourceVersion, string? LastKey, long Remaining) List(
        ResourceType type, string? ns, Func<StoredObject, bool> filter, int limit, string? after)
    {
        lock (Lock)
        {
            var items = new List<StoredObject>();
            string? lastKey = null;
            long remaining = 0;
            IEnumerable<KeyValuePair<string, StoredObject>> source = _objects[type];
            if (ns is not null)
            {
                source = source.Where(kv => kv.Value.Namespace == ns);
            }

            if (after is not null)
            {
                source = source.Where(kv => string.CompareOrdinal(kv.Key, after) > 0);
            }

            foreach (var (key, obj) in source)
            {
                if (!filter(obj))
                {
                    continue;
                }

                if (limit > 0 && items.Count >= limit)
                {
                    remaining++;
                    continue;
                }

                items.Add(obj);
                lastKey = key;
            }

            return (items, _resourceVersion, remaining > 0 ? lastKey : null, remaining);
        }
    }

    /// <summary>All objects of a type in a namespace (for namespace deletion).</summary>
    public List<StoredObject> InNamespace(ResourceType type, string ns)
    {
        lock (Lock)
        {
            return _objects[type].Values.Where(o => o.Namespace == ns).ToList();
        }
    }

    /// <summary>Stores a new version of an object and tells the watchers. The caller holds <see cref="Lock"/>.</summary>
    public StoredObject Put(ResourceType type, JsonObject obj)
    {
        var rv = ++_resourceVersion;
        obj["metadata"]!["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var stored = new StoredObject(type, obj, rv);
        var map = _objects[type];
        map.TryGetValue(stored.Key, out var previous);
        map[stored.Key] = stored;
        Publish(new StoreEvent(previous is null ? "ADDED" : "MODIFIED", type, stored, previous));
        return stored;
    }

    /// <summary>Removes an object and tells the watchers. The caller holds <see cref="Lock"/>.</summary>
    public StoredObject Remove(StoredObject existing)
    {
        var rv = ++_resourceVersion;
        _objects[existing.Type].Remove(existing.Key);
        var obj = (JsonObject)existing.Node.DeepClone();
        obj["metadata"]!["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var gone = new StoredObject(existing.Type, obj, rv);
        Publish(new StoreEvent("DELETED", existing.Type, gone, existing));
        return gone;
    }

    private void Publish(StoreEvent e)
    {
        _history.AddLast(e);
        while (_history.Count > HistoryLimit)
        {
            _compactedRevision = _history.First!.Value.Item.ResourceVersion;
            _history.RemoveFirst();
        }

        foreach (var w in _watchers)
        {
            w.Offer(e);
        }
    }

    /// <summary>Forgets all history: every watch from a resourceVersion before now will get 410 Expired.</summary>
    public void Compact()
    {
        lock (Lock)
        {
            _history.Clear();
            _compactedRevision = _resourceVersion;
        }
    }

    /// <summary>
    /// Opens a watch. Replays history after <paramref name="fromResourceVersion"/>, or, when it is
    /// null, sends ADDED for every current object first. Returns null when the history needed is
    /// gone (the caller answers 410 Expired) together with the oldest revision still available.
    /// </summary>
    public (Watcher? Watcher, long Compacted) Watch(ResourceType type, string? ns, LabelSelector labels, FieldSelector fields,
        long? fromResourceVersion)
    {
        lock (Lock)
        {
            if (fromResourceVersion is { } from && from < _compactedRevision)
            {
                return (null, _compactedRevision);
            }

            var watcher = new Watcher(this, type, ns, labels, fields);
            if (fromResourceVersion is { } since)
            {
                foreach (var e in _history)
                {
                    if (e.Resource == type && e.Item.ResourceVersion > since)
                    {
                        watcher.Offer(e);
                    }
                }
            }
            else
            {
                foreach (var obj in _objects[type].Values)
                {
                    watcher.Offer(new StoreEvent("ADDED", type, obj, null));
                }
            }

            _watchers.Add(watcher);
            return (watcher, _compactedRevision);
        }
    }

    internal void Unregister(Watcher watcher)
    {
        lock (Lock)
        {
            _watchers.Remove(watcher);
        }
    }

    /// <summary>Ends every open watch stream now (clients see the stream close, as on an apiserver restart).</summary>
    public int CloseAllWatches()
    {
        lock (Lock)
        {
            var n = _watchers.Count;
            foreach (var w in _watchers.ToList())
            {
                w.Close();
            }

            return n;
        }
    }

    /// <summary>Each open watch stream ends after it has delivered <paramref name="events"/> more events.</summary>
    public void CloseWatchesAfter(int events)
    {
        lock (Lock)
        {
            foreach (var w in _watchers)
            {
                w.CloseAfter(events);
            }
        }
    }

    /// <summary>Queues a BOOKMARK at the current resourceVersion behind every event already queued.</summary>
    internal void Bookmark(Watcher watcher)
    {
        lock (Lock)
        {
            watcher.Enqueue(new WatchMessage("BOOKMARK", null, _resourceVersion));
        }
    }
}

/// <summary>One message on a watch stream: an event with its object, or a bookmark at a resourceVersion.</summary>
public sealed record WatchMessage(string Type, StoredObject? Item, long ResourceVersion);

/// <summary>An open watch: a filter and a queue of messages for the HTTP response to drain.</summary>
public sealed class Watcher
{
    private readonly ObjectStore _store;
    private readonly Channel<WatchMessage> _channel = Channel.CreateUnbounded<WatchMessage>(new UnboundedChannelOptions { SingleReader = true });
    private int _closeAfter = -1;

    internal Watcher(ObjectStore store, ResourceType type, string? ns, LabelSelector labels, FieldSelector fields)
    {
        _store = store;
        Type = type;
        Namespace = ns;
        Labels = labels;
        Fields = fields;
    }

    public ResourceType Type { get; }

    public string? Namespace { get; }

    public LabelSelector Labels { get; }

    public FieldSelector Fields { get; }

    public ChannelReader<WatchMessage> Reader => _channel.Reader;

    private bool Matches(StoredObject o) =>
        (Namespace is null || o.Namespace == Namespace) && Labels.Matches(o.Labels) && Fields.Matches(o.Node);

    // Called under the store lock. A modification that moves an object into or out of the
    // selection is seen as ADDED or DELETED, as the real watch cache does.
    internal void Offer(StoreEvent e)
    {
        if (e.Resource != Type)
        {
            return;
        }

        var now = Matches(e.Item);
        var before = e.Previous is not null && e.Type == "MODIFIED" && Matches(e.Previous);
        switch (e.Type)
        {
            case "MODIFIED" when now && before:
                Enqueue(new WatchMessage("MODIFIED", e.Item, e.Item.ResourceVersion));
                break;
            case "MODIFIED" when now:
                Enqueue(new WatchMessage("ADDED", e.Item, e.Item.ResourceVersion));
                break;
            case "MODIFIED" when before:
                var gone = (JsonObject)e.Previous!.Node.DeepClone();
                gone["metadata"]!["resourceVersion"] = e.Item.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Enqueue(new WatchMessage("DELETED", new StoredObject(e.Resource, gone, e.Item.ResourceVersion), e.Item.ResourceVersion));
                break;
            case "ADDED" or "DELETED" when now:
                Enqueue(new WatchMessage(e.Type, e.Item, e.Item.ResourceVersion));
                break;
            default:
                break;
        }
    }

    internal void Enqueue(WatchMessage message) => _channel.Writer.TryWrite(message);

    /// <summary>Counts one delivered event; returns false when the stream should now end.</summary>
    internal bool Delivered()
    {
        lock (_store.Lock)
        {
            if (_closeAfter > 0 && --_closeAfter == 0)
            {
                Close();
                return false;
            }

            return true;
        }
    }

    internal void CloseAfter(int events) => _closeAfter = events;

    public void Close() => _channel.Writer.TryComplete();

    public void Bookmark() => _store.Bookmark(this);

    public void Dispose() => _store.Unregister(this);
}
