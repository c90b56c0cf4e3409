"""Redeliveries are caught by the database, not only by a process's memory of recent ids.

Every other dedupe test hits the in-memory window (bot/engine.py ``RecentIds``) first. Here
the redelivery goes to a second app on the same database that never saw the first delivery
(started before it, so ``load_recent`` had nothing to load): only the inbound row's unique
guard can stop a second turn. A third, cold app then reads what is stored. Issue 20 found
that removing the guard went unnoticed.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import AiohttpClient, Shopper

PHONE = "+919000000041"


async def test_a_redelivery_to_a_second_app_on_the_same_database_is_not_a_second_turn(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        database_url: str) -> None:
    from webhooks.app import create_app
    from webhooks.keys import DB, METRICS

    shared = settings.with_(database_url=database_url)
    first: TestClient[Any, Any] = await aiohttp_client(create_app(shared, clock=clock))
    second: TestClient[Any, Any] = await aiohttp_client(create_app(shared, clock=clock))
    answer = await Shopper(first, PHONE).send("2 samosa", message_id="m1")
    again = await Shopper(second, PHONE).send("2 samosa", message_id="m1")
    assert again == answer  # the stored answer, replayed
    assert second.app[METRICS].duplicates == 1
    cold: TestClient[Any, Any] = await aiohttp_client(create_app(shared, clock=clock))
    cart = await Shopper(cold, PHONE).text_of("cart", message_id="m2")
    assert "2 × Samosa" in cart, cart
    assert "4 × Samosa" not in cart
    rows = await cold.app[DB].fetchall(
        "SELECT message_id FROM inbound_messages ORDER BY id")  # a fresh database
    assert [r[0] for r in rows] == ["m1", "m2"]
