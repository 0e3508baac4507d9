namespace EcrDaemon.Kubernetes;

/// <summary>The label and annotations by which the daemon knows what it owns.</summary>
internal static class Markers
{
    /// <summary>On a secret: the daemon owns it. A same-named secret without it is never modified.</summary>
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";

    public const string ManagedByValue = "ecr-daemon";

    /// <summary>On a secret: when the soonest token in it expires (RFC 3339).</summary>
    public const string ExpiresAtAnnotation = "ecr-daemon.io/expires-at";

    /// <summary>
    /// On a ServiceAccount: the pull-secret entry the daemon added (its value is the secret name).
    /// Only an entry the daemon added is ever removed; one that was there before is left alone.
    /// </summary>
    public const string AddedPullSecretAnnotation = "ecr-daemon.io/added-image-pull-secret";

    /// <summary>
    /// On a ServiceAccount: the entry the daemon had added under an earlier SecretName, kept when it
    /// added the new name (which then takes <see cref="AddedPullSecretAnnotation"/>), so that
    /// <c>cleanup --secret-name OLD</c> can still tell that OLD was ours.
    /// </summary>
    public const string PreviousPullSecretAnnotation = "ecr-daemon.io/previous-image-pull-secret";

    public const string DockerConfigJsonType = "kubernetes.io/dockerconfigjson";

    public const string DockerCfgType = "kubernetes.io/dockercfg";

    public const string DockerConfigJsonKey = ".dockerconfigjson";

    public const string OpaqueType = "Opaque";

    /// <summary>The label by which Argo CD finds repository credential templates (value <see cref="ArgoCdRepoCreds"/>).</summary>
    public const string ArgoCdSecretTypeLabel = "argocd.argoproj.io/secret-type";

    public const string ArgoCdRepoCreds = "repo-creds";

    public const string Component = "ecr-daemon";

    /// <summary>The field manager every create and patch names (<c>fieldManager=ecr-daemon</c>), so that metadata.managedFields tells GitOps tools who wrote what.</summary>
    public const string FieldManager = "ecr-daemon";

    /// <summary>
    /// The field selector that lists and watches only the secrets named <paramref name="secretName"/>
    /// (<c>metadata.name=NAME</c>), so that no other secret is ever read: the daemon's informer and <c>cleanup</c>.
    /// </summary>
    public static string SecretNameSelector(string secretName) => $"metadata.name={secretName}";

    /// <summary>The label selector for the secrets the daemon owns (<c>cleanup</c> deletes only those).</summary>
    public const string ManagedSelector = ManagedByLabel + "=" + ManagedByValue;

    // Ownership predicates: what our marks on an object say. Reconcile (ClusterState's projections)
    // and cleanup both ask these, so that "ours" means the same in both.

    /// <summary>The labels carry <see cref="ManagedByLabel"/>=<see cref="ManagedByValue"/>: the daemon owns the secret.</summary>
    public static bool IsManaged(IDictionary<string, string>? labels) =>
        labels?.TryGetValue(ManagedByLabel, out var by) == true && by == ManagedByValue;

    /// <summary>The raw value of <see cref="AddedPullSecretAnnotation"/>, or null: the pull-secret entries the daemon added.</summary>
    public static string? AddedPullSecret(IDictionary<string, string>? annotations) =>
        annotations?.TryGetValue(AddedPullSecretAnnotation, out var added) == true ? added : null;

    /// <summary>The raw value of <see cref="PreviousPullSecretAnnotation"/>, or null: entries the daemon added under earlier secret names.</summary>
    public static string? PreviousPullSecret(IDictionary<string, string>? annotations) =>
        annotations?.TryGetValue(PreviousPullSecretAnnotation, out var earlier) == true ? earlier : null;

    /// <summary>The daemon added the ServiceAccount's entry <paramref name="secretName"/> (<see cref="AddedPullSecretAnnotation"/> lists it).</summary>
    public static bool AddedByUs(IDictionary<string, string>? annotations, string secretName) => Lists(AddedPullSecret(annotations), secretName);

    /// <summary>The daemon added the entry <paramref name="secretName"/> under an earlier SecretName (<see cref="PreviousPullSecretAnnotation"/> lists it).</summary>
    public static bool AddedEarlierByUs(IDictionary<string, string>? annotations, string secretName) => Lists(PreviousPullSecret(annotations), secretName);

    // A marker annotation's value is a comma-separated list of secret names (one name, as before
    // profiles, when the daemon added one entry). Names never contain a comma.

    /// <summary>The marker value <paramref name="marker"/> lists <paramref name="secretName"/>. Allocation-free: it runs under the cache's lock.</summary>
    public static bool Lists(string? marker, string secretName)
    {
        if (marker is null)
        {
            return false;
        }

        foreach (var range in marker.AsSpan().Split(','))
        {
            if (marker.AsSpan()[range].Trim().SequenceEqual(secretName))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The names a marker value lists, in order, without blanks or repeats.</summary>
    public static List<string> Names(string? marker) =>
        marker is null ? [] : [.. marker.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal)];

    /// <summary>The marker value listing <paramref name="names"/>, or null (the annotation goes) when there are none.</summary>
    public static string? Marker(IReadOnlyCollection<string> names) => names.Count == 0 ? null : string.Join(',', names);
}
