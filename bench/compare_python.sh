#!/usr/bin/env bash
# The same code on two CPython builds, alternating, so the box's drift hits both alike:
#   bash bench/compare_python.sh [ROUNDS=2] [SECONDS=15] [PYTHON_A] [PYTHON_B]
# Defaults: pyenv's python3.11 (a plain --enable-shared build) against Debian's
# /usr/bin/python3.11, the one scripts/python.sh picks. Each gets its own venv under
# /tmp/haat-python-<name>; each round runs bare aiohttp and haat (one process) on both.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
seconds=${2:-15}
a=${3:-$(PYENV_VERSION=3.11.7 pyenv which python3.11 2>/dev/null || echo python3)}
b=${4:-/usr/bin/python3.11}
venv_of() { echo "/tmp/haat-python-$(echo "$1" | tr -c 'A-Za-z0-9.\n' '_')"; }
for py in "$a" "$b"; do
  venv=$(venv_of "$py")
  if [ ! -x "$venv/bin/haat" ]; then
    "$py" -m venv "$venv" && "$venv/bin/pip" install --quiet -e '.[dev]'
  fi
done
for round in $(seq "$rounds"); do
  for py in "$a" "$b"; do
    venv=$(venv_of "$py")
    echo "== round $round: $py"
    "$venv/bin/python" -m bench --only bare,haat --workers 1 --duration "$seconds" --no-record \
      | grep -E '^\| (bare aiohttp|haat \(SQLite\)) '
  done
done
