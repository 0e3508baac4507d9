#!/usr/bin/env bash
# Publishes the daemon: the one publish command, used by the Dockerfile (`bash scripts/publish.sh /app`),
# by the test that checks the published output (tests/EcrDaemon.Tests/Commands/PublishedOutputTests.cs)
# and by scripts/benchmark.sh, so CI runs the very command the image is built with.
#
#   bash scripts/publish.sh [OUTPUT_DIR]         Native AOT (the default, what the image ships)
#   bash scripts/publish.sh --jit [OUTPUT_DIR]   today's JIT build, for side-by-side benchmarks
#   ECRDAEMON_PUBLISH=jit bash scripts/publish.sh [OUTPUT_DIR]   the same as --jit
#
#   OUTPUT_DIR: default out/publish (out/publish-jit with --jit), in the repository; a relative
#   OUTPUT_DIR is taken from the caller's directory.
#
# Native AOT (linux-x64): one self-contained native executable, OUTPUT_DIR/EcrDaemon, that needs
# no .NET runtime (the image's base is runtime-deps). It links with the C toolchain scripts/tools.sh
# installs (clang; the runtime pack brings its own zlib); the first publish on a machine also restores the ILCompiler package
# and the NativeAOT runtime pack (see "Building and publishing" in README.md for the version pin).
# Only the executable (and appsettings.json, which the daemon reads from its own directory) is
# copied to OUTPUT_DIR; the debug symbols (EcrDaemon.dbg) stay in the intermediate directory.
#
# JIT: framework-dependent, with the EcrDaemon apphost (OUTPUT_DIR/EcrDaemon + EcrDaemon.dll), run on
# an installed .NET runtime (DOTNET_ROOT), as the image was before Native AOT.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${ECRDAEMON_PUBLISH:-aot}"
if [ "${1:-}" = "--jit" ]; then
  mode=jit
  shift
elif [ "${1:-}" = "--aot" ]; then
  mode=aot
  shift
fi
case "$mode" in
  aot) default_out="$root/out/publish" ;;
  jit) default_out="$root/out/publish-jit" ;;
  *) echo "publish.sh: unknown mode '$mode' (aot or jit)" >&2; exit 2 ;;
esac
out="${1:-$default_out}"
[[ "$out" = /* ]] || out="$PWD/$out"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ "$mode" = jit ]; then
  dotnet publish src/EcrDaemon/EcrDaemon.csproj -c Release -o "$out" --no-self-contained -p:UseAppHost=true -p:PublishAot=false
  exit 0
fi

# The ILCompiler looks for `clang` and falls back to gcc; say which linker the publish will use.
if ! command -v clang >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
  echo "publish.sh: no clang (or gcc) on PATH: the Native AOT link needs one; run scripts/tools.sh" >&2
  exit 1
fi
# Its own intermediate directory, so that a JIT build of the same project does not share obj/bin with it.
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
dotnet publish src/EcrDaemon/EcrDaemon.csproj -c Release -r linux-x64 -o "$staging" -p:PublishAot=true
mkdir -p "$out"
install -m 0755 "$staging/EcrDaemon" "$out/EcrDaemon"
if [ -f "$staging/appsettings.json" ]; then
  install -m 0644 "$staging/appsettings.json" "$out/appsettings.json"
fi
