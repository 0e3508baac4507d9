using System.Net;
using EcrDaemon.Kubernetes;
using k8s.Autorest;

namespace EcrDaemon.Reconciliation;

/// <summary>How one write ended.</summary>
internal enum WriteOutcome
{
    /// <summary>Nothing needed writing.</summary>
    Unchanged,

    /// <summary>Written; the answer is in the cache (unless a newer watch event is).</summary>
    Written,

    /// <summary>The object was not there (404); the cache forgets it.</summary>
    Gone,

    /// <summary>409: our cache was behind. What is there now has been read into the cache; reconcile again.</summary>
    Conflict,
}

/// <summary>What the writers share.</summary>
internal static class Writes
{
    /// <summary>A 404 on a read or write (the namespace itself still there): the object is gone (null).</summary>
    public static async Task<TResult?> GoneIsNull<TResult>(Task<TResult> request)
        where TResult : class
    {
        try
        {
            return await request;
        }
        catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.NotFound) && !ApiErrors.NamespaceGoingAway(e))
        {
            return null;
        }
    }

    /// <summary>A 404 on a delete (the namespace itself still there): the object was already gone, which is what was asked.</summary>
    public static async Task GoneIsDone(Task request)
    {
        try
        {
            await request;
        }
        catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.NotFound) && !ApiErrors.NamespaceGoingAway(e))
        {
        }
    }
}
