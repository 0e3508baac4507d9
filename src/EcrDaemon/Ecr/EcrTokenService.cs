using EcrDaemon.Aws;
using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Ecr;

/// <summary>
/// Fetches a token for every configured registry. Registries that share credentials, region and
/// endpoint are fetched in one GetAuthorizationToken call with several registryIds (at most 10, as
/// the ECR model allows); the caller's default registry gets a call of its own, and so do ECR Public
/// registries (one ecr-public call per credentials and endpoint). Each call is retried through
/// <see cref="EcrRetryPipeline"/>.
/// </summary>
internal sealed class EcrTokenService(
    IEcrAuthorizationClient client,
    IAwsCredentialSource credentialSource,
    RoleCredentialCache roles,
    EcrEndpointResolver endpoints,
    IOptions<EcrDaemonOptions> options,
    TimeProvider timeProvider,
    ILogger<EcrTokenService> logger) : IDisposable
{
    private const int MaxRegistryIdsPerCall = 10;

    /// <summary>A difference between the local clock and ECR's <c>Date</c> beyond which check warns and run logs (SigV4 fails at 5 minutes).</summary>
    public static readonly TimeSpan ClockSkewWarning = TimeSpan.FromSeconds(60);
    private readonly SemaphoreSlim _baseCredentialsGate = new(1, 1);
    private ResolvedCredentials? _baseCredentials;

    /// <summary>The configured registries, defaults applied and endpoints resolved.</summary>
    public IReadOnlyList<RegistryTarget> Targets()
    {
        var ecr = options.Value.Ecr;
        return [.. options.Value.Registries.Select((r, i) => r.Public
            ? new RegistryTarget(i, EcrEndpointResolver.PublicRegion, null, Blank(r.RoleArn), Blank(r.ExternalId), endpoints.ResolvePublic(r.Endpoint, ecr.UseFips)) { Public = true }
            : new RegistryTarget(i, r.Region!, Blank(r.AccountId), Blank(r.RoleArn), Blank(r.ExternalId), endpoints.Resolve(r.Region!, r.Endpoint, ecr.UseFips)))];
    }

    public Task<IReadOnlyList<RegistryTokenResult>> FetchAllAsync(CancellationToken cancellationToken) => FetchAsync(Targets(), cancellationToken);

    /// <summary>
    /// Fetches <paramref name="targets"/> (some or all of <see cref="Targets"/>), batching those that
    /// share a call. Never throws but for cancellation: every failure is a result with an <see cref="EcrFailure"/>.
    /// </summary>
    public async Task<IReadOnlyList<RegistryTokenResult>> FetchAsync(IReadOnlyList<RegistryTarget> targets, CancellationToken cancellationToken)
    {
        var results = new List<RegistryTokenResult>(targets.Count);
        var calls = targets.GroupBy(t => (t.RoleArn, t.ExternalId, t.Region, t.Endpoint.Url, IsDefault: t.AccountId is null, t.Public));
        foreach (var group in calls)
        {
            var members = group.ToList();
            var batches = group.Key.IsDefault
                ? [[]]
                : members.Select(t => t.AccountId!).Distinct(StringComparer.Ordinal).Chunk(MaxRegistryIdsPerCall).ToList();
            foreach (var batch in batches)
            {
                var inBatch = members.Where(t => t.AccountId is null || batch.Contains(t.AccountId)).ToList();
                var (result, source) = await CallAsync(inBatch[0], batch, cancellationToken);
                if (result.ClockSkew is { } skew && skew.Duration() > ClockSkewWarning)
                {
                    logger.ClockSkewed(inBatch[0].Endpoint.Url.Authority, skew.TotalSeconds);
                }

                results.AddRange(inBatch.Select(target => Assign(target, result, source)));
            }
        }

        return [.. results.OrderBy(r => r.Registry.Index)];
    }

    private async Task<(EcrCallResult Result, string Source)> CallAsync(RegistryTarget first, string[] registryIds, CancellationToken cancellationToken)
    {
        var retry = options.Value.Ecr.Retry;
        var label = first.Public ? "ECR Public" : registryIds.Length == 0 ? "the default registry" : string.Join(",", registryIds);
        var source = first.RoleArn is null ? "default credential chain" : $"assume-role {first.RoleArn}";
        var pipeline = EcrRetryPipeline.Create(retry, timeProvider, (attempt, delay, failure) =>
            logger.RetryingEcr(attempt, label, first.Region, delay, failure.ReasonLabel, failure.Message));

        try
        {
            var result = await pipeline.ExecuteAsync(async token =>
            {
                var (credentials, failure, described) = await CredentialsForAsync(first, token);
                source = described ?? source;
                if (credentials is null)
                {
                    return EcrCallResult.Failed(failure!);
                }

                logger.CallingEcr(first.Endpoint.Url, label, first.Region, credentials.Source);
                return await client.GetAuthorizationTokenAsync(
                    new EcrAuthorizationRequest(first.Region, first.Endpoint.Url, registryIds, credentials.Credentials) { Public = first.Public }, token);
            }, retry.TotalTimeout, cancellationToken);
            return (result, source);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A last resort: the client and the credential code classify what they know; anything else is classified here.
            return (EcrCallResult.Failed(EcrErrorClassifier.FromException(e, first.Public ? "ecr-public:GetAuthorizationToken" : "ecr:GetAuthorizationToken")), source);
        }
    }

    /// <summary>The credentials for <paramref name="target"/>, fetched (so that a failing source is named), or why not.</summary>
    private async Task<(ResolvedCredentials? Credentials, EcrFailure? Failure, string? Source)> CredentialsForAsync(RegistryTarget target, CancellationToken cancellationToken)
    {
        ResolvedCredentials resolved;
        await _baseCredentialsGate.WaitAsync(cancellationToken);
        try
        {
            if (_baseCredentials is null)
            {
                _baseCredentials = await credentialSource.ResolveAsync(cancellationToken);
                logger.ResolvedCredentials(_baseCredentials.Source);
            }

            resolved = _baseCredentials;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return (null, EcrErrorClassifier.FromCredentialResolution(e), null);
        }
        finally
        {
            _baseCredentialsGate.Release();
        }

        // The chain's choice is kept: the SDK's refreshing credentials fetch again on the next use after a
        // failure (an agent that comes up late, a token file mounted late), so a failure is per call.
        var failure = await TryGetKeysAsync(resolved, CredentialAction(resolved), cancellationToken);
        if (failure is not null)
        {
            return (null, failure, resolved.Source);
        }

        if (target.RoleArn is null)
        {
            return (resolved, null, resolved.Source);
        }

        var role = roles.For(resolved, target.RoleArn, target.ExternalId);
        failure = await TryGetKeysAsync(role, $"sts:AssumeRole on {target.RoleArn}", cancellationToken);
        return failure is null ? (role, null, role.Source) : (null, failure, role.Source);
    }

    /// <summary>Fetches (or takes from the SDK's cache) the keys of <paramref name="credentials"/>; a failure is classified.</summary>
    private static async Task<EcrFailure?> TryGetKeysAsync(ResolvedCredentials credentials, string action, CancellationToken cancellationToken)
    {
        try
        {
            await credentials.Credentials.GetCredentialsAsync().WaitAsync(cancellationToken);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return EcrErrorClassifier.FromException(e, action);
        }
    }

    private static string CredentialAction(ResolvedCredentials credentials) =>
        credentials.Credentials is Amazon.Runtime.AssumeRoleWithWebIdentityCredentials
            ? "sts:AssumeRoleWithWebIdentity"
            : $"resolving AWS credentials ({credentials.Source})";

    private RegistryTokenResult Assign(RegistryTarget target, EcrCallResult result, string source)
    {
        EcrFailure? failure = result.Failure;
        EcrAuthorizationToken? token = null;
        if (failure is null)
        {
            token = target.AccountId is null
                ? result.Tokens[0]
                : result.Tokens.FirstOrDefault(t => t.AccountId == target.AccountId)
                    ?? (result.Tokens.Count == 1 && result.Tokens[0].AccountId is null ? result.Tokens[0] : null);
            failure = token is null
                ? EcrFailure.Transient(EcrFailureReason.InvalidResponse,
                    $"invalid GetAuthorizationToken response: no authorizationData for registry {target.AccountId}")
                : null;
        }

        if (token is not null)
        {
            logger.GotToken(token.RegistryHost, token.ExpiresAt, source);
            if (token.IsExpiredAt(timeProvider.GetUtcNow()))
            {
                logger.TokenAlreadyExpired(token.RegistryHost, token.ExpiresAt);
            }
        }
        else
        {
            logger.TokenFailed(target.DisplayName, source, failure!.ReasonLabel, failure.IsTransient ? "transient" : "permanent", failure.Message);
        }

        return new RegistryTokenResult(target, source, token, failure, result.ClockSkew);
    }

    public void Dispose() => _baseCredentialsGate.Dispose();

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
