using Amazon.Runtime;

namespace EcrDaemon.Ecr;

/// <summary>
/// The one ECR operation the daemon needs: a single GetAuthorizationToken call, without retries
/// (the caller retries). Where AWSSDK.ECR is available, an implementation on AmazonECRClient
/// replaces <see cref="SigV4EcrAuthorizationClient"/> and nothing else changes.
/// </summary>
internal interface IEcrAuthorizationClient
{
    /// <summary>
    /// Calls GetAuthorizationToken once. Failures come back as <see cref="EcrCallResult.Failure"/>;
    /// only cancellation through <paramref name="cancellationToken"/> throws.
    /// </summary>
    Task<EcrCallResult> GetAuthorizationTokenAsync(EcrAuthorizationRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// One call: where to send it, as whom, and for which registries (empty: the caller's default registry).
/// <see cref="Public"/>: ECR Public's GetAuthorizationToken (no registry ids; one token for public.ecr.aws).
/// </summary>
internal sealed record EcrAuthorizationRequest(string Region, Uri Endpoint, IReadOnlyList<string> RegistryIds, AWSCredentials Credentials)
{
    public bool Public { get; init; }
}

/// <summary>The outcome of one call: the tokens, or a typed failure.</summary>
internal sealed class EcrCallResult
{
    private EcrCallResult(IReadOnlyList<EcrAuthorizationToken> tokens, EcrFailure? failure)
    {
        Tokens = tokens;
        Failure = failure;
    }

    public IReadOnlyList<EcrAuthorizationToken> Tokens { get; }

    public EcrFailure? Failure { get; }

    /// <summary>
    /// The service's clock (the response's <c>Date</c> header) minus this machine's when the answer came: positive when the
    /// local clock is behind. Null without a <c>Date</c> header (or without an answer).
    /// </summary>
    public TimeSpan? ClockSkew { get; private init; }

    /// <summary>This result, with the clock skew measured from <paramref name="serverDate"/> at <paramref name="localNow"/>.</summary>
    public EcrCallResult WithServerDate(DateTimeOffset? serverDate, DateTimeOffset localNow) =>
        serverDate is { } date ? new(Tokens, Failure) { ClockSkew = date - localNow } : this;

    public static EcrCallResult Success(IReadOnlyList<EcrAuthorizationToken> tokens) => new(tokens, null);

    public static EcrCallResult Failed(EcrFailure failure) => new([], failure);
}
