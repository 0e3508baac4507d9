using System.Text;
using System.Text.Json.Nodes;
using System.Web;
using EcrDaemon.Kubernetes;
using EcrDaemon.StandIns;
using EcrDaemon.TestCluster;
using EcrDaemon.TestCluster.Api;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using k8s;
using k8s.Models;

namespace EcrDaemon.Tests.Profiles;

/// <summary>One entry of <c>EcrDaemon:Profiles</c>; <see cref="ServiceAccounts"/> null leaves the key unset (["default"]), empty writes the key with an empty value (secret only).</summary>
internal sealed record Profile(string Name, string NamespaceSelector, string SecretName, string[] Registries, string[]? ServiceAccounts = null);

/// <summary>
/// Two registries in two accounts at the ECR stand-in (which serves any account id), named acct-a and acct-b,
/// the three profiles of the issue over them, and what the tests read back from the test cluster's store.
/// </summary>
internal static class ProfileSetup
{
    public const string AccountA = "111111111111";
    public const string AccountB = "222222222222";
    public const string RegistryA = "acct-a";
    public const string RegistryB = "acct-b";

    public static readonly Profile TeamA = new("team-a", "team=a", "ecr-team-a", [RegistryA]);
    public static readonly Profile TeamB = new("team-b", "team=b", "ecr-team-b", [RegistryB]);
    public static readonly Profile Platform = new("platform", "platform=true", "ecr-platform", [RegistryA, RegistryB]);

    /// <summary>team-a, team-b, platform: in this order (the order entries are appended to a ServiceAccount).</summary>
    public static readonly Profile[] Three = [TeamA, TeamB, Platform];

    /// <summary>
    /// The daemon's settings for <paramref name="profiles"/> over the registries they use: acct-a at
    /// <paramref name="standInA"/>, acct-b at <paramref name="standInB"/> (the same stand-in unless given).
    /// Only used registries are configured (with profiles, every registry must be used by one).
    /// Overwrites the harness's Registries:0.
    /// </summary>
    public static Dictionary<string, string?> Settings(IReadOnlyList<Profile> profiles, EcrStandIn standInA, EcrStandIn? standInB = null)
    {
        var settings = new Dictionary<string, string?>();
        var used = profiles.SelectMany(p => p.Registries).Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal).ToList();
        for (var i = 0; i < used.Count; i++)
        {
            var standIn = used[i] == RegistryB ? standInB ?? standInA : standInA;
            settings[$"EcrDaemon:Registries:{i}:Name"] = used[i];
            settings[$"EcrDaemon:Registries:{i}:Region"] = standIn.Region;
            settings[$"EcrDaemon:Registries:{i}:AccountId"] = AccountOf(used[i]);
            settings[$"EcrDaemon:Registries:{i}:Endpoint"] = standIn.Endpoint.ToString();
        }

        for (var i = 0; i < profiles.Count; i++)
        {
            var p = profiles[i];
            var key = $"EcrDaemon:Profiles:{i}";
            settings[$"{key}:Name"] = p.Name;
            settings[$"{key}:NamespaceSelector"] = p.NamespaceSelector;
            settings[$"{key}:SecretName"] = p.SecretName;
            for (var r = 0; r < p.Registries.Length; r++)
            {
                settings[$"{key}:Registries:{r}"] = p.Registries[r];
            }

            if (p.ServiceAccounts is { Length: 0 })
            {
                settings[$"{key}:ServiceAccounts"] = ""; // an empty list: patch no ServiceAccount
            }

            for (var s = 0; s < (p.ServiceAccounts?.Length ?? 0); s++)
            {
                settings[$"{key}:ServiceAccounts:{s}"] = p.ServiceAccounts![s];
            }
        }

        return settings;
    }

    /// <summary>
    /// Settings for the Argo CD repository credentials profile <c>argocd</c> (namespaces labelled argocd=true, secrets
    /// ecr-helm-acct-a and ecr-helm-acct-b) as profile 0, over acct-a and acct-b at <paramref name="ecr"/>.
    /// </summary>
    public static Dictionary<string, string?> ArgoCdSettings(EcrStandIn ecr)
    {
        var settings = Settings([Platform], ecr);
        foreach (var key in settings.Keys.Where(k => k.StartsWith("EcrDaemon:Profiles:", StringComparison.Ordinal)).ToList())
        {
            settings.Remove(key);
        }

        settings["EcrDaemon:Profiles:0:Name"] = "argocd";
        settings["EcrDaemon:Profiles:0:NamespaceSelector"] = "argocd=true";
        settings["EcrDaemon:Profiles:0:SecretName"] = "ecr-helm";
        settings["EcrDaemon:Profiles:0:Registries:0"] = RegistryA;
        settings["EcrDaemon:Profiles:0:Registries:1"] = RegistryB;
        settings["EcrDaemon:Profiles:0:Format"] = "ArgoCdRepositoryCredentials";
        return settings;
    }

    /// <summary>A stored secret's data value <paramref name="key"/>, decoded as text.</summary>
    public static string DataText(JsonNode secret, string key) => Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]![key]!.GetValue<string>()));

    public static string AccountOf(string registry) => registry switch
    {
        RegistryA => AccountA,
        RegistryB => AccountB,
        _ => throw new ArgumentException($"no such registry {registry}", nameof(registry)),
    };

    /// <summary>A harness whose daemon RBAC names the secret names of <paramref name="profiles"/>.</summary>
    /// <summary>A test cluster whose daemon runs under the RBAC the chart renders for these profiles' secret names (tests using it need helm).</summary>
    public static async Task<DaemonHarness> StartAsync(IReadOnlyList<Profile> profiles) =>
        await DaemonHarness.StartAsync(new TestClusterOptions { RbacYaml = await HelmChart.RbacForSecretNamesAsync([.. profiles.Select(p => p.SecretName)]) });

    public static async Task CreateNamespaceAsync(this DaemonHarness h, string name, IDictionary<string, string> labels, params string[] existingPullSecrets)
    {
        await h.Admin.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name, Labels = labels } });
        if (existingPullSecrets.Length > 0)
        {
            await SetPullSecretsAsync(h, name, "default", existingPullSecrets);
        }
    }

    /// <summary>Sets the ServiceAccount's imagePullSecrets as someone else (the administrator) would; waits for the test cluster to create the default one.</summary>
    public static async Task SetPullSecretsAsync(this DaemonHarness h, string ns, string sa, params string[] names)
    {
        await Testing.Poll.Until(() => h.PullSecrets(ns, sa) is not null, () => $"no ServiceAccount {ns}/{sa}");
        var list = new JsonArray([.. names.Select(n => (JsonNode)new JsonObject { ["name"] = n })]);
        await h.Admin.CoreV1.PatchNamespacedServiceAccountAsync(
            new V1Patch(new JsonObject { ["imagePullSecrets"] = list }.ToJsonString(), V1Patch.PatchType.MergePatch), sa, ns);
    }

    public static Task SetLabelsAsync(this DaemonHarness h, string ns, IDictionary<string, string?> labels)
    {
        var node = new JsonObject();
        foreach (var (k, v) in labels)
        {
            node[k] = v;
        }

        return h.Admin.CoreV1.PatchNamespaceAsync(new V1Patch(new JsonObject { ["metadata"] = new JsonObject { ["labels"] = node } }.ToJsonString(), V1Patch.PatchType.MergePatch), ns);
    }

    /// <summary>The names of every secret stored in <paramref name="ns"/>, sorted.</summary>
    public static string[] SecretNames(this DaemonHarness h, string ns) =>
        [.. h.Cluster.Store.InNamespace(ResourceType.Secrets, ns).Select(s => s.Name).Order(StringComparer.Ordinal)];

    /// <summary>The stored secret's decoded .dockerconfigjson, or null.</summary>
    public static JsonNode? DockerConfig(this DaemonHarness h, string ns, string secretName)
    {
        var data = h.Secret(ns, secretName)?["data"]?[Markers.DockerConfigJsonKey]?.GetValue<string>();
        return data is null ? null : JsonNode.Parse(Convert.FromBase64String(data));
    }

    /// <summary>The hosts in the stored secret's .dockerconfigjson auths, sorted (empty when there is no such secret).</summary>
    public static string[] Hosts(this DaemonHarness h, string ns, string secretName) =>
        [.. (h.DockerConfig(ns, secretName)?["auths"]?.AsObject().Select(p => p.Key) ?? []).Order(StringComparer.Ordinal)];

    public static string? Password(this DaemonHarness h, string ns, string secretName, string host) =>
        h.DockerConfig(ns, secretName)?["auths"]?[host]?["password"]?.GetValue<string>();

    /// <summary>The hosts <paramref name="profile"/>'s secret must hold, sorted.</summary>
    public static string[] HostsOf(this EcrStandIn ecr, Profile profile) =>
        [.. profile.Registries.Select(r => ecr.HostFor(AccountOf(r))).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Everything stored in the namespace's secrets and ServiceAccounts, with every secret data value
    /// decoded as well: where a host must never appear.
    /// </summary>
    public static string EverythingIn(this DaemonHarness h, string ns)
    {
        var text = new StringBuilder();
        foreach (var s in h.Cluster.Store.InNamespace(ResourceType.Secrets, ns))
        {
            text.AppendLine(s.Node.ToJsonString());
            foreach (var (_, value) in s.Node["data"]?.AsObject() ?? [])
            {
                text.AppendLine(Encoding.UTF8.GetString(Convert.FromBase64String(value!.GetValue<string>())));
            }
        }

        foreach (var sa in h.Cluster.Store.InNamespace(ResourceType.ServiceAccounts, ns))
        {
            text.AppendLine(sa.Node.ToJsonString());
        }

        return text.ToString();
    }

    /// <summary>The ServiceAccount's ecr-daemon.io/added-image-pull-secret annotation, or null.</summary>
    public static string? AddedMarker(this DaemonHarness h, string ns, string sa = "default") =>
        h.Cluster.Store.Get(ResourceType.ServiceAccounts, ns, sa)?.Node["metadata"]?["annotations"]?[Markers.AddedPullSecretAnnotation]?.GetValue<string>();

    /// <summary>The values of query parameter <paramref name="name"/> in the recorded request (none: empty).</summary>
    public static string[] QueryValues(this RequestRecord r, string name) =>
        HttpUtility.ParseQueryString(r.Query).GetValues(name) ?? [];

    public static string Describe(this RequestRecord r) => $"{r.Verb} {r.Resource} {r.Namespace}/{r.Name} {r.Code} {r.Query}";

    public static string Describe(IEnumerable<RequestRecord> requests) => string.Join("\n", requests.Select(r => r.Describe()));

    /// <summary>The state of each namespace's secrets and default ServiceAccount, for failure messages.</summary>
    public static string State(this DaemonHarness h, params string[] namespaces) =>
        string.Join("\n", namespaces.Select(ns => $"{ns}: secrets=[{string.Join(",", h.SecretNames(ns))}] "
            + string.Join(" ", h.SecretNames(ns).Select(s => $"{s}:hosts=[{string.Join(",", h.Hosts(ns, s))}]"))
            + $" default SA=[{string.Join(",", h.PullSecrets(ns) ?? ["(none)"])}] marker={h.AddedMarker(ns)}"))
        + $"\nlogs:\n{string.Join('\n', h.Logs.Entries.TakeLast(20))}";
}
