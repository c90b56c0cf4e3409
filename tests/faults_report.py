"""Counts from the fault tests, for ``make faults`` (scripts/faults.sh) and docs/RELIABILITY.md.

``HAAT_FAULT_ROUNDS`` repeats each fault test's scenario (1 in the normal suite);
``HAAT_FAULT_REPORT`` names a file that collects one JSON line of counts per round.
``python -m tests.faults_report FILE`` sums them per test.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROUNDS = max(1, int(os.environ.get("HAAT_FAULT_ROUNDS", "1")))


def report(test: str, **counts: float) -> None:
    """Append one round's counts (lost, doubled, resent, answers by status, …)."""
    path = os.environ.get("HAAT_FAULT_REPORT")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"test": test, **counts}) + "\n")


def summarise(path: Path) -> str:
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rounds: dict[str, int] = defaultdict(int)
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        test = row.pop("test")
        rounds[test] += 1
        for key, value in row.items():
            if key.startswith("max_"):
                totals[test][key] = max(totals[test][key], value)
            else:
                totals[test][key] += value
    lines = []
    for test in sorted(totals):
        counts = ", ".join(f"{k}={v:g}" for k, v in sorted(totals[test].items()))
        lines.append(f"{test}: rounds={rounds[test]}, {counts}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1])))
