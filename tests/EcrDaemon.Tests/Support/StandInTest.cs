using EcrDaemon.StandIns;
using EcrDaemon.Tests.Ecr;
using Xunit;

namespace EcrDaemon.Tests.Support;

/// <summary>A test class whose every test gets a fresh <see cref="EcrStandIn"/> (its counters and fault queue start empty).</summary>
public abstract class StandInTest : IAsyncLifetime
{
    protected EcrStandIn StandIn { get; private set; } = null!;

    public async Task InitializeAsync() => StandIn = await EcrStandIn.StartAsync();

    public async Task DisposeAsync() => await StandIn.DisposeAsync();

    /// <summary>
    /// The environment for the real aws CLI against the stand-in: its access key with <paramref name="secretAccessKey"/>, one
    /// attempt, no instance metadata, and no profile, session token or endpoint variable (<paramref name="endpointVariable"/>
    /// among them) from the machine.
    /// </summary>
    protected static Dictionary<string, string?> AwsCliEnvironment(string secretAccessKey, string endpointVariable) => new()
    {
        ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
        ["AWS_SECRET_ACCESS_KEY"] = secretAccessKey,
        ["AWS_SESSION_TOKEN"] = null,
        ["AWS_PROFILE"] = null,
        ["AWS_ENDPOINT_URL"] = null,
        [endpointVariable] = null,
        ["AWS_EC2_METADATA_DISABLED"] = "true",
        ["AWS_MAX_ATTEMPTS"] = "1",
        ["AWS_RETRY_MODE"] = "standard",
    };
}
