#!/usr/bin/env bash
# README command 2: set up what is missing, then run the whole test suite.
# Extra arguments go to vitest (e.g. a path filter). Writes a JSON report to $TBUILD_TEST_REPORT if set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
args=(run)
if [ -n "${TBUILD_TEST_REPORT:-}" ]; then
  args+=(--reporter=default --reporter=json --outputFile.json="$TBUILD_TEST_REPORT")
fi
exec npx --no-install vitest "${args[@]}" "$@"
