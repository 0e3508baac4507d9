using System.Globalization;
using EcrDaemon.Commands;
using EcrDaemon.Ecr;
using EcrDaemon.Primitives;
using Xunit;

namespace EcrDaemon.Tests.Primitives;

/// <summary>The one RFC 3339 format writes what each of its users wrote before it was shared, byte for byte.</summary>
public sealed class Rfc3339Tests
{
    public static TheoryData<DateTimeOffset, string, string> Times => new()
    {
        { new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z" },
        { new DateTimeOffset(2026, 1, 2, 3, 4, 5, 999, TimeSpan.Zero), "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.999Z" },
        { new DateTimeOffset(2026, 12, 31, 23, 30, 0, TimeSpan.FromHours(-2)), "2027-01-01T01:30:00Z", "2027-01-01T01:30:00.000Z" },
        { new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.FromHours(5.5)), "2026-05-31T18:30:00Z", "2026-05-31T18:30:00.000Z" },
        { DateTimeOffset.UnixEpoch, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z" },
    };

    [Theory]
    [MemberData(nameof(Times))]
    public void Whole_seconds_and_milliseconds_in_UTC_as_before(DateTimeOffset at, string seconds, string milliseconds)
    {
        Assert.Equal(seconds, Rfc3339.Format(at));
        Assert.Equal(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), Rfc3339.Format(at));
        Assert.Equal(milliseconds, at.UtcDateTime.ToString(Rfc3339.MillisecondsFormat, CultureInfo.InvariantCulture));
        Assert.Equal("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", Rfc3339.MillisecondsFormat);
    }

    [Theory]
    [MemberData(nameof(Times))]
    public void The_token_set_and_check_print_the_expiry_in_whole_seconds(DateTimeOffset at, string seconds, string milliseconds)
    {
        _ = milliseconds;
        var token = new EcrAuthorizationToken("r.example", "AWS", "p", at);
        Assert.Equal(seconds, TokenSet.From([token]).Expiry);
        var (line, _) = CheckCommand.Format(new RegistryTokenResult(null!, "env", token, null), at.AddYears(-1), TimeSpan.FromMinutes(1));
        Assert.Contains($"expires {seconds}  credentials", line, StringComparison.Ordinal);
    }
}
