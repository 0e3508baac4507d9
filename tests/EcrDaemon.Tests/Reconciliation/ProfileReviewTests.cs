using System.Reflection;
using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Kubernetes;
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

    private static PullSecretProfiles Three(string[] targetsA, string[] targetsB, string[] targetsC)
    {
        var options = new EcrDaemonOptions();
        options.Registries.Add(new RegistryOptions { Name = "r", Region = "us-west-2" });
        foreach (var (name, targets) in new[] { ("a", targetsA), ("b", targetsB), ("c", targetsC) })
        {
            options.Profiles.Add(new ProfileOptions { Name = name, NamespaceSelector = $"{name}=true", SecretName = $"ecr-{name}", Registries = ["r"], ServiceAccounts = targets });
        }

        return PullSecretProfiles.From(options);
    }

    /// <summary>
    /// Every ServiceAccount a namespace owner could write (lists and marker values with our names, other names,
    /// repeats, blanks, spaces, old names), under every profile set: NeedsChange agrees with Plan, and one write
    /// brings the ServiceAccount where neither asks for another (no write per reconcile), and nothing that is not
    /// ours by the marker is taken out.
    /// </summary>
    [Fact]
    public void NeedsChange_agrees_with_Plan_and_one_write_settles_every_ServiceAccount()
    {
        string[] names = ["ecr-a", "ecr-b", "ecr-c", "x", "old", ""];
        string[] markers = ["", "ecr-a", "ecr-a,ecr-b", " ecr-b , ecr-a ,", "ecr-c,ecr-c", "x,old", ",,", "ecr-a,x,ecr-b,old,ecr-c", new string('y', 5000) + ",ecr-b"];
        var profileSets = new[] { Three(["default"], ["*"], []), Three([], ["builder"], ["default", "builder"]) };
        var random = new Random(18);
        for (var run = 0; run < 20_000; run++)
        {
            var profiles = profileSets[random.Next(profileSets.Length)];
            var planner = new ServiceAccountPlanner(profiles);
            var sets = new ProfileSets((ulong)random.Next(8), 0);
            sets = sets with { Cleanup = (ulong)random.Next(8) & ~sets.Ensured };
            var list = Enumerable.Range(0, random.Next(5)).Select(_ => names[random.Next(names.Length)]).ToArray();
            var marker = random.Next(3) == 0 ? null : markers[random.Next(markers.Length)];
            var previous = random.Next(3) == 0 ? "old" : null;
            var sa = new ServiceAccountView("n", random.Next(2) == 0 ? "default" : "builder", "1", list, marker, previous);

            var change = planner.Plan(sets, sa);
            var what = $"run {run}: {sa} list [{string.Join(",", list)}] sets {sets}";
            Assert.True(planner.NeedsChange(sets, sa) == (change is not null), what);
            if (change is null)
            {
                continue;
            }

            var after = sa with
            {
                PullSecrets = [.. change.PullSecrets ?? []],
                Added = change.Added.Changes ? change.Added.Value : sa.Added,
                Previous = change.Previous.Changes ? change.Previous.Value : sa.Previous,
            };
            Assert.False(planner.NeedsChange(sets, after), what + $" -> [{string.Join(",", after.PullSecrets)}] {after.Added}");
            Assert.Null(planner.Plan(sets, after));

            // Only entries the marker said were ours (of a profile whose entries may go) are taken out.
            foreach (var gone in list.Distinct().Where(n => !after.PullSecrets.Contains(n)))
            {
                Assert.True(Markers.Lists(marker, gone), what + $" took out {gone}");
            }
        }
    }

    [Theory]
    [InlineData("POST", "https://10.0.0.1:6443/api/v1/namespaces/n/events", "https://10.0.0.1:6443/api/v1/namespaces/n/events?fieldManager=ecr-daemon")]
    [InlineData("PATCH", "https://k/api/v1/namespaces/n/serviceaccounts/default?pretty=true", "https://k/api/v1/namespaces/n/serviceaccounts/default?pretty=true&fieldManager=ecr-daemon")]
    [InlineData("PUT", "https://k/apis/coordination.k8s.io/v1/namespaces/n/leases/l?fieldManager=other", "https://k/apis/coordination.k8s.io/v1/namespaces/n/leases/l?fieldManager=other")]
    [InlineData("POST", "https://k/api/v1/namespaces/n/secrets?labelSelector=a%3Db%2Cc", "https://k/api/v1/namespaces/n/secrets?labelSelector=a%3Db%2Cc&fieldManager=ecr-daemon")]
    [InlineData("GET", "https://k/api/v1/secrets?watch=true&fieldSelector=metadata.name%3Daws-registry", "https://k/api/v1/secrets?watch=true&fieldSelector=metadata.name%3Daws-registry")]
    [InlineData("DELETE", "https://k/api/v1/namespaces/n/secrets/s", "https://k/api/v1/namespaces/n/secrets/s")]
    public void The_field_manager_is_added_to_writes_only_and_keeps_the_query(string method, string uri, string expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), uri);

        ApiRequestHandler.NameFieldManager(request);

        Assert.Equal(expected, request.RequestUri!.AbsoluteUri);
    }

    /// <summary>
    /// Profile p holds registries a and b (fetched in one round: the same expiry), profile q holds c. a rotates
    /// (p's secrets are being rewritten, its expiry, b's, stays), then c rotates before every p secret is
    /// rewritten. A p secret still holding a's old token is a routine rotation, not a repair: c's rotation
    /// does not change p's content, so it must not change what p's "previous" is.
    /// </summary>
    [Fact]
    public void A_rotation_of_a_registry_a_profile_does_not_use_leaves_that_profiles_previous_content()
    {
        var settings = new Dictionary<string, string?>
        {
            ["EcrDaemon:Profiles:0:Name"] = "p",
            ["EcrDaemon:Profiles:0:NamespaceSelector"] = "p=true",
            ["EcrDaemon:Profiles:0:SecretName"] = "ecr-p",
            ["EcrDaemon:Profiles:0:Registries:0"] = "a",
            ["EcrDaemon:Profiles:0:Registries:1"] = "b",
            ["EcrDaemon:Profiles:1:Name"] = "q",
            ["EcrDaemon:Profiles:1:NamespaceSelector"] = "q=true",
            ["EcrDaemon:Profiles:1:SecretName"] = "ecr-q",
            ["EcrDaemon:Profiles:1:Registries:0"] = "c",
        };
        string[] accounts = ["111111111111", "222222222222", "333333333333"];
        for (var i = 0; i < 3; i++)
        {
            settings[$"EcrDaemon:Registries:{i}:Name"] = ((char)('a' + i)).ToString();
            settings[$"EcrDaemon:Registries:{i}:Region"] = "us-west-2";
            settings[$"EcrDaemon:Registries:{i}:AccountId"] = accounts[i];
        }

        using var services = EcrTestServices.Build(settings, customize: s => s.AddMetrics().AddSingleton<TokenMetrics>());
        var profiles = PullSecretProfiles.From(services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value);
        using var refresher = ActivatorUtilities.CreateInstance<TokenRefresher>(services);
        var publish = typeof(TokenRefresher).GetMethod("Publish", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var at = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        EcrAuthorizationToken Token(int registry, int generation, int hours) =>
            new($"{accounts[registry]}.dkr.ecr.us-west-2.amazonaws.com", "AWS", $"pw-{registry}-{generation}", at.AddHours(hours));
        void Publish(params EcrAuthorizationToken[] held) => publish.Invoke(refresher, [held, 0]);

        var desired = new DesiredPullSecret(refresher, profiles);
        var p = profiles[0];
        Publish(Token(0, 1, 12), Token(1, 1, 12), Token(2, 1, 12));
        var old = desired.Current(p)!; // what p's secrets hold
        Publish(Token(0, 2, 18), Token(1, 1, 12), Token(2, 1, 12)); // a rotates
        var current = desired.Current(p)!; // some p secrets are rewritten
        Assert.Equal(old.Expiry, current.Expiry); // b's expiry is still the earliest
        Publish(Token(0, 2, 18), Token(1, 1, 12), Token(2, 2, 19)); // c rotates
        Assert.Equal(current.Hash, desired.Current(p)!.Hash);

        var secret = new SecretView("n", "7", Markers.DockerConfigJsonType, Managed: true, old.Hash, old.Expiry);
        Assert.Equal(SecretAction.Rotate, SecretPlanner.Plan(secret, current.Hash, current.Expiry, desired.Previous(p)?.Hash, adoptUnmanaged: false));
    }
}
