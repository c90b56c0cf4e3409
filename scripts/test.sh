#!/usr/bin/env bash
# Everything the test suite needs, then lint, types and tests. Called by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/system-deps.sh

echo "== ruff";  $BIN/ruff check .
echo "== mypy";  $BIN/mypy
echo "== pytest"
$BIN/pytest -p no:cacheprovider "$@"
