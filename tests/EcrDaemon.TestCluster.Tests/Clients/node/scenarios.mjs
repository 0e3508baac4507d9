// Fidelity scenarios for the test cluster, driven by the official JavaScript client
// @kubernetes/client-node (the version scripts/tools.sh pins; 1.x, which runs on node 20).
//
//   node scenarios.mjs <kubeconfig> <scenario> [args...]
//
// Finding the package: @kubernetes/client-node is an ES module package, and ES module imports
// ignore NODE_PATH, so this script resolves it itself: first from <repo>/.tools/node/node_modules
// (where scripts/tools.sh installs it; <repo> is four folders above this file), then with
// CommonJS resolution from this file, which does honour NODE_PATH (so NODE_PATH=/some/node_modules
// also works). Nothing has to be set when scripts/tools.sh has run.
//
// Protocol (shared with the Python script): one JSON object per line on stdout. An HTTP error the
// client surfaces prints {"error":{"code","reason","message"},"surfaced":"exception"|"event"}
// decoded from the Status body, and the script exits 0. Anything unexpected: a stack trace on
// stderr and exit code 1.
//
// Scenarios (core/v1 secrets unless said):
//   list-pages NS LIMIT          listNamespacedSecret with limit, following continue
//   list-labels NS SELECTOR      listNamespacedSecret with labelSelector
//   list-fields SELECTOR         listSecretForAllNamespaces with fieldSelector
//   watch NS COUNT               list, then Watch from the list's resourceVersion (bookmarks on)
//   watch-from NS RV             Watch from RV; the first event or the error, then exit
//   merge-patch NS NAME RV       patchNamespacedSecret, application/merge-patch+json
//   strategic-patch NS SA N1,..  patchNamespacedServiceAccount, application/strategic-merge-patch+json
//   create NS NAME               createNamespacedSecret (type Opaque)
//   field-managers NS NAME       create as fieldManager "creator", merge-patch a label as "labeller",
//                                print the managedFields read back (time as the Date the client parsed),
//                                then a create whose fieldManager is 129 characters

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..', '..');

function resolveClient() {
    const candidates = [
        createRequire(join(repoRoot, '.tools', 'node', 'package.json')),
        createRequire(import.meta.url),
    ];
    const failures = [];
    for (const req of candidates) {
        try {
            return req.resolve('@kubernetes/client-node');
        } catch (e) {
            failures.push(e.message);
        }
    }
    throw new Error(`@kubernetes/client-node not found (run scripts/tools.sh):\n${failures.join('\n')}`);
}

const k8s = await import(pathToFileURL(resolveClient()).href);

function emit(obj) {
    // stdout to a pipe is synchronous on Linux, so every line is out before the next statement.
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function finish(code = 0) {
    // Exit once stdout has taken everything: a watch's open socket would otherwise keep node alive.
    process.stdout.write('', () => process.exit(code));
}

// The generated API throws ApiException with the HTTP code and the response body as text.
function isApiException(e) {
    return e instanceof k8s.ApiException || (e && typeof e.code === 'number' && 'body' in e && 'headers' in e);
}

function statusFromBody(body) {
    const status = typeof body === 'string' ? JSON.parse(body) : body;
    if (!status || status.kind !== 'Status') {
        throw new Error(`error body is not a Status: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    }
    return status;
}

// Set once an error line is out, so a scenario can tell an error from silence.
let errorPrinted = false;

function emitError(status, surfaced) {
    errorPrinted = true;
    emit({ error: { code: status.code, reason: status.reason, message: status.message }, surfaced });
}

// Runs one typed API call; an ApiException is printed as the error line (the caller gets undefined).
async function call(fn) {
    try {
        return await fn();
    } catch (e) {
        if (isApiException(e)) {
            emitError(statusFromBody(e.body), 'exception');
            return undefined;
        }
        throw e;
    }
}

function int(text, what) {
    if (!/^[0-9]+$/.test(text ?? '')) {
        throw new Error(`${what} must be a non-negative integer, got ${text}`);
    }
    return Number(text);
}

const [kubeconfigPath, scenario, ...args] = process.argv.slice(2);
if (!kubeconfigPath || !scenario) {
    throw new Error('usage: node scenarios.mjs <kubeconfig> <scenario> [args...]');
}

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const core = kc.makeApiClient(k8s.CoreV1Api);

// Watches secrets in ns from rv with the client's Watch helper. onEvent(type, obj) returns true to
// stop. Resolves when the watch ends (the server closed it, or onEvent asked to stop).
function watchSecrets(ns, query, onEvent) {
    return new Promise((resolve, reject) => {
        let stopped = false;
        let controller;
        const stop = () => {
            stopped = true;
            controller?.abort();
            resolve();
        };
        new k8s.Watch(kc).watch(
            `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets`,
            query,
            (type, obj) => {
                if (stopped) return;
                if (type === 'ERROR') {
                    // The API server reports a watch failure (410 Expired among them) as an ERROR event
                    // whose object is a Status; the Watch helper hands it to this callback.
                    emitError(statusFromBody(obj), 'event');
                    stop();
                    return;
                }
                if (onEvent(type, obj)) stop();
            },
            (err) => {
                if (stopped) return;
                stopped = true;
                if (!err) {
                    resolve();
                } else if (typeof err.statusCode === 'number') {
                    // A non-200 answer to the watch request itself: client-node's Watch throws
                    // Error(statusText) with statusCode and does not read the Status body.
                    errorPrinted = true;
                    emit({ error: { code: err.statusCode, reason: null, message: err.message }, surfaced: 'exception' });
                    resolve();
                } else {
                    reject(err);
                }
            },
        ).then((c) => {
            controller = c;
            if (stopped) c.abort();
        }, reject);
    });
}

function eventLine(type, obj) {
    return {
        type,
        name: obj?.metadata?.name ?? null,
        resourceVersion: obj?.metadata?.resourceVersion ?? null,
    };
}

const scenarios = {
    async 'list-pages'(ns, limitText) {
        const limit = int(limitText, 'LIMIT');
        let token;
        for (;;) {
            const list = await call(() => core.listNamespacedSecret({ namespace: ns, limit, _continue: token }));
            if (list === undefined) return;
            const next = list.metadata?._continue || null;
            emit({
                page: list.items.map((s) => s.metadata.name),
                continue: next,
                resourceVersion: list.metadata?.resourceVersion ?? null,
            });
            if (!next) break;
            token = next;
        }
        emit({ done: true });
    },

    async 'list-labels'(ns, selector) {
        const list = await call(() => core.listNamespacedSecret({ namespace: ns, labelSelector: selector }));
        if (list === undefined) return;
        emit({ names: list.items.map((s) => s.metadata.name).sort() });
    },

    async 'list-fields'(selector) {
        const list = await call(() => core.listSecretForAllNamespaces({ fieldSelector: selector }));
        if (list === undefined) return;
        const items = list.items.map((s) => [s.metadata.namespace, s.metadata.name]);
        items.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
        emit({ items });
    },

    async watch(ns, countText) {
        const count = int(countText, 'COUNT');
        const list = await call(() => core.listNamespacedSecret({ namespace: ns }));
        if (list === undefined) return;
        const listed = list.metadata.resourceVersion;
        emit({ listed, names: list.items.map((s) => s.metadata.name) });
        let seen = 0;
        let complete = count === 0;
        if (!complete) {
            // The Watch helper adds watch=true itself; the rest are passed as query parameters.
            await watchSecrets(ns, { resourceVersion: listed, allowWatchBookmarks: true, timeoutSeconds: 60 }, (type, obj) => {
                emit(eventLine(type, obj));
                if (type !== 'BOOKMARK') seen++;
                complete = seen >= count;
                return complete;
            });
        }
        if (complete) emit({ done: true });
        else if (!errorPrinted) {
            // Neither an error line nor done: the watch ended early (timeout or server close).
            throw new Error(`watch ended after ${seen} of ${count} events`);
        }
    },

    async 'watch-from'(ns, rv) {
        let first = false;
        await watchSecrets(ns, { resourceVersion: rv, timeoutSeconds: 10 }, (type, obj) => {
            emit(eventLine(type, obj));
            first = true;
            return true;
        });
        // Ending with neither an event nor an error line is not an outcome this scenario knows.
        if (!first && !errorPrinted) throw new Error('watch ended without an event or an error');
    },

    async 'merge-patch'(ns, name, rv) {
        const body = { metadata: { resourceVersion: rv, labels: { patched: 'yes' } } };
        // client-node's generated patch methods default to application/json-patch+json; the documented
        // way to choose another patch type is a Content-Type header option with PatchStrategy.
        const patched = await call(() => core.patchNamespacedSecret(
            { namespace: ns, name, body },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        ));
        if (patched === undefined) return;
        emit({ resourceVersion: patched.metadata.resourceVersion });
    },

    async 'strategic-patch'(ns, sa, namesText) {
        const names = (namesText ?? '').split(',').filter((n) => n.length > 0);
        const body = { imagePullSecrets: names.map((n) => ({ name: n })) };
        // As above: the patch type is chosen with a Content-Type header option.
        const patched = await call(() => core.patchNamespacedServiceAccount(
            { namespace: ns, name: sa, body },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
        ));
        if (patched === undefined) return;
        emit({ imagePullSecrets: (patched.imagePullSecrets ?? []).map((r) => r.name) });
    },

    async create(ns, name) {
        const created = await call(() => core.createNamespacedSecret({
            namespace: ns,
            body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data: {} },
        }));
        if (created === undefined) return;
        emit({ created: created.metadata.name });
    },

    async 'field-managers'(ns, name) {
        await core.createNamespacedSecret({
            namespace: ns,
            body: { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data: { key: 'dmFsdWU=' } },
            fieldManager: 'creator',
        });
        await core.patchNamespacedSecret(
            { namespace: ns, name, body: { metadata: { labels: { l: '1' } } }, fieldManager: 'labeller' },
            k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        );
        const read = await core.readNamespacedSecret({ namespace: ns, name });
        emit({
            managedFields: read.metadata.managedFields.map((e) => ({
                manager: e.manager,
                operation: e.operation,
                apiVersion: e.apiVersion,
                fieldsType: e.fieldsType,
                fieldsV1: e.fieldsV1,
                time: e.time instanceof Date ? e.time.toISOString() : `not a Date: ${e.time}`,
            })),
        });
        const created = await call(() => core.createNamespacedSecret({
            namespace: ns,
            body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-long` } },
            fieldManager: 'm'.repeat(129),
        }));
        if (created === undefined) return;
        emit({ created: created.metadata.name });
    },
};

const run = scenarios[scenario];
if (!run) {
    throw new Error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(', ')}`);
}
try {
    await run(...args);
    finish(0);
} catch (e) {
    process.stderr.write(`${e?.stack ?? e}\n`);
    finish(1);
}
