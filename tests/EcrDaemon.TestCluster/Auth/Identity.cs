namespace EcrDaemon.TestCluster.Auth;

/// <summary>Who a request comes from: the admin, or a ServiceAccount held to RBAC.</summary>
public sealed record Identity(string User, IReadOnlyList<string> Groups, bool IsAdmin)
{
    public static Identity Admin { get; } = new("kubernetes-admin", ["system:masters", "system:authenticated"], true);

    public static Identity ServiceAccount(string ns, string name) =>
        new($"system:serviceaccount:{ns}:{name}", ["system:serviceaccounts", $"system:serviceaccounts:{ns}", "system:authenticated"], false);
}

/// <summary>The attributes the authorizer decides on, as the real RequestInfo resolves them.</summary>
public sealed record RequestAttributes(string Verb, string Group, string Resource, string Namespace, string Name);
