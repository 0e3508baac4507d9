using EcrDaemon.Configuration;

namespace EcrDaemon.Ecr;

/// <summary>
/// One registry's place in the token refresher's schedule: its last good token, when it is due
/// again (<see cref="RefreshSchedule.DueAt"/>), when the refresher should wake for it (jittered),
/// and, while it fails, when it is retried.
/// </summary>
internal sealed class RegistrySchedule(RegistryTarget target)
{
    private DateTimeOffset _dueAt = DateTimeOffset.MinValue;

    public RegistryTarget Target { get; } = target;

    /// <summary>The last good token, or null before the first one.</summary>
    public EcrAuthorizationToken? Held { get; private set; }

    /// <summary>True while the last fetch failed.</summary>
    public bool Failing { get; private set; }

    /// <summary>When the refresher wakes for this registry.</summary>
    public DateTimeOffset NextAt { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>Set once the surprising expiry of this registry's token has been logged.</summary>
    public bool WarnedExpiry { get; set; }

    /// <summary>Without a token, failing and up for a retry, or past the refresh point of its token.</summary>
    public bool IsDue(DateTimeOffset now) => Failing ? NextAt <= now : Held is null || _dueAt <= now;

    public void Succeeded(EcrAuthorizationToken token, DateTimeOffset now, EcrDaemonOptions daemonOptions, double jitter)
    {
        Held = token;
        Failing = false;
        _dueAt = RefreshSchedule.DueAt(now, token.ExpiresAt, daemonOptions.RefreshAt, daemonOptions.MinRefreshInterval);
        NextAt = now + RefreshSchedule.Next(now, now, token.ExpiresAt, daemonOptions.RefreshAt, daemonOptions.MinRefreshInterval, jitter);
    }

    public void Failed(DateTimeOffset now, TimeSpan retryAfter)
    {
        Failing = true;
        NextAt = now + retryAfter;
    }
}
