using Microsoft.Extensions.Logging;

namespace EcrDaemon.Diagnostics;

/// <summary>
/// Every log message of the daemon, source-generated, with stable event ids. No message takes a
/// token, password or secret key as an argument.
/// </summary>
internal static partial class Log
{
    // 1xxx: ECR tokens.
    [LoggerMessage(EventId = 1001, Level = LogLevel.Debug,
        Message = "Calling GetAuthorizationToken at {Endpoint} for {Registries} in {Region} as {CredentialSource}")]
    public static partial void CallingEcr(this ILogger logger, Uri endpoint, string registries, string region, string credentialSource);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information,
        Message = "Got an ECR token for {RegistryHost}, expiring {ExpiresAt:O} ({CredentialSource})")]
    public static partial void GotToken(this ILogger logger, string registryHost, DateTimeOffset expiresAt, string credentialSource);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning,
        Message = "The ECR token for {RegistryHost} expired already at {ExpiresAt:O}; accepted, but pulls with it will fail (a test server such as moto sends such tokens)")]
    public static partial void TokenAlreadyExpired(this ILogger logger, string registryHost, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning,
        Message = "GetAuthorizationToken attempt {Attempt} for {Registries} in {Region} failed, retrying in {Delay}: {Reason}: {Failure}")]
    public static partial void RetryingEcr(this ILogger logger, int attempt, string registries, string region, TimeSpan delay, string reason, string failure);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error,
        Message = "No ECR token for {Registry} ({CredentialSource}): {Reason} ({Kind}): {Failure}")]
    public static partial void TokenFailed(this ILogger logger, string registry, string credentialSource, string reason, string kind, string failure);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "Resolved AWS credentials: {CredentialSource}")]
    public static partial void ResolvedCredentials(this ILogger logger, string credentialSource);
}
