using System.Text;
using EcrDaemon.Commands;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using k8s.Models;
using Xunit;

namespace EcrDaemon.Tests.Commands;

/// <summary>
/// What a namespace owner writes reaches explain's text output: a secret's type and its <c>.dockerconfigjson</c>'s
/// registry names, an expiry annotation, Events (anyone who may create Events may set source=ecr-daemon). None of
/// it may move the cursor, retitle the terminal, or start a line of its own (a forged "verdict: in sync", a forged
/// row of <c>explain --all</c>): control characters are shown escaped.
/// </summary>
public sealed class ExplainHostileTextTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private const string Forged = "\nverdict: in sync: nothing to do\u001b[2J\u001b]0;owned\u0007\r\u202e";

    private static PullSecretProfiles Profiles()
    {
        var options = new EcrDaemonOptions();
        options.Registries.Add(new RegistryOptions { Name = "main", Region = "us-west-2" });
        options.Profiles.Add(new ProfileOptions { Name = "apps", NamespaceSelector = "team=a", SecretName = "app-pull", Registries = ["main"] });
        return PullSecretProfiles.From(options);
    }

    private static ClusterSnapshot Hostile()
    {
        var snapshot = new ClusterSnapshot(Profiles());
        snapshot.Add(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team-a", Labels = new Dictionary<string, string> { ["team"] = "a" } } });
        snapshot.Add(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "default", NamespaceProperty = "team-a", ResourceVersion = "1" } });
        var config = "{\"auths\":{\"evil.example.com" + Forged.Replace("\n", "\\n").Replace("\u001b", "\\u001b").Replace("\u0007", "\\u0007").Replace("\r", "\\r").Replace("\u202e", "\\u202e") + "\":{}}}";
        snapshot.Add(new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                Name = "app-pull",
                NamespaceProperty = "team-a",
                ResourceVersion = "1",
                Labels = new Dictionary<string, string> { [Markers.ManagedByLabel] = Markers.ManagedByValue },
                Annotations = new Dictionary<string, string> { [Markers.ExpiresAtAnnotation] = "soon" + Forged },
            },
            Type = "example.com/odd" + Forged,
            Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = Encoding.UTF8.GetBytes(config) },
        });
        return snapshot;
    }

    [Fact]
    public async Task Text_from_the_cluster_cannot_forge_a_line_or_send_a_terminal_escape()
    {
        var events = new[] { new EventReport("2026-12-03T11:59:00Z", "Normal", "Synced" + Forged, "Secret/app-pull" + Forged, 1, "ok" + Forged) };
        var report = NamespaceDiagnosis.Diagnose(Hostile(), "team-a", adoptUnmanaged: false, Now, events);
        using var o = new StringWriter { NewLine = "\n" };

        await ExplainCommand.WriteAsync(o, report);

        var text = o.ToString();
        Assert.Contains("evil.example.com", text, StringComparison.Ordinal); // the hostile values are shown ...
        Assert.DoesNotContain(text, c => char.IsControl(c) && c != '\n'); // ... without a control character
        Assert.DoesNotContain('\u202e', text);
        var verdicts = text.Split('\n').Where(l => l.StartsWith("verdict:", StringComparison.Ordinal)).ToList();
        Assert.Equal("verdict: NOT IN SYNC", Assert.Single(verdicts)[..20]);
        Assert.Contains("\\n", text, StringComparison.Ordinal); // escaped, so a person sees that something was there
    }

    [Fact]
    public void An_explain_all_row_is_one_line_whatever_the_verdict_holds()
    {
        var report = NamespaceDiagnosis.Diagnose(Hostile(), "team-a", adoptUnmanaged: false, Now);
        var row = new NamespaceSummary("team-a", "NOT IN SYNC", true, false, report.Verdict);

        var line = ExplainCommand.Row(row, 10);

        Assert.StartsWith("team-a      NOT IN SYNC  ", line, StringComparison.Ordinal);
        Assert.DoesNotContain(line, char.IsControl);
        Assert.DoesNotContain('\u202e', line);
    }
}
