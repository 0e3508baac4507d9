using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EcrDaemon.TestCluster.Admission;
using EcrDaemon.TestCluster.Auth;
using EcrDaemon.TestCluster.Hooks;
using EcrDaemon.TestCluster.Storage;
using Microsoft.AspNetCore.Http;

namespace EcrDaemon.TestCluster.Api;

/// <summary>
/// The HTTP front of the test cluster: authentication, fault injection, authorization, routing
/// to discovery or to a resource operation, and the request log. Every failure is a real
/// <c>Status</c> object with the real code.
/// </summary>
public sealed class ApiHandler(
    Operations operations,
    TestClusterOptions options,
    IReadOnlyDictionary<string, Identity> tokens,
    Func<Rbac> rbac,
    Func<AdmissionPolicies> admission,
    Faults faults,
    RequestLog log,
    TimeProvider time)
{
    private static readonly object WatchLogged = new();

    private ObjectStore Store => operations.Store;

    public async Task HandleAsync(HttpContext ctx)
    {
        if (faults.Down)
        {
            ctx.Abort();
            return;
        }

        var segments = (ctx.Request.Path.Value ?? "/").Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        // Go's url.Values, not ASP.NET's case-insensitive Request.Query (see QueryParameters.Parse).
        var query = QueryParameters.Parse(ctx.Request.QueryString.Value);
        var request = ApiRequest.Parse(ctx.Request.Method, segments, query);
        var identity = Authenticate(ctx);
        var who = identity?.User ?? "anonymous";
        try
        {
            if (identity is null)
            {
                throw ApiException.Unauthorized();
            }

            if (request is null)
            {
                await ServeDiscoveryAsync(ctx, segments);
                return;
            }

            await ServeResourceAsync(ctx, request, identity, query);
        }
        catch (ApiException e)
        {
            await WriteErrorAsync(ctx, e);
        }
        finally
        {
            // A served watch was logged when its stream opened; one refused before that (401, 403,
            // 400, an injected fault) is logged here with its error code.
            if (request is not null && !ctx.Items.ContainsKey(WatchLogged))
            {
                var writes = request.Verb is "create" or "update" or "patch";
                var fieldManager = writes ? QueryParameters.Text(query, "fieldManager") : "";
                log.Add(time.GetUtcNow(), who, request.Verb, request.Type.Plural, request.Namespace, request.Name ?? "", ctx.Response.StatusCode,
                    ctx.Request.QueryString.Value ?? "", ctx.Request.ContentType ?? "",
                    fieldManager, FieldManager.Of(request.Verb, fieldManager, ctx.Request.Headers.UserAgent.ToString()) ?? "");
            }
        }
    }

    private Identity? Authenticate(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) && tokens.TryGetValue(header[7..].Trim(), out var id) ? id : null;
    }

    private static async Task ServeDiscoveryAsync(HttpContext ctx, string[] s)
    {
        JsonObject? doc = s switch
        {
            ["version"] => Discovery.Version(),
            ["api"] => Discovery.CoreVersions($"{ctx.Request.Host}"),
            ["api", var v] => Discovery.Resources("", v),
            ["apis"] => Discovery.Groups(),
            ["apis", var g] => Discovery.Group(g),
            ["apis", var g, var v] => Discovery.Resources(g, v),
            ["openapi", "v3"] => OpenApi.Index(),
            ["openapi", "v3", .. var gv] => OpenApi.Document(string.Join('/', gv)),
            _ => null,
        };
        if (s is ["healthz"] or ["livez"] or ["readyz"])
        {
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.WriteAsync("ok");
            return;
        }

        if (doc is null)
        {
            throw ApiException.PathNotFound();
        }

        await WriteJsonAsync(ctx, 200, doc);
    }

    private async Task ServeResourceAsync(HttpContext ctx, ApiRequest request, Identity identity, IQueryCollection query)
    {
        var type = request.Type;

        // Only ListOptions has selectors (and only its first value counts); GetOptions, CreateOptions,
        // PatchOptions and DeleteOptions do not, so on those verbs they are unknown parameters, ignored.
        var selects = request.Verb is "list" or "watch";
        var authzName = selects ? AuthorizedListName(query, type) : request.Name ?? "";
        var attributes = new RequestAttributes(request.Verb, type.Group, type.Plural, request.Namespace, authzName);

        var (injected, delay) = faults.Match(attributes, identity);
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, time, ctx.RequestAborted);
        }

        await faults.HoldAsync(attributes, identity, committed: false, ctx.RequestAborted);

        if (injected is not null)
        {
            throw injected;
        }

        if (rbac().Deny(identity, attributes) is { } why)
        {
            throw ApiException.Forbidden(type, request.Name, why);
        }

        if (request.Subresource is not null)
        {
            throw ApiException.PathNotFound();
        }

        var manager = WriteManager(ctx, request, query);
        if (query.ContainsKey("dryRun"))
        {
            throw ApiException.BadRequest("dryRun is not supported by the test cluster");
        }

        // After authorization, as the list handler does (handlers/get.go listOpts): the integers are
        // decoded (400), then the label and field selectors parsed (400), then ValidateListOptions (422).
        var labels = LabelSelector.Everything;
        var fields = FieldSelector.Everything;
        ListParameters? listParameters = null;
        if (selects)
        {
            listParameters = ListParameters.Decode(query);
            labels = LabelSelector.Parse(QueryParameters.Text(query, "labelSelector"));
            fields = FieldSelector.Parse(QueryParameters.Text(query, "fieldSelector"), type);
            listParameters = listParameters.Validate(watch: request.Verb == "watch");
        }

        var table = Tables.Wanted(ctx.Request.Headers.Accept.ToString());
        var ns = request.Namespace;
        var admit = Admit(ctx, request, identity);
        switch (request.Verb)
        {
            case "get":
                await WriteObjectAsync(ctx, 200, type, operations.Get(type, ns, request.Name!), table);
                break;
            case "list":
                await ListAsync(ctx, request, labels, fields, listParameters!, table);
                break;
            case "watch":
                log.Add(time.GetUtcNow(), identity.User, "watch", type.Plural, ns, fields.RequiredName ?? "", 200, ctx.Request.QueryString.Value ?? "");
                ctx.Items[WatchLogged] = true;
                await WatchResponder.ServeAsync(ctx, Store, request, labels, fields, listParameters!, table, options, faults, time);
                break;
            case "create":
                // The admission name of a create is the body's, taken before the registry generates
                // one from generateName (handlers/create.go), so it is empty then.
                var posted = await ReadObjectAsync(ctx, type);
                var postedName = posted["metadata"]?["name"]?.GetValue<string>() ?? "";
                var created = operations.Create(type, ns, posted, Admit(ctx, request, identity, postedName), manager);
                await faults.HoldAsync(attributes, identity, committed: true, ctx.RequestAborted);
                await WriteObjectAsync(ctx, 201, type, created, false);
                break;
            case "update":
                var updated = operations.Update(type, ns, request.Name!, await ReadObjectAsync(ctx, type), admit, manager);
                await faults.HoldAsync(attributes, identity, committed: true, ctx.RequestAborted);
                await WriteObjectAsync(ctx, 200, type, updated, false);
                break;
            case "patch":
                var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
                var patched = operations.Patch(type, ns, request.Name!, contentType, await ReadBodyAsync(ctx), admit, manager);
                await faults.HoldAsync(attributes, identity, committed: true, ctx.RequestAborted);
                await WriteObjectAsync(ctx, 200, type, patched, false);
                break;
            case "delete":
                // DeleteOptions are decoded from the query before the body (handlers/delete.go); the
                // test cluster uses only the body's preconditions, but a malformed integer is the same 400.
                _ = QueryParameters.Number(query, "gracePeriodSeconds");
                var body = await ReadBodyAsync(ctx);
                var deleteOptions = body.Length > 0 ? ParseJson(body, "DeleteOptions") as JsonObject : null;
                var (deleted, gone) = operations.Delete(type, ns, request.Name!, deleteOptions, admit);
                await faults.HoldAsync(attributes, identity, committed: true, ctx.RequestAborted);
                if (gone)
                {
                    await WriteJsonAsync(ctx, 200, new JsonObject
                    {
                        ["kind"] = "Status",
                        ["apiVersion"] = "v1",
                        ["metadata"] = new JsonObject(),
                        ["status"] = "Success",
                        ["details"] = new JsonObject
                        {
                            ["name"] = request.Name,
                            ["group"] = type.Group.Length > 0 ? type.Group : null,
                            ["kind"] = type.Plural,
                            ["uid"] = deleted.Node["metadata"]?["uid"]?.DeepClone(),
                        },
                    });
                }
                else
                {
                    await WriteObjectAsync(ctx, 200, type, deleted, false);
                }

                break;
            default:
                throw ApiException.MethodNotSupported(type.Plural, request.Verb);
        }
    }

    /// <summary>
    /// The field manager of a create, update or patch (null for other verbs): the CreateOptions,
    /// UpdateOptions or PatchOptions are decoded and validated after authorization, a patch's only
    /// once its Content-Type is known to be a patch type (415 comes first, handlers/patch.go); an
    /// invalid fieldManager is 422 <c>CreateOptions.meta.k8s.io "" is invalid: fieldManager: ...</c>.
    /// </summary>
    private static string? WriteManager(HttpContext ctx, ApiRequest request, IQueryCollection query)
    {
        var options = request.Verb switch
        {
            "create" => "CreateOptions",
            "update" => "UpdateOptions",
            "patch" when Patches.IsPatchType((ctx.Request.ContentType ?? "").Split(';')[0].Trim()) => "PatchOptions",
            _ => null,
        };
        if (options is null)
        {
            return null;
        }

        var fieldManager = QueryParameters.Text(query, "fieldManager");
        if (FieldManager.Validate(fieldManager) is { Count: > 0 } errors)
        {
            throw ApiException.Invalid("meta.k8s.io", options, "", errors);
        }

        return FieldManager.Of(request.Verb, fieldManager, ctx.Request.Headers.UserAgent.ToString());
    }

    /// <summary>
    /// Validating admission for a write by <paramref name="identity"/>: the loaded
    /// ValidatingAdmissionPolicies, evaluated with the request's attributes. Warnings of bindings
    /// with the Warn action go out as <c>Warning: 299 - "..."</c> headers, as the real server sends them
    /// (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/warning.go).
    /// </summary>
    private Operations.AdmissionCheck Admit(HttpContext ctx, ApiRequest request, Identity identity, string? createName = null) => (operation, obj, old) =>
    {
        var policies = admission();
        var warnings = new List<string>();
        try
        {
            var name = createName ?? obj?["metadata"]?["name"]?.GetValue<string>() ?? request.Name ?? "";
            policies.Admit(new AdmissionAttributes(operation, request.Type, request.Namespace, name, obj, old, identity),
                n => Store.Get(ResourceType.Namespaces, "", n)?.Node, warnings);
        }
        finally
        {
            foreach (var warning in warnings)
            {
                ctx.Response.Headers.Append("Warning", "299 - \"" + warning.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"");
            }
        }
    };

    /// <summary>
    /// The name a list or watch is authorized for: RequestInfoFactory decodes the whole ListOptions
    /// and takes a <c>metadata.name=</c> field selector as the name; when anything fails to decode,
    /// the request is authorized with no name (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).
    /// </summary>
    private static string AuthorizedListName(IQueryCollection query, ResourceType type)
    {
        try
        {
            _ = ListParameters.Decode(query);
            _ = LabelSelector.Parse(QueryParameters.Text(query, "labelSelector"));
            return FieldSelector.Parse(QueryParameters.Text(query, "fieldSelector"), type).RequiredName ?? "";
        }
        catch (ApiException)
        {
            return "";
        }
    }

    private async Task ListAsync(HttpContext ctx, ApiRequest request, LabelSelector labels, FieldSelector fields, ListParameters parameters, bool table)
    {
        var type = request.Type;

        // limit <= 0 means no limit (metav1.ListOptions.Limit); the store pages by int.
        var limit = (int)Math.Clamp(parameters.Limit, 0, int.MaxValue);
        string? after = null;
        if (parameters.Continue is { Length: > 0 } token)
        {
            after = ContinueToken.Decode(token, Store.CurrentResourceVersion, out var tokenRv);
            if (tokenRv < Store.CompactedResourceVersion)
            {
                throw ApiException.Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
            }
        }
        else
        {
            await CheckListResourceVersionAsync(parameters, ctx.RequestAborted);
        }

        var ns = type.Namespaced && request.Namespace.Length > 0 ? request.Namespace : null;
        var (items, rv, lastKey, remaining) = Store.List(type, ns, o => labels.Matches(o.Labels) && fields.Matches(o.Node), limit, after);
        var continueToken = lastKey is null ? null : ContinueToken.Encode(rv, lastKey);
        if (table)
        {
            await WriteJsonAsync(ctx, 200, Tables.ForList(type, items, rv, continueToken, time.GetUtcNow()), TableContentType);
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kind", type.Kind + "List");
            w.WriteString("apiVersion", type.ApiVersion);
            w.WriteStartObject("metadata");
            w.WriteString("resourceVersion", rv.ToString(CultureInfo.InvariantCulture));
            if (continueToken is not null)
            {
                w.WriteString("continue", continueToken);
                w.WriteNumber("remainingItemCount", remaining);
            }

            w.WriteEndObject();
            w.WriteStartArray("items");
            foreach (var item in items)
            {
                w.WriteRawValue(item.Json, skipInputValidation: true);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted);
    }

    /// <summary>
    /// What a list's resourceVersion asks for, against the one state the test cluster keeps (the
    /// newest). Sources: "Resource versions" in the API concepts documentation
    /// (kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions) and the storage
    /// layer (k8s.io/apiserver/pkg/storage/etcd3/store.go, cacher):
    /// <list type="bullet">
    /// <item>unset or "0": the newest state;</item>
    /// <item>NotOlderThan N (and a bare N without limit): the newest state once it has reached N;
    /// a server that has not reached N within 3 s answers 504 "Too large resource version";</item>
    /// <item>Exact N (and the legacy bare N with a limit, which storage serves as exact): the
    /// state at N; 410 "too old" when N is compacted. The test cluster keeps no snapshots, so it
    /// serves Exact only at the newest resourceVersion and answers any older N with that 410,
    /// as a server that had compacted up to now would.</item>
    /// </list>
    /// </summary>
    private async Task CheckListResourceVersionAsync(ListParameters parameters, CancellationToken cancel)
    {
        if (QueryParameters.ResourceVersion(parameters.ResourceVersion) is not { } wanted)
        {
            return;
        }

        var exact = parameters.ResourceVersionMatch == ListParameters.Exact
                    || (parameters.ResourceVersionMatch.Length == 0 && parameters.Limit > 0);
        if (exact && (ulong)Store.CurrentResourceVersion < wanted)
        {
            // An exact read goes to storage, which compares with its current revision at once and
            // says so without a retry hint (etcd3 store: validateMinimumResourceVersion, retry 0).
            throw ApiException.TooLargeResourceVersion(wanted, Store.CurrentResourceVersion, retryAfterSeconds: 0);
        }

        // A not-older-than read waits up to 3 s for the watch cache to catch up (cacher:
        // waitUntilFreshAndBlock, then retry 1).
        var deadline = time.GetUtcNow() + TimeSpan.FromSeconds(3);
        while ((ulong)Store.CurrentResourceVersion < wanted)
        {
            if (time.GetUtcNow() >= deadline)
            {
                throw ApiException.TooLargeResourceVersion(wanted, Store.CurrentResourceVersion, retryAfterSeconds: 1);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancel);
        }

        if (exact && wanted != (ulong)Store.CurrentResourceVersion)
        {
            throw ApiException.Expired("The resourceVersion for the provided list is too old.");
        }
    }

    internal const string TableContentType = "application/json;as=Table;v=v1;g=meta.k8s.io";

    private async Task WriteObjectAsync(HttpContext ctx, int code, ResourceType type, StoredObject obj, bool table)
    {
        if (table)
        {
            await WriteJsonAsync(ctx, code, Tables.ForObject(type, obj.Node, time.GetUtcNow(), includeColumns: true), TableContentType);
            return;
        }

        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(obj.Json, ctx.RequestAborted);
    }

    private static async Task WriteJsonAsync(HttpContext ctx, int code, JsonNode doc, string contentType = "application/json")
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = contentType;
        await ctx.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(doc), ctx.RequestAborted);
    }

    private static async Task WriteErrorAsync(HttpContext ctx, ApiException e)
    {
        if (ctx.Response.HasStarted)
        {
            ctx.Abort();
            return;
        }

        if (e.RetryAfterSeconds is { } retry)
        {
            ctx.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        }

        await WriteJsonAsync(ctx, e.Code, e.ToStatus());
    }

    private static async Task<string> ReadBodyAsync(HttpContext ctx)
    {
        using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync(ctx.RequestAborted);
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpContext ctx, ResourceType type)
    {
        if ((ctx.Request.ContentType ?? "").StartsWith(ProtobufBody.ContentType, StringComparison.Ordinal))
        {
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
            return ProtobufBody.Decode(buffer.ToArray(), type);
        }

        return ParseJson(await ReadBodyAsync(ctx), type.Kind) as JsonObject
            ?? throw ApiException.BadRequest($"the body of the request is not a {type.Kind} object");
    }

    private static JsonNode? ParseJson(string body, string what)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"{what} in version \"v1\" cannot be handled as a {what}: {e.Message}");
        }
    }
}
