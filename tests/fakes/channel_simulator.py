"""The simulator is our own JSON: it has no third-party fixtures (tests/e2e/test_simulator.py
drives it)."""

from __future__ import annotations

from pathlib import Path

FIXTURE_PREFIXES: tuple[str, ...] = ()


def fixture_body(path: Path) -> bytes:
    return path.read_bytes()
