using System.Text.Json.Serialization;

namespace EcrDaemon.Ecr;

/// <summary>
/// The JSON the daemon writes to ECR, source-generated so that nothing is serialised by reflection
/// (Native AOT and trimming: no IL2026/IL3050). The GetAuthorizationToken body is <c>{}</c> or
/// <c>{"registryIds":["…"]}</c>.
/// </summary>
[JsonSerializable(typeof(Dictionary<string, string[]>))]
internal sealed partial class EcrJsonContext : JsonSerializerContext;
