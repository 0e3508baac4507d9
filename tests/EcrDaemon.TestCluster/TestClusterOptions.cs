namespace EcrDaemon.TestCluster;

/// <summary>Knobs of the test cluster. The defaults are close to a real cluster's; tests shorten them.</summary>
public sealed class TestClusterOptions
{
    /// <summary>Port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>How long a deleted namespace stays Terminating before its contents and itself are removed.</summary>
    public TimeSpan NamespaceDeletionDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a watch that asked for bookmarks gets one.</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How many events of history are kept for watches that resume from a resourceVersion.</summary>
    public int HistoryLimit { get; set; } = 100_000;

    /// <summary>How long a watch runs when the client gives no timeoutSeconds (the real server picks 30-60 minutes).</summary>
    public TimeSpan DefaultWatchTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Roles, ClusterRoles and bindings (multi-document YAML) that ServiceAccount identities are held
    /// to, and the ValidatingAdmissionPolicies and their bindings among them, which hold every write.
    /// </summary>
    public string? RbacYaml { get; set; }
}
