using EcrDaemon.Configuration;
using EcrDaemon.Ecr;
using EcrDaemon.Primitives;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EcrDaemon.Commands;

/// <summary>
/// <c>ecrdaemon check</c>: fetches every configured registry's token once and prints one line per
/// registry (host, expiry, credential source; never the token). A token already expired, or expiring within
/// <c>MinRefreshInterval</c>, is a FAIL: the daemon could not keep a pull secret fresh with it. A local clock more
/// than 60 s off ECR's (its <c>Date</c> header) adds a <c>warn</c> line per endpoint. Exit 0 when all succeed, 1 otherwise.
/// </summary>
internal static class CheckCommand
{
    public static async Task<int> RunAsync(IHost host, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var services = host.Services;
        var results = await services.GetRequiredService<EcrTokenService>().FetchAllAsync(cancellationToken);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var minimum = services.GetRequiredService<IOptions<EcrDaemonOptions>>().Value.MinRefreshInterval;
        var ok = true;
        foreach (var result in results)
        {
            var (line, fine) = Format(result, now, minimum);
            ok &= fine;
            await stdout.WriteLineAsync(line);
        }

        foreach (var skewed in results.Where(r => r.ClockSkew?.Duration() > EcrTokenService.ClockSkewWarning).DistinctBy(r => r.Registry.Endpoint.Url.Authority))
        {
            await stdout.WriteLineAsync(SkewWarning(skewed.Registry.Endpoint.Url, skewed.ClockSkew!.Value));
        }

        await stdout.FlushAsync(cancellationToken);
        return ok ? 0 : 1;
    }

    /// <summary>The registry's line, and whether it is a success.</summary>
    internal static (string Line, bool Ok) Format(RegistryTokenResult result, DateTimeOffset now, TimeSpan minRefreshInterval)
    {
        if (result.Token is { } token)
        {
            var expires = Rfc3339.Format(token.ExpiresAt);
            var left = token.ExpiresAt - now;
            if (token.IsExpiredAt(now))
            {
                return ($"FAIL  {token.RegistryHost}  expired: the token expired at {expires}, {Duration(-left)} ago: a pull with it fails; "
                    + $"the local clock or the server is wrong  credentials: {result.CredentialSource}  endpoint: {result.Registry.Endpoint.Url}", false);
            }

            if (left <= minRefreshInterval)
            {
                return ($"FAIL  {token.RegistryHost}  expiring: the token expires at {expires}, in {Duration(left)}, within MinRefreshInterval "
                    + $"({minRefreshInterval}): the daemon cannot keep a pull secret fresh with it  credentials: {result.CredentialSource}  endpoint: {result.Registry.Endpoint.Url}", false);
            }

            return ($"ok    {token.RegistryHost}  expires {expires}  credentials: {result.CredentialSource}", true);
        }

        var failure = result.Failure!;
        var kind = failure.IsTransient ? "transient" : "permanent";
        return ($"FAIL  {result.Registry.DisplayName}  {failure.ReasonLabel} ({kind}): {failure.Message}  credentials: {result.CredentialSource}  endpoint: {result.Registry.Endpoint.Url}", false);
    }

    /// <summary>The warning for a local clock <paramref name="skew"/> off <paramref name="endpoint"/>'s (positive: the local clock is behind).</summary>
    internal static string SkewWarning(Uri endpoint, TimeSpan skew) =>
        $"warn  clock: the local clock is {Duration(skew.Duration())} {(skew > TimeSpan.Zero ? "behind" : "ahead of")} {endpoint.Authority}'s (its Date header); "
        + "SigV4 requests fail beyond 5 minutes: fix the clock (NTP)";

    /// <summary>"3 d 4 h", "2 h 5 min", "4 min 10 s", "42 s".</summary>
    internal static string Duration(TimeSpan span) => span switch
    {
        { TotalDays: >= 1 } => $"{(int)span.TotalDays} d {span.Hours} h",
        { TotalHours: >= 1 } => $"{span.Hours} h {span.Minutes} min",
        { TotalMinutes: >= 1 } => $"{span.Minutes} min {span.Seconds} s",
        _ => $"{(int)span.TotalSeconds} s",
    };
}
