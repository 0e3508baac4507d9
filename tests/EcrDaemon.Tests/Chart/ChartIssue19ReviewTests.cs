using EcrDaemon.Testing;
using EcrDaemon.Tests.Support;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Chart;

/// <summary>
/// Issue 19 review of the chart. A container with two variables of one name runs with the last one
/// (kubelet), so an extraEnv entry naming a variable the chart renders would silently replace it: an
/// EcrDaemon__ key overrides the configuration the ClusterRole and admission policy were rendered from
/// (the daemon is then refused every write), a proxy variable overrides proxy.*. The chart refuses it.
/// </summary>
public sealed class ChartIssue19ReviewTests
{
    [ToolTheory("helm")]
    [InlineData("extraEnv: [ { name: EcrDaemon__SecretName, value: other } ]", "extraEnv[0] EcrDaemon__SecretName")]
    [InlineData("extraEnv: [ { name: A, value: b }, { name: ECRDAEMON__SECRETNAME, value: other } ]", "extraEnv[1] ECRDAEMON__SECRETNAME")]
    [InlineData("{ proxy: { https: \"http://p:3128\" }, extraEnv: [ { name: HTTPS_PROXY, value: \"http://q:3128\" } ] }", "extraEnv[0] HTTPS_PROXY")]
    [InlineData("extraEnv: [ { name: POD_NAMESPACE, value: x } ]", "extraEnv[0] POD_NAMESPACE")]
    public async Task An_extraEnv_entry_that_would_replace_a_variable_the_chart_renders_is_refused(string values, string expected)
    {
        var result = await HelmChart.TryRenderAsync(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.StandardError.Contains(expected, StringComparison.Ordinal), result.StandardError);
    }

    [ToolFact("helm")]
    public async Task Proxy_variables_from_a_Secret_through_extraEnv_are_fine_when_proxy_values_are_unset()
    {
        var deployment = Assert.Single(HelmChart.LoadStrict(await HelmChart.RenderAsync("""
            extraEnv:
              - name: HTTPS_PROXY
                valueFrom: { secretKeyRef: { name: corp-proxy, key: url } }
              - { name: NO_PROXY, value: "localhost,.svc" }
              - { name: EcrDaemon__Ecr__Timeout, value: "00:00:20" }
            """)).OfType<V1Deployment>());

        var env = Assert.Single(deployment.Spec.Template.Spec.Containers).Env;
        Assert.Equal("corp-proxy", Assert.Single(env, e => e.Name == "HTTPS_PROXY").ValueFrom.SecretKeyRef.Name);
        Assert.Single(env, e => e.Name == "NO_PROXY");
        Assert.Single(env, e => e.Name == "EcrDaemon__Ecr__Timeout");
    }
}
