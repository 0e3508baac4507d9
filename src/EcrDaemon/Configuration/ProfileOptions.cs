namespace EcrDaemon.Configuration;

/// <summary>What a profile writes.</summary>
internal enum SecretFormat
{
    /// <summary>A <c>kubernetes.io/dockerconfigjson</c> image pull secret holding every registry of the profile, referenced from its ServiceAccounts.</summary>
    DockerConfigJson,

    /// <summary>
    /// Argo CD repository credentials for Helm charts in ECR over OCI: one secret per registry, named
    /// <c>&lt;SecretName&gt;-&lt;registry Name&gt;</c>, labelled <c>argocd.argoproj.io/secret-type: repo-creds</c>, with
    /// <c>url</c> (the registry host), <c>type: helm</c>, <c>enableOCI: "true"</c>, <c>username</c> and <c>password</c>.
    /// No ServiceAccount is patched.
    /// </summary>
    ArgoCdRepositoryCredentials,
}

/// <summary>
/// One pull-secret profile: <c>EcrDaemon:Profiles:N:{Name,NamespaceSelector,SecretName,Registries,ServiceAccounts,ExcludedNamespaces}</c>.
/// The namespaces its selector matches get a secret named <see cref="SecretName"/> holding only the
/// registries it names, referenced from its ServiceAccounts.
/// </summary>
internal sealed class ProfileOptions
{
    /// <summary>A DNS label, unique among the profiles; metrics, Events and log lines name it.</summary>
    public string? Name { get; set; }

    /// <summary>A label selector; a namespace whose labels match it gets this profile's secret.</summary>
    public string? NamespaceSelector { get; set; }

    /// <summary>The secret's name in each selected namespace, unique among the profiles.</summary>
    public string? SecretName { get; set; }

    /// <summary>The <see cref="RegistryOptions.Name"/>s of the registries the secret holds; at least one.</summary>
    public IList<string> Registries { get; set; } = [];

    /// <summary>
    /// The ServiceAccounts that get the secret; <c>*</c> means every one. Unset means <c>["default"]</c>;
    /// an empty list (the key set to the empty string) means none: the secret only.
    /// </summary>
    public IList<string>? ServiceAccounts { get; set; }

    /// <summary>What the profile writes: image pull secrets (the default) or Argo CD repository credentials.</summary>
    public SecretFormat Format { get; set; } = SecretFormat.DockerConfigJson;

    /// <summary>Namespaces this profile never touches, in addition to <see cref="EcrDaemonOptions.ExcludedNamespaces"/>.</summary>
    public IList<string>? ExcludedNamespaces { get; set; }
}
