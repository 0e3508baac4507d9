using System.Text.RegularExpressions;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// The one check of Kubernetes object names, as kube-apiserver makes it, for options validation,
/// <c>cleanup --secret-name</c> and the label selector's key prefixes. Patterns end in <c>\z</c>,
/// never <c>$</c> (which also matches before a final newline, so <c>"aws-registry\n"</c> would pass).
/// </summary>
internal static partial class ObjectNames
{
    /// <summary>What <see cref="IsSubdomain"/> accepts, in words for an error message.</summary>
    public const string SubdomainRule = "lower-case letters, digits, '-' and '.', at most 253";

    /// <summary>What <see cref="IsLabel"/> accepts, in words for an error message.</summary>
    public const string LabelRule = "lower-case letters, digits and '-', at most 63";

    /// <summary>A Secret, ServiceAccount or Lease name, or a label key's prefix: an RFC 1123 DNS subdomain of at most 253 characters.</summary>
    public static bool IsSubdomain(string? name) => !string.IsNullOrWhiteSpace(name) && name.Length <= 253 && SubdomainPattern().IsMatch(name);

    /// <summary>A namespace name: an RFC 1123 DNS label of at most 63 characters.</summary>
    public static bool IsLabel(string? name) => !string.IsNullOrWhiteSpace(name) && name.Length <= 63 && LabelPattern().IsMatch(name);

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\z")]
    private static partial Regex SubdomainPattern();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\z")]
    private static partial Regex LabelPattern();
}
