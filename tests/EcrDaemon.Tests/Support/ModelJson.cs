using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using k8s;

namespace EcrDaemon.Tests.Support;

/// <summary>
/// KubernetesClient's JSON (its converters and field names) for any value, for comparing parts of models in tests.
/// KubernetesClient.Aot's <see cref="KubernetesJson"/> knows only the models it generated code for, not a
/// <c>List&lt;V1EnvVar&gt;</c> or a label dictionary, so the rest falls back to reflection (tests run on the JIT).
/// </summary>
internal static class ModelJson
{
    private static readonly JsonSerializerOptions Options = new(SourceGenerationContext.Default.Options)
    {
        TypeInfoResolver = JsonTypeInfoResolver.Combine(SourceGenerationContext.Default, new DefaultJsonTypeInfoResolver()),
    };

    /// <summary>The same, refusing any field the model does not have (what <c>kubectl apply --validate=strict</c> would refuse).</summary>
    public static JsonSerializerOptions Strict { get; } = new(Options) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    public static string Serialize(object? value) => JsonSerializer.Serialize(value, value?.GetType() ?? typeof(object), Options);
}
