using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Configuration;

/// <summary>Checks the configuration at start; each problem is one sentence naming the key.</summary>
internal sealed partial class EcrDaemonOptionsValidator : IValidateOptions<EcrDaemonOptions>
{
    public ValidateOptionsResult Validate(string? name, EcrDaemonOptions options)
    {
        var errors = new List<string>();
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

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]+$")]
    private static partial Regex RegionPattern();

    [GeneratedRegex("^[0-9]{12}$")]
    private static partial Regex AccountIdPattern();

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArnPattern();
}
