using EcrDaemon.Aws;
using EcrDaemon.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Ecr;

internal static class EcrServiceCollectionExtensions
{
    /// <summary>Registers the <c>EcrDaemon</c> options (validated at start) and everything that fetches ECR tokens.</summary>
    public static IServiceCollection AddEcr(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EcrDaemonOptions>()
            .Bind(configuration.GetSection(EcrDaemonOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IPostConfigureOptions<EcrDaemonOptions>>(new SeedEnvironmentDefaults(configuration));
        services.AddSingleton<IValidateOptions<EcrDaemonOptions>, EcrDaemonOptionsValidator>();

        services.TryAddSingleton(TimeProvider.System);
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
