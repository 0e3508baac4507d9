using EcrDaemon.Configuration;
using EcrDaemon.Controller;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>The chart's <c>registries[].dualStack</c> and <c>registries[].aliases</c>: the environment they render, which the daemon binds and accepts; the schema rejects a host that is not one.</summary>
public sealed class ChartRegistryHostsTests
{
    private const string Values = """
        aws: { region: us-west-2 }
        registries:
          - region: us-west-2
            accountId: "111111111111"
            dualStack: true
            aliases: [registry.example.com, "pull-cache.internal:5000"]
          - region: eu-west-1
            dualStack: false
          - region: eu-central-1
            aliases: []
        """;

    private static async Task<List<(string Name, string Value)>> EnvAsync(string values)
    {
        var deployment = HelmChart.LoadStrict(await HelmChart.RenderAsync(values)).OfType<V1Deployment>().Single();
        return [.. deployment.Spec.Template.Spec.Containers[0].Env.Where(e => e.Value is not null).Select(e => (e.Name, e.Value))];
    }

    [ToolFact("helm")]
    public async Task DualStack_and_aliases_render_as_the_daemons_keys_only_where_set()
    {
        var env = await EnvAsync(Values);

        Assert.Equal(
        [
            ("EcrDaemon__Registries__0__AccountId", "111111111111"),
            ("EcrDaemon__Registries__0__Region", "us-west-2"),
            ("EcrDaemon__Registries__0__DualStack", "true"),
            ("EcrDaemon__Registries__0__Aliases__0", "registry.example.com"),
            ("EcrDaemon__Registries__0__Aliases__1", "pull-cache.internal:5000"),
            ("EcrDaemon__Registries__1__Region", "eu-west-1"),
            ("EcrDaemon__Registries__2__Region", "eu-central-1"),
        ], env.Where(e => e.Name.StartsWith("EcrDaemon__Registries__", StringComparison.Ordinal)));

        // The daemon binds what the chart renders and accepts it.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(env.Where(e => e.Name.StartsWith("EcrDaemon__", StringComparison.Ordinal))
                .Select(e => KeyValuePair.Create(e.Name.Replace("__", ":", StringComparison.Ordinal), (string?)e.Value)))
            .Build();
        var options = new EcrDaemonOptions();
        configuration.GetSection(EcrDaemonOptions.SectionName).Bind(options);
        Assert.Equal([true, false, false], options.Registries.Select(r => r.DualStack));
        Assert.Equal(["registry.example.com", "pull-cache.internal:5000"], options.Registries[0].Aliases);
        Assert.Empty(options.Registries[1].Aliases);
        var result = new EcrDaemonOptionsValidator(configuration).Validate(null, options);
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [ToolFact("helm")]
    public async Task Without_dualStack_or_aliases_the_rendered_environment_is_unchanged()
    {
        var plain = await EnvAsync("registries: [ { region: us-west-2, accountId: \"111111111111\" } ]\n");
        var withDefaults = await EnvAsync("registries: [ { region: us-west-2, accountId: \"111111111111\", dualStack: false, aliases: [] } ]\n");

        Assert.Equal(plain, withDefaults);
        Assert.DoesNotContain(plain, e => e.Name.Contains("DualStack", StringComparison.Ordinal) || e.Name.Contains("Aliases", StringComparison.Ordinal));
    }

    [ToolTheory("helm")]
    [InlineData("https://registry.example.com")]
    [InlineData("registry.example.com/team")]
    [InlineData("Registry.example.com")]
    [InlineData("registry.example.com:")]
    [InlineData("-registry.example.com")]
    public async Task The_schema_rejects_an_alias_that_is_not_a_host_name(string alias)
    {
        var result = await HelmChart.TryRenderAsync($"registries: [ {{ region: us-west-2, aliases: [\"{alias}\"] }} ]\n");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("/registries/0/aliases/0", result.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("helm")]
    public async Task The_schema_rejects_a_dualStack_that_is_not_a_boolean()
    {
        var result = await HelmChart.TryRenderAsync("registries: [ { region: us-west-2, dualStack: \"yes\" } ]\n");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("/registries/0/dualStack", result.StandardError, StringComparison.Ordinal);
    }
}
