using EcrDaemon.Ecr;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The <see cref="PullSecretContent"/> every managed secret should hold, built from the tokens the
/// refresher publishes, once per token set.
/// </summary>
internal sealed class DesiredPullSecret(TokenRefresher refresher)
{
    private Built? _current;
    private Built? _previous;

    /// <summary>The content for the current tokens, or null until every registry has one.</summary>
    public PullSecretContent? Current => For(refresher.Current, ref _current);

    /// <summary>The content for the tokens before: a secret that still holds it is due a routine rotation, not a repair.</summary>
    public PullSecretContent? Previous => For(refresher.Previous, ref _previous);

    private static PullSecretContent? For(TokenSet? set, ref Built? cache)
    {
        if (set is null)
        {
            return null;
        }

        if (Volatile.Read(ref cache) is { } built && ReferenceEquals(built.Tokens, set))
        {
            return built.Content;
        }

        var content = PullSecretContent.From(set);
        Volatile.Write(ref cache, new Built(set, content)); // two readers may both build it; either answer is the same
        return content;
    }

    private sealed record Built(TokenSet Tokens, PullSecretContent Content);
}
