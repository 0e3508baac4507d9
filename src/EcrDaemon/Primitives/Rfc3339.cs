using System.Globalization;

namespace EcrDaemon.Primitives;

/// <summary>
/// The one way the daemon writes a time in RFC 3339: UTC, with a literal <c>Z</c>. Whole seconds for
/// what it prints or stores (<c>2026-12-02T10:48:49Z</c>: the secret's expires-at annotation,
/// <c>check</c>'s output), milliseconds for its JSON log lines.
/// </summary>
internal static class Rfc3339
{
    /// <summary>Whole seconds: <c>2026-12-02T10:48:49Z</c>.</summary>
    public const string SecondsFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'";

    /// <summary>Milliseconds, as the JSON console formatter writes its timestamps: <c>2026-12-02T10:48:49.123Z</c>.</summary>
    public const string MillisecondsFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <summary><paramref name="at"/> in UTC to the whole second (<see cref="SecondsFormat"/>).</summary>
    public static string Format(DateTimeOffset at) => at.UtcDateTime.ToString(SecondsFormat, CultureInfo.InvariantCulture);

    /// <summary>Reads a time as <see cref="Format"/> writes it (or any RFC 3339 time with an offset); false when it is none.</summary>
    public static bool TryParse(string? text, out DateTimeOffset at) =>
        DateTimeOffset.TryParseExact(text, SecondsFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at)
        || DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);
}
