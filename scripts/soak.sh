#!/usr/bin/env bash
# The soak (README, "High availability") for as long as you like:
#   bash scripts/soak.sh [SECONDS]        (default 600; CI runs it for 100 within the suite)
# Installs the tools it needs (helm renders the chart's Deployment, whose probes the kubelet
# simulator runs) with scripts/tools.sh, builds, and runs SoakTests (the one-profile soak, then the
# three-profile one, each for SECONDS) with CI=true, so that a tool
# still missing fails the run instead of skipping it. Prints the soak's summary line and, on a
# failure, its diagnostics.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/soak.sh [SECONDS]   (a whole number of seconds of faults; default 600)" >&2
  exit 2
fi

bash scripts/tools.sh
export PATH="$root/.tools/bin:$PATH"
if ! command -v helm >/dev/null 2>&1; then
  echo "soak: helm is still missing after scripts/tools.sh; install it or put it on the PATH" >&2
  exit 1
fi

export CI=true ECR_DAEMON_SOAK_SECONDS="$seconds" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet test tests/EcrDaemon.Tests -c Release --filter "FullyQualifiedName~SoakTests" --logger "console;verbosity=detailed"
