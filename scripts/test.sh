#!/usr/bin/env bash
# Everything the test suite needs, then lint, types and tests. Called by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/system-deps.sh
echo "== Rasa 3.6 (Python 3.10, its own venv) for the real-Rasa tests"
bash scripts/rasa-setup.sh

echo "== ruff";  $BIN/ruff check .
echo "== mypy";  $BIN/mypy
echo "== pytest"
$BIN/pytest -p no:cacheprovider "$@"
