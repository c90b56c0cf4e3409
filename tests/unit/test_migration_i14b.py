"""Issue 14's migration: amounts already stored survive the move to exact wide columns, on
PostgreSQL (ALTER … TYPE NUMERIC(40,0)) and SQLite (batch mode), and it downgrades cleanly."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.amounts import minor
from storage.database import WriteSet, open_database
from tests.conftest import _pg_admin
from tests.localhost import free_port
from webhooks.migrate import upgrade

AMOUNT_COLUMNS = {
    ("orders", "total_minor"), ("orders", "subtotal_minor"), ("order_lines", "unit_price_minor"),
    ("payment_requests", "captured_minor"), ("provider_events", "amount_minor"),
    ("refunds", "amount_minor"), ("ledger_entries", "amount_minor"),
    ("sandbox_requests", "amount_minor"), ("sandbox_refunds", "amount_minor"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite'}"
        return
    server: str = request.getfixturevalue("postgres_url")
    name = f"m{os.getpid()}_{free_port()}"
    _pg_admin(server, f'CREATE DATABASE "{name}"')
    yield server.rsplit("/", 1)[0] + f"/{name}"
    _pg_admin(server, f'DROP DATABASE "{name}" WITH (FORCE)')


async def _ledger(url: str, value: int | None = None) -> list[int]:
    db = open_database(url)
    await db.start()
    try:
        if value is not None:
            writes = WriteSet()
            writes.add("INSERT INTO ledger_entries (shop_id, ref, account, amount_minor, "
                       "currency, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       ("s", f"r{value}", "a", value, "INR", 1))
            await db.write(writes)
        rows = await db.fetchall("SELECT amount_minor FROM ledger_entries ORDER BY id")
        return [minor(v) for (v,) in rows]
    finally:
        await db.close()


async def test_stored_amounts_survive_the_migration_both_ways(empty_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_url, "0001")
    assert await _ledger(empty_url, -2_000_000_000) == [-2_000_000_000]  # an int32 credit
    await asyncio.to_thread(upgrade, empty_url, "0002_i14b")
    assert await _ledger(empty_url, 5 * 10**10) == [-2_000_000_000, 5 * 10**10]
    assert await _ledger(empty_url, -(10**30)) == [-2_000_000_000, 5 * 10**10, -(10**30)]
    if empty_url.startswith("postgresql"):
        import asyncpg

        conn = await asyncpg.connect(empty_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch(
                "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale "
                "FROM information_schema.columns WHERE column_name LIKE '%\\_minor'")
        finally:
            await conn.close()
        found = {(r["table_name"], r["column_name"]): (r["data_type"], r["numeric_precision"],
                                                        r["numeric_scale"]) for r in rows}
        for column in AMOUNT_COLUMNS:
            assert found[column] == ("numeric", 40, 0), column
    from alembic import command

    from webhooks.migrate import alembic_config

    # down again: 0001's ledger column was 32 bits (PostgreSQL refuses, loudly, to squeeze a
    # bigger value into it), so remove those first; the rest comes back unchanged
    db = open_database(empty_url)
    await db.start()
    writes = WriteSet()
    for value in (-(10**30), 5 * 10**10):
        writes.add("DELETE FROM ledger_entries WHERE ref = ?", (f"r{value}",))
    await db.write(writes)
    await db.close()
    await asyncio.to_thread(command.downgrade, alembic_config(empty_url), "0001")
    assert await _ledger(empty_url) == [-2_000_000_000]
