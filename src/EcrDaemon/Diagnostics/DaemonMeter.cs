namespace EcrDaemon.Diagnostics;

/// <summary>
/// The daemon's one meter. Each component creates its own instruments on it through
/// <see cref="System.Diagnostics.Metrics.IMeterFactory"/> (which hands every caller the same meter
/// for the same name). The Prometheus exporter adds the unit (<c>_seconds</c>) and <c>_total</c> to
/// the names; the exported names are a public contract (README, alert rules) and tests check them.
/// No label ever holds a token: <c>registry</c> is a registry host, the others are small fixed sets.
/// </summary>
internal static class DaemonMeter
{
    public const string Name = "EcrDaemon";
}
