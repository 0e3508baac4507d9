using System.Runtime.InteropServices;
using EcrDaemon.StandIns;

// The runnable ECR stand-in, for the demo and the benchmark:
//   dotnet EcrDaemon.StandIns.dll --endpoint-file PATH [--region us-west-2] [--account 123456789012]
// Writes its endpoint URL to PATH once serving; runs until SIGINT/SIGTERM. It accepts the access key
// EcrStandIn.DefaultAccessKeyId with EcrStandIn.DefaultSecretAccessKey (fake, printed below).
string? endpointFile = null;
var region = "us-west-2";
var account = "123456789012";
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : null;
    switch (args[i])
    {
        case "--endpoint-file" when value is not null: endpointFile = value; i++; break;
        case "--region" when value is not null: region = value; i++; break;
        case "--account" when value is not null: account = value; i++; break;
        default:
            await Console.Error.WriteLineAsync($"ecr-standin: unknown or incomplete argument '{args[i]}'\nusage: EcrDaemon.StandIns --endpoint-file PATH [--region R] [--account ID]");
            return 2;
    }
}

if (endpointFile is null)
{
    await Console.Error.WriteLineAsync("ecr-standin: --endpoint-file PATH is required");
    return 2;
}

await using var standIn = await EcrStandIn.StartAsync(region, account);
var temporary = endpointFile + ".tmp";
await File.WriteAllTextAsync(temporary, standIn.Endpoint.ToString());
File.Move(temporary, endpointFile, overwrite: true);
Console.WriteLine($"ecr-standin: serving GetAuthorizationToken for {standIn.HostFor(account)} at {standIn.Endpoint} (access key {EcrStandIn.DefaultAccessKeyId})");

var stop = new TaskCompletionSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
await stop.Task;
return 0;
