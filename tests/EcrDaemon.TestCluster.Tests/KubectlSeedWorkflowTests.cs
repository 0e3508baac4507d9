using System.Text;
using System.Text.Json.Nodes;
using EcrDaemon.Testing;
using EcrDaemon.TestCluster.Api;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// Fidelity: real kubectl runs the seed CronJob's own commands against the test cluster and
/// sees what a real cluster shows, including the seed's destructive ServiceAccount patch.
/// </summary>
public sealed class KubectlSeedWorkflowTests
{
    private const string Registry = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

    [ToolFact("kubectl")]
    public async Task Create_secret_docker_registry_stores_a_dockerconfigjson_secret()
    {
        await using var k = await KubectlSession.StartAsync();

        var create = await k.RunAsync("create", "secret", "docker-registry", "aws-registry",
            $"--docker-server={Registry}", "--docker-username=AWS", "--docker-password=not-a-real-token", "-n", "default");

        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Contains("secret/aws-registry created", create.StandardOutput, StringComparison.Ordinal);
        var secret = k.Get(ResourceType.Secrets, "default", "aws-registry").Json!;
        Assert.Equal("kubernetes.io/dockerconfigjson", secret["type"]!.GetValue<string>());
        var config = JsonNode.Parse(Convert.FromBase64String(secret["data"]![".dockerconfigjson"]!.GetValue<string>()))!;
        var auth = config["auths"]![Registry]!;
        Assert.Equal("AWS", auth["username"]!.GetValue<string>());
        Assert.Equal("not-a-real-token", auth["password"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("AWS:not-a-real-token")), auth["auth"]!.GetValue<string>());

        var get = await k.RunAsync("get", "secrets", "-n", "default");
        Assert.Equal(0, get.ExitCode);
        Assert.Matches(@"NAME\s+TYPE\s+DATA\s+AGE", get.StandardOutput);
        Assert.Matches(@"aws-registry\s+kubernetes.io/dockerconfigjson\s+1\s+\d+s", get.StandardOutput);

        var describe = await k.RunAsync("describe", "secret", "aws-registry", "-n", "default");
        Assert.Equal(0, describe.ExitCode);
        Assert.Contains("Type:  kubernetes.io/dockerconfigjson", describe.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real-token", describe.StandardOutput, StringComparison.Ordinal);
    }

    [ToolFact("kubectl")]
    public async Task Seed_serviceaccount_patch_replaces_the_whole_imagePullSecrets_list()
    {
        await using var k = await KubectlSession.StartAsync();
        var before = await k.RunAsync("patch", "serviceaccount", "default", "-n", "default", "-p", """{"imagePullSecrets":[{"name":"team-registry"}]}""");
        Assert.True(before.ExitCode == 0, before.ToString());

        // The seed's exact command. imagePullSecrets has no patch merge key, so a strategic merge
        // patch replaces the list, and the team's own pull secret is lost.
        var patch = await k.RunAsync("patch", "serviceaccount", "default", "-n", "default", "-p", """{"imagePullSecrets":[{"name":"aws-registry"}]}""");
        Assert.True(patch.ExitCode == 0, patch.ToString());
        Assert.Contains("serviceaccount/default patched", patch.StandardOutput, StringComparison.Ordinal);

        var yaml = await k.RunAsync("get", "sa", "default", "-n", "default", "-o", "yaml");
        Assert.Equal(0, yaml.ExitCode);
        Assert.Contains("imagePullSecrets:\n- name: aws-registry\n", yaml.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("team-registry", yaml.StandardOutput, StringComparison.Ordinal);
        var list = (JsonArray)k.Get(ResourceType.ServiceAccounts, "default", "default").Json!["imagePullSecrets"]!;
        Assert.Equal(["aws-registry"], list.Select(n => n!["name"]!.GetValue<string>()));
    }

    [ToolFact("kubectl")]
    public async Task Delete_secret_removes_it_and_a_second_delete_is_NotFound()
    {
        await using var k = await KubectlSession.StartAsync();
        Assert.Equal(0, (await k.RunAsync("create", "secret", "docker-registry", "aws-registry",
            $"--docker-server={Registry}", "--docker-username=AWS", "--docker-password=x")).ExitCode);

        var delete = await k.RunAsync("delete", "secret", "aws-registry");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains("secret \"aws-registry\" deleted", delete.StandardOutput, StringComparison.Ordinal);
        Assert.False(k.Get(ResourceType.Secrets, "default", "aws-registry").Exists);

        var again = await k.RunAsync("delete", "secret", "aws-registry");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("Error from server (NotFound): secrets \"aws-registry\" not found", again.StandardError, StringComparison.Ordinal);
    }

    [ToolFact("kubectl")]
    public async Task Label_namespace_is_stored_and_selects_with_set_based_selectors()
    {
        await using var k = await KubectlSession.StartAsync();
        k.Server.Operations.CreateNamespace("demo");
        k.Server.Operations.CreateNamespace("other");

        var label = await k.RunAsync("label", "ns", "demo", "ecr-daemon.io/enabled=true");
        Assert.True(label.ExitCode == 0, label.ToString());
        Assert.Contains("namespace/demo labeled", label.StandardOutput, StringComparison.Ordinal);
        Assert.Equal("true", k.Get(ResourceType.Namespaces, "", "demo").Json!["metadata"]!["labels"]!["ecr-daemon.io/enabled"]!.GetValue<string>());

        Assert.Equal("namespace/demo", (await k.RunAsync("get", "ns", "-l", "ecr-daemon.io/enabled=true", "-o", "name")).StandardOutput.Trim());
        Assert.Equal("namespace/demo", (await k.RunAsync("get", "ns", "-l", "ecr-daemon.io/enabled in (true,yes)", "-o", "name")).StandardOutput.Trim());
        var notLabelled = (await k.RunAsync("get", "ns", "-l", "!ecr-daemon.io/enabled", "-o", "name")).StandardOutput;
        Assert.Contains("namespace/other", notLabelled, StringComparison.Ordinal);
        Assert.DoesNotContain("namespace/demo", notLabelled, StringComparison.Ordinal);

        var unlabel = await k.RunAsync("label", "ns", "demo", "ecr-daemon.io/enabled-");
        Assert.Equal(0, unlabel.ExitCode);
        Assert.Null(k.Get(ResourceType.Namespaces, "", "demo").Json!["metadata"]!["labels"]!["ecr-daemon.io/enabled"]);
    }

    [ToolFact("kubectl")]
    public async Task Get_watch_across_namespaces_sees_added_modified_and_deleted()
    {
        await using var k = await KubectlSession.StartAsync();
        k.Server.Operations.CreateNamespace("team-a");
        using var watch = k.Start("get", "secrets", "-A", "-w", "--output-watch-events");
        await Cluster.Until(() => k.Server.Store.WatcherCount > 0, () => "kubectl get -w has not opened a watch");

        Assert.Equal(0, (await k.RunAsync("create", "secret", "generic", "watched", "-n", "team-a", "--from-literal=a=b")).ExitCode);
        Assert.Equal(0, (await k.RunAsync("label", "secret", "watched", "-n", "team-a", "x=y")).ExitCode);
        Assert.Equal(0, (await k.RunAsync("delete", "secret", "watched", "-n", "team-a")).ExitCode);

        await watch.WaitForLineAsync(l => l.StartsWith("ADDED", StringComparison.Ordinal) && l.Contains("watched", StringComparison.Ordinal), "ADDED");
        await watch.WaitForLineAsync(l => l.StartsWith("MODIFIED", StringComparison.Ordinal) && l.Contains("watched", StringComparison.Ordinal), "MODIFIED");
        var deleted = await watch.WaitForLineAsync(l => l.StartsWith("DELETED", StringComparison.Ordinal) && l.Contains("watched", StringComparison.Ordinal), "DELETED");
        Assert.Matches(@"DELETED\s+team-a\s+watched\s+Opaque\s+1", deleted);
    }

    [ToolFact("kubectl")]
    public async Task Json_patch_with_a_failing_test_op_is_an_error_and_changes_nothing()
    {
        await using var k = await KubectlSession.StartAsync();
        Assert.Equal(0, (await k.RunAsync("patch", "sa", "default", "-p", """{"imagePullSecrets":[{"name":"team-registry"}]}""")).ExitCode);
        var before = k.Get(ResourceType.ServiceAccounts, "default", "default").ResourceVersion;

        var patch = await k.RunAsync("patch", "sa", "default", "--type=json", "-p",
            """[{"op":"test","path":"/imagePullSecrets/0/name","value":"someone-else"},{"op":"add","path":"/imagePullSecrets/-","value":{"name":"aws-registry"}}]""");

        Assert.NotEqual(0, patch.ExitCode);
        Assert.Contains("The request is invalid", patch.StandardError, StringComparison.Ordinal);
        Assert.Contains("testing value /imagePullSecrets/0/name failed", patch.StandardError, StringComparison.Ordinal);
        var after = k.Get(ResourceType.ServiceAccounts, "default", "default");
        Assert.Equal(before, after.ResourceVersion);
        Assert.Single((JsonArray)after.Json!["imagePullSecrets"]!);

        var ok = await k.RunAsync("patch", "sa", "default", "--type=json", "-p",
            """[{"op":"test","path":"/imagePullSecrets/0/name","value":"team-registry"},{"op":"add","path":"/imagePullSecrets/-","value":{"name":"aws-registry"}}]""");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal(["team-registry", "aws-registry"],
            ((JsonArray)k.Get(ResourceType.ServiceAccounts, "default", "default").Json!["imagePullSecrets"]!).Select(n => n!["name"]!.GetValue<string>()));
    }
}
