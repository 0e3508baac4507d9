namespace EcrDaemon.TestCluster.Api;

/// <summary>A resource the test cluster serves, with what discovery and routing need to know.</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Plural,
    string Singular,
    string Kind,
    bool Namespaced,
    string[] ShortNames,
    string[] FieldSelectors)
{
    public static readonly string[] Verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>"secrets" for the core group, "leases.coordination.k8s.io" otherwise (as in error messages).</summary>
    public string QualifiedPlural => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "namespace", "Namespace", false, ["ns"],
        ["metadata.name", "status.phase"]);

    public static readonly ResourceType Secrets = new("", "v1", "secrets", "secret", "Secret", true, [],
        ["metadata.name", "metadata.namespace", "type"]);

    public static readonly ResourceType ServiceAccounts = new("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, ["sa"],
        ["metadata.name", "metadata.namespace"]);

    public static readonly ResourceType Events = new("", "v1", "events", "event", "Event", true, ["ev"],
        ["metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
         "reason", "reportingComponent", "source", "type"]);

    public static readonly ResourceType Leases = new("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, [],
        ["metadata.name", "metadata.namespace"]);

    public static readonly IReadOnlyList<ResourceType> All = [Namespaces, Secrets, ServiceAccounts, Events, Leases];

    public static ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);
}
