namespace EcrDaemon.Ecr;

/// <summary>
/// A typed failure to obtain a token. <see cref="IsTransient"/> failures are worth retrying with
/// backoff; the others stay failed until the configuration or the AWS permissions change, so
/// retrying them at once only adds load. <see cref="Message"/> names the cause for a human and
/// never contains a token, password or secret key.
/// </summary>
internal sealed record EcrFailure(EcrFailureReason Reason, bool IsTransient, string Message)
{
    public string ReasonLabel => Reason.ToLabel();

    public static EcrFailure Transient(EcrFailureReason reason, string message) => new(reason, true, message);

    public static EcrFailure Permanent(EcrFailureReason reason, string message) => new(reason, false, message);

    public override string ToString() => $"{ReasonLabel} ({(IsTransient ? "transient" : "permanent")}): {Message}";
}
