#!/usr/bin/env bash
# The demo, on a bare machine (no cluster, no AWS account): the test cluster (a local Kubernetes
# API server that real kubectl drives), an ECR stand-in, and the real daemon, which runs as the
# ecr-daemon ServiceAccount under exactly the least-privilege RBAC the chart renders for the demo's
# values (helm template; below).
#
# Two registries (accounts 111111111111 "team-a" and 123456789012 "shared") and two profiles:
#   team-a  namespaces labelled team=a                 get secret ecr-team-a    with both registries
#   shared  namespaces labelled ecr-daemon.io/enabled=true get secret aws-registry with "shared" only
# Namespaces: ns-1 and ns-2 in profile shared (ns-2's default ServiceAccount already holds another
# pull secret, which the daemon keeps), ns-3 in profile team-a, demo in none. Runs until Ctrl-C.
#
#   bash scripts/demo.sh              build, start, print what to try, run until Ctrl-C
#   bash scripts/demo.sh --check      (used by the tests) start without building, wait until the
#                                     daemon has synced ns-1 and ns-2, print the state, stop, exit 0
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
check=false
[ "${1:-}" = "--check" ] && check=true

if ! $check; then
  bash scripts/tools.sh >/dev/null 2>&1 || echo "demo: some optional tools could not be installed; kubectl is needed to look around" >&2
  echo "demo: building (the first run takes a minute)..." >&2
  for project in tests/EcrDaemon.TestCluster tests/EcrDaemon.StandIns src/EcrDaemon; do
    dotnet build "$project" -c Release -v quiet -nologo >/dev/null
  done
fi
export PATH="$root/.tools/bin:$PATH"
bin() { echo "$root/$1/bin/Release/net10.0/$2"; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# The chart values of the demo's profiles. The daemon below gets the same as EcrDaemon__* variables
# (what the chart's Deployment sets); its RBAC is what the chart renders for these values.
cat >"$work/values.yaml" <<'VALUES'
registries:
  - { name: team-a, region: us-west-2, accountId: "111111111111" }
  - { name: shared, region: us-west-2, accountId: "123456789012" }
profiles:
  - { name: team-a, namespaceSelector: team=a, secretName: ecr-team-a, registries: [team-a, shared] }
  - { name: shared, namespaceSelector: ecr-daemon.io/enabled=true, secretName: aws-registry, registries: [shared] }
VALUES
command -v helm >/dev/null || { echo "demo: helm is needed to render the chart's RBAC; run bash scripts/tools.sh" >&2; exit 1; }
helm template ecr-daemon helm/ecr-daemon --namespace ecr-daemon -f "$work/values.yaml" \
  --show-only templates/serviceaccount.yaml --show-only templates/clusterrole.yaml >"$work/rbac.yaml"

wait_for_file() { # path, pid, what
  for _ in $(seq 1 600); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "demo: $3 exited early" >&2; exit 1; }
    sleep 0.1
  done
  echo "demo: $3 did not become ready" >&2; exit 1
}

dotnet "$(bin tests/EcrDaemon.TestCluster EcrDaemon.TestCluster.dll)" \
  --kubeconfig "$work/kubeconfig" --namespaces 3 \
  --rbac "$work/rbac.yaml" \
  --serviceaccount-kubeconfig "ecr-daemon/ecr-daemon=$work/daemon-kubeconfig" >"$work/cluster.log" 2>&1 &
pids+=($!)
wait_for_file "$work/kubeconfig" "${pids[-1]}" "the test cluster"

dotnet "$(bin tests/EcrDaemon.StandIns EcrDaemon.StandIns.dll)" --endpoint-file "$work/ecr-endpoint" >"$work/ecr.log" 2>&1 &
pids+=($!)
wait_for_file "$work/ecr-endpoint" "${pids[-1]}" "the ECR stand-in"

export KUBECONFIG="$work/kubeconfig"
kubectl create namespace ecr-daemon >/dev/null
kubectl create namespace demo >/dev/null
kubectl label namespace ns-1 ns-2 ecr-daemon.io/enabled=true >/dev/null
kubectl label namespace ns-3 team=a >/dev/null
kubectl -n ns-2 patch serviceaccount default -p '{"imagePullSecrets":[{"name":"team-registry"}]}' >/dev/null

# The daemon: its own ServiceAccount's kubeconfig, and the stand-in's (fake) keys as the seed passed them.
# It serves /metrics, /livez and /readyz on port 8080 (--check: any free port, so a busy 8080 cannot fail the tests).
$check && urls="http://127.0.0.1:0" || urls="http://127.0.0.1:8080"
ASPNETCORE_URLS="$urls" \
KUBECONFIG="$work/daemon-kubeconfig" \
AWS_ACCESS_KEY_ID=AKIASTANDIN0EXAMPLE1 AWS_SECRET_ACCESS_KEY=standin-secret-key-do-not-print-0123456789 \
AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true \
EcrDaemon__Registries__0__Name=team-a \
EcrDaemon__Registries__0__AccountId=111111111111 \
EcrDaemon__Registries__0__Endpoint="$(cat "$work/ecr-endpoint")" \
EcrDaemon__Registries__1__Name=shared \
EcrDaemon__Registries__1__AccountId=123456789012 \
EcrDaemon__Registries__1__Endpoint="$(cat "$work/ecr-endpoint")" \
EcrDaemon__Profiles__0__Name=team-a \
EcrDaemon__Profiles__0__NamespaceSelector=team=a \
EcrDaemon__Profiles__0__SecretName=ecr-team-a \
EcrDaemon__Profiles__0__Registries__0=team-a \
EcrDaemon__Profiles__0__Registries__1=shared \
EcrDaemon__Profiles__1__Name=shared \
EcrDaemon__Profiles__1__NamespaceSelector=ecr-daemon.io/enabled=true \
EcrDaemon__Profiles__1__SecretName=aws-registry \
EcrDaemon__Profiles__1__Registries__0=shared \
  dotnet "$(bin src/EcrDaemon EcrDaemon.dll)" run >"$work/daemon.log" 2>&1 &
pids+=($!)

# The registry hosts in a pull secret, e.g. "ns-3/ecr-team-a: 111111111111.dkr.ecr... 123456789012.dkr.ecr...".
hosts() { # namespace, secret
  echo "$1/$2: $(kubectl -n "$1" get secret "$2" -o jsonpath='{.data.\.dockerconfigjson}' | base64 -d \
    | grep -o '"[^"]*\.dkr\.ecr\.[^"]*"' | tr -d '"' | sort | tr '\n' ' ' | sed 's/ $//')"
}
sa_secrets() { kubectl -n "$1" get sa default -o jsonpath='{.imagePullSecrets[*].name}' 2>/dev/null; }

if $check; then
  for _ in $(seq 1 300); do
    if [ "$(sa_secrets ns-2)" = "team-registry aws-registry" ] && [ "$(sa_secrets ns-3)" = "ecr-team-a" ] \
       && kubectl -n ns-1 get secret aws-registry >/dev/null 2>&1; then
      kubectl get secrets -A
      for ns in ns-1 ns-2 ns-3; do echo "$ns default ServiceAccount: $(sa_secrets "$ns")"; done
      hosts ns-1 aws-registry
      hosts ns-3 ecr-team-a
      echo "demo: check passed"
      exit 0
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: check failed; daemon log:" >&2
  cat "$work/daemon.log" >&2
  exit 1
fi

cat <<MSG

EcrDaemon is running against a local test cluster and an ECR stand-in. In another terminal:

  export KUBECONFIG=$KUBECONFIG
  kubectl get secrets -A                                   # aws-registry (profile shared) in ns-1 and ns-2,
                                                           # ecr-team-a (profile team-a) in ns-3
  kubectl get sa default -n ns-2 -o yaml                   # team-registry kept, aws-registry added
  kubectl label ns demo ecr-daemon.io/enabled=true         # opt in to shared: synced within a second
  kubectl label ns demo team=a                             # and to team-a: a second secret, a second entry
  kubectl get sa default -n demo -o yaml
  kubectl delete secret aws-registry -n demo               # repaired at once
  kubectl label ns demo team-                              # leave team-a: ecr-team-a and its entry removed
  kubectl label ns demo ecr-daemon.io/enabled-             # opt out: our secret and entry removed
  curl -s localhost:8080/metrics | grep ^ecr_daemon        # the metrics; also /readyz and /livez

The daemon's log follows. Ctrl-C stops everything.

MSG
tail -n +1 -f "$work/daemon.log" &
pids+=($!)
wait "${pids[2]}"
