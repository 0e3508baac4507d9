using EcrDaemon.TestCluster.Api;
using EcrDaemon.Tests.Support;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// What a failed soak prints, whether an invariant was violated during the run or the replicas did
/// not converge after the faults were cleared: the violations, the Lease, the kubelet's restarts and
/// readiness history, each replica container's warnings and errors, and the request history and
/// log lines of the namespaces concerned.
/// </summary>
internal sealed class SoakDiagnostics(DaemonHarness h, InvariantChecker check, KubeletSimulator kubelet)
{
    public string LeaseHolder() => LeaseSpec()?["holderIdentity"]?.GetValue<string>() ?? "";

    /// <summary>The Lease's holder, renew time and transitions.</summary>
    public string Lease() => LeaseSpec() is { } spec
        ? $"Lease holder {spec["holderIdentity"]}, acquired {spec["acquireTime"]}, renewed {spec["renewTime"]}, duration {spec["leaseDurationSeconds"]} s, transitions {spec["leaseTransitions"]}"
        : "no Lease";

    /// <param name="namespaces">The namespaces whose requests and log lines to show (the first three).</param>
    public string Describe(IEnumerable<string> namespaces)
    {
        var concerned = namespaces.Take(3).ToList();
        var containers = kubelet.Containers;
        return string.Join("\n", [
            $"violations ({check.Violations.Count}):", .. check.Violations.Take(10),
            $"{Lease()} (at {DateTimeOffset.UtcNow:HH:mm:ss.fff})",
            $"kubelet: probes {kubelet.Probes}; Ready now: [{string.Join(", ", kubelet.Ready)}]; restarts {kubelet.Restarts.Count}:", .. kubelet.Restarts.TakeLast(5),
            "kubelet history:", .. kubelet.History.TakeLast(40),
            .. containers.TakeLast(4).Select(c => $"--- replica {c.Pod} (pid {c.Process.Id}):\n" + string.Join("\n", c.Process.StandardErrorLines.Where(Notable).TakeLast(40))),
            .. concerned.Select(ns => $"--- {ns}:\n" + string.Join("\n",
                h.Requests.All.Where(r => r.Namespace == ns).Select(r => $"{r.At:HH:mm:ss.fff} {r.Identity} {r.Verb} {r.Resource} {r.Code}")
                    .Concat(containers.SelectMany(c => c.Process.StandardErrorLines.Where(l => l.Contains(ns, StringComparison.Ordinal)).Select(l => $"{c.Pod}: {l}")))
                    .TakeLast(40))),
        ]);
    }

    private System.Text.Json.Nodes.JsonNode? LeaseSpec() => h.Cluster.Store.Get(ResourceType.Leases, "ecr-daemon", "ecr-daemon")?.Node["spec"];

    /// <summary>Warnings, errors, token refreshes (EventIds 100x, 101x) and leadership changes (40xx).</summary>
    private static bool Notable(string line) =>
        line.Contains("[40", StringComparison.Ordinal) || line.Contains("[101", StringComparison.Ordinal) || line.Contains("[100", StringComparison.Ordinal)
        || line.Contains("fail", StringComparison.Ordinal) || line.Contains("crit", StringComparison.Ordinal) || line.Contains("warn", StringComparison.Ordinal);
}
