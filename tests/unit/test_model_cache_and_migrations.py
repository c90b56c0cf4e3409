"""Start-up shortcuts must never change behaviour: the cached intent model and the
skipped migration check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.nlu.builtin import build_builtin, forget_trained_models, load_model
from tests.conftest import DEMO_SHOP
from webhooks.migrate import head_revision, sqlite_at_head, upgrade, upgrade_in_child
from webhooks.plugins import load_shop

SENTENCES = ["how much is masala chai", "২টা সিঙ্গারা দিন", "menu", "أريد ٣ شاي", "talk to a human"]


def test_a_cached_model_answers_exactly_like_the_trained_one(tmp_path: Path) -> None:
    shop = load_shop(DEMO_SHOP)
    forget_trained_models()
    trained = build_builtin(shop, cache_dir=tmp_path)
    files = list(tmp_path.glob("intent-*.bin"))
    assert len(files) == 1
    forget_trained_models()  # as in a new process
    loaded = build_builtin(shop, cache_dir=tmp_path)
    assert loaded.trained is not trained.trained
    for sentence in SENTENCES:
        assert loaded.classify(sentence) == trained.classify(sentence)


def test_a_damaged_model_file_is_ignored_and_retrained(tmp_path: Path) -> None:
    shop = load_shop(DEMO_SHOP)
    forget_trained_models()
    build_builtin(shop, cache_dir=tmp_path)
    path = next(tmp_path.glob("intent-*.bin"))
    path.write_bytes(path.read_bytes()[:-100])  # truncated
    assert load_model(path) is None
    forget_trained_models()
    again = build_builtin(shop, cache_dir=tmp_path)
    assert again.classify("menu")[0][0] == "browse_catalog"
    assert load_model(path) is not None  # rewritten whole


def test_sqlite_at_head_is_only_true_after_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert head_revision()  # the one head (the lead re-chains each branch's 0002_*)
    assert not sqlite_at_head(url)  # no file yet
    upgrade(url)
    assert sqlite_at_head(url)
    assert not sqlite_at_head("postgresql+asyncpg://x@127.0.0.1/db")  # always asks Alembic


def test_the_server_migrates_in_a_child_and_never_loads_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    script = (
        "import sys\n"
        "from webhooks.migrate import sqlite_at_head, upgrade_in_child\n"
        "upgrade_in_child(sys.argv[1])\n"
        "assert sqlite_at_head(sys.argv[1])\n"
        "loaded = [m for m in ('alembic', 'sqlalchemy', 'sqlmodel') if m in sys.modules]\n"
        "print('loaded:', loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, url], capture_output=True,  # noqa: S603
                          text=True, check=False, cwd=DEMO_SHOP.parent)
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout
    assert sqlite_at_head(url)


def test_a_failed_migration_in_the_child_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "not-a-db.db").write_text("this is not an SQLite file")
    with pytest.raises(RuntimeError, match="migration failed"):
        upgrade_in_child(f"sqlite:///{tmp_path / 'not-a-db.db'}")
