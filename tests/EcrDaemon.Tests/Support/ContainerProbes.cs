using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// One HTTP probe of a container, with the defaults Kubernetes gives a field the chart leaves out
/// (periodSeconds 10, timeoutSeconds 1, failureThreshold 3, successThreshold 1, initialDelaySeconds 0).
/// </summary>
internal sealed record ProbeSpec(string Kind, string Path, TimeSpan InitialDelay, TimeSpan Period, TimeSpan Timeout, int FailureThreshold, int SuccessThreshold)
{
    /// <summary>Kubernetes' smallest periodSeconds and timeoutSeconds.</summary>
    private static readonly TimeSpan Minimum = TimeSpan.FromSeconds(1);

    public static ProbeSpec From(string kind, YamlNode container)
    {
        var probe = container.At(kind) ?? throw new InvalidOperationException($"the rendered container has no {kind}");
        var path = probe.Scalar("httpGet", "path") ?? throw new InvalidOperationException($"{kind} is not an httpGet probe");
        return new ProbeSpec(kind, path,
            TimeSpan.FromSeconds(Number(probe, "initialDelaySeconds", 0)),
            TimeSpan.FromSeconds(Number(probe, "periodSeconds", 10)),
            TimeSpan.FromSeconds(Number(probe, "timeoutSeconds", 1)),
            Number(probe, "failureThreshold", 3),
            Number(probe, "successThreshold", 1));
    }

    /// <summary>
    /// The probe's schedule (initial delay and period) multiplied by <paramref name="factor"/>, the period
    /// never below Kubernetes' 1 s; the thresholds and the answer timeout stay as rendered (the time a
    /// loaded machine takes to answer does not shrink with the schedule).
    /// </summary>
    public ProbeSpec Scaled(double factor) => this with
    {
        InitialDelay = InitialDelay * factor,
        Period = Period * factor < Minimum ? Minimum : Period * factor,
    };

    public override string ToString() =>
        $"{Kind} {Path}: delay {InitialDelay.TotalSeconds:0.#} s, every {Period.TotalSeconds:0.#} s, timeout {Timeout.TotalSeconds:0.#} s, failure {FailureThreshold}, success {SuccessThreshold}";

    private static int Number(YamlNode probe, string key, int fallback) =>
        probe.Scalar(key) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}

/// <summary>The startup, liveness and readiness probes of the daemon's container in the Deployment the chart renders.</summary>
internal sealed record ContainerProbes(ProbeSpec Startup, ProbeSpec Liveness, ProbeSpec Readiness, int Replicas)
{
    /// <summary>Reads the probes of the ecr-daemon container from <paramref name="rendered"/> (helm template output).</summary>
    public static ContainerProbes FromRendered(string rendered)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(rendered));
        var deployment = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().OfKind("Deployment").Single();
        var container = ((YamlSequenceNode)deployment.At("spec", "template", "spec", "containers")!).Children
            .Single(c => c.Scalar("name") == "ecr-daemon");
        var replicas = int.Parse(deployment.Scalar("spec", "replicas") ?? "1", CultureInfo.InvariantCulture);
        return new ContainerProbes(ProbeSpec.From("startupProbe", container), ProbeSpec.From("livenessProbe", container),
            ProbeSpec.From("readinessProbe", container), replicas);
    }

    /// <summary>
    /// The liveness and readiness schedules scaled (<see cref="ProbeSpec.Scaled"/>). The startup probe
    /// stays as rendered: its budget (period × failureThreshold) is the time a process may take to
    /// start and bind, which a loaded machine does not shorten.
    /// </summary>
    public ContainerProbes Scaled(double factor) => this with { Liveness = Liveness.Scaled(factor), Readiness = Readiness.Scaled(factor) };

    public override string ToString() => $"{Startup}; {Liveness}; {Readiness}";
}
