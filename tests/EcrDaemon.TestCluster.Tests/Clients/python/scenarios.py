"""Drives the test cluster with the official Kubernetes Python client (kubernetes, as Debian's
python3-kubernetes ships it), so RealClientTests can check what this real client sends and how it
reads the answers.

    /usr/bin/python3 scenarios.py KUBECONFIG SCENARIO [ARGS...]

Prints one JSON object per line (flushed per line). An HTTP error the client surfaces prints
{"error": {"code", "reason", "message"}, "surfaced": "exception" | "event"} and exits 0; anything
unexpected exits non-zero with a traceback. The scenarios and their output are described in
RealClientTests.cs; the Node script implements the same protocol.
"""

import json
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def emit_exception(e):
    """An ApiException from a plain call carries the Status body; decode it."""
    status = json.loads(e.body)
    emit({
        "error": {"code": status["code"], "reason": status.get("reason", ""), "message": status.get("message", "")},
        "surfaced": "exception",
    })


def emit_watch_error(e):
    """Watch.stream turns an ERROR event into ApiException(status=code, reason="<reason>: <message>")
    with no body; split it back into the Status's reason and message."""
    if e.body:
        emit_exception(e)
        return
    reason, _, message = (e.reason or "").partition(": ")
    emit({"error": {"code": e.status, "reason": reason, "message": message}, "surfaced": "event"})


def event_line(event):
    raw = event["raw_object"]
    meta = raw.get("metadata") or {}
    return {
        "type": event["type"],
        "name": meta.get("name") if event["type"] != "BOOKMARK" else None,
        "resourceVersion": meta.get("resourceVersion"),
    }


def list_pages(api, ns, limit):
    token = None
    while True:
        kwargs = {"limit": int(limit)}
        if token:
            kwargs["_continue"] = token
        page = api.list_namespaced_secret(ns, **kwargs)
        token = page.metadata._continue or None
        emit({
            "page": [s.metadata.name for s in page.items],
            "continue": token,
            "resourceVersion": page.metadata.resource_version,
        })
        if not token:
            break
    emit({"done": True})


def list_labels(api, ns, selector):
    secrets = api.list_namespaced_secret(ns, label_selector=selector)
    emit({"names": sorted(s.metadata.name for s in secrets.items)})


def list_fields(api, selector):
    secrets = api.list_secret_for_all_namespaces(field_selector=selector)
    emit({"items": sorted([s.metadata.namespace, s.metadata.name] for s in secrets.items)})


def watch_from_list(api, ns, count):
    listed = api.list_namespaced_secret(ns)
    rv = listed.metadata.resource_version
    emit({"listed": rv, "names": sorted(s.metadata.name for s in listed.items)})
    count = int(count)
    seen = 0
    w = watch.Watch()
    try:
        # timeout_seconds also makes Watch.stream give up its own retry after a 410.
        for event in w.stream(api.list_namespaced_secret, ns, resource_version=rv,
                              allow_watch_bookmarks=True, timeout_seconds=60):
            emit(event_line(event))
            if event["type"] != "BOOKMARK":
                seen += 1
                if seen == count:
                    w.stop()
                    emit({"done": True})
                    return
    except ApiException as e:
        emit_watch_error(e)
        return
    raise RuntimeError("the watch ended after %d of %d events" % (seen, count))


def watch_from(api, ns, rv):
    w = watch.Watch()
    try:
        for event in w.stream(api.list_namespaced_secret, ns, resource_version=rv, timeout_seconds=10):
            emit(event_line(event))
            w.stop()
            return
    except ApiException as e:
        emit_watch_error(e)
        return
    raise RuntimeError("the watch ended without an event or an error")


def merge_patch(api_client, ns, name, rv):
    # The generated patch_* methods pick application/json-patch+json and rest.py turns that into
    # application/strategic-merge-patch+json for a non-list body; this client version has no
    # per-call content-type option, so a merge patch is asked for the documented way: a default
    # header on the ApiClient, which overrides the method's Content-Type. Only this call uses it.
    api_client.set_default_header("Content-Type", "application/merge-patch+json")
    api = client.CoreV1Api(api_client)
    body = {"metadata": {"resourceVersion": rv, "labels": {"patched": "yes"}}}
    try:
        patched = api.patch_namespaced_secret(name, ns, body)
    except ApiException as e:
        emit_exception(e)
        return
    emit({"resourceVersion": patched.metadata.resource_version})


def strategic_patch(api, ns, sa, names):
    # No content type is chosen here: for a dict body the client sends a strategic merge patch itself.
    body = {"imagePullSecrets": [{"name": n} for n in names.split(",") if n]}
    try:
        patched = api.patch_namespaced_service_account(sa, ns, body)
    except ApiException as e:
        emit_exception(e)
        return
    emit({"imagePullSecrets": [r.name for r in (patched.image_pull_secrets or [])]})


def create(api, ns, name):
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), type="Opaque",
                           data={"key": "dmFsdWU="})
    try:
        created = api.create_namespaced_secret(ns, body)
    except ApiException as e:
        emit_exception(e)
        return
    emit({"created": created.metadata.name})


def field_managers(api, ns, name):
    """Create as "creator", merge-patch a label as "labeller", read back the managedFields as the
    client decoded them (time as the datetime it parsed), then a create whose fieldManager is too long."""
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), type="Opaque", data={"key": "dmFsdWU="})
    api.create_namespaced_secret(ns, body, field_manager="creator")
    api.patch_namespaced_secret(name, ns, {"metadata": {"labels": {"l": "1"}}}, field_manager="labeller")
    read = api.read_namespaced_secret(name, ns)
    emit({"managedFields": [{
        "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
        "fieldsType": e.fields_type, "fieldsV1": e.fields_v1, "time": e.time.isoformat(),
    } for e in read.metadata.managed_fields]})
    try:
        api.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name=name + "-long")),
                                     field_manager="m" * 129)
    except ApiException as e:
        emit_exception(e)
        return
    emit({"created": name + "-long"})


def main(argv):
    if len(argv) < 3:
        raise SystemExit("usage: scenarios.py KUBECONFIG SCENARIO [ARGS...]")
    kubeconfig, scenario, args = argv[1], argv[2], argv[3:]
    api_client = config.new_client_from_config(config_file=kubeconfig)
    api = client.CoreV1Api(api_client)
    if scenario == "list-pages":
        list_pages(api, *args)
    elif scenario == "list-labels":
        list_labels(api, *args)
    elif scenario == "list-fields":
        list_fields(api, *args)
    elif scenario == "watch":
        watch_from_list(api, *args)
    elif scenario == "watch-from":
        watch_from(api, *args)
    elif scenario == "merge-patch":
        merge_patch(api_client, *args)
    elif scenario == "strategic-patch":
        strategic_patch(api, *args)
    elif scenario == "create":
        create(api, *args)
    elif scenario == "field-managers":
        field_managers(api, *args)
    else:
        raise SystemExit("unknown scenario: " + scenario)


if __name__ == "__main__":
    main(sys.argv)
