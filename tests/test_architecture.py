"""The layering of docs/ARCHITECTURE.md "Packages and who may import whom", checked on the source.

webhooks → bot → (catalog, payments) → (config, storage, security).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webhooks", "bot", "catalog", "payments", "config", "storage", "security")
BOTTOM = {"config", "storage", "security"}
# what each package may import from the project
ALLOWED: dict[str, set[str]] = {
    "webhooks": {"webhooks", "bot", "catalog", "payments"} | BOTTOM,
    "bot": {"bot", "catalog", "payments"} | BOTTOM,
    "catalog": {"catalog"} | BOTTOM,
    "payments": {"payments", "catalog.money"} | BOTTOM,
    # the bottom layers know nothing of each other: each is usable on its own
    "config": {"config"},
    "storage": {"storage"},
    "security": {"security"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _violations(package: str) -> list[str]:
    allowed = ALLOWED[package]
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts and package == "webhooks":
            continue
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top not in PACKAGES:
                continue
            if not any(name == a or name.startswith(a + ".") for a in allowed):
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    return bad


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_one_way(package: str) -> None:
    assert _violations(package) == []


def test_the_checker_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from webhooks.app import create_app\nimport catalog.search\n")
    names = [name for _, name in _imports(bad)]
    assert names == ["webhooks.app.create_app", "catalog.search"]
    assert not any(n.startswith(a) for n in names[:1] for a in ALLOWED["bot"])


def test_only_settings_reads_the_environment() -> None:
    offenders = []
    for package in ("bot", "catalog", "payments", "config", "storage", "security"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "settings.py":
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "getenv(" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
