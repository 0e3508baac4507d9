using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Configuration;

/// <summary>
/// An empty list in configuration: the configuration binder leaves a list key set to the empty
/// string (an environment variable such as <c>EcrDaemon__ServiceAccounts=</c>, or <c>[]</c> in
/// JSON) unset, which would mean its default. Here such a key means the empty list: no
/// ServiceAccounts (the secret only), or no excluded namespaces.
/// </summary>
internal sealed class EmptyLists(IConfiguration configuration) : IPostConfigureOptions<EcrDaemonOptions>
{
    public void PostConfigure(string? name, EcrDaemonOptions options)
    {
        var section = configuration.GetSection(EcrDaemonOptions.SectionName);
        if (IsEmptyList(section.GetSection(nameof(EcrDaemonOptions.ServiceAccounts))))
        {
            options.ServiceAccounts = [];
        }

        if (IsEmptyList(section.GetSection(nameof(EcrDaemonOptions.ExcludedNamespaces))))
        {
            options.ExcludedNamespaces = [];
        }

        for (var i = 0; i < options.Profiles.Count; i++)
        {
            var profile = section.GetSection($"{nameof(EcrDaemonOptions.Profiles)}:{i}");
            if (IsEmptyList(profile.GetSection(nameof(ProfileOptions.ServiceAccounts))))
            {
                options.Profiles[i].ServiceAccounts = [];
            }
        }
    }

    /// <summary>The key is there, holds the empty string (or only spaces), and has no children.</summary>
    private static bool IsEmptyList(IConfigurationSection key) =>
        key.Value is { } value && string.IsNullOrWhiteSpace(value) && !key.GetChildren().Any();
}
