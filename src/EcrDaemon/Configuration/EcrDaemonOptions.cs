namespace EcrDaemon.Configuration;

/// <summary>The <c>EcrDaemon</c> configuration section (appsettings.json, or variables such as <c>EcrDaemon__Ecr__Timeout</c>).</summary>
internal sealed class EcrDaemonOptions
{
    public const string SectionName = "EcrDaemon";

    /// <summary>
    /// The registries to keep tokens for. When empty, the seed's variables describe one registry:
    /// account <c>AWS_ACCOUNT</c> (or the caller's default registry) in region <c>AWS_REGION</c>.
    /// </summary>
    public IList<RegistryOptions> Registries { get; } = [];

    public EcrOptions Ecr { get; set; } = new();
}
