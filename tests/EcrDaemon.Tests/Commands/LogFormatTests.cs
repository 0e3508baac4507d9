using System.Text.Json;
using EcrDaemon.Diagnostics;
using EcrDaemon.Tests.Ecr;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>Logs are JSON lines in a container and plain single lines on a terminal, on stderr.</summary>
public sealed class LogFormatTests
{
    private static Dictionary<string, string?> NoCredentials(string? inContainer) => new()
    {
        ["AWS_REGION"] = "us-west-2",
        ["AWS_ENDPOINT_URL_ECR"] = "http://127.0.0.1:9/",
        ["DOTNET_RUNNING_IN_CONTAINER"] = inContainer,
    };

    [Fact]
    public async Task In_a_container_every_log_line_is_a_JSON_object_with_level_event_id_category_and_message()
    {
        var run = await DaemonProcess.RunAsync(NoCredentials("true"), "check");

        var lines = MotoTests.Lines(run.StandardError);
        Assert.NotEmpty(lines);
        var failed = lines.Select(l => JsonDocument.Parse(l).RootElement)
            .Single(e => e.GetProperty("EventId").GetInt32() == LogEvents.TokenFailed);
        Assert.Equal("Error", failed.GetProperty("LogLevel").GetString());
        Assert.Equal("EcrDaemon.Ecr.EcrTokenService", failed.GetProperty("Category").GetString());
        Assert.StartsWith("No ECR token for default registry in us-west-2", failed.GetProperty("Message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_credentials", failed.GetProperty("State").GetProperty("Reason").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", failed.GetProperty("Timestamp").GetString());
    }

    [Fact]
    public async Task On_a_terminal_log_lines_are_plain_text_one_per_entry()
    {
        var run = await DaemonProcess.RunAsync(NoCredentials(null), "check");

        var lines = MotoTests.Lines(run.StandardError);
        var failed = Assert.Single(lines, l => l.Contains("EcrDaemon.Ecr.EcrTokenService[1005]", StringComparison.Ordinal));
        Assert.Matches(@"^\d\d:\d\d:\d\d fail: EcrDaemon\.Ecr\.EcrTokenService\[1005\] No ECR token for default registry in us-west-2", failed);
        Assert.DoesNotContain(lines, l => l.StartsWith('{'));
    }
}
