using System.Text.RegularExpressions;
using EcrDaemon.Kubernetes;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Configuration;

/// <summary>Checks the configuration at start; each problem is one sentence naming the key.</summary>
internal sealed partial class EcrDaemonOptionsValidator : IValidateOptions<EcrDaemonOptions>
{
    public ValidateOptionsResult Validate(string? name, EcrDaemonOptions options)
    {
        var errors = new List<string>();
        ValidateKubernetesSide(options, errors);
        for (var i = 0; i < options.Registries.Count; i++)
        {
            ValidateRegistry($"{EcrDaemonOptions.SectionName}:Registries:{i}", options.Registries[i], errors);
        }

        var ecr = options.Ecr;
        var prefix = $"{EcrDaemonOptions.SectionName}:Ecr";
        if (ecr.Timeout <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}:Timeout must be positive (it is {ecr.Timeout})");
        }

        var retry = ecr.Retry;
        if (retry.MaxAttempts is < 1 or > 20)
        {
            errors.Add($"{prefix}:Retry:MaxAttempts must be between 1 and 20 (it is {retry.MaxAttempts})");
        }

        if (retry.BaseDelay <= TimeSpan.Zero || retry.MaxDelay < retry.BaseDelay)
        {
            errors.Add($"{prefix}:Retry:BaseDelay must be positive and no larger than {prefix}:Retry:MaxDelay");
        }

        if (retry.TotalTimeout < ecr.Timeout)
        {
            errors.Add($"{prefix}:Retry:TotalTimeout ({retry.TotalTimeout}) must be at least {prefix}:Timeout ({ecr.Timeout})");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateKubernetesSide(EcrDaemonOptions options, List<string> errors)
    {
        const string Section = EcrDaemonOptions.SectionName;
        if (!LabelSelector.TryParse(options.NamespaceSelector, out _, out var selectorError))
        {
            errors.Add($"{Section}:NamespaceSelector '{options.NamespaceSelector}' is not a label selector: {selectorError}");
        }

        if (string.IsNullOrWhiteSpace(options.SecretName) || options.SecretName.Length > 253 || !SubdomainPattern().IsMatch(options.SecretName))
        {
            errors.Add($"{Section}:SecretName '{options.SecretName}' is not a valid secret name (lower-case letters, digits, '-' and '.', at most 253)");
        }

        foreach (var (name, i) in options.TargetServiceAccounts.Select((n, i) => (n, i)))
        {
            if (name != "*" && (string.IsNullOrWhiteSpace(name) || name.Length > 253 || !SubdomainPattern().IsMatch(name)))
            {
                errors.Add($"{Section}:ServiceAccounts:{i} '{name}' is not a ServiceAccount name (or '*' for all)");
            }
        }

        foreach (var (name, i) in options.Excluded.Select((n, i) => (n, i)))
        {
            if (string.IsNullOrWhiteSpace(name) || name.Length > 63 || !LabelPattern().IsMatch(name))
            {
                errors.Add($"{Section}:ExcludedNamespaces:{i} '{name}' is not a namespace name");
            }
        }

        if (!(options.RefreshAt > 0 && options.RefreshAt < 1))
        {
            errors.Add($"{Section}:RefreshAt must be between 0 and 1, exclusive (it is {options.RefreshAt}); 0.5 refreshes half-way through a token's life");
        }

        if (options.MinRefreshInterval < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{Section}:MinRefreshInterval must be at least 1 second (it is {options.MinRefreshInterval})");
        }

        if (options.Concurrency is < 1 or > 256)
        {
            errors.Add($"{Section}:Concurrency must be between 1 and 256 (it is {options.Concurrency})");
        }

        if (options.KubernetesQps < 0 || double.IsNaN(options.KubernetesQps))
        {
            errors.Add($"{Section}:KubernetesQps must be 0 (no limit) or positive (it is {options.KubernetesQps})");
        }

        if (options.KubernetesBurst < 1)
        {
            errors.Add($"{Section}:KubernetesBurst must be at least 1 (it is {options.KubernetesBurst})");
        }

        if (options.LivenessTimeout < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{Section}:LivenessTimeout must be at least 1 second (it is {options.LivenessTimeout})");
        }

        var election = options.LeaderElection;
        if (election.Enabled && !(election.RetryPeriod > TimeSpan.Zero && election.RenewDeadline > election.RetryPeriod && election.LeaseDuration > election.RenewDeadline))
        {
            errors.Add($"{Section}:LeaderElection needs LeaseDuration > RenewDeadline > RetryPeriod > 0 (they are {election.LeaseDuration}, {election.RenewDeadline}, {election.RetryPeriod})");
        }

        if (election.Enabled && (string.IsNullOrWhiteSpace(election.LeaseName) || !SubdomainPattern().IsMatch(election.LeaseName)))
        {
            errors.Add($"{Section}:LeaderElection:LeaseName '{election.LeaseName}' is not a valid Lease name");
        }

        if (options.ResyncInterval < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{Section}:ResyncInterval must be at least 1 second (it is {options.ResyncInterval})");
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

        if (!string.IsNullOrWhiteSpace(registry.Endpoint)
            && !(Uri.TryCreate(registry.Endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)))
        {
            errors.Add($"{key}:Endpoint '{registry.Endpoint}' must be an absolute http(s) URL");
        }
    }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex SubdomainPattern();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex LabelPattern();

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    private static partial Regex RegionPattern();

    [GeneratedRegex("^[0-9]{12}$")]
    private static partial Regex AccountIdPattern();

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArnPattern();
}
