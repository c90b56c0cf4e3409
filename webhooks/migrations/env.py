"""Alembic environment: the URL comes from the caller (haat db upgrade), never a file."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config
from sqlmodel import SQLModel

import bot.models
import payments.models
import payments.providers.sandbox_tables

# the tables register themselves on import
assert bot.models and payments.models and payments.providers.sandbox_tables
target_metadata = SQLModel.metadata
config = context.config


# pg_advisory_xact_lock key for the schema upgrade ("haat" in ASCII): one process migrates,
# every other one starting at the same moment waits here, then finds the schema at head
MIGRATION_LOCK = 0x68616174


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # transaction-scoped (PgBouncer's transaction mode allows it), taken before
            # Alembic reads alembic_version, so a waiter reads the winner's committed head
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()


async def _run_async() -> None:
    engine = async_engine_from_config(config.get_section(config.config_ini_section) or {},
                                      prefix="sqlalchemy.", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    if "+asyncpg" in url or "+aiosqlite" in url:
        asyncio.run(_run_async())
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {},
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
