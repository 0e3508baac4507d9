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

    /// <summary>AWS refused the request's time (SigV4 allows 5 minutes): this machine's clock is wrong; permanent until it is fixed.</summary>
    ClockSkew,
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
        EcrFailureReason.ClockSkew => "clock_skew",
        _ => "other",
    };
}
