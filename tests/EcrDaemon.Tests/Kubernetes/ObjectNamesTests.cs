using EcrDaemon.Controller;
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
        Assert.Equal(valid, EcrDaemonOptionsValidator.IsObjectName(name));
    }

    [Theory]
    [InlineData("kube-system", true)]
    [InlineData("kube-system\n", false)]
    [InlineData("has.dot", false)]
    [InlineData("", false)]
    public void A_namespace_name_is_a_DNS_label_and_nothing_after_it(string name, bool valid)
    {
        Assert.Equal(valid, EcrDaemonOptionsValidator.IsNamespaceName(name));
    }
}
