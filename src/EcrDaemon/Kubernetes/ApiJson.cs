using System.Text.Json;
using System.Text.Json.Serialization;
using k8s.Models;
using static k8s.KubernetesJson;

namespace EcrDaemon.Kubernetes;

/// <summary>
/// The JSON of the only objects the daemon sends or reads, source-generated, with KubernetesClient's
/// own settings and converters (its RFC 3339 timestamps). KubernetesClient.Aot's own context covers
/// every model of the API, about 50,000 generated types in the native image, most of the executable's
/// pages and of the type data the runtime builds at start; the daemon needs these few.
/// <see cref="JsonElement"/> is here for <c>metadata.managedFields[].fieldsV1</c>, which the models type as object.
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    Converters = [typeof(KubernetesDateTimeConverter), typeof(KubernetesDateTimeOffsetConverter)])]
[JsonSerializable(typeof(V1Namespace))]
[JsonSerializable(typeof(V1NamespaceList))]
[JsonSerializable(typeof(V1ServiceAccount))]
[JsonSerializable(typeof(V1ServiceAccountList))]
[JsonSerializable(typeof(V1Secret))]
[JsonSerializable(typeof(V1SecretList))]
[JsonSerializable(typeof(V1Lease))]
[JsonSerializable(typeof(Corev1Event))]
[JsonSerializable(typeof(Corev1EventList))]
[JsonSerializable(typeof(V1DeleteOptions))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ApiJson : JsonSerializerContext;
