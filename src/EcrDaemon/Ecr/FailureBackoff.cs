using EcrDaemon.Primitives;

namespace EcrDaemon.Ecr;

/// <summary>
/// How long the token refresher waits after a failed round: <see cref="Start"/>, doubling with
/// every failed round in a row, capped at <see cref="Cap"/>. The daemon uses <see cref="Default"/>
/// (30 s to 5 minutes); a test registers a shorter one to play several rounds quickly.
/// </summary>
internal sealed record FailureBackoff(TimeSpan Start, TimeSpan Cap)
{
    public static FailureBackoff Default { get; } = new(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5));

    /// <summary>The delay after the <paramref name="failures"/>-th failure in a row.</summary>
    public TimeSpan After(int failures) => Backoff.Exponential(Start, Cap, failures);
}
