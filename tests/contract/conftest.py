"""Fixtures of the contract tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.database import open_database
from tests.contract.money_env import T0, Env
from tests.fakes.psp import ScriptedPsp


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    db = open_database(database_url)
    await db.start()
    clock = [T0]
    psp = ScriptedPsp()
    base = Env(db, psp, None, clock)  # type: ignore[arg-type]
    yield base.restart()
    await db.close()
