namespace EcrDaemon.Configuration;

/// <summary>How ECR is called: <c>EcrDaemon:Ecr:*</c>.</summary>
internal sealed class EcrOptions
{
    /// <summary>Use the FIPS endpoints (https://api.ecr-fips.{region}...) for registries without an explicit endpoint.</summary>
    public bool UseFips { get; set; }

    /// <summary>The timeout of one HTTP attempt.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public EcrRetryOptions Retry { get; set; } = new();
}

/// <summary>Retries of transient failures: <c>EcrDaemon:Ecr:Retry:*</c>. Capped exponential backoff with jitter, bounded in total.</summary>
internal sealed class EcrRetryOptions
{
    /// <summary>Attempts per call, the first included.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The first backoff; it doubles per retry, with jitter.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The cap of one backoff.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>The bound on one call's attempts and backoffs together.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(1);
}
