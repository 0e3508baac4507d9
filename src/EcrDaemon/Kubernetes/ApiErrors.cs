using System.Net;
using k8s.Autorest;

namespace EcrDaemon.Kubernetes;

/// <summary>Reads the HTTP status out of KubernetesClient's exceptions.</summary>
internal static class ApiErrors
{
    public static HttpStatusCode? Status(Exception e) => (e as HttpOperationException)?.Response?.StatusCode;

    public static bool Is(Exception e, HttpStatusCode code) => Status(e) == code;

    /// <summary>
    /// 403 "... because it is being terminated" (a create in a Terminating namespace) or 404 for
    /// the namespace itself: the namespace is going away, which is not an error.
    /// </summary>
    public static bool NamespaceGoingAway(Exception e) =>
        (Is(e, HttpStatusCode.Forbidden) && Body(e).Contains("being terminated", StringComparison.Ordinal))
        || (Is(e, HttpStatusCode.NotFound) && Body(e).Contains("namespaces \"", StringComparison.Ordinal));

    /// <summary>A short description for logs: the status code and the API's message, never a request body.</summary>
    public static string Describe(Exception e) => e switch
    {
        HttpOperationException h when h.Response is not null => $"HTTP {(int)h.Response.StatusCode} {Message(h)}".TrimEnd(),
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>The bounded <c>reason</c> label of <c>ecr_daemon_reconcile_errors_total</c> for a failure.</summary>
    public static string Reason(Exception e) => Status(e) switch
    {
        HttpStatusCode.Conflict => "conflict",
        HttpStatusCode.Forbidden => "forbidden",
        HttpStatusCode.Unauthorized => "unauthorized",
        HttpStatusCode.NotFound => "not_found",
        HttpStatusCode.TooManyRequests => "throttled",
        HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity => "invalid",
        >= HttpStatusCode.InternalServerError => "server_error",
        _ => e switch
        {
            TimeoutException => "timeout",
            HttpRequestException or IOException => "network",
            _ => "other",
        },
    };

    private static string Body(Exception e) => (e as HttpOperationException)?.Response?.Content ?? "";

    private static string Message(HttpOperationException e)
    {
        var body = e.Response.Content ?? "";
        var at = body.IndexOf("\"message\":\"", StringComparison.Ordinal);
        if (at < 0)
        {
            return "";
        }

        var start = at + 11;
        var end = body.IndexOf('"', start);
        return end > start ? body[start..end] : "";
    }
}
