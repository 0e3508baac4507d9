using System.Globalization;
using System.Runtime.InteropServices;
using EcrDaemon.TestCluster;

// The runnable test cluster. Contract (scripts rely on it):
//   dotnet run --project tests/EcrDaemon.TestCluster -- --kubeconfig PATH [--port N] [--namespaces N]
//       [--rbac FILE] [--serviceaccount-kubeconfig NS/NAME=PATH]...
// Each kubeconfig file is written only once the server is ready to serve. It runs until SIGINT/SIGTERM.
return await TestClusterProgram.RunAsync(args);

internal static class TestClusterProgram
{
    private const string Usage = """
        usage: EcrDaemon.TestCluster --kubeconfig PATH [options]
          --kubeconfig PATH                          admin kubeconfig to write once ready (required)
          --port N                                   port on 127.0.0.1 (default 0: any free port)
          --namespaces N                             create namespaces ns-1..ns-N (default 0)
          --serviceaccounts N                        extra ServiceAccounts sa-1..sa-N in each of those (default 0)
          --namespace-label KEY=VALUE                label for those namespaces (repeatable)
          --rbac FILE                                Roles/ClusterRoles/bindings (YAML) ServiceAccounts are held to, and the
                                                     ValidatingAdmissionPolicies/bindings in it, which every write is held to
          --serviceaccount-kubeconfig NS/NAME=PATH   write a kubeconfig that authenticates as that ServiceAccount (repeatable)
          --namespace-deletion-delay SECONDS         how long a deleted namespace stays Terminating (default 2)
          --bookmark-interval SECONDS                watch bookmark interval (default 60)
          --history-limit N                          events kept for watch resumption (default 100000)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        Settings settings;
        try
        {
            settings = Settings.Parse(args);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"testcluster: {e.Message}\n{Usage}");
            return 2;
        }

        var options = new TestClusterOptions
        {
            Port = settings.Port,
            NamespaceDeletionDelay = settings.NamespaceDeletionDelay,
            BookmarkInterval = settings.BookmarkInterval,
            HistoryLimit = settings.HistoryLimit,
            RbacYaml = settings.RbacFile is null ? null : await File.ReadAllTextAsync(settings.RbacFile),
        };

        await using var server = await TestClusterServer.StartAsync(options);
        Seed(server, settings);
        foreach (var (ns, name, path) in settings.ServiceAccountKubeconfigs)
        {
            server.WriteKubeconfig(path, server.ServiceAccountToken(ns, name), ns);
        }

        server.WriteKubeconfig(settings.Kubeconfig);
        Console.WriteLine($"testcluster: serving {server.Url} (rbac rules: {server.Rbac.RuleCount}) (admission policies: {server.AdmissionPolicies.PolicyCount}, bindings: {server.AdmissionPolicies.BindingCount}); kubeconfig {Path.GetFullPath(settings.Kubeconfig)}");

        var stop = new TaskCompletionSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        await stop.Task;
        Console.WriteLine("testcluster: stopping");
        return 0;
    }

    private static void Seed(TestClusterServer server, Settings settings)
    {
        for (var i = 1; i <= settings.Namespaces; i++)
        {
            var ns = $"ns-{i}";
            server.Operations.CreateNamespace(ns, settings.NamespaceLabels);
            for (var j = 1; j <= settings.ServiceAccounts; j++)
            {
                server.Operations.Create(EcrDaemon.TestCluster.Api.ResourceType.ServiceAccounts, ns, new System.Text.Json.Nodes.JsonObject
                {
                    ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = $"sa-{j}" },
                });
            }
        }
    }

    private sealed record Settings(
        string Kubeconfig,
        int Port,
        int Namespaces,
        int ServiceAccounts,
        Dictionary<string, string> NamespaceLabels,
        string? RbacFile,
        List<(string Namespace, string Name, string Path)> ServiceAccountKubeconfigs,
        TimeSpan NamespaceDeletionDelay,
        TimeSpan BookmarkInterval,
        int HistoryLimit)
    {
        public static Settings Parse(string[] args)
        {
            string? kubeconfig = null, rbac = null;
            int port = 0, namespaces = 0, serviceAccounts = 0, historyLimit = 100_000;
            double deletionDelay = 2, bookmarkInterval = 60;
            var labels = new Dictionary<string, string>();
            var saKubeconfigs = new List<(string, string, string)>();
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Int() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"{args[i - 1]} needs a non-negative whole number, got '{args[i]}'");
                double Seconds() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 ? d : throw new ArgumentException($"{args[i - 1]} needs a positive number of seconds, got '{args[i]}'");
                switch (args[i])
                {
                    case "--kubeconfig": kubeconfig = Value(); break;
                    case "--port": port = Int(); break;
                    case "--namespaces": namespaces = Int(); break;
                    case "--serviceaccounts": serviceAccounts = Int(); break;
                    case "--rbac":
                        rbac = Value();
                        if (!File.Exists(rbac))
                        {
                            throw new ArgumentException($"--rbac file not found: {rbac}");
                        }

                        break;
                    case "--namespace-label":
                        var kv = Value().Split('=', 2);
                        labels[kv[0]] = kv.Length == 2 ? kv[1] : throw new ArgumentException($"--namespace-label needs KEY=VALUE, got '{args[i]}'");
                        break;
                    case "--serviceaccount-kubeconfig":
                        var spec = Value();
                        var eq = spec.IndexOf('=', StringComparison.Ordinal);
                        var who = eq > 0 ? spec[..eq].Split('/') : [];
                        if (who.Length != 2 || who[0].Length == 0 || who[1].Length == 0 || eq == spec.Length - 1)
                        {
                            throw new ArgumentException($"--serviceaccount-kubeconfig needs NS/NAME=PATH, got '{spec}'");
                        }

                        saKubeconfigs.Add((who[0], who[1], spec[(eq + 1)..]));
                        break;
                    case "--namespace-deletion-delay": deletionDelay = Seconds(); break;
                    case "--bookmark-interval": bookmarkInterval = Seconds(); break;
                    case "--history-limit": historyLimit = Int(); break;
                    case "-h" or "--help": throw new ArgumentException("help");
                    default: throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }

            if (kubeconfig is null)
            {
                throw new ArgumentException("--kubeconfig is required");
            }

            return new Settings(kubeconfig, port, namespaces, serviceAccounts, labels, rbac, saKubeconfigs,
                TimeSpan.FromSeconds(deletionDelay), TimeSpan.FromSeconds(bookmarkInterval), Math.Max(1, historyLimit));
        }
    }
}
