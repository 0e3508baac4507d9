#!/usr/bin/env bash
# Starts a demo on a bare machine: no cluster and no AWS account needed.
set -euo pipefail
echo "demo: not implemented yet" >&2
exit 1
