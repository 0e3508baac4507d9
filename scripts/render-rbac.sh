#!/usr/bin/env bash
# Writes the chart's RBAC (ServiceAccount, ClusterRole, ClusterRoleBinding), as `helm template`
# renders it with the default values for release "ecr-daemon" in namespace "ecr-daemon", to the file
# the integration tests and the benchmark load into the test cluster. A test fails when the file and
# the chart differ. For other values (e.g. profiles with other secret names) tests render it with
# HelmChart.RbacAsync / RbacForSecretNamesAsync, and scripts/demo.sh with helm template.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm="$(command -v helm || echo "$root/.tools/bin/helm")"
"$helm" template ecr-daemon "$root/helm/ecr-daemon" --namespace ecr-daemon \
  --show-only templates/serviceaccount.yaml --show-only templates/clusterrole.yaml \
  > "$root/tests/EcrDaemon.Tests/Daemon/daemon-rbac.yaml"
