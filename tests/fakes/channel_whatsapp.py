"""How the channel contract suites feed the Cloud API: its fixtures (``cloud_*``, and the
on-premises 360dialog shape ``onprem360_*``) are webhook bodies, sent as they are."""

from __future__ import annotations

from pathlib import Path

FIXTURE_PREFIXES = ("cloud_", "onprem360_")


def fixture_body(path: Path) -> bytes:
    return path.read_bytes()
