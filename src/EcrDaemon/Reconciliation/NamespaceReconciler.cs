using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json.Nodes;
using EcrDaemon.Configuration;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using EcrDaemon.Queues;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// Reconcile(namespace): makes one namespace match the desired state, reading only the informers'
/// caches and writing only the difference. Opted in: the secret holds the current auths and each
/// targeted ServiceAccount lists it exactly once. Opted out (with CleanupOnOptOut): our secret and
/// the entries we added are gone. In sync: no request at all.
/// </summary>
internal sealed class NamespaceReconciler(
    IKubernetes client,
    ClusterState state,
    WorkQueue queue,
    DesiredPullSecret desired,
    EventRecorder events,
    IMeterFactory meters,
    TimeProvider time,
    IOptions<EcrDaemonOptions> options,
    ILogger<NamespaceReconciler> logger)
{
    private const int ServiceAccountAttempts = 4;
    private readonly EcrDaemonOptions _settings = options.Value;
    private readonly ServiceAccountPlanner _planner = new(options.Value.SecretName, options.Value.TargetServiceAccounts);
    private readonly ReconcileMetrics _metrics = new(meters);
    private readonly ConcurrentDictionary<string, byte> _forbidden = new(StringComparer.Ordinal);

    /// <summary>Namespaces where a same-named secret we do not own blocks us.</summary>
    public int UnmanagedSecretConflicts => _metrics.Conflicts.Count;

    /// <summary>Opted-in namespaces whose last reconcile did not reach the desired state (no token yet, a conflict, or a failure).</summary>
    public int OutOfSync => _metrics.OutOfSync.Count;

    private string SecretName => _settings.SecretName;

    /// <summary>
    /// Reconciles one namespace. <see cref="WorkResult.RetryLater"/> (our cache was behind: a 409)
    /// or an exception asks the queue to run it again after its backoff.
    /// </summary>
    public async Task<WorkResult> ReconcileAsync(string ns, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        try
        {
            var inSync = await ReconcileCoreAsync(ns, cancellationToken);
            Track(_metrics.OutOfSync, ns, inSync == false);
            _forbidden.TryRemove(ns, out _);
            return WorkResult.Done;
        }
        catch (RetryLaterException e) when (!cancellationToken.IsCancellationRequested)
        {
            _metrics.ReconcileFailed("conflict");
            Track(_metrics.OutOfSync, ns, state.Namespace(ns) is { OptedIn: true });
            return WorkResult.RetryLater(e.Message);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = ApiErrors.Reason(e);
            _metrics.ReconcileFailed(reason);
            Track(_metrics.OutOfSync, ns, state.Namespace(ns) is { OptedIn: true });
            if (reason == "forbidden" && _forbidden.TryAdd(ns, 0))
            {
                await events.WarningAsync(ns, "Secret", SecretName, "Forbidden",
                    $"ecr-daemon was refused ({ApiErrors.Describe(e)}); check that its ClusterRole grants what the chart renders.", cancellationToken);
            }

            throw;
        }
        finally
        {
            _metrics.Reconciled(time.GetElapsedTime(started));
        }
    }

    /// <summary>True: in the desired state. False: opted in but not there (no token yet, or blocked). Null: not ours to manage.</summary>
    private async Task<bool?> ReconcileCoreAsync(string ns, CancellationToken cancellationToken)
    {
        var view = state.Namespace(ns);
        if (view is null || view.Terminating)
        {
            // Gone or going: what was in it goes with it.
            _metrics.Conflicts.TryRemove(ns, out _);
            return null;
        }

        try
        {
            if (view.OptedIn)
            {
                return await EnsureAsync(ns, cancellationToken);
            }

            if (_settings.CleanupOnOptOut && !_settings.Excluded.Contains(ns))
            {
                await RemoveAsync(ns, cancellationToken);
            }

            return null;
        }
        catch (HttpOperationException e) when (ApiErrors.NamespaceGoingAway(e))
        {
            logger.NamespaceGoingAway(ns);
            return null;
        }
    }

    private static void Track(ConcurrentDictionary<string, byte> set, string ns, bool member)
    {
        if (member)
        {
            set.TryAdd(ns, 0);
        }
        else
        {
            set.TryRemove(ns, out _);
        }
    }

    private async Task<bool> EnsureAsync(string ns, CancellationToken cancellationToken)
    {
        if (desired.Current is not { } content)
        {
            return false; // No token yet; its arrival enqueues every opted-in namespace.
        }

        if (!await EnsureSecretAsync(ns, content, cancellationToken))
        {
            return false;
        }

        // Only the ServiceAccounts that need a write are copied out of the cache: a namespace with
        // thousands of them, requeued by each one's event, costs a scan per reconcile, not a copy.
        foreach (var sa in state.ServiceAccounts.Where(ns, _planner.NeedsChange))
        {
            await ApplyAsync(sa, _planner.Plan, cancellationToken);
        }

        return true;
    }

    private async Task RemoveAsync(string ns, CancellationToken cancellationToken)
    {
        _metrics.Conflicts.TryRemove(ns, out _);
        if (state.Secrets.Get(ns, SecretName) is { Managed: true } secret)
        {
            await DeleteSecretAsync(secret, cancellationToken);
            logger.SecretDeleted(ns, SecretName);
        }

        foreach (var sa in state.ServiceAccounts.Where(ns, sa => sa.AddedByUs))
        {
            await ApplyAsync(sa, _planner.PlanRemove, cancellationToken);
        }
    }

    /// <summary>Returns false when a secret we do not own (and may not adopt) holds the name.</summary>
    private async Task<bool> EnsureSecretAsync(string ns, PullSecretContent content, CancellationToken cancellationToken)
    {
        var secret = state.Secrets.Get(ns, SecretName);
        if (secret is null)
        {
            await CreateAndReportAsync(ns, content, cancellationToken);
            return true;
        }

        var mayTake = secret.Managed || _settings.AdoptUnmanagedSecrets;
        if (!mayTake || (secret.Type != Markers.DockerConfigJsonType && secret.Type != Markers.DockerCfgType))
        {
            await ReportConflictAsync(secret, mayTake, cancellationToken);
            return false;
        }

        _metrics.Conflicts.TryRemove(ns, out _);
        if (secret.Type == Markers.DockerCfgType)
        {
            // The type is immutable: adopting a seed-style dockercfg secret is the one delete-then-create.
            await DeleteSecretAsync(secret, cancellationToken);
            await CreateSecretAsync(ns, content, cancellationToken);
            logger.SecretAdopted(ns, SecretName, Markers.DockerCfgType);
            await events.NormalAsync(ns, "Secret", SecretName, "Adopted",
                $"Replaced the unmanaged {Markers.DockerCfgType} secret with a managed {Markers.DockerConfigJsonType} one (AdoptUnmanagedSecrets=true).", cancellationToken);
            return true;
        }

        if (secret.Managed && secret.DataHash == content.Hash && secret.Expiry == content.Expiry)
        {
            return true;
        }

        if (secret.Immutable)
        {
            // Every patch would get 422 ("field is immutable when `immutable` is set"); it is ours, so replace it.
            await DeleteSecretAsync(secret, cancellationToken);
            await CreateSecretAsync(ns, content, cancellationToken);
            logger.SecretReplaced(ns, SecretName, content.Expiry);
            await events.NormalAsync(ns, "Secret", SecretName, "Replaced",
                $"The secret was immutable, so it was deleted and created again (mutable) to hold the current token (expires {content.Expiry}).", cancellationToken);
            return true;
        }

        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["resourceVersion"] = secret.ResourceVersion,
                ["labels"] = new JsonObject { [Markers.ManagedByLabel] = Markers.ManagedByValue },
                ["annotations"] = new JsonObject { [Markers.ExpiresAtAnnotation] = content.Expiry },
            },
            ["data"] = new JsonObject { [Markers.DockerConfigJsonKey] = Convert.ToBase64String(content.DockerConfigJson) },
        };
        var updated = await WriteSecretAsync(ns, async () => await GoneIsNull(client.CoreV1.PatchNamespacedSecretAsync(
            new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), SecretName, ns, cancellationToken: cancellationToken)), cancellationToken);
        if (updated is null)
        {
            // Deleted since we last heard of it (the watch will say so later): create it now, not after a backoff.
            logger.SecretVanished(ns, SecretName);
            await CreateAndReportAsync(ns, content, cancellationToken);
            return true;
        }

        if (!secret.Managed)
        {
            logger.SecretAdopted(ns, SecretName, secret.Type ?? "");
            await events.NormalAsync(ns, "Secret", SecretName, "Adopted", "Took over the unmanaged secret and updated it in place.", cancellationToken);
            return true;
        }

        logger.SecretUpdated(ns, SecretName, content.Expiry);
        var rotation = secret.DataHash == desired.Previous?.Hash || secret.Expiry != content.Expiry;
        if (!rotation)
        {
            // Routine rotations (the previous token, or an older one after a restart) record no Event; this is a repair.
            await events.NormalAsync(ns, "Secret", SecretName, "Updated", "Restored the pull secret's data to the current token.", cancellationToken);
        }

        return true;
    }

    private async Task CreateAndReportAsync(string ns, PullSecretContent content, CancellationToken cancellationToken)
    {
        await CreateSecretAsync(ns, content, cancellationToken);
        logger.SecretCreated(ns, SecretName, content.Expiry);
        await events.NormalAsync(ns, "Secret", SecretName, "Created",
            $"Created the pull secret for {string.Join(", ", content.Hosts)} (token expires {content.Expiry}).", cancellationToken);
    }

    private async Task CreateSecretAsync(string ns, PullSecretContent content, CancellationToken cancellationToken)
    {
        var secret = new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                Name = SecretName,
                NamespaceProperty = ns,
                Labels = new Dictionary<string, string> { [Markers.ManagedByLabel] = Markers.ManagedByValue },
                Annotations = new Dictionary<string, string> { [Markers.ExpiresAtAnnotation] = content.Expiry },
            },
            Type = Markers.DockerConfigJsonType,
            Data = new Dictionary<string, byte[]> { [Markers.DockerConfigJsonKey] = content.DockerConfigJson },
        };
        await WriteSecretAsync(ns, async () => await client.CoreV1.CreateNamespacedSecretAsync(secret, ns, cancellationToken: cancellationToken), cancellationToken);
    }

    private async Task DeleteSecretAsync(SecretView secret, CancellationToken cancellationToken)
    {
        // The precondition: only the secret we planned from is deleted, never one that replaced it meanwhile (409).
        var preconditions = new V1DeleteOptions { Preconditions = new V1Preconditions { ResourceVersion = secret.ResourceVersion } };
        await WriteSecretAsync(secret.Namespace, async () =>
        {
            await GoneIsNull(client.CoreV1.DeleteNamespacedSecretAsync(SecretName, secret.Namespace, body: preconditions, cancellationToken: cancellationToken));
            return null;
        }, cancellationToken);
    }

    /// <summary>A 404 on our secret: it is gone (null).</summary>
    private static async Task<TResult?> GoneIsNull<TResult>(Task<TResult> request)
        where TResult : class
    {
        try
        {
            return await request;
        }
        catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.NotFound) && !ApiErrors.NamespaceGoingAway(e))
        {
            return null;
        }
    }

    /// <summary>
    /// One secret write; its answer (null: the secret is gone) goes into the cache unless a watch
    /// event for the secret came first (<see cref="ObjectCache{T, TView}.Plan"/>). A 409 means our
    /// cache was behind (someone changed or created the secret): read the secret, cache what is
    /// there, and let the queue run this namespace again.
    /// </summary>
    private async Task<V1Secret?> WriteSecretAsync(string ns, Func<Task<V1Secret?>> write, CancellationToken cancellationToken)
    {
        using (var planned = state.Secrets.Plan(ns, SecretName))
        {
            try
            {
                var answer = await write();
                queue.Progressed(ns);
                state.Secrets.Complete(planned, answer);
                return answer;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict))
            {
                // Handled below, under a plan of its own.
            }
        }

        using var reading = state.Secrets.Plan(ns, SecretName);
        state.Secrets.Complete(reading, await GoneIsNull(client.CoreV1.ReadNamespacedSecretAsync(SecretName, ns, cancellationToken: cancellationToken)));
        throw new RetryLaterException($"secret {ns}/{SecretName} changed while we wrote it; retrying with what is there now");
    }

    private async Task ReportConflictAsync(SecretView secret, bool adoptable, CancellationToken cancellationToken)
    {
        if (!_metrics.Conflicts.TryAdd(secret.Namespace, 0))
        {
            return; // Reported already; nothing changed.
        }

        var how = adoptable
            ? $"its type {secret.Type} cannot hold a registry credential; delete it, or choose another EcrDaemon__SecretName"
            : $"to let ecr-daemon manage it, label it (kubectl label secret -n {secret.Namespace} {SecretName} {Markers.ManagedByLabel}={Markers.ManagedByValue}) or set EcrDaemon__AdoptUnmanagedSecrets=true";
        logger.UnmanagedSecret(secret.Namespace, SecretName, secret.Type ?? "", how);
        await events.WarningAsync(secret.Namespace, "Secret", SecretName, "UnmanagedSecretExists",
            $"Secret {SecretName} exists and is not managed by ecr-daemon, so it was left untouched; {how}.", cancellationToken);
    }

    /// <summary>
    /// Writes a planned change with an optimistic lock (a merge patch carrying the resourceVersion
    /// we planned from). On 409 someone else wrote first: read the ServiceAccount, plan again from
    /// what is there, and retry, so that their entries and ours both survive.
    /// </summary>
    private async Task ApplyAsync(ServiceAccountView sa, Func<ServiceAccountView, ServiceAccountChange?> plan, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (plan(sa) is not { } change)
            {
                return;
            }

            using var planned = state.ServiceAccounts.Plan(sa.Namespace, sa.Name);
            try
            {
                var written = await client.CoreV1.PatchNamespacedServiceAccountAsync(
                    ServiceAccountPatch.Create(sa.ResourceVersion, change.PullSecrets, change.Marker, SecretName, sa.AddedUnderOtherName), sa.Name, sa.Namespace, cancellationToken: cancellationToken);
                queue.Progressed(sa.Namespace); // a namespace with thousands of ServiceAccounts is one long run: each write is progress for /livez
                state.ServiceAccounts.Complete(planned, written);
                logger.ServiceAccountPatched(sa.Namespace, sa.Name, change.Action, SecretName);
                await events.NormalAsync(sa.Namespace, "ServiceAccount", sa.Name, "PullSecretChanged",
                    $"{char.ToUpperInvariant(change.Action[0])}{change.Action[1..]} image pull secret {SecretName}; other entries kept.", cancellationToken);
                return;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.NotFound) && !ApiErrors.NamespaceGoingAway(e))
            {
                state.ServiceAccounts.Complete(planned, null);
                return;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict) && attempt < ServiceAccountAttempts)
            {
                logger.ServiceAccountConflict(sa.Namespace, sa.Name, attempt);
            }

            // Plan again from what is there now: the read's answer, or a watch event newer than the plan.
            using (var reading = state.ServiceAccounts.Plan(sa.Namespace, sa.Name))
            {
                state.ServiceAccounts.Complete(reading, await GoneIsNull(client.CoreV1.ReadNamespacedServiceAccountAsync(sa.Name, sa.Namespace, cancellationToken: cancellationToken)));
            }

            if (state.ServiceAccounts.Get(sa.Namespace, sa.Name) is not { } current)
            {
                return;
            }

            sa = current;
        }
    }

    /// <summary>Inside a reconcile only: a write met a 409; <see cref="ReconcileAsync"/> turns it into <see cref="WorkResult.RetryLater"/>.</summary>
    private sealed class RetryLaterException(string message) : Exception(message);
}
