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
/// </summary>
internal sealed class EcrClientConfig : ClientConfig
{
    /// <summary>The ECR service id from the service model; names AWS_ENDPOINT_URL_ECR.</summary>
    public const string EcrServiceId = "ECR";

    /// <summary>The SigV4 signing name from the service model.</summary>
    public const string SigningName = "ecr";

    private static readonly IDefaultConfiguration[] Defaults =
    [
        new DefaultConfiguration
        {
            Name = DefaultConfigurationMode.Standard,
            RetryMode = RequestRetryMode.Standard,
            S3UsEast1RegionalEndpoint = S3UsEast1RegionalEndpointValue.Regional,
        },
    ];

    public EcrClientConfig()
        : base(new DefaultConfigurationProvider(Defaults))
    {
        ServiceId = EcrServiceId;
        AuthenticationServiceName = SigningName;
    }

    public override string ServiceVersion => "2015-09-21";

    public override string UserAgent => "ecrdaemon";

    public override string RegionEndpointServiceName => "api.ecr";

    // Endpoints are resolved by EcrEndpointResolver; the SDK's rule engine is not used.
    public override Amazon.Runtime.Endpoints.Endpoint DetermineServiceOperationEndpoint(ServiceOperationEndpointParameters parameters) =>
        throw new NotSupportedException("ECR endpoints are resolved by EcrEndpointResolver");

    /// <summary>The endpoint configured through the SDKs' standard variables or shared config, or null.</summary>
    public static string? ConfiguredEndpointUrl()
    {
        var url = new EcrClientConfig().ServiceURL;
        return string.IsNullOrWhiteSpace(url) ? null : url;
    }
}
