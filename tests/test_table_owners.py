"""One owner per table: only its repository module writes or reads a table's rows.

The SQL of the hot path is plain statements (storage/database.py), so ownership is checked
on the source: every string literal that names a table after INSERT INTO, UPDATE, DELETE
FROM, FROM or JOIN must sit in that table's owner. The tables come from the sqlmodel
metadata, so a new table without an owner fails here too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("webhooks", "bot", "catalog", "payments", "config", "storage", "security")
OWNERS = {
    "conversations": "bot/state.py",
    "inbound_messages": "bot/engine.py",
    "outbound_messages": "bot/outgoing.py",
    "stock_levels": "bot/inventory.py",
    "scheduled_jobs": "storage/jobs.py",
    "meta_catalog_items": "bot/catalog_sync.py",
    **dict.fromkeys(("orders", "order_lines", "payment_requests", "provider_events", "refunds",
                     "ledger_entries", "order_counters"), "payments/repository.py"),
    **dict.fromkeys(("invoices", "invoice_counters"), "payments/invoices.py"),
    # the sandbox PSP's own side, as a real PSP keeps it
    **dict.fromkeys(("sandbox_requests", "sandbox_events", "sandbox_refunds"),
                    "payments/providers/sandbox.py"),
}
_SQL = re.compile(r"\b(?:INSERT INTO|REPLACE INTO|UPDATE|DELETE FROM|FROM|JOIN)\s+(\w+)")


def _tables() -> set[str]:
    from sqlmodel import SQLModel

    import bot.models  # noqa: F401 (registers its tables)
    import payments.models
    import payments.providers.sandbox_tables  # noqa: F401 (registers its tables)

    return set(SQLModel.metadata.tables)


def _uses(path: Path, tables: set[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.extend((node.lineno, name) for name in _SQL.findall(node.value)
                         if name in tables)
    return found


def _strays(root: Path, tables: set[str]) -> list[str]:
    strays: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            where = path.relative_to(root).as_posix()
            strays.extend(f"{where}:{line}: {table} belongs to {OWNERS.get(table)}"
                          for line, table in _uses(path, tables)
                          if OWNERS.get(table) != where)
    return strays


def test_every_table_has_an_owner() -> None:
    assert _tables() - set(OWNERS) == set()
    assert set(OWNERS) - _tables() == set()


def test_only_the_owner_touches_a_table() -> None:
    assert _strays(ROOT, _tables()) == []


def test_the_scan_finds_a_stray_statement(tmp_path: Path) -> None:
    (tmp_path / "webhooks").mkdir()
    (tmp_path / "webhooks" / "bad.py").write_text(
        'SQL = ("UPDATE outbound_messages SET status = ? "\n       "WHERE id = ?")\n'
        'READ = f"SELECT {1} FROM payment_requests p JOIN orders o ON o.id = p.order_id"\n'
        'FINE = "ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at"\n')
    assert _strays(tmp_path, _tables()) == [
        "webhooks/bad.py:1: outbound_messages belongs to bot/outgoing.py",
        "webhooks/bad.py:3: payment_requests belongs to payments/repository.py",
        "webhooks/bad.py:3: orders belongs to payments/repository.py",
    ]
