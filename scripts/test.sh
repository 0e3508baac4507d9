#!/usr/bin/env bash
# Runs the whole test suite: installs the real tools the tests drive, builds, tests,
# and ends with one line: "tests: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/tools.sh
export PATH="$root/.tools/bin:$PATH"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

results="$root/TestResults"
rm -rf "$results"
mkdir -p "$results"

dotnet test EcrDaemon.sln -c Release --logger "trx" --results-directory "$results" "$@"
rc=$?

read -r passed failed < <(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = 0
for f in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is not None:
        passed += int(c.get("passed", 0))
        failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
print(passed, failed)
PY
)
if [ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then
  # The build or the test host failed before any result was written.
  failed=$(( ${failed:-0} + 1 ))
fi
if [ "${passed:-0}" -eq 0 ] && [ "${failed:-0}" -eq 0 ]; then
  echo "no tests ran" >&2
  failed=1
fi
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
[ "$rc" -eq 0 ] && [ "${failed:-0}" -eq 0 ]
