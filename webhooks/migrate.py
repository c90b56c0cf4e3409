"""Apply Alembic migrations programmatically (``haat db upgrade``, start of ``haat serve``)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from storage.database import is_sqlite, sqlite_path, sync_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision, read from the migration files (no Alembic import needed)."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = re.search(r"^revision: str = ['\"]([^'\"]+)['\"]", text, re.M)
        down = re.search(r"^down_revision: .*= (?:['\"]([^'\"]+)['\"]|None)", text, re.M)
        if rev:
            revisions[rev.group(1)] = down.group(1) if down else None
    parents = {d for d in revisions.values() if d}
    heads = [r for r in revisions if r not in parents]
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {heads}")
    return heads[0]


def sqlite_at_head(database_url: str) -> bool:
    """True when an SQLite database already has the newest schema (the usual start-up)."""
    if not is_sqlite(database_url):
        return False
    path = sqlite_path(database_url)
    if path == ":memory:" or not Path(path).exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == head_revision()


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; skips Alembic when SQLite is already at head."""
    if revision == "head" and sqlite_at_head(database_url):
        return
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def upgrade_in_child(database_url: str) -> None:
    """:func:`upgrade` for a long-running server: Alembic, SQLAlchemy and sqlmodel (~34 MB
    of imports the server never needs again) load in a short-lived child process. The URL
    goes over stdin, never argv, where a password would show in the process list."""
    if sqlite_at_head(database_url):
        return
    done = subprocess.run([sys.executable, "-m", "webhooks.migrate"],
                          input=database_url.encode(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"database migration failed (exit {done.returncode})")


def revision(database_url: str, message: str) -> None:
    """Developer helper: autogenerate a migration from the sqlmodel tables."""
    from alembic import command

    command.revision(alembic_config(database_url), message=message, autogenerate=True)


if __name__ == "__main__":
    upgrade(sys.stdin.read().strip())
