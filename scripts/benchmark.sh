#!/usr/bin/env bash
# The scale benchmark (issue 8; results in docs/benchmarks.md). Publishes the daemon exactly as the
# image does (scripts/publish.sh), then runs tests/EcrDaemon.Benchmarks against it: the daemon as
# its own process, the test cluster and the ECR stand-in in the benchmark's. About 25 minutes with
# the defaults; the tables go to stdout and to out/benchmark/results.md, daemon logs to out/benchmark/logs.
#
#   bash scripts/benchmark.sh [options]      e.g. --namespaces 100,1000 --steady 60; --help lists them
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

bench=tests/EcrDaemon.Benchmarks/bin/Release/net10.0/EcrDaemon.Benchmarks.dll
for arg in "$@"; do
  if [[ "$arg" == "--help" || "$arg" == "-h" ]]; then   # the usage only; the last results stay
    dotnet build tests/EcrDaemon.Benchmarks -c Release -v quiet -nologo >/dev/null
    exec dotnet "$bench" --help
  fi
done

bash scripts/tools.sh
export PATH="$root/.tools/bin:$PATH"
out="$root/out/benchmark"
rm -rf "$out"
mkdir -p "$out"
bash scripts/publish.sh "$out/daemon" >/dev/null
dotnet build tests/EcrDaemon.Benchmarks -c Release -v quiet -nologo >/dev/null
dotnet "$bench" \
  --daemon "$out/daemon/EcrDaemon" --work "$out/logs" "$@" | tee "$out/results.md"
