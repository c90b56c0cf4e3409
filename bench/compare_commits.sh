#!/usr/bin/env bash
# Two commits of haat on the same interpreter, alternating, so the box's drift hits both alike:
#   bash bench/compare_commits.sh BASE [HEAD=HEAD] [ROUNDS=3] [SECONDS=20] [--postgres]
# Each commit is checked out (detached) under /tmp/haat-commit-<sha> with its own .venv built
# by its own Makefile; each round runs bare aiohttp and haat (one process) on both, each with
# that commit's own harness. Read the "vs bare" column: it is measured seconds apart.
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(git rev-parse --short "${1:?usage: compare_commits.sh BASE [HEAD] [ROUNDS] [SECONDS]}")
head=$(git rev-parse --short "${2:-HEAD}")
rounds=${3:-3}
seconds=${4:-20}
extra=${5:-}
for rev in "$base" "$head"; do
  dir="/tmp/haat-commit-$rev"
  if [ ! -d "$dir" ]; then
    git worktree add --detach --quiet "$dir" "$rev"
  fi
  [ -x "$dir/.venv/bin/haat" ] || make -C "$dir" --quiet install >/dev/null
done
for round in $(seq "$rounds"); do
  for rev in "$base" "$head"; do
    echo "== round $round: $rev"
    (cd "/tmp/haat-commit-$rev" && .venv/bin/python -m bench --only bare,haat --workers 1 \
        --duration "$seconds" --no-record $extra | grep -E '^\| (bare aiohttp|haat \()')
  done
done
