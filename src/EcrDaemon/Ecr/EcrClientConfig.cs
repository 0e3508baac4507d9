using Amazon.Runtime;
using Amazon.Runtime.Endpoints;
using Amazon.Runtime.Internal;

namespace EcrDaemon.Ecr;

/// <summary>
/// A minimal AWSSDK.Core client configuration for ECR. It does two jobs with the SDK's own code:
/// it gives the SigV4 signer the service name and region to sign for, and, because its
/// <see cref="ClientConfig.ServiceId"/> is "ECR", its <see cref="ClientConfig.ServiceURL"/>
/// reports the endpoint the SDKs' standard settings configure (AWS_ENDPOINT_URL_ECR, then
/// AWS_ENDPOINT_URL, then the shared config file; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns them off).
/// <see cref="ForPublic"/> is the same for ECR Public (service id "ECR PUBLIC", signing name "ecr-public",
/// AWS_ENDPOINT_URL_ECR_PUBLIC).
/// </summary>
internal sealed class EcrClientConfig : ClientConfig
{
    /// <summary>The ECR service id from the service model; names AWS_ENDPOINT_URL_ECR.</summary>
    public const string EcrServiceId = "ECR";

    /// <summary>The SigV4 signing name from the service model.</summary>
    public const string SigningName = "ecr";

    /// <summary>ECR Public's service id (botocore ecr-public 2020-10-30); names AWS_ENDPOINT_URL_ECR_PUBLIC.</summary>
    public const string PublicServiceId = "ECR PUBLIC";

    /// <summary>ECR Public's SigV4 signing name.</summary>
    public const string PublicSigningName = "ecr-public";

    private static readonly IDefaultConfiguration[] Defaults =
    [
        new DefaultConfiguration
        {
            Name = DefaultConfigurationMode.Standard,
            RetryMode = RequestRetryMode.Standard,
            S3UsEast1RegionalEndpoint = S3UsEast1RegionalEndpointValue.Regional,
        },
    ];

    private readonly bool _public;

    public EcrClientConfig()
        : this(isPublic: false)
    {
    }

    private EcrClientConfig(bool isPublic)
        : base(new DefaultConfigurationProvider(Defaults))
    {
        _public = isPublic;
        ServiceId = isPublic ? PublicServiceId : EcrServiceId;
        AuthenticationServiceName = isPublic ? PublicSigningName : SigningName;
    }

    /// <summary>The configuration for ECR Public's API.</summary>
    public static EcrClientConfig ForPublic() => new(isPublic: true);

    public override string ServiceVersion => _public ? "2020-10-30" : "2015-09-21";

    public override string UserAgent => "ecrdaemon";

    public override string RegionEndpointServiceName => _public ? "api.ecr-public" : "api.ecr";

    // Endpoints are resolved by EcrEndpointResolver; the SDK's rule engine is not used.
    public override Amazon.Runtime.Endpoints.Endpoint DetermineServiceOperationEndpoint(ServiceOperationEndpointParameters parameters) =>
        throw new NotSupportedException("ECR endpoints are resolved by EcrEndpointResolver");

    /// <summary>The endpoint configured through the SDKs' standard variables or shared config, or null.</summary>
    public static string? ConfiguredEndpointUrl()
    {
        var url = new EcrClientConfig().ServiceURL;
        return string.IsNullOrWhiteSpace(url) ? null : url;
    }

    /// <summary>The ECR Public endpoint configured through AWS_ENDPOINT_URL_ECR_PUBLIC, AWS_ENDPOINT_URL or shared config, or null.</summary>
    public static string? ConfiguredPublicEndpointUrl()
    {
        var url = ForPublic().ServiceURL;
        return string.IsNullOrWhiteSpace(url) ? null : url;
    }
}
