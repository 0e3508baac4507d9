using EcrDaemon.Ecr;
using EcrDaemon.Primitives;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EcrDaemon.Commands;

/// <summary>
/// <c>ecrdaemon check</c>: fetches every configured registry's token once and prints one line per
/// registry (host, expiry, credential source; never the token). Exit 0 when all succeed, 1 otherwise.
/// </summary>
internal static class CheckCommand
{
    public static async Task<int> RunAsync(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var services = host.Services;
        var results = await services.GetRequiredService<EcrTokenService>().FetchAllAsync(cancellationToken);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        foreach (var result in results)
        {
            await stdout.WriteLineAsync(Format(result, now));
        }

        await stdout.FlushAsync(cancellationToken);
        return results.All(r => r.Succeeded) ? 0 : 1;
    }

    internal static string Format(RegistryTokenResult result, DateTimeOffset now)
    {
        if (result.Token is { } token)
        {
            var expires = Rfc3339.Format(token.ExpiresAt);
            var expired = token.IsExpiredAt(now) ? " (already expired)" : "";
            return $"ok    {token.RegistryHost}  expires {expires}{expired}  credentials: {result.CredentialSource}";
        }

        var failure = result.Failure!;
        var kind = failure.IsTransient ? "transient" : "permanent";
        return $"FAIL  {result.Registry.DisplayName}  {failure.ReasonLabel} ({kind}): {failure.Message}  credentials: {result.CredentialSource}  endpoint: {result.Registry.Endpoint.Url}";
    }
}
