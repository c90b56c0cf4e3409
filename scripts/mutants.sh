#!/usr/bin/env bash
# Mutation testing of the trust paths (docs/TESTING.md, "Mutation"): mutmut 3, one scratch
# copy per module under .mutants/, niced. MODULES="payments/upi.py catalog/money.py"
# limits the run; MUTANTS_LANES (default 2) modules run side by side, each with MUTANTS_JOBS
# (default 4) mutmut children. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
# shellcheck disable=SC2086
exec "$BIN/python" scripts/mutants.py "${MUTANTS_COMMAND:-run}" ${MODULES:-}
