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
echo "== pytest (SQLite; tests that take database_url or postgres_url run on PostgreSQL too)"
$BIN/pytest -p no:cacheprovider "$@"
# the second pass: every test that stores through the settings fixture, again on a throwaway
# PostgreSQL server (tests/conftest.py: selected_backend); skip it with HAAT_TEST_PASSES=sqlite
if [ "${HAAT_TEST_PASSES:-both}" != "sqlite" ]; then
    echo "== pytest (PostgreSQL: the tests that store through settings)"
    HAAT_TEST_DATABASE=postgres $BIN/pytest -p no:cacheprovider "$@"
fi
