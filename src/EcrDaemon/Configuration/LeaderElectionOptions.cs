namespace EcrDaemon.Configuration;

/// <summary>
/// <c>EcrDaemon:LeaderElection:*</c>: with several replicas, one holds a coordination.k8s.io/v1
/// Lease and writes; the others keep their caches warm and take over when it goes.
/// </summary>
internal sealed class LeaderElectionOptions
{
    public bool Enabled { get; set; }

    public string LeaseName { get; set; } = "ecr-daemon";

    /// <summary>The Lease's namespace; unset means POD_NAMESPACE (the chart sets it), else "default".</summary>
    public string? LeaseNamespace { get; set; }

    /// <summary>How long a Lease holds without renewal; followers wait this long before taking over from a vanished leader.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps trying to renew before it gives up leadership.</summary>
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait between attempts to acquire or renew.</summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    public string Namespace => LeaseNamespace
        ?? (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("POD_NAMESPACE")) ? "default" : Environment.GetEnvironmentVariable("POD_NAMESPACE")!);
}
