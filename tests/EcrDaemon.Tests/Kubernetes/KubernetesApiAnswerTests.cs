using System.Net;
using System.Text;
using EcrDaemon.Kubernetes;
using k8s;
using Xunit;

namespace EcrDaemon.Tests.Kubernetes;

/// <summary>
/// What the daemon's client makes of a 2xx answer that is not the object asked for (garbage from the API
/// server or a proxy in front of it): an <see cref="InvalidDataException"/> that names the request, with the
/// decoder's position but never a value of the body (a Secret's answer is read here), as the watch does.
/// </summary>
public sealed class KubernetesApiAnswerTests
{
    private sealed class Answer(string body) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
                RequestMessage = request,
            });
    }

    private static async Task<Exception> ReadSecretAsync(string body)
    {
        using var api = new KubernetesApi(new KubernetesClientConfiguration { Host = "https://kubernetes.test", AccessToken = "answer-test-token" }, new Answer(body));
        return await Assert.ThrowsAnyAsync<Exception>(() => api.ReadSecretAsync("team-a", "aws-registry", CancellationToken.None));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("<html>502 Bad Gateway</html>")]
    [InlineData("""{"metadata":{"name":"aws-registry"},"data":{".dockerconfigjson":""")]
    [InlineData("""{"metadata":{"name":"aws-registry"},"data":{".dockerconfigjson":["hunter2-secret"]}}""")]
    public async Task An_answer_that_is_not_the_object_is_invalid_data_naming_the_request(string body)
    {
        var e = await ReadSecretAsync(body);

        var invalid = Assert.IsType<InvalidDataException>(e);
        Assert.StartsWith("GET /api/v1/namespaces/team-a/secrets/aws-registry was answered 200", invalid.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", invalid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_a_models_converter_refuses_is_not_quoted()
    {
        // KubernetesClient's timestamp converter quotes the text it could not parse in its message.
        var e = await ReadSecretAsync("""{"metadata":{"name":"aws-registry","creationTimestamp":"hunter2-secret"},"data":{}}""");

        var invalid = Assert.IsType<InvalidDataException>(e);
        Assert.StartsWith("GET /api/v1/namespaces/team-a/secrets/aws-registry was answered 200", invalid.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", invalid.ToString(), StringComparison.Ordinal);
    }
}
