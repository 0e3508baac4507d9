using EcrDaemon.Kubernetes;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>
/// Object and namespace names as kube-apiserver accepts them. A name with a trailing newline is
/// not one: a <c>$</c> anchor let it through (in .NET, <c>$</c> also matches before a final <c>\n</c>).
/// </summary>
public sealed class ObjectNamesTests
{
    [Theory]
    [InlineData("aws-registry", true)]
    [InlineData("a.b-c.d", true)]
    [InlineData("aws-registry\n", false)]
    [InlineData("aws-registry\r\n", false)]
    [InlineData("\naws-registry", false)]
    [InlineData("AWS_Registry", false)]
    [InlineData("-a", false)]
    [InlineData("a.", false)]
    [InlineData("", false)]
    [InlineData(" ", false)]
    [InlineData(null, false)]
    public void A_secret_name_is_a_DNS_subdomain_and_nothing_after_it(string? name, bool valid)
    {
        Assert.Equal(valid, ObjectNames.IsSubdomain(name));
    }

    [Theory]
    [InlineData("kube-system", true)]
    [InlineData("kube-system\n", false)]
    [InlineData("has.dot", false)]
    [InlineData("", false)]
    public void A_namespace_name_is_a_DNS_label_and_nothing_after_it(string name, bool valid)
    {
        Assert.Equal(valid, ObjectNames.IsLabel(name));
    }

    /// <summary>The label selector checks a key's prefix with the same rule.</summary>
    [Theory]
    [InlineData("example.com/team=a", true)]
    [InlineData("Example.com/team=a", false)]
    [InlineData("/team=a", false)]
    public void A_label_key_prefix_is_a_DNS_subdomain(string selector, bool valid)
    {
        Assert.Equal(valid, LabelSelector.TryParse(selector, out _, out _));
    }
}
