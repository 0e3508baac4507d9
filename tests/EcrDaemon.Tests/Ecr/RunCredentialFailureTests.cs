using EcrDaemon.StandIns;
using EcrDaemon.Testing;
using EcrDaemon.Tests.Commands;
using EcrDaemon.Tests.Daemon;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Ecr;

/// <summary>
/// <c>run</c>, the built program as a process with the real default credential chain (nothing
/// inherited), while a credential source or the transport to ECR fails and recovers: the daemon
/// stays up, logs a classified failure, keeps the last good token in the secret, and writes the
/// next token once the fault clears. Tokens live 6 s, so a refresh round comes every few seconds.
/// </summary>
public sealed class RunCredentialFailureTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private DaemonHarness _h = null!;
    private string _dir = null!;

    public async Task InitializeAsync()
    {
        _h = await DaemonHarness.StartAsync();
        _h.Ecr.TokenLifetime = TimeSpan.FromSeconds(6);
        _dir = Directory.CreateTempSubdirectory("ecrdaemon-run-fault-").FullName;
        await _h.CreateNamespaceAsync("a", optedIn: true);
    }

    public async Task DisposeAsync()
    {
        await _h.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Container_credentials_refused_at_start_then_500_then_garbage()
    {
        var port = CheckCredentialFailureTests.ClosedPort();
        using var replica = Start(new()
        {
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = $"http://127.0.0.1:{port}/container-credentials",
            ["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = EcrStandIn.ContainerAuthorizationToken,
        });

        // The Pod Identity agent is not up yet: no token, but the daemon waits for it.
        await Poll.Until(() => replica.HasExited || FailureLines(replica).Any(l => l.Contains("network (transient)", StringComparison.Ordinal)),
            () => replica.ToString(), Deadline);
        AssertAlive(replica);
        Assert.Null(_h.Secret("a"));

        await using var agent = await CredentialsStandIn.StartAsync(port);
        await WaitForPasswordAsync(replica, 0);

        await FailThenRecoverAsync(replica, () => agent.Mode = CredentialsMode.ServerError, () => agent.Mode = CredentialsMode.Ok);
        await FailThenRecoverAsync(replica, () => agent.Mode = CredentialsMode.Garbage, () => agent.Mode = CredentialsMode.Ok);
    }

    [Fact]
    public async Task Web_identity_token_file_missing_then_unreadable_then_sts_refusing()
    {
        await using var sts = await CredentialsStandIn.StartAsync();
        var tokenFile = Path.Combine(_dir, "token");
        const string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlY3ItZGFlbW9uIn0.c2ln";
        await File.WriteAllTextAsync(tokenFile, jwt);
        using var replica = Start(new()
        {
            ["AWS_WEB_IDENTITY_TOKEN_FILE"] = tokenFile,
            ["AWS_ROLE_ARN"] = CheckCredentialFailureTests.RoleArn,
            ["AWS_ENDPOINT_URL_STS"] = sts.Endpoint.ToString(),
        });
        await WaitForPasswordAsync(replica, 0);

        await FailThenRecoverAsync(replica, () => File.Delete(tokenFile), () => File.WriteAllText(tokenFile, jwt));
        await FailThenRecoverAsync(replica,
            () => { File.Delete(tokenFile); Directory.CreateDirectory(tokenFile); },
            () => { Directory.Delete(tokenFile); File.WriteAllText(tokenFile, jwt); });
        await FailThenRecoverAsync(replica, () => sts.Mode = CredentialsMode.AccessDenied, () => sts.Mode = CredentialsMode.Ok);
    }

    [Fact]
    public async Task ECR_responses_cut_mid_body_truncated_then_reset()
    {
        using var replica = Start(new()
        {
            ["AWS_ACCESS_KEY_ID"] = EcrStandIn.DefaultAccessKeyId,
            ["AWS_SECRET_ACCESS_KEY"] = EcrStandIn.DefaultSecretAccessKey,
        });
        await WaitForPasswordAsync(replica, 0);

        await FailThenRecoverAsync(replica, () => _h.Ecr.Enqueue(EcrFault.TruncatedBody, 10_000), _h.Ecr.ClearFaults);
        await FailThenRecoverAsync(replica, () => _h.Ecr.Enqueue(EcrFault.ResetMidBody, 10_000), _h.Ecr.ClearFaults);
    }

    private BackgroundProcess Start(Dictionary<string, string?> environment)
    {
        // The harness's static keys are removed unless the test sets them: only the source under test is in the chain.
        var settings = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = null,
            ["AWS_SECRET_ACCESS_KEY"] = null,
            ["AWS_REGION"] = _h.Ecr.Region,
            ["EcrDaemon:MinRefreshInterval"] = "00:00:01",
        };
        foreach (var (key, value) in environment)
        {
            settings[key] = value;
        }

        return _h.StartReplicaProcess("ecr-daemon", "fault-replica", settings);
    }

    /// <summary>Breaks a source; waits for a classified failure while the secret keeps its token; repairs it; waits for the next token.</summary>
    private async Task FailThenRecoverAsync(BackgroundProcess replica, Action breakIt, Action repairIt)
    {
        var before = FailureLines(replica).Count;
        var held = _h.PasswordIn("a");
        breakIt();
        await Poll.Until(() => replica.HasExited || FailureLines(replica).Count > before, () => replica.ToString(), Deadline);
        AssertAlive(replica);
        var failure = FailureLines(replica)[before];
        Assert.Matches(@": [a-z_]+ \((transient|permanent)\): ", failure);
        Assert.Equal(held, _h.PasswordIn("a")); // the last good token stays

        repairIt();
        _h.Ecr.Generation++;
        await WaitForPasswordAsync(replica, _h.Ecr.Generation);
        AssertAlive(replica);
    }

    private async Task WaitForPasswordAsync(BackgroundProcess replica, int generation)
    {
        await Poll.Until(() => replica.HasExited || _h.PasswordIn("a") == EcrStandIn.PasswordFor(_h.Ecr.DefaultAccountId, generation),
            () => $"password {_h.PasswordIn("a")}; {replica}", Deadline);
        AssertAlive(replica);
    }

    private static List<string> FailureLines(BackgroundProcess replica) =>
        [.. replica.StandardOutputLines.Concat(replica.StandardErrorLines).Where(l => l.Contains("No ECR token for", StringComparison.Ordinal))];

    private static void AssertAlive(BackgroundProcess replica)
    {
        Assert.False(replica.HasExited, replica.ToString());
        Assert.DoesNotContain(replica.StandardOutputLines.Concat(replica.StandardErrorLines), l => l.Contains("Unhandled exception", StringComparison.Ordinal));
    }
}
