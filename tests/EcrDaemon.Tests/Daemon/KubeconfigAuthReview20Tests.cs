using EcrDaemon.Commands;
using EcrDaemon.Tests.Support;
using Xunit;

namespace EcrDaemon.Tests.Daemon;

/// <summary>
/// Review of issue 20: KubernetesClient.Aot reads a kubeconfig user's <c>auth-provider</c> (oidc) but, unlike
/// KubernetesClient (OidcTokenProvider), makes no credentials of it. A kubeconfig kubectl uses must not make the
/// daemon talk to the API server anonymously: it either authenticates or refuses the configuration, naming why.
/// It held: the configuration is refused (exit 2), so an oidc kubeconfig needs an exec credential plugin now.
/// </summary>
public sealed class KubeconfigAuthReview20Tests
{
    [Fact]
    public async Task A_kubeconfig_with_an_oidc_auth_provider_is_not_used_anonymously()
    {
        await using var h = await DaemonHarness.StartAsync();
        var token = h.Cluster.ServiceAccountToken("ecr-daemon", "ecr-daemon");
        var kubeconfig = h.Cluster.Kubeconfig(token).Replace(
            $"    token: {token}",
            $"""
                auth-provider:
                  name: oidc
                  config:
                    client-id: ecr-daemon
                    idp-issuer-url: https://issuer.invalid
                    id-token: {token}
            """,
            StringComparison.Ordinal);
        Assert.Contains("auth-provider", kubeconfig, StringComparison.Ordinal);
        var file = Path.Combine(Directory.CreateTempSubdirectory("ecrdaemon-oidc-").FullName, "kubeconfig");
        await File.WriteAllTextAsync(file, kubeconfig);
        var mark = h.Requests.Mark();

        var result = await DaemonProcess.RunAsync(new Dictionary<string, string?> { ["AWS_REGION"] = "us-west-2", ["KUBECONFIG"] = file }, "cleanup");

        var anonymous = h.Requests.Since(mark).Where(r => r.Code == 401).ToList();
        Assert.True(anonymous.Count == 0 || result.ExitCode == CommandDispatcher.InvalidConfiguration,
            $"{anonymous.Count} requests answered 401, exit {result.ExitCode}\n{result}");
        if (result.ExitCode == CommandDispatcher.InvalidConfiguration)
        {
            // KubernetesClient.Aot refuses it: "User: ... does not have appropriate auth credentials in kubeconfig".
            Assert.True(result.StandardError.Contains("auth credentials", StringComparison.Ordinal), result.ToString());
        }
    }
}
