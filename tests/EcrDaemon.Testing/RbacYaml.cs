namespace EcrDaemon.Testing;

/// <summary>RBAC manifests tests append to rendered or hand-written RBAC (YAML documents, each starting with <c>---</c>).</summary>
public static class RbacYaml
{
    /// <summary>Binds <paramref name="clusterRole"/> to the ServiceAccount <paramref name="ns"/>/<paramref name="serviceAccount"/>.</summary>
    public static string ClusterRoleBinding(string name, string clusterRole, string ns, string serviceAccount) => $"""

        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: {name}
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: {clusterRole}
        subjects:
          - kind: ServiceAccount
            name: {serviceAccount}
            namespace: {ns}
        """;
}
