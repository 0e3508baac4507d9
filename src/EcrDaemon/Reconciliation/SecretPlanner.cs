using EcrDaemon.Kubernetes;

namespace EcrDaemon.Reconciliation;

/// <summary>What to do with the secret named SecretName in an opted-in namespace.</summary>
internal enum SecretAction
{
    /// <summary>Ours, and it holds the current token: no request.</summary>
    Nothing,

    /// <summary>None there: create it.</summary>
    Create,

    /// <summary>Ours, holding the previous token (or an older one, after a restart): patch it in place, a routine rotation with no Event.</summary>
    Rotate,

    /// <summary>Ours, at the current expiry but with other data: patch it in place and record the repair as an Event.</summary>
    Repair,

    /// <summary>Not ours, a dockerconfigjson, and adoption is on: patch it in place (it takes our label).</summary>
    Adopt,

    /// <summary>A seed-style dockercfg we may take: its type is immutable, so delete it and create ours.</summary>
    ReplaceDockerCfg,

    /// <summary>Immutable, so every patch would get 422: delete it and create it again (mutable).</summary>
    ReplaceImmutable,

    /// <summary>Not ours and adoption is off: left untouched and reported.</summary>
    LeaveForeign,

    /// <summary>We may take it, but its type cannot hold a registry credential: left untouched and reported.</summary>
    LeaveWrongType,
}

/// <summary>
/// Plans the secret of an opted-in namespace from its cached view and the desired content (its
/// hash and expiry). Pure: no cache, no clock, no request.
/// </summary>
internal static class SecretPlanner
{
    /// <param name="secret">The cached secret named SecretName, or null when there is none.</param>
    /// <param name="hash">The hash of the desired data (<see cref="PullSecretContent.Hash"/>).</param>
    /// <param name="expiry">The desired expiry annotation (<see cref="PullSecretContent.Expiry"/>).</param>
    /// <param name="previousHash">The hash of the content for the tokens before the current ones, or null.</param>
    /// <param name="adoptUnmanaged">AdoptUnmanagedSecrets: a same-named secret without our label may be taken over.</param>
    /// <param name="type">The type the profile's secret has (an image pull secret's, or Opaque for Argo CD's).</param>
    public static SecretAction Plan(SecretView? secret, string hash, string expiry, string? previousHash, bool adoptUnmanaged, string type = Markers.DockerConfigJsonType)
    {
        if (secret is null)
        {
            return SecretAction.Create;
        }

        // An Opaque secret (Argo CD's format) may be anything: adoption takes only one that is already a repository credential.
        var argo = type == Markers.OpaqueType;
        var mayTake = secret.Managed || (adoptUnmanaged && (!argo || secret.RepoCreds));
        if (!mayTake)
        {
            return SecretAction.LeaveForeign;
        }

        // A seed-style dockercfg may become an image pull secret; any other type cannot become what the profile writes.
        var replaceable = type == Markers.DockerConfigJsonType && secret.Type == Markers.DockerCfgType;
        if (secret.Type != type && !replaceable)
        {
            return SecretAction.LeaveWrongType;
        }

        if (replaceable)
        {
            return SecretAction.ReplaceDockerCfg;
        }

        // Without its repo-creds label Argo CD ignores the credential: a missing label is repaired like the data.
        if (secret.Managed && secret.DataHash == hash && secret.Expiry == expiry && (!argo || secret.RepoCreds))
        {
            return SecretAction.Nothing;
        }

        if (secret.Immutable)
        {
            return SecretAction.ReplaceImmutable;
        }

        if (!secret.Managed)
        {
            return SecretAction.Adopt;
        }

        // The previous token, or another expiry (an older token after a restart): routine. The current expiry with other data: a repair.
        var rotation = secret.DataHash == previousHash || secret.Expiry != expiry;
        return rotation ? SecretAction.Rotate : SecretAction.Repair;
    }

    /// <summary>A plan that leaves a secret we may not (or cannot) take: the namespace is blocked.</summary>
    public static bool Blocked(this SecretAction action) => action is SecretAction.LeaveForeign or SecretAction.LeaveWrongType;
}
