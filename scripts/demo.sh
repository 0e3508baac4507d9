#!/usr/bin/env bash
# Starts the demo on a bare machine: no cluster and no AWS account needed.
#
# Today the demo is the test cluster: a local Kubernetes API server that real kubectl drives,
# seeded with a few namespaces (one opted in, one whose ServiceAccount already holds another
# pull secret). The daemon joins this demo when it exists (see the README's status note).
# Runs until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/tools.sh >/dev/null 2>&1 || echo "demo: some optional tools could not be installed; kubectl is needed to look around" >&2
export PATH="$root/.tools/bin:$PATH"

work="$(mktemp -d)"
kubeconfig="$work/kubeconfig"
echo "demo: building the test cluster (first run takes a minute)..." >&2
dotnet build tests/EcrDaemon.TestCluster -c Release -v quiet -nologo >/dev/null

dotnet run --no-build -c Release --project tests/EcrDaemon.TestCluster -- \
  --kubeconfig "$kubeconfig" --namespaces 3 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT INT TERM

for _ in $(seq 1 300); do
  [ -f "$kubeconfig" ] && break
  kill -0 $server 2>/dev/null || { echo "demo: the test cluster exited early" >&2; exit 1; }
  sleep 0.1
done
[ -f "$kubeconfig" ] || { echo "demo: the test cluster did not become ready" >&2; exit 1; }

export KUBECONFIG="$kubeconfig"
kubectl create namespace demo >/dev/null
kubectl label namespace ns-1 ecr-daemon.io/enabled=true >/dev/null
kubectl -n ns-2 patch serviceaccount default -p '{"imagePullSecrets":[{"name":"team-registry"}]}' >/dev/null

cat <<MSG

The test cluster is serving. In another terminal:

  export KUBECONFIG=$kubeconfig
  kubectl get ns --show-labels
  kubectl get secrets -A
  kubectl label ns demo ecr-daemon.io/enabled=true
  kubectl get sa -n ns-2 -o yaml        # a ServiceAccount that already holds another pull secret

Ctrl-C stops it.
MSG
wait $server
