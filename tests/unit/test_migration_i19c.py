"""The receipts migration: ``invoices`` and ``invoice_counters`` exactly as the models
declare them, and a clean downgrade. (PostgreSQL runs it in every test that uses a fresh
database: tests/unit/test_receipts.py issues invoices there.)"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from webhooks.migrate import alembic_config, upgrade

TABLES = {"invoices", "invoice_counters"}


def _names(diff: object) -> set[str]:
    """The tables one autogenerate diff is about."""
    found: set[str] = set()
    for part in diff if isinstance(diff, tuple | list) else (diff,):
        if isinstance(part, tuple | list):
            found |= _names(part)
        for obj in (part, getattr(part, "table", None)):
            name = getattr(obj, "name", None)
            if isinstance(name, str):
                found.add(name)
        if isinstance(part, str):
            found.add(part)
    return found


def test_the_tables_match_the_models_and_go_away_on_downgrade(tmp_path: Path) -> None:
    from sqlmodel import SQLModel

    import payments.models  # noqa: F401 (registers the tables)

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) >= TABLES
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert [d for d in diffs if TABLES & _names(d)] == []
        command.downgrade(alembic_config(url), "0006_i17c")
        with engine.connect() as conn:
            assert not TABLES & set(sa.inspect(conn).get_table_names())
            assert "orders" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
