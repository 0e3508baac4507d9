#!/usr/bin/env bash
# The scale benchmark (issue 8; results in docs/benchmarks.md). Publishes the daemon exactly as the
# image does (scripts/publish.sh), then runs tests/EcrDaemon.Benchmarks against it: the daemon as
# its own process, the test cluster and the ECR stand-in in the benchmark's. About 25 minutes with
# the defaults; the tables go to stdout and to out/benchmark/results.md, daemon logs to out/benchmark/logs.
#
#   bash scripts/benchmark.sh [options]            e.g. --namespaces 100,1000 --steady 60; --help lists them
#   bash scripts/benchmark.sh --compare [options]  today's JIT build and the Native AOT build side by side (issue 20):
#                                                  publishes both (`publish.sh --jit DIR` and `publish.sh DIR`), timing
#                                                  each, then runs the scale run at each N and an idle run once per build.
#                                                  Steady state 60 s unless --steady; about 25 minutes with the defaults
#                                                  (100, 1,000 and 10,000 namespaces), 12 with --namespaces 100,1000.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

bench=tests/EcrDaemon.Benchmarks/bin/Release/net10.0/EcrDaemon.Benchmarks.dll
compare=false
args=()
for arg in "$@"; do
  if [[ "$arg" == "--help" || "$arg" == "-h" ]]; then   # the usage only; the last results stay
    dotnet build tests/EcrDaemon.Benchmarks -c Release -v quiet -nologo >/dev/null
    exec dotnet "$bench" --help
  elif [[ "$arg" == "--compare" ]]; then
    compare=true
  else
    args+=("$arg")
  fi
done

bash scripts/tools.sh
export PATH="$root/.tools/bin:$PATH"
out="$root/out/benchmark"
rm -rf "$out"
mkdir -p "$out"

# Publishes one build into $out/LABEL with scripts/publish.sh ARGS..., from clean: from a copy of the sources without
# any bin or obj (so that neither build reuses the other's or an earlier build's output, and the working tree is left
# alone; NuGet packages come from the local cache), and appends its wall time to the program's arguments.
daemons=()
publish() {
  local label="$1"; shift
  local start end copy
  echo "benchmark: publishing $label from clean sources (scripts/publish.sh ${*:+$* }$out/$label)" >&2
  copy="$(mktemp -d)"
  tar -C "$root" --exclude=bin --exclude=obj -cf - src scripts Directory.Build.props Directory.Packages.props global.json .editorconfig | tar -C "$copy" -xf -
  start=$(date +%s.%N)
  bash "$copy/scripts/publish.sh" "$@" "$out/$label" >"$out/publish-$label.log" 2>&1 || { cat "$out/publish-$label.log" >&2; rm -rf "$copy"; exit 1; }
  end=$(date +%s.%N)
  rm -rf "$copy"
  daemons+=(--daemon "$label=$out/$label/EcrDaemon" --publish-seconds "$label=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')")
}

if $compare; then
  publish jit --jit
  publish aot
else
  bash scripts/publish.sh "$out/daemon" >/dev/null
  daemons=(--daemon "$out/daemon/EcrDaemon")
fi

dotnet build tests/EcrDaemon.Benchmarks -c Release -v quiet -nologo >/dev/null
dotnet "$bench" "${daemons[@]}" --work "$out/logs" ${args[@]+"${args[@]}"} | tee "$out/results.md"
