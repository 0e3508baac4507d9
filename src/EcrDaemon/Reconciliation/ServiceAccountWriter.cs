using System.Net;
using EcrDaemon.Diagnostics;
using EcrDaemon.Kubernetes;
using k8s;
using k8s.Autorest;
using Microsoft.Extensions.Logging;

namespace EcrDaemon.Reconciliation;

/// <summary>
/// Writes a planned ServiceAccount change with an optimistic lock (a merge patch carrying the
/// resourceVersion it was planned from) and caches the answer (<see cref="ObjectCache{T, TView}.Plan"/>).
/// On 409 someone else wrote first: read the ServiceAccount, plan again from what is there, and
/// retry, so that their entries and ours both survive. The last attempt's 409 is thrown. Each write
/// is logged and recorded as an Event.
/// </summary>
internal sealed class ServiceAccountWriter(KubernetesApi client, ClusterState state, Action<string> progressed, EventRecorder events, ILogger logger)
{
    private const int Attempts = 4;

    public async Task<WriteOutcome> ApplyAsync(ServiceAccountView sa, Func<ServiceAccountView, ServiceAccountChange?> plan, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (plan(sa) is not { } change)
            {
                return WriteOutcome.Unchanged;
            }

            using var planned = state.ServiceAccounts.Plan(sa.Namespace, sa.Name);
            try
            {
                var written = await client.PatchServiceAccountAsync(sa.Namespace, sa.Name,
                    ServiceAccountPatch.Create(sa.ResourceVersion, change.PullSecrets, change.Added, change.Previous), cancellationToken);
                progressed(sa.Namespace); // a namespace with thousands of ServiceAccounts is one long run: each write is progress for /livez
                state.ServiceAccounts.Complete(planned, written);
                logger.ServiceAccountPatched(sa.Namespace, sa.Name, change.Description);
                await events.NormalAsync(sa.Namespace, "ServiceAccount", sa.Name, "PullSecretChanged",
                    $"{char.ToUpperInvariant(change.Description[0])}{change.Description[1..]}; other entries kept.", cancellationToken);
                return WriteOutcome.Written;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.NotFound) && !ApiErrors.NamespaceGoingAway(e))
            {
                state.ServiceAccounts.Complete(planned, null);
                return WriteOutcome.Gone;
            }
            catch (HttpOperationException e) when (ApiErrors.Is(e, HttpStatusCode.Conflict) && attempt < Attempts)
            {
                logger.ServiceAccountConflict(sa.Namespace, sa.Name, attempt);
            }

            // Plan again from what is there now: the read's answer, or a watch event newer than the plan.
            using (var reading = state.ServiceAccounts.Plan(sa.Namespace, sa.Name))
            {
                state.ServiceAccounts.Complete(reading, await Writes.GoneIsNull(client.ReadServiceAccountAsync(sa.Namespace, sa.Name, cancellationToken)));
            }

            if (state.ServiceAccounts.Get(sa.Namespace, sa.Name) is not { } current)
            {
                return WriteOutcome.Gone;
            }

            sa = current;
        }
    }
}
