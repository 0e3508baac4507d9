using System.Globalization;
using System.Text.RegularExpressions;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Controller;

/// <summary>
/// Checks the configuration at start; each problem is one sentence naming the key. Every option has
/// bounds, so that a value that passes here cannot crash the daemon later (a timer, Polly or the
/// rate limiter refusing it). The configuration, when given, tells which keys were set at all.
/// </summary>
internal sealed partial class EcrDaemonOptionsValidator(IConfiguration? configuration = null) : IValidateOptions<EcrDaemonOptions>
{
    /// <summary>Profiles are a bit set (<see cref="ulong"/>) per namespace.</summary>
    public const int MaxProfiles = 64;

    /// <summary>The longest wait a .NET timer (Task.Delay, PeriodicTimer, CancelAfter) accepts: 4294967294 ms, about 49.7 days.</summary>
    public static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>Polly's bounds: a timeout strategy takes 10 ms to 24 h; a retry's delays at most 24 h.</summary>
    public static readonly TimeSpan ShortestPollyTimeout = TimeSpan.FromMilliseconds(10);

    public static readonly TimeSpan LongestPollyDelay = TimeSpan.FromHours(24);

    public const double MinKubernetesQps = 0.01;
    public const double MaxKubernetesQps = 100_000;
    public const int MaxKubernetesBurst = 100_000;

    private static readonly TimeSpan Millisecond = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    public ValidateOptionsResult Validate(string? name, EcrDaemonOptions options)
    {
        var errors = new List<string>();
        ValidateNames(options, errors);
        ValidateTimings(options, errors);
        ValidateLeaderElection(options.LeaderElection, errors);
        ValidateEcr(options.Ecr, errors);
        for (var i = 0; i < options.Registries.Count; i++)
        {
            ValidateRegistry($"{EcrDaemonOptions.SectionName}:Registries:{i}", options.Registries[i], errors);
            ValidatePublicRegistry($"{EcrDaemonOptions.SectionName}:Registries:{i}", options.Registries[i], errors);
        }

        ValidateRegistryFlags(errors);
        ValidateAliasesShadowNoRegistry(options.Registries, errors);

        ValidateProfiles(options, errors);

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateNames(EcrDaemonOptions options, List<string> errors)
    {
        const string Section = EcrDaemonOptions.SectionName;
        if (!LabelSelector.TryParse(options.NamespaceSelector, out _, out var selectorError))
        {
            errors.Add($"{Section}:NamespaceSelector '{options.NamespaceSelector}' is not a label selector: {selectorError}");
        }

        if (!ObjectNames.IsSubdomain(options.SecretName))
        {
            errors.Add($"{Section}:SecretName '{options.SecretName}' is not a valid secret name ({ObjectNames.SubdomainRule})");
        }

        ServiceAccountNames($"{Section}:ServiceAccounts", options.TargetServiceAccounts, errors);
        NamespaceNames($"{Section}:ExcludedNamespaces", options.Excluded, errors);
    }

    /// <summary>
    /// The profiles, and the registry names they refer to. Registry names are checked with or without
    /// profiles; the rest only when profiles are configured.
    /// </summary>
    private void ValidateProfiles(EcrDaemonOptions options, List<string> errors)
    {
        const string Section = EcrDaemonOptions.SectionName;
        var registryIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Registries.Count; i++)
        {
            var name = options.Registries[i].Name;
            if (string.IsNullOrEmpty(name))
            {
                continue;
            }

            if (!ObjectNames.IsLabel(name))
            {
                errors.Add($"{Section}:Registries:{i}:Name '{name}' is not a DNS label ({ObjectNames.LabelRule})");
            }
            else if (!registryIndex.TryAdd(name, i))
            {
                errors.Add($"{Section}:Registries:{i}:Name '{name}' is used by {Section}:Registries:{registryIndex[name]} too; registry names must be unique");
            }
        }

        ValidateProfileFormats(errors);
        var profiles = options.Profiles;
        if (profiles.Count == 0)
        {
            return;
        }

        var expanded = profiles.Sum(p => p.Format == SecretFormat.ArgoCdRepositoryCredentials ? Math.Max(1, p.Registries.Distinct().Count()) : 1);
        if (expanded > MaxProfiles)
        {
            errors.Add($"{Section}:Profiles has {profiles.Count} entries, {expanded} secrets per namespace with one per registry of the Argo CD profiles; at most {MaxProfiles} are supported");
        }

        foreach (var key in new[] { nameof(EcrDaemonOptions.NamespaceSelector), nameof(EcrDaemonOptions.SecretName), nameof(EcrDaemonOptions.ServiceAccounts) })
        {
            if (configuration?.GetSection($"{Section}:{key}") is { } set && (set.Value is not null || set.GetChildren().Any()))
            {
                var value = set.Value ?? string.Join(",", set.GetChildren().Select(c => c.Value));
                errors.Add($"{Section}:{key} is set ('{value}'), but so is {Section}:Profiles; with profiles, each profile sets its own ({Section}:Profiles:N:{key})");
            }
        }

        for (var i = 0; i < options.Registries.Count; i++)
        {
            if (string.IsNullOrEmpty(options.Registries[i].Name))
            {
                errors.Add($"{Section}:Registries:{i}:Name is required when {Section}:Profiles is set, so that profiles can name the registry");
            }
            else if (!profiles.Any(p => p.Registries.Contains(options.Registries[i].Name!)))
            {
                errors.Add($"{Section}:Registries:{i} ('{options.Registries[i].Name}') is used by no profile; add it to a profile's Registries or remove it");
            }
        }

        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var secretNames = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < profiles.Count; i++)
        {
            var key = $"{Section}:Profiles:{i}";
            var profile = profiles[i];
            if (string.IsNullOrWhiteSpace(profile.Name))
            {
                errors.Add($"{key}:Name is required");
            }
            else if (!ObjectNames.IsLabel(profile.Name))
            {
                errors.Add($"{key}:Name '{profile.Name}' is not a DNS label ({ObjectNames.LabelRule})");
            }
            else if (!names.TryAdd(profile.Name, i))
            {
                errors.Add($"{key}:Name '{profile.Name}' is used by {Section}:Profiles:{names[profile.Name]} too; profile names must be unique");
            }

            if (string.IsNullOrWhiteSpace(profile.NamespaceSelector))
            {
                errors.Add($"{key}:NamespaceSelector is required (for example team=a)");
            }
            else if (!LabelSelector.TryParse(profile.NamespaceSelector, out _, out var selectorError))
            {
                errors.Add($"{key}:NamespaceSelector '{profile.NamespaceSelector}' is not a label selector: {selectorError}");
            }

            if (string.IsNullOrWhiteSpace(profile.SecretName))
            {
                errors.Add($"{key}:SecretName is required");
            }
            else if (!ObjectNames.IsSubdomain(profile.SecretName))
            {
                errors.Add($"{key}:SecretName '{profile.SecretName}' is not a valid secret name ({ObjectNames.SubdomainRule})");
            }
            else if (!secretNames.TryAdd(profile.SecretName, i))
            {
                errors.Add($"{key}:SecretName '{profile.SecretName}' is used by {Section}:Profiles:{secretNames[profile.SecretName]} too; each profile needs its own secret name");
            }

            if (profile.Format == SecretFormat.ArgoCdRepositoryCredentials && profile.ServiceAccounts is { Count: > 0 })
            {
                errors.Add($"{key}:ServiceAccounts is set, but {key}:Format is {profile.Format}, which patches no ServiceAccount; leave ServiceAccounts unset");
            }

            if (profile.Format == SecretFormat.ArgoCdRepositoryCredentials && ObjectNames.IsSubdomain(profile.SecretName))
            {
                // One secret per registry, named <SecretName>-<registry>: each must be a valid name, unique among every profile's secrets.
                foreach (var (_, secretName, _) in PullSecretProfiles.Expand(profile).Where(e => registryIndex.ContainsKey(e.Registries[0])))
                {
                    if (!ObjectNames.IsSubdomain(secretName))
                    {
                        errors.Add($"{key}:SecretName '{profile.SecretName}' makes the secret name '{secretName}' for a registry, which is not a valid secret name ({ObjectNames.SubdomainRule})");
                    }
                    else if (!secretNames.TryAdd(secretName, i))
                    {
                        errors.Add($"{key}:SecretName '{profile.SecretName}' makes the secret name '{secretName}', which {Section}:Profiles:{secretNames[secretName]} uses too; each secret needs its own name");
                    }
                }
            }

            if (profile.Registries.Count == 0)
            {
                errors.Add($"{key}:Registries is empty; a profile needs at least one registry (a Name from {Section}:Registries)");
            }

            for (var r = 0; r < profile.Registries.Count; r++)
            {
                if (!registryIndex.ContainsKey(profile.Registries[r]))
                {
                    errors.Add($"{key}:Registries:{r} '{profile.Registries[r]}' is not the Name of any entry in {Section}:Registries");
                }
            }

            ServiceAccountNames($"{key}:ServiceAccounts", profile.ServiceAccounts ?? [], errors);
            NamespaceNames($"{key}:ExcludedNamespaces", profile.ExcludedNamespaces ?? [], errors);
        }
    }

    private static void ServiceAccountNames(string key, IEnumerable<string> names, List<string> errors)
    {
        foreach (var (name, i) in names.Select((n, i) => (n, i)))
        {
            if (name != "*" && !ObjectNames.IsSubdomain(name))
            {
                errors.Add($"{key}:{i} '{name}' is not a ServiceAccount name (or '*' for all)");
            }
        }
    }

    private static void NamespaceNames(string key, IEnumerable<string> names, List<string> errors)
    {
        foreach (var (name, i) in names.Select((n, i) => (n, i)))
        {
            if (!ObjectNames.IsLabel(name))
            {
                errors.Add($"{key}:{i} '{name}' is not a namespace name");
            }
        }
    }

    private static void ValidateTimings(EcrDaemonOptions options, List<string> errors)
    {
        const string Section = EcrDaemonOptions.SectionName;
        if (!(options.RefreshAt > 0 && options.RefreshAt < 1))
        {
            errors.Add($"{Section}:RefreshAt must be between 0 and 1, exclusive (it is {options.RefreshAt}); 0.5 refreshes half-way through a token's life");
        }

        Within(errors, $"{Section}:MinRefreshInterval", options.MinRefreshInterval, Second, LongestTimer);
        Within(errors, $"{Section}:ResyncInterval", options.ResyncInterval, Second, LongestTimer);
        Within(errors, $"{Section}:LivenessTimeout", options.LivenessTimeout, Second, LongestTimer);
        if (options.Concurrency is < 1 or > 256)
        {
            errors.Add($"{Section}:Concurrency must be between 1 and 256 (it is {options.Concurrency})");
        }

        var qps = options.KubernetesQps;
        if (!(qps == 0 || (qps >= MinKubernetesQps && qps <= MaxKubernetesQps)))
        {
            errors.Add($"{Section}:KubernetesQps must be 0 (no limit) or between {MinKubernetesQps} and {MaxKubernetesQps} (it is {qps.ToString(CultureInfo.InvariantCulture)})");
        }

        if (options.KubernetesBurst is < 1 or > MaxKubernetesBurst)
        {
            errors.Add($"{Section}:KubernetesBurst must be between 1 and {MaxKubernetesBurst} (it is {options.KubernetesBurst})");
        }
    }

    private static void ValidateLeaderElection(LeaderElectionOptions election, List<string> errors)
    {
        const string Key = $"{EcrDaemonOptions.SectionName}:LeaderElection";

        // The Lease holds whole seconds; the elector waits with timers.
        Within(errors, $"{Key}:LeaseDuration", election.LeaseDuration, Second, LongestTimer);
        Within(errors, $"{Key}:RenewDeadline", election.RenewDeadline, Millisecond, LongestTimer);
        Within(errors, $"{Key}:RetryPeriod", election.RetryPeriod, Millisecond, LongestTimer);
        if (election.Enabled && !(election.RenewDeadline > election.RetryPeriod && election.LeaseDuration > election.RenewDeadline))
        {
            errors.Add($"{Key} needs LeaseDuration > RenewDeadline > RetryPeriod > 0 (they are {election.LeaseDuration}, {election.RenewDeadline}, {election.RetryPeriod})");
        }

        if (!ObjectNames.IsSubdomain(election.LeaseName))
        {
            errors.Add($"{Key}:LeaseName '{election.LeaseName}' is not a valid Lease name");
        }

        if (election.LeaseNamespace is { } ns && !ObjectNames.IsLabel(ns))
        {
            errors.Add($"{Key}:LeaseNamespace '{ns}' is not a namespace name");
        }
    }

    private static void ValidateEcr(EcrOptions ecr, List<string> errors)
    {
        const string Prefix = $"{EcrDaemonOptions.SectionName}:Ecr";
        if (ecr.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{Prefix}:Timeout must be positive (it is {ecr.Timeout})");
        }
        else
        {
            Within(errors, $"{Prefix}:Timeout", ecr.Timeout, Millisecond, LongestPollyDelay);
        }

        var retry = ecr.Retry;
        if (retry.MaxAttempts is < 1 or > 20)
        {
            errors.Add($"{Prefix}:Retry:MaxAttempts must be between 1 and 20 (it is {retry.MaxAttempts})");
        }

        if (retry.BaseDelay <= TimeSpan.Zero || retry.MaxDelay < retry.BaseDelay)
        {
            errors.Add($"{Prefix}:Retry:BaseDelay must be positive and no larger than {Prefix}:Retry:MaxDelay");
        }
        else
        {
            Within(errors, $"{Prefix}:Retry:BaseDelay", retry.BaseDelay, Millisecond, LongestPollyDelay);
            Within(errors, $"{Prefix}:Retry:MaxDelay", retry.MaxDelay, Millisecond, LongestPollyDelay);
        }

        if (retry.TotalTimeout < ecr.Timeout)
        {
            errors.Add($"{Prefix}:Retry:TotalTimeout ({retry.TotalTimeout}) must be at least {Prefix}:Timeout ({ecr.Timeout})");
        }
        else
        {
            Within(errors, $"{Prefix}:Retry:TotalTimeout", retry.TotalTimeout, ShortestPollyTimeout, LongestPollyDelay);
        }
    }

    private static void ValidateRegistry(string key, RegistryOptions registry, List<string> errors)
    {
        if (registry.Public)
        {
            // ECR Public's region is fixed (ValidatePublicRegistry); AWS_REGION is not needed.
        }
        else if (string.IsNullOrWhiteSpace(registry.Region))
        {
            errors.Add($"{key}:Region is required (or set AWS_REGION)");
        }
        else if (!RegionPattern().IsMatch(registry.Region.Trim()))
        {
            errors.Add($"{key}:Region '{registry.Region}' is not an AWS region name such as us-west-2");
        }

        if (!string.IsNullOrWhiteSpace(registry.AccountId) && !AccountIdPattern().IsMatch(registry.AccountId.Trim()))
        {
            errors.Add($"{key}:AccountId '{registry.AccountId}' must be a 12-digit AWS account id");
        }

        if (!string.IsNullOrWhiteSpace(registry.RoleArn) && !RoleArnPattern().IsMatch(registry.RoleArn.Trim()))
        {
            errors.Add($"{key}:RoleArn '{registry.RoleArn}' is not an IAM role ARN (arn:aws:iam::123456789012:role/name)");
        }

        if (!string.IsNullOrWhiteSpace(registry.ExternalId) && string.IsNullOrWhiteSpace(registry.RoleArn))
        {
            errors.Add($"{key}:ExternalId is set but {key}:RoleArn is not; an external id only applies to an assumed role");
        }
        else if (!string.IsNullOrWhiteSpace(registry.ExternalId) && !ExternalIdPattern().IsMatch(registry.ExternalId.Trim()))
        {
            errors.Add($"{key}:ExternalId must be 2 to 1224 characters of letters, digits and +=,.@:/-_ (it has {registry.ExternalId.Trim().Length})");
        }

        if (!string.IsNullOrWhiteSpace(registry.Endpoint)
            && !(Uri.TryCreate(registry.Endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)))
        {
            errors.Add($"{key}:Endpoint '{registry.Endpoint}' must be an absolute http(s) URL");
        }

        if (registry.DualStack && registry.Region?.Trim() is { } region && region.StartsWith("cn-", StringComparison.Ordinal))
        {
            errors.Add($"{key}:DualStack is set for China region {region}, whose dual-stack host names differ; list the host under {key}:Aliases instead");
        }

        for (var a = 0; a < registry.Aliases.Count; a++)
        {
            if (!IsHostName(registry.Aliases[a]?.Trim()))
            {
                errors.Add($"{key}:Aliases:{a} '{registry.Aliases[a]}' is not a registry host name: a lower-case DNS name, optionally with :port (1-65535), no scheme and no path (for example registry.example.com or 10.0.0.5:5000)");
            }
        }
    }

    /// <summary>A lower-case DNS name (labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen; at most 253 characters) or an IPv4 address, optionally with a port 1-65535.</summary>
    private static bool IsHostName(string? host)
    {
        if (string.IsNullOrEmpty(host))
        {
            return false;
        }

        var colon = host.LastIndexOf(':');
        if (colon >= 0)
        {
            var port = host[(colon + 1)..];
            if (port.Length is 0 or > 5 || !port.All(char.IsAsciiDigit) || port[0] == '0' || int.Parse(port, CultureInfo.InvariantCulture) > 65535)
            {
                return false;
            }

            host = host[..colon];
        }

        return host.Length <= 253 && HostNamePattern().IsMatch(host);
    }

    /// <summary>
    /// ECR Public is us-east-1 only and has no account id. A Region that came from AWS_REGION (not set on the
    /// registry itself) is not an error: it is ignored, as the configuration tells.
    /// </summary>
    private void ValidatePublicRegistry(string key, RegistryOptions registry, List<string> errors)
    {
        if (!registry.Public)
        {
            return;
        }

        var region = configuration is null ? registry.Region : configuration[$"{key}:Region"];
        if (!string.IsNullOrWhiteSpace(region) && region.Trim() != Ecr.EcrEndpointResolver.PublicRegion)
        {
            errors.Add($"{key}:Region '{region}' cannot be used with {key}:Public: ECR Public's API is in {Ecr.EcrEndpointResolver.PublicRegion} only (leave Region unset or set {Ecr.EcrEndpointResolver.PublicRegion})");
        }

        if (!string.IsNullOrWhiteSpace(registry.AccountId))
        {
            errors.Add($"{key}:AccountId cannot be set with {key}:Public: ECR Public has one registry, public.ecr.aws, and no account id");
        }

        if (registry.DualStack)
        {
            errors.Add($"{key}:DualStack cannot be set with {key}:Public: public.ecr.aws has no dual-stack host of this form (list another name under {key}:Aliases)");
        }
    }

    /// <summary>
    /// The raw values the binder cannot convert, each named by its key with the values allowed. The source-generated
    /// binder (on with PublishAot) refuses the whole configuration at the first one, with its own message; the
    /// reflection binder dropped the list entry holding it (a registry or profile silently gone). Either way these
    /// sentences are what the operator reads.
    /// </summary>
    public IReadOnlyList<string> UnconvertibleValues()
    {
        var errors = new List<string>();
        ValidateRegistryFlags(errors);
        ValidateProfileFormats(errors);
        return errors;
    }

    /// <summary>A misspelt profile format is an error naming the formats, never a profile gone.</summary>
    private void ValidateProfileFormats(List<string> errors)
    {
        const string Section = EcrDaemonOptions.SectionName;
        var formats = Enum.GetNames<SecretFormat>();
        foreach (var (section, i) in configuration?.GetSection($"{Section}:Profiles").GetChildren().Select((p, i) => (p, i)) ?? [])
        {
            if (section[nameof(ProfileOptions.Format)] is { } format && !formats.Contains(format.Trim(), StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{Section}:Profiles:{i}:Format '{format}' is not one of {string.Join(", ", formats)}");
            }
        }
    }

    /// <summary>Public and DualStack must read as booleans (Public=yes must not make the registry vanish or fall back to the default).</summary>
    private void ValidateRegistryFlags(List<string> errors)
    {
        foreach (var registry in configuration?.GetSection($"{EcrDaemonOptions.SectionName}:Registries").GetChildren() ?? [])
        {
            foreach (var flag in new[] { nameof(RegistryOptions.Public), nameof(RegistryOptions.DualStack) })
            {
                var value = registry[flag];
                if (!string.IsNullOrWhiteSpace(value) && !bool.TryParse(value, out _))
                {
                    errors.Add($"{EcrDaemonOptions.SectionName}:Registries:{registry.Key}:{flag} '{value}' must be true or false");
                }
            }
        }
    }

    /// <summary>
    /// An alias that names another registry's own host would hand that registry's pulls this registry's password
    /// (the first registry of a host wins), and two profiles would write two passwords for one host.
    /// </summary>
    private static void ValidateAliasesShadowNoRegistry(IList<RegistryOptions> registries, List<string> errors)
    {
        var hosts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < registries.Count; i++)
        {
            var r = registries[i];
            var host = r.Public ? Ecr.RegistryTarget.PublicHost
                : !string.IsNullOrWhiteSpace(r.AccountId) && !string.IsNullOrWhiteSpace(r.Region) ? Ecr.RegistryTarget.HostOf(r.AccountId.Trim(), r.Region.Trim())
                : null;
            if (host is not null)
            {
                hosts.TryAdd(host, i);
            }
        }

        for (var i = 0; i < registries.Count; i++)
        {
            for (var a = 0; a < registries[i].Aliases.Count; a++)
            {
                if (registries[i].Aliases[a]?.Trim() is { } alias && hosts.TryGetValue(alias, out var owner) && owner != i)
                {
                    errors.Add($"{EcrDaemonOptions.SectionName}:Registries:{i}:Aliases:{a} '{alias}' is the host of {EcrDaemonOptions.SectionName}:Registries:{owner}; "
                        + "an alias may not name another registry's host (pulls from it would get this registry's password)");
                }
            }
        }
    }

    private static void Within(List<string> errors, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{key} must be between {min:c} and {max:c} (it is {value:c})");
        }
    }

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    private static partial Regex RegionPattern();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")]
    private static partial Regex HostNamePattern();

    [GeneratedRegex("^[0-9]{12}$")]
    private static partial Regex AccountIdPattern();

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArnPattern();

    [GeneratedRegex(@"^[\w+=,.@:/-]{2,1224}$")]
    private static partial Regex ExternalIdPattern();
}
