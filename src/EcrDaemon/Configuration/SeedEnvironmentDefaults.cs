using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Configuration;

/// <summary>
/// Compatibility with the seed's Secret, which sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
/// AWS_REGION and AWS_ACCOUNT: with no registries configured, those describe the one registry
/// (account AWS_ACCOUNT in region AWS_REGION). A registry without a Region takes AWS_REGION, or
/// AWS_DEFAULT_REGION. The keys themselves are read by the AWS SDK's credential chain.
/// </summary>
internal sealed class SeedEnvironmentDefaults(IConfiguration configuration) : IPostConfigureOptions<EcrDaemonOptions>
{
    public void PostConfigure(string? name, EcrDaemonOptions options)
    {
        var region = Value("AWS_REGION") ?? Value("AWS_DEFAULT_REGION");
        if (options.Registries.Count == 0)
        {
            options.Registries.Add(new RegistryOptions { Region = region, AccountId = Value("AWS_ACCOUNT") });
            return;
        }

        foreach (var registry in options.Registries)
        {
            if (string.IsNullOrWhiteSpace(registry.Region))
            {
                registry.Region = region;
            }
        }
    }

    private string? Value(string key) => string.IsNullOrWhiteSpace(configuration[key]) ? null : configuration[key]!.Trim();
}
