using System.Text.Json.Nodes;
using EcrDaemon.Configuration;
using EcrDaemon.Kubernetes;
using EcrDaemon.Reconciliation;
using k8s;
using k8s.Exceptions;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Commands;

/// <summary>
/// <c>ecrdaemon cleanup</c>, for uninstall: deletes every secret named <c>SecretName</c> that
/// carries our label, and removes our entry from every ServiceAccount where we added it (the
/// annotation says so), in every namespace. Prints one line per removal. Exit 0 when everything
/// went, 1 when something could not be removed.
/// </summary>
internal static class CleanupCommand
{
    public static async Task<int> RunAsync(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var secretName = host.Services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value.SecretName;
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

        var secrets = await client.CoreV1.ListSecretForAllNamespacesAsync(
            fieldSelector: $"metadata.name={secretName}", labelSelector: $"{Markers.ManagedByLabel}={Markers.ManagedByValue}", cancellationToken: cancellationToken);
        foreach (var secret in secrets.Items)
        {
            var ns = secret.Metadata.NamespaceProperty;
            await Try($"deleted secret {ns}/{secretName}", () => client.CoreV1.DeleteNamespacedSecretAsync(secretName, ns, cancellationToken: cancellationToken));
        }

        var accounts = await client.CoreV1.ListServiceAccountForAllNamespacesAsync(cancellationToken: cancellationToken);
        foreach (var sa in accounts.Items.Where(sa => sa.Metadata.Annotations?.TryGetValue(Markers.AddedPullSecretAnnotation, out var v) == true && v == secretName))
        {
            var rest = (sa.ImagePullSecrets ?? []).Select(r => r.Name).Where(n => n != secretName).ToList();
            var patch = ServiceAccountPatch.Create(sa.Metadata.ResourceVersion, rest, addedByUs: false, secretName);
            await Try($"removed {secretName} from serviceaccount {sa.Metadata.NamespaceProperty}/{sa.Metadata.Name}", () =>
                client.CoreV1.PatchNamespacedServiceAccountAsync(patch, sa.Metadata.Name, sa.Metadata.NamespaceProperty, cancellationToken: cancellationToken));
        }

        await stdout.WriteLineAsync($"cleanup: removed {removed}, failed {failures}");
        return failures == 0 ? 0 : 1;
    }
}
