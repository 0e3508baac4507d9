using System.Text;
using EcrDaemon.Commands;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// explain's diagnosis without a cluster: several profiles on one namespace, each judged by the daemon's own
/// rules; the selector's requirements one by one; the registry hosts read out of a secret, never its credentials.
/// </summary>
public sealed class NamespaceDiagnosisTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    // apps: team=a, secret app-pull, default ServiceAccount; ci: ci=true and tier notin (prod), secret ci-pull, ServiceAccount builder.
    private static PullSecretProfiles Profiles()
    {
        var options = new EcrDaemonOptions();
        options.Registries.Add(new RegistryOptions { Name = "main", Region = "us-west-2" });
        options.Profiles.Add(new ProfileOptions { Name = "apps", NamespaceSelector = "team=a", SecretName = "app-pull", Registries = ["main"] });
        options.Profiles.Add(new ProfileOptions { Name = "ci", NamespaceSelector = "ci=true,tier notin (prod)", SecretName = "ci-pull", Registries = ["main"], ServiceAccounts = ["builder"] });
        return PullSecretProfiles.From(options);
    }

    private static V1Namespace Namespace(string name, Dictionary<string, string> labels) => new() { Metadata = new V1ObjectMeta { Name = name, Labels = labels } };

    private static V1ServiceAccount Account(string ns, string name, params string[] pullSecrets) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, ResourceVersion = "1" },
        ImagePullSecrets = [.. pullSecrets.Select(p => new V1LocalObjectReference { Name = p })],
    };

    private static V1Secret Ours(string ns, string name, DateTimeOffset expires) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = ns,
            ResourceVersion = "1",
            Labels = new Dictionary<string, string> { [Markers.ManagedByLabel] = Markers.ManagedByValue },
            Annotations = new Dictionary<string, string> { [Markers.ExpiresAtAnnotation] = EcrDaemon.Primitives.Rfc3339.Format(expires) },
        },
        Type = Markers.DockerConfigJsonType,
        Data = new Dictionary<string, byte[]>
        {
            [Markers.DockerConfigJsonKey] = Encoding.UTF8.GetBytes("""{"auths":{"1.dkr.ecr.us-west-2.amazonaws.com":{"username":"AWS","password":"pw-1","auth":"QVdTOnB3LTE="}}}"""),
        },
    };

    [Fact]
    public void Each_profile_that_selects_the_namespace_is_judged_and_one_that_does_not_only_explains_its_selector()
    {
        var snapshot = new ClusterSnapshot(Profiles());
        snapshot.Add(Namespace("team-a", new() { ["team"] = "a", ["tier"] = "prod", ["ci"] = "true" }));
        snapshot.Add(Account("team-a", "default", "app-pull"));
        snapshot.Add(Account("team-a", "builder"));
        snapshot.Add(Ours("team-a", "app-pull", Now.AddHours(5)));

        var report = NamespaceDiagnosis.Diagnose(snapshot, "team-a", adoptUnmanaged: false, Now);

        Assert.True(report.InSync, report.Verdict);
        Assert.Equal([true, false], report.Profiles.Select(p => p.Selected));
        var ci = report.Profiles[1];
        Assert.Equal([("ci=true", true), ("tier!=prod", false)], ci.Requirements.Select(r => (r.Requirement, r.Matched)));
        Assert.Equal("tier-", ci.Requirements[1].Fix);
        Assert.Empty(ci.Problems); // builder lacks ci-pull, but ci does not select the namespace

        // Once ci selects it too, its missing secret and builder's missing entry are problems; apps stays fine.
        snapshot.Add(Namespace("team-a", new() { ["team"] = "a", ["ci"] = "true" }));
        var both = NamespaceDiagnosis.Diagnose(snapshot, "team-a", adoptUnmanaged: false, Now);

        Assert.False(both.InSync);
        Assert.Equal(["secret ci-pull is missing", "ServiceAccount builder does not list ci-pull"], both.Problems.Select(p => p.Problem));
        Assert.Empty(both.Profiles[0].Problems);
        Assert.StartsWith("NOT IN SYNC: secret ci-pull is missing: ", both.Verdict, StringComparison.Ordinal);
        Assert.EndsWith("(1 more problem above)", both.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_with_another_value_is_relabelled_with_overwrite()
    {
        var snapshot = new ClusterSnapshot(Profiles());
        snapshot.Add(Namespace("team-b", new() { ["team"] = "b" }));

        var report = NamespaceDiagnosis.Diagnose(snapshot, "team-b", adoptUnmanaged: false, Now);

        Assert.False(report.OptedIn);
        Assert.Equal("label the namespace: kubectl label namespace team-b team=a --overwrite", Assert.Single(report.Problems).Fix);
    }

    [Fact]
    public void An_unowned_secret_with_adoption_on_is_adopted_on_the_next_reconcile_and_with_adoption_off_is_left()
    {
        var snapshot = new ClusterSnapshot(Profiles());
        snapshot.Add(Namespace("team-a", new() { ["team"] = "a" }));
        snapshot.Add(Account("team-a", "default", "app-pull"));
        var foreign = Ours("team-a", "app-pull", Now.AddHours(5));
        foreign.Metadata.Labels.Clear();
        snapshot.Add(foreign);

        var off = NamespaceDiagnosis.Diagnose(snapshot, "team-a", adoptUnmanaged: false, Now);
        var on = NamespaceDiagnosis.Diagnose(snapshot, "team-a", adoptUnmanaged: true, Now);

        Assert.StartsWith("secret app-pull is not the daemon's (no label", off.Problems[0].Problem, StringComparison.Ordinal);
        Assert.Contains("AdoptUnmanagedSecrets=true", off.Problems[0].Fix, StringComparison.Ordinal);
        Assert.Equal("secret app-pull is not the daemon's yet: the daemon replaces or adopts it on its next reconcile", on.Problems[0].Problem);
    }

    [Theory]
    [InlineData("""{"auths":{}}""")]
    [InlineData("not json")]
    [InlineData("""{"auths":[]}""")]
    public void A_secret_of_ours_whose_data_holds_no_registry_is_not_in_sync(string dockerConfig)
    {
        // Its labels and expiry say the daemon's, but a pull with it fails (an overwrite by a person or a tool;
        // the daemon never writes a secret before every registry of the profile has a token).
        var snapshot = new ClusterSnapshot(Profiles());
        snapshot.Add(Namespace("team-a", new() { ["team"] = "a" }));
        snapshot.Add(Account("team-a", "default", "app-pull"));
        var emptied = Ours("team-a", "app-pull", Now.AddHours(5));
        emptied.Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = Encoding.UTF8.GetBytes(dockerConfig) };
        snapshot.Add(emptied);

        var report = NamespaceDiagnosis.Diagnose(snapshot, "team-a", adoptUnmanaged: false, Now);

        Assert.False(report.InSync, report.Verdict);
        Assert.StartsWith("NOT IN SYNC: secret app-pull holds no registry credential", report.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void Registries_are_the_hosts_only_never_an_auth_or_password()
    {
        var pull = Ours("a", "app-pull", Now);
        var argo = new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "repo" },
            Data = new Dictionary<string, byte[]>
            {
                ["url"] = Encoding.UTF8.GetBytes("oci://user:pw-2@2.dkr.ecr.eu-west-1.amazonaws.com/charts"),
                ["password"] = Encoding.UTF8.GetBytes("pw-2"),
            },
        };
        var broken = new V1Secret { Metadata = new V1ObjectMeta { Name = "x" }, Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = "not json"u8.ToArray() } };

        Assert.Equal(["1.dkr.ecr.us-west-2.amazonaws.com"], NamespaceDiagnosis.Registries(pull));
        Assert.Equal(["2.dkr.ecr.eu-west-1.amazonaws.com"], NamespaceDiagnosis.Registries(argo));
        Assert.Empty(NamespaceDiagnosis.Registries(broken));
    }

    [Theory]
    [InlineData("https://git.example.com?private_token=glpat-secret-1", "git.example.com")]
    [InlineData("https://git.example.com#glpat-secret-1", "git.example.com")]
    [InlineData("https://user:glpat-secret-1@git.example.com:8443?x=1", "git.example.com:8443")]
    [InlineData("git@github.com:org/repo.git", "github.com:org")]
    public void An_Argo_CD_url_is_read_out_as_its_host_without_a_query_or_fragment(string url, string host)
    {
        var argo = new V1Secret { Metadata = new V1ObjectMeta { Name = "repo" }, Data = new Dictionary<string, byte[]> { ["url"] = Encoding.UTF8.GetBytes(url) } };

        Assert.Equal([host], NamespaceDiagnosis.Registries(argo));
    }

    [Fact]
    public void A_registry_key_with_user_info_is_read_out_without_it()
    {
        var config = """{"auths":{"https://AWS:pw-secret-1@1.dkr.ecr.us-west-2.amazonaws.com":{},"https://index.docker.io/v1/":{}}}""";
        var pull = new V1Secret { Metadata = new V1ObjectMeta { Name = "x" }, Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = Encoding.UTF8.GetBytes(config) } };

        var hosts = NamespaceDiagnosis.Registries(pull);

        Assert.DoesNotContain(hosts, h => h.Contains("pw-secret-1", StringComparison.Ordinal));
        Assert.Equal(["1.dkr.ecr.us-west-2.amazonaws.com", "https://index.docker.io/v1/"], hosts);
    }

    [Theory]
    [InlineData("a=b", "a=b", "a=b")]
    [InlineData("a!=b", "a!=b", "a-")]
    [InlineData("a in (b,c)", "a in (b,c)", "a=b")]
    [InlineData("a", "a", "a=VALUE")]
    [InlineData("!a", "!a", "a-")]
    public void A_selector_explains_each_requirement_by_the_rule_that_matches(string selector, string requirement, string fix)
    {
        var parsed = LabelSelector.Parse(selector);
        foreach (var labels in new[] { null, new Dictionary<string, string> { ["a"] = "b" }, new Dictionary<string, string> { ["a"] = "z" } })
        {
            var check = Assert.Single(parsed.Explain(labels));
            Assert.Equal(requirement, check.Requirement);
            Assert.Equal(fix, check.Fix);
            Assert.Equal(parsed.Matches(labels), check.Matched);
        }
    }
}
