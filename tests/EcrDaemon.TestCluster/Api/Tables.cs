using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Storage;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// Server-side printing: the <c>meta.k8s.io/v1 Table</c> that <c>kubectl get</c> asks for,
/// with the columns the real server prints for each served resource.
/// </summary>
public static class Tables
{
    private sealed record Column(string Name, string Type, string Description, int Priority = 0, string Format = "");

    public static bool Wanted(string? accept) =>
        accept is not null && accept.Contains("as=Table", StringComparison.Ordinal);

    public static JsonObject ForList(ResourceType type, IEnumerable<StoredObject> items, long resourceVersion, string? continueToken, DateTimeOffset now)
    {
        var table = Empty(type, includeColumns: true);
        var meta = (JsonObject)table["metadata"]!;
        meta["resourceVersion"] = resourceVersion.ToString(CultureInfo.InvariantCulture);
        if (continueToken is not null)
        {
            meta["continue"] = continueToken;
        }

        var rows = (JsonArray)table["rows"]!;
        foreach (var item in items)
        {
            rows.Add(Row(type, item.Node, now));
        }

        return table;
    }

    public static JsonObject ForObject(ResourceType type, JsonObject obj, DateTimeOffset now, bool includeColumns)
    {
        var table = Empty(type, includeColumns);
        ((JsonObject)table["metadata"]!)["resourceVersion"] = obj["metadata"]?["resourceVersion"]?.DeepClone();
        ((JsonArray)table["rows"]!).Add(Row(type, obj, now));
        return table;
    }

    private static JsonObject Empty(ResourceType type, bool includeColumns)
    {
        var columns = new JsonArray();
        if (includeColumns)
        {
            foreach (var c in Columns(type))
            {
                columns.Add(new JsonObject
                {
                    ["name"] = c.Name,
                    ["type"] = c.Type,
                    ["format"] = c.Format,
                    ["description"] = c.Description,
                    ["priority"] = c.Priority,
                });
            }
        }

        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = new JsonObject(),
            ["columnDefinitions"] = columns,
            ["rows"] = new JsonArray(),
        };
    }

    private static Column[] Columns(ResourceType type)
    {
        var name = new Column("Name", "string", "Name must be unique within a namespace.", 0, "name");
        var age = new Column("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created.");
        if (type == ResourceType.Namespaces)
        {
            return [name, new Column("Status", "string", "The status of the namespace"), age];
        }

        if (type == ResourceType.Secrets)
        {
            return [name, new Column("Type", "string", "The type of the secret"), new Column("Data", "integer", "The number of data items"), age];
        }

        if (type == ResourceType.ServiceAccounts)
        {
            return [name, new Column("Secrets", "integer", "Secrets is a list of the secrets in the same namespace"), age];
        }

        if (type == ResourceType.Leases)
        {
            return [name, new Column("Holder", "string", "The holder of the lease"), age];
        }

        return
        [
            new Column("Last Seen", "string", "The last time the event was observed"),
            new Column("Type", "string", "Type of this event"),
            new Column("Reason", "string", "Why the action was taken"),
            new Column("Object", "string", "The object this event is about"),
            new Column("Subobject", "string", "The field of the object this event is about", 1),
            new Column("Source", "string", "The component reporting this event", 1),
            new Column("Message", "string", "A human-readable description of the status of this operation"),
            new Column("First Seen", "string", "The time at which the event was first recorded", 1),
            new Column("Count", "string", "The number of times this event has occurred", 1),
            new Column("Name", "string", "Name must be unique within a namespace", 1, "name"),
        ];
    }

    private static JsonObject Row(ResourceType type, JsonObject obj, DateTimeOffset now)
    {
        var meta = (JsonObject)obj["metadata"]!;
        var name = meta["name"]!.GetValue<string>();
        var age = Age(meta["creationTimestamp"], now);
        JsonArray cells;
        if (type == ResourceType.Namespaces)
        {
            cells = [name, obj["status"]?["phase"]?.GetValue<string>() ?? "Active", age];
        }
        else if (type == ResourceType.Secrets)
        {
            cells = [name, obj["type"]?.GetValue<string>() ?? "Opaque", (obj["data"] as JsonObject)?.Count ?? 0, age];
        }
        else if (type == ResourceType.ServiceAccounts)
        {
            cells = [name, (obj["secrets"] as JsonArray)?.Count ?? 0, age];
        }
        else if (type == ResourceType.Leases)
        {
            cells = [name, obj["spec"]?["holderIdentity"]?.GetValue<string>() ?? "", age];
        }
        else
        {
            var involved = obj["involvedObject"] as JsonObject;
            var last = obj["lastTimestamp"] ?? obj["eventTime"] ?? meta["creationTimestamp"];
            cells =
            [
                Age(last, now),
                obj["type"]?.GetValue<string>() ?? "",
                obj["reason"]?.GetValue<string>() ?? "",
                $"{involved?["kind"]?.GetValue<string>()?.ToLowerInvariant()}/{involved?["name"]?.GetValue<string>()}",
                involved?["fieldPath"]?.GetValue<string>() ?? "",
                obj["source"]?["component"]?.GetValue<string>() ?? obj["reportingComponent"]?.GetValue<string>() ?? "",
                obj["message"]?.GetValue<string>() ?? "",
                Age(obj["firstTimestamp"] ?? last, now),
                (obj["count"]?.GetValue<int>() ?? 1).ToString(CultureInfo.InvariantCulture),
                name,
            ];
        }

        var partial = new JsonObject
        {
            ["kind"] = "PartialObjectMetadata",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = meta.DeepClone(),
        };
        return new JsonObject { ["cells"] = cells, ["object"] = partial };
    }

    private static string Age(JsonNode? timestamp, DateTimeOffset now)
    {
        if (timestamp?.GetValue<string>() is not { } text ||
            !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
        {
            return "<unknown>";
        }

        return HumanDuration(now - t);
    }

    /// <summary>apimachinery's duration.HumanDuration: "45s", "3m20s", "5h", "12d".</summary>
    public static string HumanDuration(TimeSpan d)
    {
        var inv = CultureInfo.InvariantCulture;
        if (d < TimeSpan.FromSeconds(-1))
        {
            return "<invalid>";
        }

        if (d < TimeSpan.Zero)
        {
            return "0s";
        }

        var seconds = (long)d.TotalSeconds;
        if (seconds < 120)
        {
            return string.Create(inv, $"{seconds}s");
        }

        var minutes = (long)d.TotalMinutes;
        if (minutes < 10)
        {
            var s = seconds % 60;
            return s == 0 ? string.Create(inv, $"{minutes}m") : string.Create(inv, $"{minutes}m{s}s");
        }

        if (minutes < 180)
        {
            return string.Create(inv, $"{minutes}m");
        }

        var hours = (long)d.TotalHours;
        if (hours < 8)
        {
            var m = minutes % 60;
            return m == 0 ? string.Create(inv, $"{hours}h") : string.Create(inv, $"{hours}h{m}m");
        }

        if (hours < 48)
        {
            return string.Create(inv, $"{hours}h");
        }

        if (hours < 24 * 8)
        {
            var h = hours % 24;
            return h == 0 ? string.Create(inv, $"{hours / 24}d") : string.Create(inv, $"{hours / 24}d{h}h");
        }

        if (hours < 24 * 365 * 2)
        {
            return string.Create(inv, $"{hours / 24}d");
        }

        return hours < 24 * 365 * 8
            ? string.Create(inv, $"{hours / 24 / 365}y{hours / 24 % 365}d")
            : string.Create(inv, $"{hours / 24 / 365}y");
    }
}
