#!/usr/bin/env bash
# Publishes the daemon: the one publish command, used by the Dockerfile (`bash scripts/publish.sh /app`)
# and by the test that checks the published output (tests/EcrDaemon.Tests/Commands/PublishedOutputTests.cs),
# so CI runs the very command the image is built with.
#
#   bash scripts/publish.sh [OUTPUT_DIR]     default: out/publish (in the repository); a relative
#                                            OUTPUT_DIR is taken from the caller's directory
#
# Framework-dependent (the runtime comes from the aspnet base image), with the EcrDaemon apphost
# so that the image's entry point is /app/EcrDaemon.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/out/publish}"
[[ "$out" = /* ]] || out="$PWD/$out"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet publish src/EcrDaemon/EcrDaemon.csproj -c Release -o "$out" --no-self-contained -p:UseAppHost=true
