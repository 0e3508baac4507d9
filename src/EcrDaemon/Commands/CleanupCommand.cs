using EcrDaemon.Configuration;
using EcrDaemon.Controller;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Commands;

/// <summary>
/// <c>ecrdaemon cleanup [--secret-name NAME]</c>, for uninstall or after a rename: deletes every
/// secret named NAME (default: <c>SecretName</c>) that carries our label (only as listed: one replaced or
/// changed since is left alone and counted as failed), and removes NAME from
/// every ServiceAccount where we added it (our marker annotation, or the previous-name annotation
/// kept when SecretName was renamed, says so), in every namespace. Entries someone else added stay.
/// Prints one line per removal. Exit 0 when everything went, 1 when something could not be
/// removed, 2 when NAME is not a secret name.
/// </summary>
internal static class CleanupCommand
{
    public const string SecretNameFlag = "secret-name";

    public static async Task<int> RunAsync(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var secretName = host.Services.GetRequiredService<IConfiguration>()[SecretNameFlag]
            ?? host.Services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value.SecretName;
        if (!ObjectNames.IsSubdomain(secretName))
        {
            await stderr.WriteLineAsync($"ecrdaemon: invalid configuration: --{SecretNameFlag} '{secretName}' is not a valid secret name ({ObjectNames.SubdomainRule})");
            return CommandDispatcher.InvalidConfiguration;
        }

        if (await CommandDispatcher.KubernetesClientAsync(host, stderr) is not { } client)
        {
            return CommandDispatcher.InvalidConfiguration;
        }

        var failures = 0;
        var removed = 0;
        async Task Try(string what, Func<Task> action)
        {
            try
            {
                await action();
                removed++;
                await stdout.WriteLineAsync(what);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failures++;
                await stderr.WriteLineAsync($"ecrdaemon cleanup: could not complete '{what}': {ApiErrors.Describe(e)}");
            }
        }

        V1SecretList secrets;
        V1ServiceAccountList accounts;
        try
        {
            secrets = await client.CoreV1.ListSecretForAllNamespacesAsync(
                fieldSelector: Markers.SecretNameSelector(secretName), labelSelector: Markers.ManagedSelector, cancellationToken: cancellationToken);
            accounts = await client.CoreV1.ListServiceAccountForAllNamespacesAsync(cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Nothing was removed: say why in one line (an unreachable or refusing API server), never a stack trace.
            await stderr.WriteLineAsync($"ecrdaemon cleanup: could not list what to remove, nothing was changed: {ApiErrors.Describe(e)}");
            return 1;
        }

        foreach (var secret in secrets.Items)
        {
            // Only the secret listed as ours: one replaced or edited since (a 409) is left alone and reported.
            var ns = secret.Metadata.NamespaceProperty;
            var listed = new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = secret.Metadata.Uid, ResourceVersion = secret.Metadata.ResourceVersion } };
            await Try($"deleted secret {ns}/{secretName}", () => client.CoreV1.DeleteNamespacedSecretAsync(secretName, ns, body: listed, cancellationToken: cancellationToken));
        }

        foreach (var sa in accounts.Items)
        {
            if (Patch(sa, secretName) is not { } patch)
            {
                continue;
            }

            await Try($"removed {secretName} from serviceaccount {sa.Metadata.NamespaceProperty}/{sa.Metadata.Name}", () =>
                client.CoreV1.PatchNamespacedServiceAccountAsync(patch, sa.Metadata.Name, sa.Metadata.NamespaceProperty, cancellationToken: cancellationToken));
        }

        await stdout.WriteLineAsync($"cleanup: removed {removed}, failed {failures}");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>The patch that takes <paramref name="secretName"/> out of a ServiceAccount where we added it, or null.</summary>
    private static V1Patch? Patch(V1ServiceAccount sa, string secretName)
    {
        var current = Markers.AddedByUs(sa.Metadata.Annotations, secretName);
        var previous = Markers.AddedEarlierByUs(sa.Metadata.Annotations, secretName);
        if (!current && !previous)
        {
            return null;
        }

        var rest = (sa.ImagePullSecrets ?? []).Select(r => r.Name).Where(n => n != secretName).ToList();

        // The marker goes only when it names this entry; after a rename it names the new one, which stays.
        return ServiceAccountPatch.Create(sa.Metadata.ResourceVersion, rest, current ? MarkerChange.Remove : MarkerChange.Keep, secretName, forgetPrevious: previous);
    }
}
