using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using k8s;

namespace EcrDaemon.TestCluster.Tests;

/// <summary>
/// The query parameters of list and watch, sent raw to the server, against the answers
/// kube-apiserver gives. Each expectation names its source. The two that matter most:
/// <list type="bullet">
/// <item>Booleans are decoded by <c>Convert_Slice_string_To_bool</c>
/// (k8s.io/apimachinery/pkg/runtime/conversion.go): absent, "0", or "false" in any case is false;
/// every other value, the empty string included, is true. It is not Go's <c>strconv.ParseBool</c>:
/// "f" is true and "yes" is true, and no boolean is ever a 400.</item>
/// <item>Integers are decoded by <c>strconv.ParseInt(s, 10, 64)</c> in the same file; the list,
/// watch and delete handlers (k8s.io/apiserver/pkg/endpoints/handlers) turn a decode error into
/// <c>errors.NewBadRequest(err.Error())</c>, so the message is Go's (a real server's answer to
/// <c>timeoutSeconds=0.1s</c> is quoted in kubernetes/kubernetes#101350).</item>
/// </list>
/// </summary>
public sealed class QueryParameterTests : IAsyncLifetime
{
    private const string Secrets = "/api/v1/namespaces/default/secrets";
    private TestClusterServer _server = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _server = await TestClusterServer.StartAsync(new TestClusterOptions { BookmarkInterval = TimeSpan.FromMilliseconds(100) });
        _http = Cluster.RawClient(_server);
        using var client = Cluster.Client(_server);
        foreach (var name in new[] { "a", "b", "c" })
        {
            await client.CoreV1.CreateNamespacedSecretAsync(Cluster.Secret(name), "default");
        }
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private sealed record Answer(HttpStatusCode Code, string Body)
    {
        public JsonObject Json => (JsonObject)JsonNode.Parse(Body)!;

        public bool IsList => Code == HttpStatusCode.OK && Body.StartsWith("{\"kind\":\"SecretList\"", StringComparison.Ordinal);

        public string[] Items => Json["items"]!.AsArray().Select(i => (string)i!["metadata"]!["name"]!).ToArray();

        public override string ToString() => $"{(int)Code}: {Body}";
    }

    private async Task<Answer> GetAsync(string pathAndQuery, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, pathAndQuery);
        using var response = await Cluster.Within(_http.SendAsync(request), pathAndQuery);
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Runs the requests at once (each watch lasts its timeoutSeconds) and pairs each with its answer.</summary>
    private async Task<(string Query, Answer Answer)[]> GetAllAsync(IEnumerable<string> queries)
    {
        var list = queries.ToArray();
        var answers = await Task.WhenAll(list.Select(q => GetAsync(Secrets + q)));
        return list.Zip(answers).ToArray();
    }

    private static void AssertStatus(Answer answer, int code, string? reason, string message)
    {
        Assert.True((int)answer.Code == code, $"expected {code}, got {answer}");
        var status = answer.Json;
        Assert.Equal("Status", (string?)status["kind"]);
        Assert.Equal("Failure", (string?)status["status"]);
        Assert.Equal(reason, (string?)status["reason"]);
        Assert.Equal(message, (string?)status["message"]);
        Assert.Equal(code, (int)status["code"]!);
    }

    [Fact]
    public async Task Watch_is_false_only_for_0_and_false_in_any_case_and_everything_else_is_a_watch()
    {
        // Convert_Slice_string_To_bool (runtime/conversion.go), as RequestInfoFactory uses it to pick
        // the verb (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go). "True" is what the
        // official Python client sends; "f", "F", "yes" and the bare "?watch" are watches on a real
        // server although strconv.ParseBool would read "f" as false and reject "yes".
        string[] watches = ["true", "True", "TRUE", "1", "t", "T", "f", "F", "yes", "2", ""];
        string[] lists = ["false", "False", "FALSE", "fAlSe", "0"];
        var queries = watches.Select(v => $"?watch={Uri.EscapeDataString(v)}&timeoutSeconds=1")
            .Concat(["?watch&timeoutSeconds=1"])
            .Concat(lists.Select(v => $"?watch={v}&timeoutSeconds=1"))
            // Only the first of repeated values counts (Convert_Slice_string_To_bool reads in[0]).
            .Concat(["?watch=false&watch=true&timeoutSeconds=1", "?watch=true&watch=false&timeoutSeconds=1"])
            // Absent is false.
            .Concat(["?timeoutSeconds=1"]);
        var mark = _server.Requests.Mark();
        var answers = await GetAllAsync(queries);

        var expectWatch = watches.Length + 1;
        for (var i = 0; i < answers.Length; i++)
        {
            var (query, answer) = answers[i];
            var isWatch = i < expectWatch || query.StartsWith("?watch=true&watch=false", StringComparison.Ordinal);
            Assert.True(answer.Code == HttpStatusCode.OK, $"{query}: {answer}");
            Assert.True(isWatch != answer.IsList, $"{query} should be a {(isWatch ? "watch" : "list")}: {answer}");
        }

        // The server logged each as the verb it served.
        var verbs = _server.Requests.Since(mark).GroupBy(r => r.Query).ToDictionary(g => g.Key, g => g.Single().Verb);
        Assert.Equal("watch", verbs["?watch=True&timeoutSeconds=1"]);
        Assert.Equal("watch", verbs["?watch&timeoutSeconds=1"]);
        Assert.Equal("list", verbs["?watch=FALSE&timeoutSeconds=1"]);
        Assert.Equal("list", verbs["?timeoutSeconds=1"]);
    }

    [Fact]
    public async Task AllowWatchBookmarks_follows_the_same_rule_and_no_form_is_a_400()
    {
        // allowWatchBookmarks is a bool in metav1.ListOptions, decoded by Convert_Slice_string_To_bool;
        // with it, the server sends BOOKMARK events (here every 100 ms) during a 1 s watch.
        string[] on = ["true", "True", "1", "t", "yes", ""];
        string[] off = ["false", "False", "0"];
        var answers = await GetAllAsync(on.Concat(off).Select(v => $"?watch=1&timeoutSeconds=1&allowWatchBookmarks={v}"));
        for (var i = 0; i < answers.Length; i++)
        {
            var (query, answer) = answers[i];
            Assert.True(answer.Code == HttpStatusCode.OK, $"{query}: {answer}");
            Assert.True((i < on.Length) == answer.Body.Contains("\"type\":\"BOOKMARK\"", StringComparison.Ordinal), $"{query}: {answer}");
        }
    }

    [Fact]
    public async Task Bad_integers_are_a_400_with_Go_strconv_message()
    {
        // Convert_Slice_string_To_int64 / _Pointer_int64 → strconv.ParseInt(s, 10, 64); the handler wraps
        // the error in errors.NewBadRequest (handlers/get.go ListResource, handlers/delete.go).
        (string Query, string Message)[] cases =
        [
            ("?limit=abc", "strconv.ParseInt: parsing \"abc\": invalid syntax"),
            ("?limit=", "strconv.ParseInt: parsing \"\": invalid syntax"),
            ("?limit=1.5", "strconv.ParseInt: parsing \"1.5\": invalid syntax"),
            ("?limit=%201", "strconv.ParseInt: parsing \" 1\": invalid syntax"),
            ("?limit=1_000", "strconv.ParseInt: parsing \"1_000\": invalid syntax"),
            ("?limit=99999999999999999999", "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"),
            // The exact answer a real server gave in kubernetes/kubernetes#101350.
            ("?timeoutSeconds=0.1s", "strconv.ParseInt: parsing \"0.1s\": invalid syntax"),
            ("?watch=true&timeoutSeconds=ten", "strconv.ParseInt: parsing \"ten\": invalid syntax"),
            ("?limit=%22x%22", "strconv.ParseInt: parsing \"\\\"x\\\"\": invalid syntax"),
        ];
        foreach (var (query, message) in cases)
        {
            AssertStatus(await GetAsync(Secrets + query), 400, "BadRequest", message);
        }

        AssertStatus(await GetAsync(Secrets + "/a?gracePeriodSeconds=soon", HttpMethod.Delete), 400, "BadRequest",
            "strconv.ParseInt: parsing \"soon\": invalid syntax");
        Assert.NotNull(_server.Store.Get(Api.ResourceType.Secrets, "default", "a"));
    }

    [Fact]
    public async Task Good_integers_with_sign_and_zero_or_negative_limit_means_no_limit()
    {
        // ParseInt accepts a leading sign; ListOptions.Limit <= 0 means no limit.
        Assert.Equal(["a", "b"], (await GetAsync(Secrets + "?limit=%2B2")).Items);
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + "?limit=-1")).Items);
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + "?limit=0")).Items);

        // A negative timeoutSeconds is a timer that has already fired: the watch ends at once
        // (from the current resourceVersion, so there are no initial events to race with).
        var ended = await GetAsync(Secrets + $"?watch=true&timeoutSeconds=-5&resourceVersion={_server.Store.CurrentResourceVersion}");
        Assert.Equal(HttpStatusCode.OK, ended.Code);
        Assert.Equal("", ended.Body);
    }

    [Fact]
    public async Task Unknown_parameters_are_ignored()
    {
        // The parameter codec converts url.Values into ListOptions field by field; keys it does not
        // know are never read (generated Convert_url_Values_To_v1_ListOptions).
        var answer = await GetAsync(Secrets + "?foo=bar&pretty=true&labelSelectr=x&limit=2&LIMIT=abc");
        Assert.True(answer.IsList, answer.ToString());
        Assert.Equal(["a", "b"], answer.Items);
    }

    [Fact]
    public async Task Parameter_names_are_case_sensitive_as_Go_url_Values_are()
    {
        // Go's url.Values is a map[string][]string and the generated Convert_url_Values_To_v1_ListOptions
        // looks up the exact keys ("watch", "limit", ...). A differently cased key is an unknown parameter,
        // ignored, whichever order it comes in.
        var answer = await GetAsync(Secrets + "?LIMIT=abc&limit=2");
        Assert.True(answer.IsList, answer.ToString());
        Assert.Equal(["a", "b"], answer.Items);

        var upper = await GetAsync(Secrets + "?Watch=true&timeoutSeconds=1");
        Assert.True(upper.IsList, $"?Watch=true is not a watch on a real server: {upper}");
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + "?Limit=1&TimeoutSeconds=x&ResourceVersion=cool")).Items);

        // url.ParseQuery drops a pair that contains ';' (Go 1.17+), so this is not a watch.
        Assert.True((await GetAsync(Secrets + "?watch=true;x&timeoutSeconds=1")).IsList);
    }

    [Fact]
    public async Task Authorization_comes_before_parameter_errors()
    {
        // The authorization filter runs before the list handler decodes ListOptions (a decode error in
        // RequestInfoFactory only drops the selectors from the request's attributes), so a user who may
        // not list secrets gets 403 whatever the query; only an allowed user sees the 400 or 422.
        var token = _server.IssueToken(new Auth.Identity("nobody", ["system:authenticated"], false));
        using var nobody = Cluster.RawClient(_server, token);
        foreach (var query in new[] { "?labelSelector=a%20in%20(", "?fieldSelector=spec.x%3D1", "?limit=abc", "?resourceVersionMatch=Exact" })
        {
            using var response = await nobody.GetAsync(Secrets + query);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{query}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task Integer_decode_errors_come_before_selector_errors()
    {
        // url.Values → v1.ListOptions (ParseInt for timeoutSeconds, limit) runs before v1 → internal
        // ListOptions, which parses labelSelector then fieldSelector (internalversion zz_generated.conversion.go).
        AssertStatus(await GetAsync(Secrets + "?labelSelector=a%20in%20(&limit=abc"), 400, "BadRequest",
            "strconv.ParseInt: parsing \"abc\": invalid syntax");
    }

    [Fact]
    public async Task Only_the_first_labelSelector_counts()
    {
        // Convert_Slice_string_To_string reads in[0]; a second labelSelector is not and-ed in.
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + "?labelSelector=!nolabel&labelSelector=nolabel")).Items);
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + "?fieldSelector=metadata.name!%3Dz&fieldSelector=metadata.name%3Da")).Items);
    }

    [Fact]
    public async Task Selectors_on_a_get_are_ignored_as_GetOptions_has_none()
    {
        // GetResource decodes metav1.GetOptions (resourceVersion only; handlers/get.go), so labelSelector
        // and fieldSelector on a single-object GET are unknown parameters, never parsed.
        var answer = await GetAsync(Secrets + "/a?labelSelector=a%20in%20(&fieldSelector=spec.nothing%3Dx");
        Assert.True(answer.Code == HttpStatusCode.OK, answer.ToString());
        Assert.Equal("a", (string?)answer.Json["metadata"]!["name"]);
    }

    [Fact]
    public async Task ResourceVersionMatch_and_sendInitialEvents_are_validated_as_ValidateListOptions_does()
    {
        // k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go ValidateListOptions;
        // handlers/get.go renders the errors with errors.NewInvalid(GroupKind{"meta.k8s.io","ListOptions"}, "", errs).
        const string prefix = "ListOptions.meta.k8s.io \"\" is invalid: ";
        AssertStatus(await GetAsync(Secrets + "?resourceVersionMatch=Exact"), 422, "Invalid",
            prefix + "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
        AssertStatus(await GetAsync(Secrets + "?resourceVersion=0&resourceVersionMatch=Exact"), 422, "Invalid",
            prefix + "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        AssertStatus(await GetAsync(Secrets + "?resourceVersion=5&resourceVersionMatch=Newest"), 422, "Invalid",
            prefix + "resourceVersionMatch: Unsupported value: \"Newest\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
        AssertStatus(await GetAsync(Secrets + "?sendInitialEvents=false"), 422, "Invalid",
            prefix + "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list");

        var invalid = await GetAsync(Secrets + "?resourceVersionMatch=Exact&sendInitialEvents=true");
        Assert.Equal(
            prefix + "[resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, "
                   + "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list]",
            (string?)invalid.Json["message"]);
        var causes = invalid.Json["details"]!["causes"]!.AsArray();
        Assert.Equal(["resourceVersionMatch", "sendInitialEvents"], causes.Select(c => (string)c!["field"]!).ToArray());
        Assert.All(causes, c => Assert.Equal("FieldValueForbidden", (string?)c!["reason"]));
        Assert.Equal("ListOptions", (string?)invalid.Json["details"]!["kind"]);
        Assert.Equal("meta.k8s.io", (string?)invalid.Json["details"]!["group"]);

        // validateWatchOptions, on a server whose WatchList feature gate is off (the test cluster does
        // not stream initial events).
        AssertStatus(await GetAsync(Secrets + "?watch=1&resourceVersionMatch=NotOlderThan"), 422, "Invalid",
            prefix + "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
        AssertStatus(await GetAsync(Secrets + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"), 422, "Invalid",
            prefix + "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled");
        AssertStatus(await GetAsync(Secrets + "?watch=1&sendInitialEvents=1"), 422, "Invalid",
            prefix + "[resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, "
                   + "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled]");
    }

    [Fact]
    public async Task A_list_at_a_resourceVersion_is_served_when_the_server_has_it()
    {
        var current = _server.Store.CurrentResourceVersion.ToString(CultureInfo.InvariantCulture);
        var older = (_server.Store.CurrentResourceVersion - 1).ToString(CultureInfo.InvariantCulture);
        var newer = (_server.Store.CurrentResourceVersion + 1000).ToString(CultureInfo.InvariantCulture);

        // NotOlderThan and Exact at the current resourceVersion, and NotOlderThan an older one: the newest state.
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + $"?resourceVersion={current}&resourceVersionMatch=Exact")).Items);
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + $"?resourceVersion={older}&resourceVersionMatch=NotOlderThan")).Items);
        Assert.Equal(["a", "b", "c"], (await GetAsync(Secrets + $"?resourceVersion={older}")).Items);

        // Exact at an older one, and the legacy form (resourceVersion with limit, served as exact by
        // storage): the test cluster keeps no snapshots and answers as a server compacted up to now
        // (etcd3 store: "The resourceVersion for the provided list is too old.").
        AssertStatus(await GetAsync(Secrets + $"?resourceVersion={older}&resourceVersionMatch=Exact"), 410, "Expired",
            "The resourceVersion for the provided list is too old.");
        AssertStatus(await GetAsync(Secrets + $"?resourceVersion={older}&limit=2"), 410, "Expired",
            "The resourceVersion for the provided list is too old.");

        // Ahead of the server: after 3 s the storage layer gives up with 504 and a ResourceVersionTooLarge cause.
        var ahead = await GetAsync(Secrets + $"?resourceVersion={newer}&resourceVersionMatch=NotOlderThan");
        // storage.NewTooLargeResourceVersionError is apierrors.NewTimeoutError, whose message is
        // fmt.Sprintf("Timeout: %s", message) (k8s.io/apimachinery/pkg/api/errors/errors.go).
        AssertStatus(ahead, 504, "Timeout", $"Timeout: Too large resource version: {newer}, current: {current}");
        Assert.Equal(1, (int)ahead.Json["details"]!["retryAfterSeconds"]!);
        Assert.Equal("ResourceVersionTooLarge", (string?)ahead.Json["details"]!["causes"]![0]!["reason"]);

        // An exact read goes to storage, which refuses a future revision at once and without a retry
        // hint (etcd3 store: validateMinimumResourceVersion passes 0; RetryAfterSeconds is omitempty).
        var exactAhead = await GetAsync(Secrets + $"?resourceVersion={newer}&resourceVersionMatch=Exact");
        AssertStatus(exactAhead, 504, "Timeout", $"Timeout: Too large resource version: {newer}, current: {current}");
        Assert.Null(exactAhead.Json["details"]!["retryAfterSeconds"]);

        // resourceVersion is unsigned 64-bit (strconv.ParseUint): 2^64-1 is valid and simply ahead.
        const string maxUnsigned = "18446744073709551615";
        AssertStatus(await GetAsync(Secrets + $"?resourceVersion={maxUnsigned}&resourceVersionMatch=Exact"), 504, "Timeout",
            $"Timeout: Too large resource version: {maxUnsigned}, current: {current}");
        AssertStatus(await GetAsync(Secrets + "?resourceVersion=18446744073709551616"), 500, null,
            "resourceVersion: Invalid value: \"18446744073709551616\": strconv.ParseUint: parsing \"18446744073709551616\": value out of range");
    }

    [Fact]
    public async Task A_malformed_resourceVersion_is_the_500_a_real_server_gives()
    {
        // APIObjectVersioner.ParseResourceVersion uses strconv.ParseUint, and the error reaches the
        // client as a 500 without a reason, for lists and watches alike (kubernetes/kubernetes#113939,
        // #139485, the latter still open).
        AssertStatus(await GetAsync(Secrets + "?resourceVersion=cool"), 500, null,
            "resourceVersion: Invalid value: \"cool\": strconv.ParseUint: parsing \"cool\": invalid syntax");
        AssertStatus(await GetAsync(Secrets + "?watch=true&resourceVersion=-1"), 500, null,
            "resourceVersion: Invalid value: \"-1\": strconv.ParseUint: parsing \"-1\": invalid syntax");
    }
}
