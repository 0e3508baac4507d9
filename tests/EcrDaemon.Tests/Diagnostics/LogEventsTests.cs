using System.Reflection;
using EcrDaemon.Diagnostics;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EcrDaemon.Tests.Diagnostics;

/// <summary>Every log message has its own event id, and it is the constant of <see cref="LogEvents"/> named after it.</summary>
public sealed class LogEventsTests
{
    private static Dictionary<string, int> Constants { get; } = typeof(LogEvents)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral)
        .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!, StringComparer.Ordinal);

    private static Dictionary<string, int> Messages { get; } = typeof(Log)
        .GetMethods(BindingFlags.Public | BindingFlags.Static)
        .Select(m => (m.Name, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
        .Where(m => m.Attribute is not null)
        .ToDictionary(m => m.Name, m => m.Attribute!.EventId, StringComparer.Ordinal);

    [Fact]
    public void Each_message_uses_the_constant_named_after_it_and_each_constant_has_its_message()
    {
        Assert.True(Messages.Count > 30, $"only {Messages.Count} [LoggerMessage] methods found");
        Assert.Equal(Constants.OrderBy(c => c.Key, StringComparer.Ordinal), Messages.OrderBy(m => m.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void No_two_messages_share_an_event_id()
    {
        var shared = Constants.GroupBy(c => c.Value).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(c => c.Key))}");
        Assert.Empty(shared);
    }
}
