using EcrDaemon.StandIns;
using Amazon.Runtime;
using EcrDaemon.Aws;
using EcrDaemon.Controller;
using EcrDaemon.Ecr;
using EcrDaemon.Tests.Ecr;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Tests.Support;

/// <summary>Credentials handed in by a test, so that no test consults the machine's credential chain.</summary>
internal sealed class StaticCredentialSource(AWSCredentials credentials, string source = "test credentials") : IAwsCredentialSource
{
    public Task<ResolvedCredentials> ResolveAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new ResolvedCredentials(credentials, source));
}

/// <summary>Builds the daemon's real ECR services (AddEcr, with the options and clock the composition root registers) over in-memory configuration, for in-process tests.</summary>
internal static class EcrTestServices
{
    /// <summary>
    /// Short backoffs so that fault tests stay fast, and a generous per-attempt timeout so that a
    /// loaded machine does not turn a normal answer into a retry; tests override single keys.
    /// </summary>
    public static Dictionary<string, string?> FastSettings() => new()
    {
        ["EcrDaemon:Ecr:Timeout"] = "00:00:20",
        ["EcrDaemon:Ecr:Retry:MaxAttempts"] = "4",
        ["EcrDaemon:Ecr:Retry:BaseDelay"] = "00:00:00.010",
        ["EcrDaemon:Ecr:Retry:MaxDelay"] = "00:00:00.050",
        ["EcrDaemon:Ecr:Retry:TotalTimeout"] = "00:00:30",
    };

    /// <summary>Settings for registries at the stand-in, one per account id (null: the default registry).</summary>
    public static Dictionary<string, string?> ForStandIn(EcrStandIn standIn, params string?[] accountIds)
    {
        var settings = FastSettings();
        for (var i = 0; i < accountIds.Length; i++)
        {
            settings[$"EcrDaemon:Registries:{i}:Region"] = standIn.Region;
            settings[$"EcrDaemon:Registries:{i}:AccountId"] = accountIds[i];
            settings[$"EcrDaemon:Registries:{i}:Endpoint"] = standIn.Endpoint.ToString();
        }

        return settings;
    }

    public static ServiceProvider Build(
        IDictionary<string, string?> settings,
        AWSCredentials? credentials = null,
        CapturingLoggerProvider? logs = null,
        Action<IServiceCollection>? customize = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace);
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        services.AddSingleton<IAwsCredentialSource>(new StaticCredentialSource(
            credentials ?? new BasicAWSCredentials(EcrStandIn.DefaultAccessKeyId, EcrStandIn.DefaultSecretAccessKey)));
        customize?.Invoke(services);
        services.AddDaemonOptions(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddEcr();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static async Task<IReadOnlyList<RegistryTokenResult>> FetchAsync(ServiceProvider services) =>
        await services.GetRequiredService<EcrTokenService>().FetchAllAsync(CancellationToken.None);
}
