using System.Text.RegularExpressions;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// The chart's <c>profiles</c> and <c>registries[].name</c>: the environment they render, the RBAC and admission
/// policy that cover every profile's secret name, the schema and template checks that reject bad values early.
/// </summary>
public sealed partial class ChartProfilesTests
{
    /// <summary>Three profiles: serviceAccounts omitted, empty (secret only), and "*" with another; one with its own exclusions.</summary>
    internal const string ThreeProfiles = """
        registries:
          - name: team-a
            region: us-west-2
            accountId: "111111111111"
          - name: team-b
            region: eu-central-1
            accountId: "222222222222"
            roleArn: arn:aws:iam::222222222222:role/ecr-pull
        profiles:
          - name: team-a
            namespaceSelector: team=a
            secretName: ecr-team-a
            registries: [team-a]
          - name: team-b
            namespaceSelector: "team in (b)"
            secretName: ecr-team-b
            registries: [team-b]
            serviceAccounts: []
          - name: platform
            namespaceSelector: platform=true
            secretName: ecr-platform
            registries: [team-a, team-b]
            serviceAccounts: ["*", "builder"]
            excludedNamespaces: [sandbox]
        """;

    private static readonly string[] SecretNames = ["ecr-team-a", "ecr-team-b", "ecr-platform"];

    private static async Task<List<(string Name, string Value)>> EnvAsync(string values)
    {
        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(values)).OfType<V1Deployment>().Single();
        return [.. deployment.Spec.Template.Spec.Containers[0].Env.Where(e => e.Value is not null).Select(e => (e.Name, e.Value))];
    }

    [ToolFact("helm")]
    public async Task Profiles_render_their_keys_an_empty_serviceAccounts_list_as_an_empty_value_and_no_top_level_profile_keys()
    {
        var env = await EnvAsync(ThreeProfiles);

        Assert.Equal(
        [
            ("EcrDaemon__Profiles__0__Name", "team-a"),
            ("EcrDaemon__Profiles__0__NamespaceSelector", "team=a"),
            ("EcrDaemon__Profiles__0__SecretName", "ecr-team-a"),
            ("EcrDaemon__Profiles__0__Registries__0", "team-a"),
            ("EcrDaemon__Profiles__1__Name", "team-b"),
            ("EcrDaemon__Profiles__1__NamespaceSelector", "team in (b)"),
            ("EcrDaemon__Profiles__1__SecretName", "ecr-team-b"),
            ("EcrDaemon__Profiles__1__Registries__0", "team-b"),
            ("EcrDaemon__Profiles__1__ServiceAccounts", ""),
            ("EcrDaemon__Profiles__2__Name", "platform"),
            ("EcrDaemon__Profiles__2__NamespaceSelector", "platform=true"),
            ("EcrDaemon__Profiles__2__SecretName", "ecr-platform"),
            ("EcrDaemon__Profiles__2__Registries__0", "team-a"),
            ("EcrDaemon__Profiles__2__Registries__1", "team-b"),
            ("EcrDaemon__Profiles__2__ServiceAccounts__0", "*"),
            ("EcrDaemon__Profiles__2__ServiceAccounts__1", "builder"),
            ("EcrDaemon__Profiles__2__ExcludedNamespaces__0", "sandbox"),
        ], env.Where(e => e.Name.StartsWith("EcrDaemon__Profiles__", StringComparison.Ordinal)));

        // The top-level keys describe the implicit default profile only: the daemon refuses them next to Profiles.
        Assert.DoesNotContain(env, e => e.Name.StartsWith("EcrDaemon__NamespaceSelector", StringComparison.Ordinal)
            || e.Name.StartsWith("EcrDaemon__SecretName", StringComparison.Ordinal)
            || e.Name.StartsWith("EcrDaemon__ServiceAccounts", StringComparison.Ordinal));
        // Global settings still apply to every profile; each registry carries its name.
        Assert.Contains(("EcrDaemon__ExcludedNamespaces__0", "kube-system"), env);
        Assert.Contains(("EcrDaemon__Registries__0__Name", "team-a"), env);
        Assert.Contains(("EcrDaemon__Registries__1__Name", "team-b"), env);
        Assert.Contains(("EcrDaemon__Registries__1__RoleArn", "arn:aws:iam::222222222222:role/ecr-pull"), env);
    }

    [ToolFact("helm")]
    public async Task Without_profiles_the_top_level_keys_render_as_before_and_an_empty_serviceAccounts_list_as_an_empty_value()
    {
        var defaults = await EnvAsync("");
        var secretOnly = await EnvAsync("config: { serviceAccounts: [] }");
        var named = await EnvAsync("registries: [ { name: main, region: us-west-2, accountId: \"111111111111\" } ]");

        Assert.Equal([("EcrDaemon__NamespaceSelector", "ecr-daemon.io/enabled=true"), ("EcrDaemon__SecretName", "aws-registry"), ("EcrDaemon__ServiceAccounts__0", "default")],
            defaults.Where(e => e.Name is "EcrDaemon__NamespaceSelector" or "EcrDaemon__SecretName" || e.Name.StartsWith("EcrDaemon__ServiceAccounts", StringComparison.Ordinal)));
        Assert.DoesNotContain(defaults, e => e.Name.StartsWith("EcrDaemon__Profiles", StringComparison.Ordinal) || e.Name.EndsWith("__Name", StringComparison.Ordinal));

        Assert.Equal([("EcrDaemon__ServiceAccounts", "")], secretOnly.Where(e => e.Name.StartsWith("EcrDaemon__ServiceAccounts", StringComparison.Ordinal)));
        Assert.Contains(("EcrDaemon__SecretName", "aws-registry"), secretOnly);

        Assert.Contains(("EcrDaemon__Registries__0__Name", "main"), named);
        Assert.Contains(("EcrDaemon__Registries__0__AccountId", "111111111111"), named);
    }

    [ToolFact("helm")]
    public async Task The_ClusterRole_and_the_admission_policy_cover_every_profiles_secret_name_and_only_those()
    {
        var objects = HelmChart.LoadStrict(await HelmChart.RenderAsync(ThreeProfiles + "\nadmissionPolicy: { enabled: true }"));

        var named = Assert.Single(objects.OfType<V1ClusterRole>().Single().Rules, r => r.ResourceNames is not null);
        Assert.Equal(["secrets"], named.Resources);
        Assert.Equal(SecretNames, named.ResourceNames);
        var policy = objects.OfType<V1ValidatingAdmissionPolicy>().Single();
        Assert.Equal("['ecr-team-a', 'ecr-team-b', 'ecr-platform']", policy.Spec.Variables.Single(v => v.Name == "secretNames").Expression);
        Assert.Contains("secrets named ecr-team-a, ecr-team-b, ecr-platform:", policy.Spec.Validations[0].MessageExpression, StringComparison.Ordinal);

        // Without profiles: config.secretName alone, as before.
        var single = HelmChart.LoadStrict(await HelmChart.RenderAsync("config: { secretName: ecr-pull }\nadmissionPolicy: { enabled: true }"));
        Assert.Equal(["ecr-pull"], single.OfType<V1ClusterRole>().Single().Rules.Single(r => r.ResourceNames is not null).ResourceNames);
        Assert.Equal("['ecr-pull']", single.OfType<V1ValidatingAdmissionPolicy>().Single().Spec.Variables.Single(v => v.Name == "secretNames").Expression);
    }

    [ToolFact("helm")]
    public async Task The_RBAC_helpers_render_the_charts_ServiceAccount_ClusterRole_and_binding_for_given_secret_names()
    {
        var rbac = HelmChart.LoadStrict(await HelmChart.RbacForSecretNamesAsync(SecretNames));
        var withPolicy = HelmChart.LoadStrict(await HelmChart.RbacForSecretNamesAsync(SecretNames, admissionPolicy: true));
        var full = HelmChart.LoadStrict(await HelmChart.RenderAsync(ThreeProfiles));

        Assert.Equal(["V1ClusterRole", "V1ClusterRoleBinding", "V1ServiceAccount"], rbac.Select(o => o.GetType().Name).Order(StringComparer.Ordinal));
        Assert.Equal(SecretNames, rbac.OfType<V1ClusterRole>().Single().Rules.Single(r => r.ResourceNames is not null).ResourceNames);
        Assert.Equal(ModelJson.Serialize(full.OfType<V1ClusterRole>().Single()), ModelJson.Serialize(rbac.OfType<V1ClusterRole>().Single()));
        Assert.Equal("['ecr-team-a', 'ecr-team-b', 'ecr-platform']",
            withPolicy.OfType<V1ValidatingAdmissionPolicy>().Single().Spec.Variables.Single(v => v.Name == "secretNames").Expression);
        Assert.Single(withPolicy.OfType<V1ValidatingAdmissionPolicyBinding>());
    }

    [ToolTheory("helm")]
    [InlineData("profiles: [ { name: Team_A, namespaceSelector: team=a, secretName: s, registries: [r] } ]", "/profiles/0/name")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, secretName: s } ]", "missing property 'registries'")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, secretName: s, registries: [] } ]", "/profiles/0/registries")]
    [InlineData("profiles: [ { name: team-a, secretName: s, registries: [r] } ]", "missing property 'namespaceSelector'")]
    [InlineData("profiles: [ { namespaceSelector: team=a, secretName: s, registries: [r] } ]", "missing property 'name'")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, registries: [r] } ]", "missing property 'secretName'")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, secretName: Bad_Name, registries: [r] } ]", "/profiles/0/secretName")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, secretName: s, registries: [r], serviceAccounts: default } ]", "/profiles/0/serviceAccounts")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, secretName: s, registries: [r], excludedNamespaces: kube-system } ]", "/profiles/0/excludedNamespaces")]
    [InlineData("profiles: [ { name: team-a, namespaceSelector: team=a, secretName: s, registries: [r], selector: x } ]", "additional properties 'selector' not allowed")]
    [InlineData("registries: [ { name: Team.A, region: us-west-2 } ]", "/registries/0/name")]
    public async Task Bad_profile_values_are_rejected_by_the_schema_naming_the_value(string values, string expected)
    {
        var result = await HelmChart.TryRenderAsync(values.StartsWith("registries:", StringComparison.Ordinal) ? values : "registries: [ { name: r, region: us-west-2 } ]\n" + values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("helm")]
    public async Task At_most_64_profiles()
    {
        static string Values(int count) => HelmChart.ProfileValues([.. Enumerable.Range(0, count).Select(i => new ChartProfile($"p{i}", $"p{i}=true", $"s{i}", ["r"]))]);

        Assert.Equal(0, (await HelmChart.TryRenderAsync(Values(64))).ExitCode);
        var result = await HelmChart.TryRenderAsync(Values(65));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("/profiles", result.StandardError, StringComparison.Ordinal);
    }

    private const string TwoRegistries = "registries: [ { name: team-a, region: us-west-2 }, { name: shared, region: us-west-2 } ]\n";

    [ToolTheory("helm")]
    [InlineData(TwoRegistries + "profiles: [ { name: a, namespaceSelector: x=y, secretName: s1, registries: [team-a, acct-c] }, { name: b, namespaceSelector: x=y, secretName: s2, registries: [shared] } ]",
        "profiles[0].registries[1] \"acct-c\" is not the name of any entry in registries (team-a, shared)")]
    [InlineData(TwoRegistries + "profiles: [ { name: a, namespaceSelector: x=y, secretName: s1, registries: [team-a] }, { name: a, namespaceSelector: x=y, secretName: s2, registries: [shared] } ]",
        "profiles[1].name \"a\" is used by profiles[0] too")]
    [InlineData(TwoRegistries + "profiles: [ { name: a, namespaceSelector: x=y, secretName: same, registries: [team-a] }, { name: b, namespaceSelector: x=y, secretName: same, registries: [shared] } ]",
        "profiles[1].secretName \"same\" is used by profiles[0] too")]
    [InlineData(TwoRegistries + "profiles: [ { name: a, namespaceSelector: x=y, secretName: s1, registries: [team-a] } ]",
        "registries[1].name \"shared\" is used by no profile")]
    [InlineData("registries: [ { name: team-a, region: us-west-2 }, { region: us-west-2 } ]\nprofiles: [ { name: a, namespaceSelector: x=y, secretName: s1, registries: [team-a] } ]",
        "registries[1] has no name")]
    [InlineData("registries: [ { name: team-a, region: us-west-2 }, { name: team-a, region: eu-central-1 } ]",
        "registries[1].name \"team-a\" is used by another entry of registries too")]
    [InlineData("profiles: [ { name: a, namespaceSelector: x=y, secretName: s1, registries: [team-a] } ]",
        "registries is empty")]
    public async Task What_the_schema_cannot_check_fails_the_render_naming_the_value(string values, string expected)
    {
        var result = await HelmChart.TryRenderAsync(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("helm")]
    public async Task The_READMEs_profiles_example_is_valid_chart_values_and_its_environment_variables_are_what_the_chart_renders()
    {
        // The README's chart values with `profiles:`, and the bash block after them with the same as environment variables.
        var example = ReadmeProfilesExample().Match(Readme.Text);
        Assert.True(example.Success, "the README has no ```yaml block with profiles followed by a ```bash block");
        var documented = example.Groups["env"].Value.Split('\n')
            .Where(l => l.StartsWith("EcrDaemon__", StringComparison.Ordinal))
            .Select(l => l.Trim()).ToList();

        var env = await EnvAsync(example.Groups["values"].Value);
        var rendered = env.Where(e => e.Name.StartsWith("EcrDaemon__Profiles__", StringComparison.Ordinal) || e.Name.StartsWith("EcrDaemon__Registries__", StringComparison.Ordinal))
            .Select(e => $"{e.Name}={e.Value}").ToList();

        Assert.NotEmpty(documented);
        Assert.Equal(rendered.Order(StringComparer.Ordinal), documented.Order(StringComparer.Ordinal));
    }

    [GeneratedRegex(@"```yaml\n(?<values>(?:(?!```).)*?\nprofiles:\n(?:(?!```).)*?)```(?:(?!```).)*?```bash\n(?<env>(?:(?!```).)*?)```", RegexOptions.Singleline)]
    private static partial Regex ReadmeProfilesExample();

    [ToolFact("helm")]
    public async Task The_install_notes_list_each_profile_with_its_secret_and_lint_passes()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, ThreeProfiles);
            var install = await Tools.RunAsync(Tools.Require("helm"), ["install", "notes", HelmChart.ChartDirectory, "--dry-run=client", "-f", file]);
            var lint = await Tools.RunAsync(Tools.Require("helm"), ["lint", "--strict", HelmChart.ChartDirectory, "-f", file]);

            Assert.True(install.ExitCode == 0, install.ToString());
            Assert.True(lint.ExitCode == 0, lint.ToString());
            var notes = install.StandardOutput[install.StandardOutput.IndexOf("NOTES:", StringComparison.Ordinal)..];
            Assert.Contains("team-a: namespaces matching \"team=a\" get secret ecr-team-a (registries: team-a); ServiceAccount default references it", notes, StringComparison.Ordinal);
            Assert.Contains("team-b: namespaces matching \"team in (b)\" get secret ecr-team-b (registries: team-b); no ServiceAccount is patched (secret only)", notes, StringComparison.Ordinal);
            Assert.Contains("platform: namespaces matching \"platform=true\" get secret ecr-platform (registries: team-a, team-b); every ServiceAccount references it", notes, StringComparison.Ordinal);
            Assert.DoesNotContain("aws-registry", notes, StringComparison.Ordinal);

            // Without profiles, a secret-only configuration has no ServiceAccount to look at.
            var secretOnly = await Tools.RunAsync(Tools.Require("helm"),
                ["install", "notes", HelmChart.ChartDirectory, "--dry-run=client", "--set-json", "config.serviceAccounts=[]"]);
            Assert.True(secretOnly.ExitCode == 0, secretOnly.ToString());
            Assert.DoesNotContain("get serviceaccount", secretOnly.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("get secret aws-registry", secretOnly.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
