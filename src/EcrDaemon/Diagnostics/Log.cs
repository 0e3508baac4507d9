using Microsoft.Extensions.Logging;

namespace EcrDaemon.Diagnostics;

/// <summary>
/// Every log message of the daemon, source-generated, with stable event ids. No message takes a
/// token, password or secret key as an argument.
/// </summary>
internal static partial class Log
{
    // 1xxx: ECR tokens.
    [LoggerMessage(EventId = LogEvents.CallingEcr, Level = LogLevel.Debug,
        Message = "Calling GetAuthorizationToken at {Endpoint} for {Registries} in {Region} as {CredentialSource}")]
    public static partial void CallingEcr(this ILogger logger, Uri endpoint, string registries, string region, string credentialSource);

    [LoggerMessage(EventId = LogEvents.GotToken, Level = LogLevel.Information,
        Message = "Got an ECR token for {RegistryHost}, expiring {ExpiresAt:O} ({CredentialSource})")]
    public static partial void GotToken(this ILogger logger, string registryHost, DateTimeOffset expiresAt, string credentialSource);

    [LoggerMessage(EventId = LogEvents.TokenAlreadyExpired, Level = LogLevel.Warning,
        Message = "The ECR token for {RegistryHost} expired already at {ExpiresAt:O}; accepted, but pulls with it will fail (a test server such as moto sends such tokens)")]
    public static partial void TokenAlreadyExpired(this ILogger logger, string registryHost, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = LogEvents.ClockSkewed, Level = LogLevel.Warning,
        Message = "The local clock differs from {Endpoint}'s Date header by {SkewSeconds:0} s (positive: the local clock is behind); SigV4 requests fail beyond 300 s: fix the clock (NTP)")]
    public static partial void ClockSkewed(this ILogger logger, string endpoint, double skewSeconds);

    [LoggerMessage(EventId = LogEvents.RetryingEcr, Level = LogLevel.Warning,
        Message = "GetAuthorizationToken attempt {Attempt} for {Registries} in {Region} failed, retrying in {Delay}: {Reason}: {Failure}")]
    public static partial void RetryingEcr(this ILogger logger, int attempt, string registries, string region, TimeSpan delay, string reason, string failure);

    [LoggerMessage(EventId = LogEvents.TokenFailed, Level = LogLevel.Error,
        Message = "No ECR token for {Registry} ({CredentialSource}): {Reason} ({Kind}): {Failure}")]
    public static partial void TokenFailed(this ILogger logger, string registry, string credentialSource, string reason, string kind, string failure);

    [LoggerMessage(EventId = LogEvents.ResolvedCredentials, Level = LogLevel.Debug, Message = "Resolved AWS credentials: {CredentialSource}")]
    public static partial void ResolvedCredentials(this ILogger logger, string credentialSource);

    [LoggerMessage(EventId = LogEvents.TokensPublished, Level = LogLevel.Information,
        Message = "Holding tokens for {Registries} registries, soonest expiry {Expiry}; {Failed} failed this round and keep their last good token")]
    public static partial void TokensPublished(this ILogger logger, int registries, string expiry, int failed);

    [LoggerMessage(EventId = LogEvents.WaitingForTokens, Level = LogLevel.Warning,
        Message = "{Missing} of {Total} registries have no token yet; the profiles that use them write no secret until they have, so that no secret loses a registry")]
    public static partial void WaitingForTokens(this ILogger logger, int missing, int total);

    [LoggerMessage(EventId = LogEvents.NextRefresh, Level = LogLevel.Information, Message = "Next token refresh at {At:O} (in {Delay})")]
    public static partial void NextRefresh(this ILogger logger, DateTimeOffset at, TimeSpan delay);

    [LoggerMessage(EventId = LogEvents.RefreshRoundFailed, Level = LogLevel.Error,
        Message = "A token refresh round failed with an unexpected {ExceptionType}; its {Registries} registries keep their last good token and are retried after the failure backoff")]
    public static partial void RefreshRoundFailed(this ILogger logger, string exceptionType, int registries);

    [LoggerMessage(EventId = LogEvents.SurprisingExpiry, Level = LogLevel.Warning,
        Message = "The ECR token for {RegistryHost} claims to expire at {ExpiresAt:O}, far later than ECR's 12 hours; it is fetched again within {MaxDelay} anyway")]
    public static partial void SurprisingExpiry(this ILogger logger, string registryHost, DateTimeOffset expiresAt, TimeSpan maxDelay);

    // 2xxx: Kubernetes watches.
    [LoggerMessage(EventId = LogEvents.Listed, Level = LogLevel.Information, Message = "Listed {Count} {Resource} at resourceVersion {ResourceVersion}")]
    public static partial void Listed(this ILogger logger, string resource, int count, string resourceVersion);

    [LoggerMessage(EventId = LogEvents.WatchExpired, Level = LogLevel.Information, Message = "The {Resource} watch expired (410); listing again")]
    public static partial void WatchExpired(this ILogger logger, string resource);

    [LoggerMessage(EventId = LogEvents.WatchFailed, Level = LogLevel.Warning, Message = "Listing or watching {Resource} failed: {Failure}; retrying in {Delay}")]
    public static partial void WatchFailed(this ILogger logger, string resource, string failure, TimeSpan delay);

    [LoggerMessage(EventId = LogEvents.WatchRestarted, Level = LogLevel.Information, Message = "The {Resource} watch ended ({Reason}); watching again")]
    public static partial void WatchRestarted(this ILogger logger, string resource, string reason);

    [LoggerMessage(EventId = LogEvents.WatchStalled, Level = LogLevel.Warning, Message = "The {Resource} watch was silent for {Timeout}; restarting it")]
    public static partial void WatchStalled(this ILogger logger, string resource, TimeSpan timeout);

    [LoggerMessage(EventId = LogEvents.InformersSynced, Level = LogLevel.Information,
        Message = "Synced: {Namespaces} namespaces ({OptedIn} opted in), {ServiceAccounts} ServiceAccounts, {Secrets} managed-name secrets")]
    public static partial void InformersSynced(this ILogger logger, int namespaces, int optedIn, int serviceAccounts, int secrets);

    [LoggerMessage(EventId = LogEvents.EventFailed, Level = LogLevel.Warning, Message = "Could not record the {Reason} event in {Namespace}: {Failure}")]
    public static partial void EventFailed(this ILogger logger, string reason, string @namespace, string failure);

    [LoggerMessage(EventId = LogEvents.Resynced, Level = LogLevel.Debug, Message = "Resync: enqueued {Count} namespaces")]
    public static partial void Resynced(this ILogger logger, int count);

    [LoggerMessage(EventId = LogEvents.EventDropped, Level = LogLevel.Debug, Message = "Event {Type} {Reason} in {Namespace} dropped by the event rate limit")]
    public static partial void EventDropped(this ILogger logger, string type, string reason, string @namespace);

    // 3xxx: reconcile.
    [LoggerMessage(EventId = LogEvents.SecretCreated, Level = LogLevel.Information, Message = "Created secret {Namespace}/{Secret} for profile {Profile} (token expires {Expiry})")]
    public static partial void SecretCreated(this ILogger logger, string @namespace, string secret, string profile, string expiry);

    [LoggerMessage(EventId = LogEvents.SecretUpdated, Level = LogLevel.Information, Message = "Updated secret {Namespace}/{Secret} of profile {Profile} in place (token expires {Expiry})")]
    public static partial void SecretUpdated(this ILogger logger, string @namespace, string secret, string profile, string expiry);

    [LoggerMessage(EventId = LogEvents.SecretAdopted, Level = LogLevel.Information, Message = "Adopted secret {Namespace}/{Secret} for profile {Profile} (it was an unmanaged {Type} secret)")]
    public static partial void SecretAdopted(this ILogger logger, string @namespace, string secret, string profile, string type);

    [LoggerMessage(EventId = LogEvents.SecretDeleted, Level = LogLevel.Information, Message = "Deleted secret {Namespace}/{Secret} (the namespace opted out of profile {Profile})")]
    public static partial void SecretDeleted(this ILogger logger, string @namespace, string secret, string profile);

    [LoggerMessage(EventId = LogEvents.UnmanagedSecret, Level = LogLevel.Warning,
        Message = "Secret {Namespace}/{Secret} ({Type}) of profile {Profile} is not managed by ecr-daemon and is left untouched; {How}")]
    public static partial void UnmanagedSecret(this ILogger logger, string @namespace, string secret, string profile, string type, string how);

    [LoggerMessage(EventId = LogEvents.ServiceAccountPatched, Level = LogLevel.Information, Message = "ServiceAccount {Namespace}/{ServiceAccount}: {Changes}")]
    public static partial void ServiceAccountPatched(this ILogger logger, string @namespace, string serviceAccount, string changes);

    [LoggerMessage(EventId = LogEvents.ServiceAccountConflict, Level = LogLevel.Information,
        Message = "ServiceAccount {Namespace}/{ServiceAccount} changed under us (409, attempt {Attempt}); reading it and trying again")]
    public static partial void ServiceAccountConflict(this ILogger logger, string @namespace, string serviceAccount, int attempt);

    [LoggerMessage(EventId = LogEvents.ReconcileRetrying, Level = LogLevel.Warning, Message = "Reconciling namespace {Namespace} failed: {Failure}; retrying in {Delay}")]
    public static partial void ReconcileRetrying(this ILogger logger, string @namespace, string failure, TimeSpan delay);

    [LoggerMessage(EventId = LogEvents.NamespaceGoingAway, Level = LogLevel.Debug, Message = "Namespace {Namespace} is being deleted; skipped")]
    public static partial void NamespaceGoingAway(this ILogger logger, string @namespace);

    // 3020-3039: issue 14 (cache order, immutable secrets, per-namespace Event budget).
    [LoggerMessage(EventId = LogEvents.SecretReplaced, Level = LogLevel.Information,
        Message = "Secret {Namespace}/{Secret} of profile {Profile} is immutable; replaced it (delete, then create) to hold the current token (expires {Expiry})")]
    public static partial void SecretReplaced(this ILogger logger, string @namespace, string secret, string profile, string expiry);

    [LoggerMessage(EventId = LogEvents.SecretVanished, Level = LogLevel.Information, Message = "Secret {Namespace}/{Secret} of profile {Profile} was gone when we patched it (404); creating it")]
    public static partial void SecretVanished(this ILogger logger, string @namespace, string secret, string profile);

    [LoggerMessage(EventId = LogEvents.EventDroppedForNamespace, Level = LogLevel.Debug, Message = "Event {Type} {Reason} in {Namespace} dropped: the namespace spent its own Event budget")]
    public static partial void EventDroppedForNamespace(this ILogger logger, string type, string reason, string @namespace);

    // 4xxx: leader election.
    [LoggerMessage(EventId = LogEvents.BecameLeader, Level = LogLevel.Information, Message = "This replica ({Identity}) leads and writes")]
    public static partial void BecameLeader(this ILogger logger, string identity);

    [LoggerMessage(EventId = LogEvents.LostLeadership, Level = LogLevel.Warning, Message = "This replica ({Identity}) lost leadership; writes in flight are cancelled")]
    public static partial void LostLeadership(this ILogger logger, string identity);

    [LoggerMessage(EventId = LogEvents.NewLeader, Level = LogLevel.Information, Message = "The leader is {Leader} (Lease {Namespace}/{Lease})")]
    public static partial void NewLeader(this ILogger logger, string leader, string @namespace, string lease);

    [LoggerMessage(EventId = LogEvents.LeaderElectionError, Level = LogLevel.Warning, Message = "Leader election: {Failure}")]
    public static partial void LeaderElectionError(this ILogger logger, string failure);

    [LoggerMessage(EventId = LogEvents.LeaseReleased, Level = LogLevel.Information, Message = "Released the Lease {Lease}, so another replica can take over at once")]
    public static partial void LeaseReleased(this ILogger logger, string lease);

    // 5100-5119: informer backoff (issue 14).
    [LoggerMessage(EventId = LogEvents.WatchExpiredAgain, Level = LogLevel.Warning,
        Message = "The {Resource} watch expired (410) again right after listing ({Count} in a row); listing again in {Delay}")]
    public static partial void WatchExpiredAgain(this ILogger logger, string resource, int count, TimeSpan delay);

    // 2020-2039: configuration and commands.
    [LoggerMessage(EventId = LogEvents.StoppedDuringStart, Level = LogLevel.Information, Message = "Stopped while starting; the daemon exits with code 0")]
    public static partial void StoppedDuringStart(this ILogger logger);

    // 5300-5319: review of issue 14.
    [LoggerMessage(EventId = LogEvents.TokenFailureLeftToLeader, Level = LogLevel.Debug, Message = "A token refresh failed; {Leader} leads and records the TokenRefreshFailed Events")]
    public static partial void TokenFailureLeftToLeader(this ILogger logger, string leader);

    // 9xxx: the process.
    [LoggerMessage(EventId = LogEvents.ServiceFailed, Level = LogLevel.Critical, Message = "{Service} failed; the daemon stops with exit code 1")]
    public static partial void ServiceFailed(this ILogger logger, Exception exception, string service);

    [LoggerMessage(EventId = LogEvents.HeapTrimmed, Level = LogLevel.Debug, Message = "The work queue is idle: compacted the heap, {Before} bytes committed before, {After} after")]
    public static partial void HeapTrimmed(this ILogger logger, long before, long after);
}
