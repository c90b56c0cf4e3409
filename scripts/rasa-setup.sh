#!/usr/bin/env bash
# Create .rasa-venv/ (Python 3.10) with Rasa 3.6 for the real-Rasa tests and benchmark.
# Rasa 3.6 supports Python 3.8-3.10 only and pins libraries haat cannot share (SQLAlchemy 1.4,
# aiohttp 3.8, TensorFlow 2.12), so it lives in its own venv and haat talks to it over HTTP.
# Idempotent: a finished install leaves a stamp and re-runs return at once; concurrent runs
# take turns (a lock beside the venv).
# Env: RASA_VENV (default .rasa-venv), RASA_VERSION (default 3.6.21), RASA_PYTHON (a python3.10).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${RASA_VENV:-.rasa-venv}
VERSION=${RASA_VERSION:-3.6.21}
STAMP="$VENV/.installed-rasa-$VERSION"

fail() { echo "rasa-setup: $*" >&2; exit 1; }

if [[ -f "$STAMP" && -x "$VENV/bin/rasa" ]]; then
    exit 0
fi
# one install at a time: scripts/test.sh starts one in the background, and the real-Rasa
# test fixture calls this again; the second waits here, then finds the stamp
exec 9>"$VENV.lock"
flock 9
if [[ -f "$STAMP" && -x "$VENV/bin/rasa" ]]; then
    exit 0
fi

find_python() {
    if [[ -n "${RASA_PYTHON:-}" ]]; then echo "$RASA_PYTHON"; return; fi
    local p
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -rV); do
            p="$(pyenv prefix "$v" 2>/dev/null)/bin/python"
            [[ -x "$p" ]] && { echo "$p"; return; }
        done
    fi
    for p in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
        command -v "$p" >/dev/null 2>&1 && { command -v "$p"; return; }
    done
    return 1
}

PY=$(find_python) || fail "no Python 3.10 found (Rasa 3.6 needs 3.8-3.10): install one, e.g. 'pyenv install 3.10', or set RASA_PYTHON"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null \
    || fail "$PY is not Python 3.10"

LOG=$(mktemp -t rasa-setup.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT
run() {
    if ! "$@" >>"$LOG" 2>&1; then
        tail -n 40 "$LOG" | cut -c1-400 >&2
        fail "failed: $* (log above)"
    fi
}

if [[ ! -x "$VENV/bin/python" ]]; then
    run "$PY" -m venv "$VENV"
fi
run "$VENV/bin/pip" install --quiet --upgrade "pip<24.1" wheel
# rasa's own pins choose TensorFlow 2.12 (CPU) on Linux x86-64.
run "$VENV/bin/pip" install --quiet "rasa==$VERSION"
run "$VENV/bin/rasa" --version
touch "$STAMP"
echo "rasa-setup: rasa $VERSION ready in $VENV"
