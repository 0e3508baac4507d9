using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Unit;

/// <summary>The kubelet simulator's reading of a rendered Deployment's probes: Kubernetes' defaults, and the soak's scaling.</summary>
public sealed class ContainerProbesTests
{
    private const string Rendered = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: { name: x }
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: x }
        spec:
          replicas: 2
          template:
            spec:
              containers:
                - name: sidecar
                  image: other
                - name: ecr-daemon
                  image: daemon
                  startupProbe:
                    httpGet: { path: /livez, port: http-metrics }
                    periodSeconds: 2
                    failureThreshold: 30
                  livenessProbe:
                    httpGet: { path: /livez, port: http-metrics }
                    periodSeconds: 20
                    timeoutSeconds: 5
                    failureThreshold: 3
                  readinessProbe:
                    httpGet: { path: /readyz, port: http-metrics }
                    initialDelaySeconds: 10
        """;

    [Fact]
    public void A_field_the_chart_leaves_out_takes_the_Kubernetes_default()
    {
        var probes = ContainerProbes.FromRendered(Rendered);

        Assert.Equal(2, probes.Replicas);
        Assert.Equal(new ProbeSpec("startupProbe", "/livez", TimeSpan.Zero, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 30, 1), probes.Startup);
        Assert.Equal(new ProbeSpec("livenessProbe", "/livez", TimeSpan.Zero, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(5), 3, 1), probes.Liveness);
        Assert.Equal(new ProbeSpec("readinessProbe", "/readyz", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3, 1), probes.Readiness);
    }

    [Fact]
    public void Scaling_shortens_the_liveness_and_readiness_schedules_but_not_below_a_second_nor_the_startup_budget()
    {
        var probes = ContainerProbes.FromRendered(Rendered).Scaled(0.05);

        Assert.Equal(TimeSpan.FromSeconds(1), probes.Liveness.Period);    // 20 s × 0.05
        Assert.Equal(TimeSpan.FromSeconds(5), probes.Liveness.Timeout);   // an answer's time does not scale
        Assert.Equal(TimeSpan.FromSeconds(1), probes.Readiness.Period);   // 0.5 s, floored at Kubernetes' 1 s
        Assert.Equal(TimeSpan.FromSeconds(0.5), probes.Readiness.InitialDelay);
        Assert.Equal(TimeSpan.FromSeconds(2), probes.Startup.Period);     // the time to start a process does not scale
        Assert.Equal(3, probes.Liveness.FailureThreshold);
    }
}
