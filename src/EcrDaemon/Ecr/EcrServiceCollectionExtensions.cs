using EcrDaemon.Aws;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EcrDaemon.Ecr;

internal static class EcrServiceCollectionExtensions
{
    /// <summary>
    /// Registers everything that fetches ECR tokens. The composition root calls it after it has
    /// registered the options and the <see cref="TimeProvider"/> these services take.
    /// </summary>
    public static IServiceCollection AddEcr(this IServiceCollection services)
    {
        // Process-wide and idempotent: the STS client for IRSA and assume-role, which Native AOT cannot find by reflection.
        AwsRuntimeDependencies.Register();
        services.TryAddSingleton<IAwsCredentialSource, DefaultChainCredentialSource>();
        services.TryAddSingleton<EcrEndpointResolver>();
        services.TryAddSingleton<RoleCredentialCache>();
        services.TryAddSingleton<EcrTokenService>();
        services.TryAddSingleton(FailureBackoff.Default);

        // The client's own per-attempt timeout applies; HttpClient's must not cut in first.
        services.AddHttpClient(SigV4EcrAuthorizationClient.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        services.TryAddSingleton<IEcrAuthorizationClient, SigV4EcrAuthorizationClient>();
        return services;
    }
}
