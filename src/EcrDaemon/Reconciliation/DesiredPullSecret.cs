using EcrDaemon.Ecr;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The <see cref="PullSecretContent"/> each profile's secrets should hold: its registries' tokens
/// out of those the refresher publishes, built once per token set and profile. A rotation of a
/// registry a profile does not use leaves that profile's content byte for byte the same.
/// </summary>
internal sealed class DesiredPullSecret(TokenRefresher refresher, PullSecretProfiles profiles)
{
    private readonly Built?[] _current = new Built?[profiles.Count];
    private readonly Built?[] _previous = new Built?[profiles.Count];

    /// <summary>The content for the current tokens, or null until every registry of the profile has one.</summary>
    public PullSecretContent? Current(PullSecretProfile profile) => For(refresher.Current, profile, ref _current[profile.Index]);

    /// <summary>The content for the tokens before: a secret that still holds it is due a routine rotation, not a repair.</summary>
    public PullSecretContent? Previous(PullSecretProfile profile) => For(refresher.Previous, profile, ref _previous[profile.Index]);

    private static PullSecretContent? For(TokenSet? set, PullSecretProfile profile, ref Built? cache)
    {
        if (set is null)
        {
            return null;
        }

        if (Volatile.Read(ref cache) is { } built && ReferenceEquals(built.Tokens, set))
        {
            return built.Content;
        }

        var content = set.For(profile.Registries) is { } tokens ? PullSecretContent.From(tokens) : null;
        Volatile.Write(ref cache, new Built(set, content)); // two readers may both build it; either answer is the same
        return content;
    }

    private sealed record Built(TokenSet Tokens, PullSecretContent? Content);
}
