namespace EcrDaemon.Configuration;

/// <summary>
/// The <c>EcrDaemon</c> configuration section (appsettings.json, or variables such as
/// <c>EcrDaemon__SecretName</c>). Every key, with its default, is listed in the README.
/// </summary>
internal sealed class EcrDaemonOptions
{
    public const string SectionName = "EcrDaemon";

    /// <summary>
    /// The pull-secret profiles: which namespaces get which registries, under which secret name. Empty
    /// means one profile named <see cref="DefaultProfileName"/>, made of <see cref="NamespaceSelector"/>,
    /// <see cref="SecretName"/>, <see cref="ServiceAccounts"/> and every registry.
    /// </summary>
    public IList<ProfileOptions> Profiles { get; } = [];

    /// <summary>A label selector; a namespace whose labels match it opts in (the default profile's; unused with <see cref="Profiles"/>).</summary>
    public string NamespaceSelector { get; set; } = "ecr-daemon.io/enabled=true";

    /// <summary>The name of the pull secret in each opted-in namespace (the seed's name; the default profile's).</summary>
    public string SecretName { get; set; } = "aws-registry";

    /// <summary>
    /// The ServiceAccounts that get the pull secret; <c>*</c> means every ServiceAccount in the
    /// namespace. Unset means <c>["default"]</c>; a configured list replaces that default, and an
    /// empty one (the key set to the empty string) means none: the secret only. The default profile's.
    /// </summary>
    public IList<string>? ServiceAccounts { get; set; }

    /// <summary>
    /// Namespaces never touched, whatever their labels. Unset means kube-system, kube-public and
    /// kube-node-lease; a configured list replaces that default.
    /// </summary>
    public IList<string>? ExcludedNamespaces { get; set; }

    /// <summary>
    /// The registries to keep tokens for. When empty, the seed's variables describe one registry:
    /// account <c>AWS_ACCOUNT</c> (or the caller's default registry) in region <c>AWS_REGION</c>.
    /// </summary>
    public IList<RegistryOptions> Registries { get; } = [];

    /// <summary>The fraction of a token's life after which it is refreshed, in (0, 1).</summary>
    public double RefreshAt { get; set; } = 0.5;

    /// <summary>The shortest time between two refreshes, so that an already-expired token never hot-loops.</summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>When a namespace opts out, remove our secret and ServiceAccount entries.</summary>
    public bool CleanupOnOptOut { get; set; } = true;

    /// <summary>Take over a same-named secret that lacks our label (for example the seed's) instead of leaving it alone.</summary>
    public bool AdoptUnmanagedSecrets { get; set; }

    /// <summary>How many namespaces are reconciled at once.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>Client-side rate limit of Kubernetes API requests per second (watches excluded); 0 turns it off.</summary>
    public double KubernetesQps { get; set; } = 50;

    /// <summary>Requests that may go at once above <see cref="KubernetesQps"/>.</summary>
    public int KubernetesBurst { get; set; } = 100;

    /// <summary>How often every namespace is reconciled from the cache even without events (it costs no request when in sync).</summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Record Kubernetes Events (rate-limited; none for routine rotations).</summary>
    public bool Events { get; set; } = true;

    /// <summary>
    /// /livez fails when a namespace has been reconciling this long, when queued work has waited
    /// this long with no worker taking it, or when a watch has been silent this long (and twice
    /// its stall timeout) without the watchdog getting it going again.
    /// </summary>
    public TimeSpan LivenessTimeout { get; set; } = TimeSpan.FromMinutes(5);

    public EcrOptions Ecr { get; set; } = new();

    public LeaderElectionOptions LeaderElection { get; set; } = new();

    /// <summary>The name of the one profile that the top-level keys form when <see cref="Profiles"/> is empty.</summary>
    public const string DefaultProfileName = "default";

    public static readonly IReadOnlyList<string> DefaultServiceAccounts = ["default"];

    public static readonly IReadOnlyList<string> DefaultExcludedNamespaces = ["kube-system", "kube-public", "kube-node-lease"];

    public IReadOnlyCollection<string> TargetServiceAccounts => (IReadOnlyCollection<string>?)ServiceAccounts ?? DefaultServiceAccounts;

    public IReadOnlyCollection<string> Excluded => (IReadOnlyCollection<string>?)ExcludedNamespaces ?? DefaultExcludedNamespaces;
}
