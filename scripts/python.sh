#!/usr/bin/env bash
# Prints the Python the Makefile builds .venv on (override: `make PYTHON=/path/to/python3`).
#
# The distribution's own interpreter comes first: Debian ships /usr/bin/python3.11 with
# libpython linked into the executable, while pyenv's (first on PATH as `python3` on our
# machines) is a plain `--enable-shared` build without `--enable-optimizations`. On this
# project's 2-core machine the same code answered a median 17 % more messages per second on
# Debian's (docs/BENCHMARKS.md, "Which Python").
set -euo pipefail
for candidate in /usr/bin/python3.11 /usr/local/bin/python3.11; do
  if [ -x "$candidate" ] && "$candidate" -c 'import ensurepip, venv' 2>/dev/null; then
    echo "$candidate"
    exit 0
  fi
done
echo python3
