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
/// secret named NAME (default: every profile's secret name) that carries our label (only as listed: one replaced or
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
        var flag = host.Services.GetRequiredService<IConfiguration>()[SecretNameFlag];
        if (flag is not null && !ObjectNames.IsSubdomain(flag))
        {
            await stderr.WriteLineAsync($"ecrdaemon: invalid configuration: --{SecretNameFlag} '{flag}' is not a valid secret name ({ObjectNames.SubdomainRule})");
            return CommandDispatcher.InvalidConfiguration;
        }

        IReadOnlyList<string> secretNames = flag is not null
            ? [flag]
            : [.. PullSecretProfiles.From(host.Services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value).Select(p => p.SecretName)];

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

        var secrets = new List<V1Secret>();
        V1ServiceAccountList accounts;
        try
        {
            foreach (var secretName in secretNames)
            {
                secrets.AddRange((await client.ListSecretsAsync(Markers.SecretNameSelector(secretName), Markers.ManagedSelector, null, null, cancellationToken)).Items);
            }

            accounts = await client.ListServiceAccountsAsync(null, null, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Nothing was removed: say why in one line (an unreachable or refusing API server), never a stack trace.
            await stderr.WriteLineAsync($"ecrdaemon cleanup: could not list what to remove, nothing was changed: {ApiErrors.Describe(e)}");
            return 1;
        }

        foreach (var secret in secrets)
        {
            // Only the secret listed as ours: one replaced or edited since (a 409) is left alone and reported.
            var (ns, secretName) = (secret.Metadata.NamespaceProperty, secret.Metadata.Name);
            var listed = new V1DeleteOptions { Preconditions = new V1Preconditions { Uid = secret.Metadata.Uid, ResourceVersion = secret.Metadata.ResourceVersion } };
            await Try($"deleted secret {ns}/{secretName}", () => client.DeleteSecretAsync(ns, secretName, listed, cancellationToken));
        }

        foreach (var sa in accounts.Items)
        {
            if (Patch(sa, secretNames) is not ({ } patch, var removedNames))
            {
                continue;
            }

            await Try($"removed {string.Join(", ", removedNames)} from serviceaccount {sa.Metadata.NamespaceProperty}/{sa.Metadata.Name}", () =>
                client.PatchServiceAccountAsync(sa.Metadata.NamespaceProperty, sa.Metadata.Name, patch, cancellationToken));
        }

        await stdout.WriteLineAsync($"cleanup: removed {removed}, failed {failures}");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>
    /// The one patch that takes each of <paramref name="secretNames"/> out of a ServiceAccount where we added
    /// it (our marker, or the previous-name marker, lists it), and the names it takes out; null when none.
    /// </summary>
    private static (V1Patch Patch, List<string> Removed)? Patch(V1ServiceAccount sa, IReadOnlyList<string> secretNames)
    {
        var added = Markers.Names(Markers.AddedPullSecret(sa.Metadata.Annotations));
        var previous = Markers.Names(Markers.PreviousPullSecret(sa.Metadata.Annotations));
        var removed = secretNames.Where(n => added.Contains(n) || previous.Contains(n)).ToList();
        if (removed.Count == 0)
        {
            return null;
        }

        var rest = (sa.ImagePullSecrets ?? []).Select(r => r.Name).Where(n => !removed.Contains(n)).ToList();

        // Each marker changes only when it lists a name taken out; after a rename the marker names the new entry, which stays.
        var addedUpdate = added.RemoveAll(removed.Contains) > 0 ? MarkerUpdate.To(Markers.Marker(added)) : MarkerUpdate.Keep;
        var previousUpdate = previous.RemoveAll(removed.Contains) > 0 ? MarkerUpdate.To(Markers.Marker(previous)) : MarkerUpdate.Keep;
        return (ServiceAccountPatch.Create(sa.Metadata.ResourceVersion, rest, addedUpdate, previousUpdate), removed);
    }
}
