using System.Collections.Concurrent;
using EcrDaemon.Ecr;
using Microsoft.Extensions.DependencyInjection;

namespace EcrDaemon.Tests.Ecr;

/// <summary>Wraps the real client and records each call's registry ids, to count calls to servers that do not count them.</summary>
internal sealed class CountingEcrClient(IEcrAuthorizationClient inner) : IEcrAuthorizationClient
{
    private readonly ConcurrentQueue<IReadOnlyList<string>> calls = new();

    public IReadOnlyList<IReadOnlyList<string>> Calls => [.. calls];

    public Task<EcrCallResult> GetAuthorizationTokenAsync(EcrAuthorizationRequest request, CancellationToken cancellationToken)
    {
        calls.Enqueue(request.RegistryIds);
        return inner.GetAuthorizationTokenAsync(request, cancellationToken);
    }

    /// <summary>Registers a counting wrapper around the real <see cref="SigV4EcrAuthorizationClient"/>.</summary>
    public static Action<IServiceCollection> Register(Action<CountingEcrClient> created) => services =>
        services.AddSingleton<IEcrAuthorizationClient>(sp =>
        {
            var client = new CountingEcrClient(ActivatorUtilities.CreateInstance<SigV4EcrAuthorizationClient>(sp));
            created(client);
            return client;
        });
}
