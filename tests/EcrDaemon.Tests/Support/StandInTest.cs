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
}
