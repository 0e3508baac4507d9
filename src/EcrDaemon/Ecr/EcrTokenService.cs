using EcrDaemon.Aws;
using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Ecr;

/// <summary>
/// Fetches a token for every configured registry. Registries that share credentials, region and
/// endpoint are fetched in one GetAuthorizationToken call with several registryIds (at most 10, as
/// the ECR model allows); the caller's default registry gets a call of its own. Each call is
/// retried through <see cref="EcrRetryPipeline"/>.
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
    private readonly SemaphoreSlim baseCredentialsGate = new(1, 1);
    private ResolvedCredentials? baseCredentials;

    /// <summary>The configured registries, defaults applied and endpoints resolved.</summary>
    public IReadOnlyList<RegistryTarget> Targets()
    {
        var ecr = options.Value.Ecr;
        return [.. options.Value.Registries.Select((r, i) => new RegistryTarget(
            i, r.Region!, Blank(r.AccountId), Blank(r.RoleArn), Blank(r.ExternalId), endpoints.Resolve(r.Region!, r.Endpoint, ecr.UseFips)))];
    }

    public async Task<IReadOnlyList<RegistryTokenResult>> FetchAllAsync(CancellationToken cancellationToken)
    {
        var targets = Targets();
        var results = new RegistryTokenResult[targets.Count];
        var calls = targets.GroupBy(t => (t.RoleArn, t.ExternalId, t.Region, t.Endpoint.Url, IsDefault: t.AccountId is null));
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
                foreach (var target in inBatch)
                {
                    results[target.Index] = Assign(target, result, source);
                }
            }
        }

        return results;
    }

    private async Task<(EcrCallResult Result, string Source)> CallAsync(RegistryTarget first, string[] registryIds, CancellationToken cancellationToken)
    {
        var retry = options.Value.Ecr.Retry;
        var label = registryIds.Length == 0 ? "the default registry" : string.Join(",", registryIds);
        var source = first.RoleArn is null ? "default credential chain" : $"assume-role {first.RoleArn}";
        var pipeline = EcrRetryPipeline.Create(retry, timeProvider, (attempt, delay, failure) =>
            logger.RetryingEcr(attempt, label, first.Region, delay, failure.ReasonLabel, failure.Message));

        var result = await pipeline.ExecuteAsync(async token =>
        {
            var (credentials, failure) = await CredentialsForAsync(first, token);
            if (credentials is null)
            {
                return EcrCallResult.Failed(failure!);
            }

            source = credentials.Source;
            logger.CallingEcr(first.Endpoint.Url, label, first.Region, credentials.Source);
            return await client.GetAuthorizationTokenAsync(
                new EcrAuthorizationRequest(first.Region, first.Endpoint.Url, registryIds, credentials.Credentials), token);
        }, retry.TotalTimeout, cancellationToken);
        return (result, source);
    }

    private async Task<(ResolvedCredentials? Credentials, EcrFailure? Failure)> CredentialsForAsync(RegistryTarget target, CancellationToken cancellationToken)
    {
        await baseCredentialsGate.WaitAsync(cancellationToken);
        try
        {
            if (baseCredentials is null)
            {
                baseCredentials = await credentialSource.ResolveAsync(cancellationToken);
                logger.ResolvedCredentials(baseCredentials.Source);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return (null, EcrErrorClassifier.FromCredentialResolution(e));
        }
        finally
        {
            baseCredentialsGate.Release();
        }

        if (target.RoleArn is null)
        {
            return (baseCredentials, null);
        }

        var role = roles.For(baseCredentials, target.RoleArn, target.ExternalId);
        try
        {
            // Surfaces STS errors here, with the role named; the SDK caches the session afterwards.
            await role.Credentials.GetCredentialsAsync().WaitAsync(cancellationToken);
            return (role, null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return (null, EcrErrorClassifier.FromException(e, $"sts:AssumeRole on {target.RoleArn}"));
        }
    }

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

        return new RegistryTokenResult(target, source, token, failure);
    }

    public void Dispose() => baseCredentialsGate.Dispose();

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
