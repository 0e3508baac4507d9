using EcrDaemon.Ecr;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// The <see cref="PullSecretContent"/> each profile's secrets should hold: its registries' tokens
/// out of those the refresher publishes, built once per token set and profile. A rotation of a
/// registry a profile does not use leaves that profile's content byte for byte the same, and its
/// previous content too: a profile's previous content is the one it had before its content last changed.
/// </summary>
internal sealed class DesiredPullSecret(TokenRefresher refresher, PullSecretProfiles profiles)
{
    private readonly Built?[] _built = new Built?[profiles.Count];
    private readonly Lock[] _locks = [.. Enumerable.Range(0, profiles.Count).Select(_ => new Lock())];

    /// <summary>The content for the current tokens, or null until every registry of the profile has one.</summary>
    public PullSecretContent? Current(PullSecretProfile profile) => For(profile).Content;

    /// <summary>The profile's content before its current one: a secret that still holds it is due a routine rotation, not a repair.</summary>
    public PullSecretContent? Previous(PullSecretProfile profile) => For(profile).Previous;

    private Built For(PullSecretProfile profile)
    {
        var set = refresher.Current;
        if (Volatile.Read(ref _built[profile.Index]) is { } built && ReferenceEquals(built.Tokens, set))
        {
            return built;
        }

        lock (_locks[profile.Index])
        {
            set = refresher.Current; // the newest, so that the profile's contents only move forward
            built = _built[profile.Index];
            if (built is not null && ReferenceEquals(built.Tokens, set))
            {
                return built;
            }

            var content = set?.For(profile.Registries) is { } tokens ? PullSecretContent.From(tokens, profile.Format) : null;
            var previous = built?.Content is { } before && content is not null && before.Hash != content.Hash ? before : built?.Previous;
            var next = new Built(set, content, previous);
            Volatile.Write(ref _built[profile.Index], next);
            return next;
        }
    }

    private sealed record Built(TokenSet? Tokens, PullSecretContent? Content, PullSecretContent? Previous);
}
