namespace EcrDaemon.Ecr;

/// <summary>
/// Why fetching a token failed. The label of each value is the <c>reason</c> label of the
/// failure metrics, so the set is closed and the labels are stable.
/// </summary>
internal enum EcrFailureReason
{
    Throttled,
    AccessDenied,
    InvalidCredentials,
    Network,
    Timeout,
    InvalidResponse,
    Other,
}

internal static class EcrFailureReasonExtensions
{
    public static string ToLabel(this EcrFailureReason reason) => reason switch
    {
        EcrFailureReason.Throttled => "throttled",
        EcrFailureReason.AccessDenied => "access_denied",
        EcrFailureReason.InvalidCredentials => "invalid_credentials",
        EcrFailureReason.Network => "network",
        EcrFailureReason.Timeout => "timeout",
        EcrFailureReason.InvalidResponse => "invalid_response",
        _ => "other",
    };
}
