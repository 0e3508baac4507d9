using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace EcrDaemon.TestCluster.Api;

/// <summary>The opaque <c>continue</c> token of a paged list: the list's resourceVersion and the last key served.</summary>
public static class ContinueToken
{
    public static string Encode(long resourceVersion, string lastKey) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "testcluster/v1", ["rv"] = resourceVersion, ["start"] = lastKey }.ToJsonString()));

    public static string Decode(string token, long currentResourceVersion, out long resourceVersion)
    {
        try
        {
            var obj = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(token)))!;
            resourceVersion = obj["rv"]!.GetValue<long>();
            if (resourceVersion > currentResourceVersion)
            {
                throw new FormatException("resourceVersion from the future");
            }

            return obj["start"]!.GetValue<string>();
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or NullReferenceException or InvalidOperationException)
        {
            throw ApiException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"continue key is not valid: {e.Message}"));
        }
    }
}
