using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// Tests that scrape /metrics run alone. OpenTelemetry's MeterProvider listens to every meter
/// named "EcrDaemon" in the process, so a daemon host of a test running in parallel would add
/// its counts to the scrape. (In production there is one host per process.)
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsTestGroup
{
    public const string Name = "metrics: one daemon host at a time";
}

/// <summary>The soak runs alone: two daemon processes over 500 namespaces would slow every test beside it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoakTestGroup
{
    public const string Name = "soak: alone";
}
