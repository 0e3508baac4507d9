using System.Globalization;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Storage;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// Create, update, patch and delete with the semantics of the real API server: defaults, uid,
/// resourceVersion, optimistic concurrency, validation, no-op writes that write nothing, the
/// namespace lifecycle (Terminating, then removal of its contents) and the "default"
/// ServiceAccount that every namespace gets.
/// </summary>
public sealed class Operations(ObjectStore store, TestClusterOptions options, TimeProvider time)
{
    /// <summary>
    /// Validating admission: called with the operation (CREATE, UPDATE, DELETE), the object to be
    /// stored and the stored one, after the object is defaulted and validated and before it is
    /// stored, as the registry store calls createValidation/updateValidation/deleteValidation.
    /// Throws to refuse the write.
    /// </summary>
    public delegate void AdmissionCheck(string operation, JsonObject? obj, JsonObject? oldObj);

    private const string GenerateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    public ObjectStore Store => store;

    public StoredObject Get(ResourceType type, string ns, string name) =>
        store.Get(type, ns, name) ?? throw ApiException.NotFound(type, name);

    /// <param name="manager">
    /// The field manager the write is recorded under in <c>metadata.managedFields</c> (see
    /// <see cref="ManagedFields"/>); null for the test cluster's own seeding, which records none.
    /// </param>
    public StoredObject Create(ResourceType type, string ns, JsonObject obj, AdmissionCheck? admit = null, string? manager = null)
    {
        var meta = Metadata(obj);
        if (string.IsNullOrEmpty(meta["name"]?.GetValue<string>()) && meta["generateName"]?.GetValue<string>() is { Length: > 0 } prefix)
        {
            meta["name"] = prefix + new string(Enumerable.Range(0, 5)
                .Select(_ => GenerateNameAlphabet[Random.Shared.Next(GenerateNameAlphabet.Length)]).ToArray());
        }

        PrepareTypeAndNamespace(type, ns, obj);
        var name = meta["name"]?.GetValue<string>() ?? "";
        lock (store.Lock)
        {
            if (type.Namespaced)
            {
                var owner = store.Get(ResourceType.Namespaces, "", ns) ?? throw ApiException.NotFound(ResourceType.Namespaces, ns);
                if (owner.Node["status"]?["phase"]?.GetValue<string>() == "Terminating")
                {
                    throw ApiException.NamespaceTerminating(type, name.Length > 0 ? name : null, ns);
                }
            }

            meta.Remove("resourceVersion");
            meta.Remove("deletionTimestamp");
            meta.Remove("deletionGracePeriodSeconds");
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Timestamp(time.GetUtcNow());
            ApplyDefaults(type, obj, null);
            if (manager is not null)
            {
                ManagedFields.Record(type, null, obj, manager, time.GetUtcNow());
            }

            ThrowIfInvalid(type, obj, null);
            // registry Store.Create: BeforeCreate (defaults, validation), then createValidation
            // (validating admission), then the storage create that finds an existing name.
            admit?.Invoke("CREATE", obj, null);
            if (store.Get(type, ns, name) is not null)
            {
                throw ApiException.AlreadyExists(type, name);
            }

            var stored = store.Put(type, obj);
            if (type == ResourceType.Namespaces)
            {
                CreateDefaultServiceAccount(name);
            }

            return stored;
        }
    }

    public StoredObject Update(ResourceType type, string ns, string name, JsonObject obj, AdmissionCheck? admit = null, string? manager = null)
    {
        PrepareTypeAndNamespace(type, ns, obj);
        var bodyName = Metadata(obj)["name"]?.GetValue<string>();
        if (bodyName != name)
        {
            throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }

        lock (store.Lock)
        {
            var existing = Get(type, ns, name);
            var rv = Metadata(obj)["resourceVersion"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(rv) && rv != existing.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw ApiException.StaleResourceVersion(type, name);
            }

            return Write(type, existing, obj, admit, manager);
        }
    }

    public StoredObject Patch(ResourceType type, string ns, string name, string contentType, string body, AdmissionCheck? admit = null, string? manager = null)
    {
        lock (store.Lock)
        {
            var existing = Get(type, ns, name);
            var patched = Patches.Apply(contentType, existing.Node, body, type.Kind);
            var meta = Metadata(patched);
            var rv = meta["resourceVersion"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(rv) && rv != existing.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw ApiException.StaleResourceVersion(type, name);
            }

            var uid = meta["uid"]?.GetValue<string>();
            var existingUid = existing.Node["metadata"]!["uid"]!.GetValue<string>();
            if (uid is not null && uid != existingUid)
            {
                throw ApiException.Conflict(type, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {existingUid}");
            }

            if (meta["name"]?.GetValue<string>() != name)
            {
                throw ApiException.BadRequest($"the name of the object ({meta["name"]}) does not match the name on the URL ({name})");
            }

            PrepareTypeAndNamespace(type, ns, patched);
            return Write(type, existing, patched, admit, manager);
        }
    }

    /// <summary>Deletes an object. Returns the deleted object and whether it is gone (false: a namespace now Terminating).</summary>
    public (StoredObject Object, bool Gone) Delete(ResourceType type, string ns, string name, JsonObject? deleteOptions, AdmissionCheck? admit = null)
    {
        lock (store.Lock)
        {
            var existing = Get(type, ns, name);
            CheckPreconditions(type, existing, deleteOptions?["preconditions"] as JsonObject);
            // registry Store.Delete: preconditions, then deleteValidation with the stored object as oldObject.
            admit?.Invoke("DELETE", null, existing.Node);
            if (type == ResourceType.Namespaces)
            {
                return (BeginNamespaceDeletion(existing), false);
            }

            var gone = store.Remove(existing);
            if (type == ResourceType.ServiceAccounts && name == "default" && IsActiveNamespace(ns))
            {
                // The ServiceAccount controller recreates "default" in every live namespace.
                CreateDefaultServiceAccount(ns);
            }

            return (gone, true);
        }
    }

    /// <summary>Creates a namespace with labels, for seeding clusters in tests, the demo and benchmarks.</summary>
    public StoredObject CreateNamespace(string name, IReadOnlyDictionary<string, string>? labels = null)
    {
        var labelObject = new JsonObject();
        foreach (var (k, v) in labels ?? new Dictionary<string, string>())
        {
            labelObject[k] = v;
        }

        return Create(ResourceType.Namespaces, "", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = labelObject },
        });
    }

    private StoredObject Write(ResourceType type, StoredObject existing, JsonObject obj, AdmissionCheck? admit, string? manager)
    {
        var meta = Metadata(obj);
        var oldMeta = existing.Node["metadata"]!;
        foreach (var field in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds" })
        {
            meta.Remove(field);
            if (oldMeta[field] is { } value)
            {
                meta[field] = value.DeepClone();
            }
        }

        meta["resourceVersion"] = existing.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        ApplyDefaults(type, obj, existing.Node);
        if (manager is not null)
        {
            // The handler's field manager runs before the registry's validation and admission.
            ManagedFields.Record(type, existing.Node, obj, manager, time.GetUtcNow());
        }

        ThrowIfInvalid(type, obj, existing.Node);
        // registry Store.Update: BeforeUpdate (validation), then updateValidation (validating
        // admission, which a patch meets as an UPDATE), then the storage write; a no-op is admitted too.
        admit?.Invoke("UPDATE", obj, existing.Node);
        if (JsonNode.DeepEquals(obj, existing.Node))
        {
            // Like the real server: an update that changes nothing writes nothing and emits no event.
            return existing;
        }

        return store.Put(type, obj);
    }

    private static void ApplyDefaults(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var meta = Metadata(obj);
        if (type == ResourceType.Secrets)
        {
            if (obj["type"] is null || obj["type"]!.GetValue<string>().Length == 0)
            {
                obj["type"] = "Opaque";
            }
            if (obj["data"] is JsonObject data)
            {
                foreach (var (key, value) in data.ToList())
                {
                    var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
                    if (text is null || !IsBase64(text))
                    {
                        throw ApiException.BadRequest(
                            $"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{key}]");
                    }
                }
            }

            if (obj["stringData"] is JsonObject stringData)
            {
                var target = obj["data"] as JsonObject ?? new JsonObject();
                foreach (var (key, value) in stringData)
                {
                    target[key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value?.GetValue<string>() ?? ""));
                }

                obj["data"] = target;
                obj.Remove("stringData");
            }
        }
        else if (type == ResourceType.Namespaces)
        {
            var name = meta["name"]?.GetValue<string>() ?? "";
            var labels = meta["labels"] as JsonObject ?? new JsonObject();
            labels["kubernetes.io/metadata.name"] = name;
            meta["labels"] = labels;
            obj["spec"] = old?["spec"]?.DeepClone() ?? new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
            obj["status"] = old?["status"]?.DeepClone() ?? new JsonObject { ["phase"] = "Active" };
        }
    }

    private static bool IsBase64(string text)
    {
        var buffer = new byte[((text.Length + 3) / 4) * 3];
        return Convert.TryFromBase64String(text, buffer, out _);
    }

    private static void ThrowIfInvalid(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var errors = Validation.Validate(type, obj, old);
        if (errors.Count > 0)
        {
            throw ApiException.Invalid(type, obj["metadata"]?["name"]?.GetValue<string>() ?? "", errors);
        }
    }

    private static void PrepareTypeAndNamespace(ResourceType type, string ns, JsonObject obj)
    {
        var kind = obj["kind"]?.GetValue<string>();
        if (kind is not null && kind != type.Kind)
        {
            throw ApiException.BadRequest($"the API version in the data ({obj["apiVersion"]}) does not match the expected API version ({type.ApiVersion}) or kind {kind} is not {type.Kind}");
        }

        obj["kind"] = type.Kind;
        obj["apiVersion"] = type.ApiVersion;
        var meta = Metadata(obj);
        if (type.Namespaced)
        {
            var bodyNs = meta["namespace"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(bodyNs) && bodyNs != ns)
            {
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }

            meta["namespace"] = ns;
        }
        else
        {
            meta.Remove("namespace");
        }
    }

    private static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is not JsonObject meta)
        {
            meta = new JsonObject();
            obj["metadata"] = meta;
        }

        return meta;
    }

    private static void CheckPreconditions(ResourceType type, StoredObject existing, JsonObject? preconditions)
    {
        if (preconditions is null)
        {
            return;
        }

        var uid = existing.Node["metadata"]!["uid"]!.GetValue<string>();
        if (preconditions["uid"]?.GetValue<string>() is { } wantUid && wantUid != uid)
        {
            throw ApiException.Conflict(type, existing.Name, $"Precondition failed: UID in precondition: {wantUid}, UID in object meta: {uid}");
        }

        var rv = existing.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        if (preconditions["resourceVersion"]?.GetValue<string>() is { } wantRv && wantRv != rv)
        {
            throw ApiException.Conflict(type, existing.Name, $"Precondition failed: ResourceVersion in precondition: {wantRv}, ResourceVersion in object meta: {rv}");
        }
    }

    private bool IsActiveNamespace(string ns) =>
        store.Get(ResourceType.Namespaces, "", ns) is { } n && n.Node["status"]?["phase"]?.GetValue<string>() != "Terminating";

    private void CreateDefaultServiceAccount(string ns)
    {
        var sa = new JsonObject
        {
            ["kind"] = "ServiceAccount",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = "default",
                ["namespace"] = ns,
                ["uid"] = Guid.NewGuid().ToString(),
                ["creationTimestamp"] = Timestamp(time.GetUtcNow()),
            },
        };
        store.Put(ResourceType.ServiceAccounts, sa);
    }

    private StoredObject BeginNamespaceDeletion(StoredObject ns)
    {
        if (ns.Node["status"]?["phase"]?.GetValue<string>() == "Terminating")
        {
            return ns;
        }

        var obj = (JsonObject)ns.Node.DeepClone();
        obj["metadata"]!["deletionTimestamp"] = Timestamp(time.GetUtcNow());
        obj["status"] = new JsonObject { ["phase"] = "Terminating" };
        var stored = store.Put(ResourceType.Namespaces, obj);
        _ = FinishNamespaceDeletionAsync(ns.Name, ns.Node["metadata"]!["uid"]!.GetValue<string>());
        return stored;
    }

    private async Task FinishNamespaceDeletionAsync(string name, string uid)
    {
        await Task.Delay(options.NamespaceDeletionDelay, time);
        lock (store.Lock)
        {
            var ns = store.Get(ResourceType.Namespaces, "", name);
            if (ns is null || ns.Node["metadata"]!["uid"]!.GetValue<string>() != uid)
            {
                return;
            }

            foreach (var type in ResourceType.All.Where(t => t.Namespaced))
            {
                foreach (var obj in store.InNamespace(type, name))
                {
                    store.Remove(obj);
                }
            }

            store.Remove(ns);
        }
    }

    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
