using Amazon;

namespace EcrDaemon.Ecr;

/// <summary>Where a registry's GetAuthorizationToken call goes, and why.</summary>
internal sealed record EcrEndpoint(Uri Url, string Source);

/// <summary>
/// Chooses the ECR API endpoint for a registry: an explicit per-registry endpoint first, then the
/// SDKs' standard endpoint settings (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, shared config), then
/// the regional default from ECR's endpoint rules: https://api.ecr[-fips].{region}.{partition DNS suffix}.
/// ECR Public (<see cref="ResolvePublic"/>) likewise, with AWS_ENDPOINT_URL_ECR_PUBLIC and its one region, us-east-1.
/// </summary>
internal sealed class EcrEndpointResolver(Func<string?> sdkConfiguredEndpoint, Func<string?> sdkConfiguredPublicEndpoint)
{
    /// <summary>ECR Public's API is served from this region only.</summary>
    public const string PublicRegion = "us-east-1";

    public EcrEndpointResolver()
        : this(EcrClientConfig.ConfiguredEndpointUrl, EcrClientConfig.ConfiguredPublicEndpointUrl)
    {
    }

    /// <summary>For tests: <paramref name="sdkConfiguredEndpoint"/> for private registries, nothing configured for ECR Public.</summary>
    public EcrEndpointResolver(Func<string?> sdkConfiguredEndpoint)
        : this(sdkConfiguredEndpoint, () => null)
    {
    }

    public EcrEndpoint Resolve(string region, string? explicitEndpoint, bool useFips)
    {
        if (!string.IsNullOrWhiteSpace(explicitEndpoint))
        {
            return new EcrEndpoint(new Uri(explicitEndpoint, UriKind.Absolute), "configured endpoint");
        }

        var configured = sdkConfiguredEndpoint();
        if (configured is not null && Uri.TryCreate(configured, UriKind.Absolute, out var configuredUri))
        {
            return new EcrEndpoint(configuredUri, "AWS endpoint settings (AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL)");
        }

        return new EcrEndpoint(RegionalDefault(region, useFips), useFips ? "regional FIPS default" : "regional default");
    }

    /// <summary>
    /// ECR Public's endpoint: an explicit per-registry endpoint, else AWS_ENDPOINT_URL_ECR_PUBLIC / AWS_ENDPOINT_URL
    /// (or shared config), else https://api.ecr-public[-fips].us-east-1.amazonaws.com.
    /// </summary>
    public EcrEndpoint ResolvePublic(string? explicitEndpoint, bool useFips)
    {
        if (!string.IsNullOrWhiteSpace(explicitEndpoint))
        {
            return new EcrEndpoint(new Uri(explicitEndpoint, UriKind.Absolute), "configured endpoint");
        }

        var configured = sdkConfiguredPublicEndpoint();
        if (configured is not null && Uri.TryCreate(configured, UriKind.Absolute, out var configuredUri))
        {
            return new EcrEndpoint(configuredUri, "AWS endpoint settings (AWS_ENDPOINT_URL_ECR_PUBLIC / AWS_ENDPOINT_URL)");
        }

        return new EcrEndpoint(
            new Uri($"https://api.ecr-public{(useFips ? "-fips" : "")}.{PublicRegion}.amazonaws.com/", UriKind.Absolute),
            useFips ? "ECR Public FIPS default" : "ECR Public default");
    }

    /// <summary>https://api.ecr.{region}.amazonaws.com, .amazonaws.com.cn in China, and so on per partition.</summary>
    public static Uri RegionalDefault(string region, bool useFips)
    {
        // AWSSDK.Core knows each region's partition and its DNS suffix.
        var suffix = RegionEndpoint.GetBySystemName(region).PartitionDnsSuffix;
        if (string.IsNullOrEmpty(suffix))
        {
            suffix = "amazonaws.com";
        }

        return new Uri($"https://api.ecr{(useFips ? "-fips" : "")}.{region}.{suffix}/", UriKind.Absolute);
    }
}
