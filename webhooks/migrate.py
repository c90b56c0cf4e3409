"""Apply Alembic migrations programmatically (``haat db upgrade``, start of ``haat serve``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from config.database import sync_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    """Developer helper: autogenerate a migration from the sqlmodel tables."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
