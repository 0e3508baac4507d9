#!/usr/bin/env bash
# Writes the chart's RBAC (ServiceAccount, ClusterRole, ClusterRoleBinding), as `helm template`
# renders it for release "ecr-daemon" in namespace "ecr-daemon", to the file the integration tests
# and the demo load into the test cluster (--rbac). A test fails when the file and the chart differ.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm="$(command -v helm || echo "$root/.tools/bin/helm")"
"$helm" template ecr-daemon "$root/helm/ecr-daemon" --namespace ecr-daemon \
  --show-only templates/serviceaccount.yaml --show-only templates/clusterrole.yaml \
  > "$root/tests/EcrDaemon.Tests/Daemon/daemon-rbac.yaml"
