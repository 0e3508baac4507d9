using System.Globalization;
using System.Text.RegularExpressions;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Controller;

/// <summary>
/// Checks the configuration at start; each problem is one sentence naming the key. Every option has
/// bounds, so that a value that passes here cannot crash the daemon later (a timer, Polly or the
/// rate limiter refusing it).
/// </summary>
internal sealed partial class EcrDaemonOptionsValidator : IValidateOptions<EcrDaemonOptions>
{
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
        }

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

        foreach (var (name, i) in options.TargetServiceAccounts.Select((n, i) => (n, i)))
        {
            if (name != "*" && !ObjectNames.IsSubdomain(name))
            {
                errors.Add($"{Section}:ServiceAccounts:{i} '{name}' is not a ServiceAccount name (or '*' for all)");
            }
        }

        foreach (var (name, i) in options.Excluded.Select((n, i) => (n, i)))
        {
            if (!ObjectNames.IsLabel(name))
            {
                errors.Add($"{Section}:ExcludedNamespaces:{i} '{name}' is not a namespace name");
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
        if (string.IsNullOrWhiteSpace(registry.Region))
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

    [GeneratedRegex("^[0-9]{12}$")]
    private static partial Regex AccountIdPattern();

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArnPattern();

    [GeneratedRegex(@"^[\w+=,.@:/-]{2,1224}$")]
    private static partial Regex ExternalIdPattern();
}
