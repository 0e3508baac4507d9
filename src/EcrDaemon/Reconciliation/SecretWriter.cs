using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// Carries out a <see cref="SecretPlanner"/> plan for one profile's secret: its writes (create, merge
/// patch, delete) and what each reports (a log line, an Event). Each write is paired with its cache
/// write-back: the answer (null: the secret is gone) goes into the cache unless a watch event for
/// the secret came first (<see cref="ObjectCache{T, TView}.Plan"/>). A 409 means our cache was behind
/// (someone changed or created the secret): the secret is read, what is there is cached, and the
/// plan stops with <see cref="WriteOutcome.Conflict"/>. Each write reports progress (for /livez).
/// </summary>
internal sealed class SecretWriter(KubernetesApi client, ObjectCache<V1Secret, SecretView> cache, Action<string> progressed, EventRecorder events, ILogger logger,
    PullSecretProfile profile)
{
    private string SecretName => profile.SecretName;

    /// <summary>
    /// Makes the namespace's secret hold <paramref name="content"/> as <paramref name="action"/> says
    /// (never one of the plans that leave it alone): <see cref="WriteOutcome.Unchanged"/>,
    /// <see cref="WriteOutcome.Written"/> or <see cref="WriteOutcome.Conflict"/>.
    /// </summary>
    /// <param name="secret">The cached secret the plan was made from; null only for <see cref="SecretAction.Create"/>.</param>
    public async Task<WriteOutcome> ApplyAsync(string ns, SecretView? secret, SecretAction action, PullSecretContent content, CancellationToken cancellationToken)
    {
        switch (action, secret)
        {
            case (SecretAction.Nothing, _):
                return WriteOutcome.Unchanged;
            case (SecretAction.Create, _):
                return await CreateAndReportAsync(ns, content, cancellationToken);
            case (SecretAction.ReplaceDockerCfg or SecretAction.ReplaceImmutable, { } replaced):
                if (await ReplaceAsync(replaced, content, cancellationToken) == WriteOutcome.Conflict)
                {
                    return WriteOutcome.Conflict;
                }

                await ReportReplacedAsync(ns, action, content, cancellationToken);
                return WriteOutcome.Written;
            case (SecretAction.Adopt or SecretAction.Rotate or SecretAction.Repair, { } existing):
                return await UpdateAsync(existing, action, content, cancellationToken);
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, "not a plan that writes the secret");
        }
    }

    /// <summary>Deletes our secret of a namespace that opted out: <see cref="WriteOutcome.Gone"/> or <see cref="WriteOutcome.Conflict"/>.</summary>
    public async Task<WriteOutcome> RemoveAsync(SecretView secret, CancellationToken cancellationToken)
    {
        var outcome = await DeleteAsync(secret, cancellationToken);
        if (outcome != WriteOutcome.Conflict)
        {
            logger.SecretDeleted(secret.Namespace, SecretName, profile.Name);
        }

        return outcome;
    }

    /// <summary>Adopt, Rotate or Repair: a patch in place; a secret deleted meanwhile is created.</summary>
    private async Task<WriteOutcome> UpdateAsync(SecretView secret, SecretAction action, PullSecretContent content, CancellationToken cancellationToken)
    {
        var ns = secret.Namespace;
        switch (await PatchAsync(secret, content, cancellationToken))
        {
            case WriteOutcome.Conflict:
                return WriteOutcome.Conflict;
            case WriteOutcome.Gone:
                // Deleted since we last heard of it (the watch will say so later): create it now, not after a backoff.
                logger.SecretVanished(ns, SecretName, profile.Name);
                return await CreateAndReportAsync(ns, content, cancellationToken);
        }

        if (action == SecretAction.Adopt)
        {
            logger.SecretAdopted(ns, SecretName, profile.Name, secret.Type ?? "");
            await events.NormalAsync(ns, "Secret", SecretName, "Adopted", $"Took over the unmanaged secret for profile {profile.Name} and updated it in place.", cancellationToken);
            return WriteOutcome.Written;
        }

        logger.SecretUpdated(ns, SecretName, profile.Name, content.Expiry);
        if (action == SecretAction.Repair)
        {
            // Routine rotations (the previous token, or an older one after a restart) record no Event; this is a repair.
            await events.NormalAsync(ns, "Secret", SecretName, "Updated", $"Restored the pull secret's data to the current token (profile {profile.Name}).", cancellationToken);
        }

        return WriteOutcome.Written;
    }

    private async Task<WriteOutcome> CreateAndReportAsync(string ns, PullSecretContent content, CancellationToken cancellationToken)
    {
        if (await CreateAsync(ns, content, cancellationToken) == WriteOutcome.Conflict)
        {
            return WriteOutcome.Conflict;
        }

        logger.SecretCreated(ns, SecretName, profile.Name, content.Expiry);
        await events.NormalAsync(ns, "Secret", SecretName, "Created",
            $"Created the pull secret for {string.Join(", ", content.Hosts)} (profile {profile.Name}; token expires {content.Expiry}).", cancellationToken);
        return WriteOutcome.Written;
    }

    private async Task ReportReplacedAsync(string ns, SecretAction action, PullSecretContent content, CancellationToken cancellationToken)
    {
        if (action == SecretAction.ReplaceDockerCfg)
        {
            logger.SecretAdopted(ns, SecretName, profile.Name, Markers.DockerCfgType);
            await events.NormalAsync(ns, "Secret", SecretName, "Adopted",
                $"Replaced the unmanaged {Markers.DockerCfgType} secret with a managed {Markers.DockerConfigJsonType} one for profile {profile.Name} (AdoptUnmanagedSecrets=true).", cancellationToken);
            return;
        }

        logger.SecretReplaced(ns, SecretName, profile.Name, content.Expiry);
        await events.NormalAsync(ns, "Secret", SecretName, "Replaced",
            $"The secret was immutable, so it was deleted and created again (mutable) to hold the current token of profile {profile.Name} (expires {content.Expiry}).", cancellationToken);
    }

    /// <summary>Delete, then create: the one way to change a secret's type or immutability.</summary>
    private async Task<WriteOutcome> ReplaceAsync(SecretView secret, PullSecretContent content, CancellationToken cancellationToken) =>
        await DeleteAsync(secret, cancellationToken) == WriteOutcome.Conflict
            ? WriteOutcome.Conflict
            : await CreateAsync(secret.Namespace, content, cancellationToken);

    /// <summary>
    /// The managed secret holding <paramref name="content"/>: our label, the expiry annotation, the
    /// type and the data. A create sends it whole; a patch sends it less the type.
    /// </summary>
    private V1Secret Body(string ns, PullSecretContent content) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = SecretName,
            NamespaceProperty = ns,
            Labels = new Dictionary<string, string>(content.Labels) { [Markers.ManagedByLabel] = Markers.ManagedByValue },
            Annotations = new Dictionary<string, string> { [Markers.ExpiresAtAnnotation] = content.Expiry },
        },
        Type = content.Type,
        Data = content.Data.ToDictionary(),
    };

    /// <summary>Creates the managed secret holding <paramref name="content"/>: <see cref="WriteOutcome.Written"/> or <see cref="WriteOutcome.Conflict"/>.</summary>
    private Task<WriteOutcome> CreateAsync(string ns, PullSecretContent content, CancellationToken cancellationToken)
    {
        var secret = Body(ns, content);
        return WriteAsync(ns, async () => await client.CreateSecretAsync(ns, secret, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Patches <paramref name="secret"/> (as cached) to hold <paramref name="content"/> and our label, with
    /// the resourceVersion it was planned from: <see cref="WriteOutcome.Written"/>, <see cref="WriteOutcome.Gone"/>
    /// (deleted since we last heard of it) or <see cref="WriteOutcome.Conflict"/>.
    /// </summary>
    private Task<WriteOutcome> PatchAsync(SecretView secret, PullSecretContent content, CancellationToken cancellationToken)
    {
        // A JSON merge patch of the same body: the type is immutable and only ever matches here, so it stays out.
        var patch = JsonSerializer.SerializeToNode(Body(secret.Namespace, content), ApiJson.Default.V1Secret)!.AsObject();
        patch.Remove("type");
        patch["metadata"]!["resourceVersion"] = secret.ResourceVersion;
        return WriteAsync(secret.Namespace, async () => await Writes.GoneIsNull(client.PatchSecretAsync(
            secret.Namespace, SecretName, new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), cancellationToken)), cancellationToken);
    }

    /// <summary>
    /// Deletes <paramref name="secret"/> with the resourceVersion it was planned from as a precondition, so
    /// that never one that replaced it meanwhile goes: <see cref="WriteOutcome.Gone"/> (deleted, by us or
    /// before us) or <see cref="WriteOutcome.Conflict"/>.
    /// </summary>
    private Task<WriteOutcome> DeleteAsync(SecretView secret, CancellationToken cancellationToken)
    {
        var preconditions = new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = secret.ResourceVersion } };
        return WriteAsync(secret.Namespace, async () =>
        {
            await Writes.GoneIsDone(client.DeleteSecretAsync(secret.Namespace, SecretName, preconditions, cancellationToken));
            return null;
        }, cancellationToken);
    }

    private async Task<WriteOutcome> WriteAsync(string ns, Func<Task<V1Secret?>> write, CancellationToken cancellationToken)
    {
        using (var planned = cache.Plan(ns, SecretName))
        {
            try
            {
                var answer = await write();
                progressed(ns);
                cache.Complete(planned, answer);
                return answer is null ? WriteOutcome.Gone : WriteOutcome.Written;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict))
            {
                // Handled below, under a plan of its own.
            }
        }

        using var reading = cache.Plan(ns, SecretName);
        cache.Complete(reading, await Writes.GoneIsNull(client.ReadSecretAsync(ns, SecretName, cancellationToken)));
        return WriteOutcome.Conflict;
    }
}
