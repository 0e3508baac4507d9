using System.Collections.Concurrent;

namespace EcrDaemon.TestCluster.Hooks;

/// <summary>
/// One served request, as tests count them. <see cref="Query"/> is the raw query string (with its
/// leading '?', or empty) and <see cref="ContentType"/> the request's Content-Type, so a test can
/// say which form a client sent a parameter or a patch in. On a create, update or patch,
/// <see cref="FieldManager"/> is the <c>fieldManager</c> query parameter as the server decoded it
/// ("" when the client sent none) and <see cref="Manager"/> the manager the write is recorded under
/// in <c>metadata.managedFields</c> (that parameter, else the User-Agent up to its first '/');
/// both are "" on every other verb. Assert "the client named its manager" on
/// <see cref="FieldManager"/>: <see cref="Manager"/> is never empty for a client with a User-Agent.
/// </summary>
public sealed record RequestRecord(
    long Sequence, DateTimeOffset At, string Identity, string Verb, string Resource, string Namespace, string Name, int Code,
    string Query = "", string ContentType = "", string FieldManager = "", string Manager = "")
{
    public bool IsWrite => Verb is "create" or "update" or "patch" or "delete" or "deletecollection";
}

/// <summary>
/// Every request the server answered, with verb, resource, namespace, name, status code and
/// identity. Tests and benchmarks assert on counts taken from it.
/// </summary>
public sealed class RequestLog
{
    private readonly ConcurrentQueue<RequestRecord> _records = new();
    private long _sequence;

    internal void Add(DateTimeOffset at, string identity, string verb, string resource, string ns, string name, int code,
        string query = "", string contentType = "", string fieldManager = "", string manager = "") =>
        _records.Enqueue(new RequestRecord(Interlocked.Increment(ref _sequence), at, identity, verb, resource, ns, name, code, query, contentType,
            fieldManager, manager));

    /// <summary>A mark to count from: <c>var m = log.Mark(); ...; log.Since(m)</c>.</summary>
    public long Mark() => Interlocked.Read(ref _sequence);

    public IReadOnlyList<RequestRecord> All => _records.ToArray();

    public IReadOnlyList<RequestRecord> Since(long mark) => _records.Where(r => r.Sequence > mark).ToArray();

    public int Count(string? verb = null, string? resource = null, string? ns = null, string? identity = null, int? code = null, long since = 0) =>
        _records.Count(r => r.Sequence > since
                            && (verb is null || r.Verb == verb)
                            && (resource is null || r.Resource == resource)
                            && (ns is null || r.Namespace == ns)
                            && (identity is null || r.Identity == identity)
                            && (code is null || r.Code == code));

    /// <summary>Counts grouped by verb, resource, namespace, code and identity.</summary>
    public IReadOnlyDictionary<(string Verb, string Resource, string Namespace, int Code, string Identity), int> Counters(long since = 0) =>
        _records.Where(r => r.Sequence > since)
            .GroupBy(r => (r.Verb, r.Resource, r.Namespace, r.Code, r.Identity))
            .ToDictionary(g => g.Key, g => g.Count());

    public void Clear() => _records.Clear();
}
