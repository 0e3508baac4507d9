using EcrDaemon.Configuration;
using EcrDaemon.Reconciliation;
using EcrDaemon.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace EcrDaemon.Tests.Reconciliation;

/// <summary>Review of pull-secret profiles: configurations that pass validation must mean what they say.</summary>
public sealed class ProfileReviewTests
{
    /// <summary>
    /// Profiles:0 and Profiles:2 (Profiles:1 removed from the environment): the binder makes them the list's
    /// entries 0 and 1. The secret-only profile written as Profiles:2 must stay secret-only, not patch "default".
    /// </summary>
    [Fact]
    public void An_empty_ServiceAccounts_list_means_secret_only_also_when_the_profile_keys_have_a_gap()
    {
        using var services = EcrTestServices.Build(new Dictionary<string, string?>
        {
            ["EcrDaemon:Registries:0:Region"] = "us-west-2",
            ["EcrDaemon:Registries:0:Name"] = "r",
            ["EcrDaemon:Profiles:0:Name"] = "a",
            ["EcrDaemon:Profiles:0:NamespaceSelector"] = "a=true",
            ["EcrDaemon:Profiles:0:SecretName"] = "ecr-a",
            ["EcrDaemon:Profiles:0:Registries:0"] = "r",
            ["EcrDaemon:Profiles:2:Name"] = "c",
            ["EcrDaemon:Profiles:2:NamespaceSelector"] = "c=true",
            ["EcrDaemon:Profiles:2:SecretName"] = "ecr-c",
            ["EcrDaemon:Profiles:2:Registries:0"] = "r",
            ["EcrDaemon:Profiles:2:ServiceAccounts"] = "",
        });

        var profiles = PullSecretProfiles.From(services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value);

        Assert.Equal(["a", "c"], profiles.Select(p => p.Name));
        Assert.False(profiles[0].SecretOnly);
        Assert.True(profiles[1].SecretOnly);
        Assert.False(profiles[1].Targets("default"));
    }
}
