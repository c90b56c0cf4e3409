#!/usr/bin/env bash
# Everything the test suite needs, then lint, types and tests. Called by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/system-deps.sh
# Rasa 3.6 (Python 3.10, its own venv) is installed and its model trained in the background
# while lint, types and the first tests run: minutes off the wall time. The real-Rasa
# fixture (tests/e2e/test_rasa_real.py) calls the same two scripts, which wait on their
# locks and then find the work done; if the background attempt failed, the fixture's own
# attempt fails the test with the reason.
echo "== Rasa 3.6 for the real-Rasa tests: installing and training in the background"
mkdir -p .rasa-models
setsid bash -c 'bash scripts/rasa-setup.sh && bash scripts/rasa-serve.sh --train-only' \
    > .rasa-models/warm.log 2>&1 &
WARM=$!
trap 'kill -- -$WARM 2>/dev/null || true' EXIT   # its own process group: nothing left behind

echo "== ruff";  $BIN/ruff check .
echo "== mypy";  $BIN/mypy
# two pytest-xdist workers: much of the suite waits on servers it starts (haat serve,
# PostgreSQL, Rasa, Chromium), so two halve the wall time on two cores; each worker has its
# own throwaway PostgreSQL cluster. --dist loadgroup spreads single tests, except that a
# module marked xdist_group (the real Rasa server) stays on one worker, in order.
PARALLEL=(-n "${HAAT_TEST_WORKERS:-2}" --dist loadgroup)
echo "== pytest (SQLite; tests that take database_url or postgres_url run on PostgreSQL too)"
$BIN/pytest -p no:cacheprovider "${PARALLEL[@]}" "$@"
# the second pass: every test that stores through the settings fixture, again on a throwaway
# PostgreSQL server (tests/conftest.py: selected_backend); skip it with HAAT_TEST_PASSES=sqlite
if [ "${HAAT_TEST_PASSES:-both}" != "sqlite" ]; then
    echo "== pytest (PostgreSQL: the tests that store through settings)"
    HAAT_TEST_DATABASE=postgres $BIN/pytest -p no:cacheprovider "${PARALLEL[@]}" "$@"
fi
