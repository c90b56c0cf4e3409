#!/usr/bin/env bash
# The fault soak (docs/RELIABILITY.md): the suite's fault tests, each scenario repeated
# HAAT_FAULT_ROUNDS times (default 10), then the summed counts per scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export HAAT_FAULT_ROUNDS=${HAAT_FAULT_ROUNDS:-10}
export HAAT_FAULT_REPORT=${HAAT_FAULT_REPORT:-$(mktemp -t haat-faults.XXXXXX)}
: > "$HAAT_FAULT_REPORT"
started=$(date +%s)
"$BIN/pytest" -q -p no:cacheprovider tests/unit/test_storage_faults.py tests/e2e/test_faults.py \
    tests/e2e/test_reliability.py -k "fault or lock or full or poison or mark_sent or partner or sigkill or sigstop or overloaded or mix"
echo "rounds per scenario: $HAAT_FAULT_ROUNDS, $(( $(date +%s) - started )) s"
"$BIN/python" -m tests.faults_report "$HAAT_FAULT_REPORT"
