using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>The chart's <c>registries[].public</c>: what it renders, and the schema's checks (region us-east-1 or unset, no accountId).</summary>
public sealed class ChartPublicRegistryTests
{
    private static async Task<List<(string Name, string Value)>> RegistryEnvAsync(string values)
    {
        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(values)).OfType<V1Deployment>().Single();
        return [.. deployment.Spec.Template.Spec.Containers[0].Env
            .Where(e => e.Value is not null && e.Name.StartsWith("EcrDaemon__Registries__", StringComparison.Ordinal)).Select(e => (e.Name, e.Value))];
    }

    [ToolFact("helm")]
    public async Task A_public_registry_renders_Public_true_without_a_region_and_a_false_one_renders_nothing()
    {
        var env = await RegistryEnvAsync("""
            registries:
              - name: private
                region: us-west-2
                accountId: "111111111111"
                public: false
              - name: public
                public: true
                roleArn: arn:aws:iam::111111111111:role/ecr-public
            """);

        Assert.Equal(
        [
            ("EcrDaemon__Registries__0__AccountId", "111111111111"),
            ("EcrDaemon__Registries__0__Name", "private"),
            ("EcrDaemon__Registries__0__Region", "us-west-2"),
            ("EcrDaemon__Registries__1__Name", "public"),
            ("EcrDaemon__Registries__1__RoleArn", "arn:aws:iam::111111111111:role/ecr-public"),
            ("EcrDaemon__Registries__1__Public", "true"),
        ], env);
    }

    [ToolFact("helm")]
    public async Task A_public_registry_may_name_us_east_1()
    {
        var env = await RegistryEnvAsync("registries: [ { public: true, region: us-east-1 } ]");

        Assert.Equal([("EcrDaemon__Registries__0__Region", "us-east-1"), ("EcrDaemon__Registries__0__Public", "true")], env);
    }

    [ToolTheory("helm")]
    [InlineData("registries: [ { public: true, region: us-west-2 } ]", "us-east-1")]
    [InlineData("registries: [ { public: true, accountId: \"111111111111\" } ]", "accountId")]
    [InlineData("registries: [ { public: \"yes\" } ]", "public")]
    [InlineData("registries: [ { public: false } ]", "region")]
    public async Task The_schema_rejects_a_public_registry_with_another_region_or_an_account_and_a_private_one_without_a_region(string values, string expected)
    {
        var result = await HelmChart.TryRenderAsync(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("values don't meet the specifications of the schema", result.StandardError, StringComparison.Ordinal);
        Assert.Contains(expected, result.StandardError, StringComparison.Ordinal);
    }
}
