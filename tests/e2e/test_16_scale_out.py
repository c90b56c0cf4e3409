"""Issue 16: several servers on one PostgreSQL start together and keep one truth."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.state import SqlStateStore
from config.clock import Clock
from config.settings import Settings
from tests.conftest import AiohttpClient
from tests.e2e.cluster import empty_database, ready, start_server
from tests.e2e.conftest import ADDRESS, ADMIN, SIM, open_shop, start_live
from tests.localhost import free_port
from webhooks.keys import DB, ENGINE


async def test_three_servers_started_at_once_on_a_fresh_database_all_come_up(
        tmp_path: Path, postgres_url: str, settings: Settings) -> None:
    # the migration runs in each server's start-up; without the advisory lock two of the
    # three died with a duplicate key in pg_type (issue 16)
    shop = open_shop(tmp_path, settings)
    async with empty_database(postgres_url, f"start{os.getpid()}_{free_port()}") as url:
        env = {"HAAT_DATABASE_URL": url, "HAAT_SHOP_DIR": str(shop), "HAAT_MODEL_CACHE": "",
               "HAAT_SIMULATOR_TOKEN": "start-token", "HAAT_OUTBOX_SENDER": "inline"}
        servers = [start_server(tmp_path, f"s{n}", env) for n in range(3)]
        try:
            await asyncio.gather(*(ready(s.url, s.proc, s.log) for s in servers))
            assert all(s.proc.poll() is None for s in servers)
        finally:
            for server in servers:
                server.kill()


# ---- two servers in one test process, sharing one PostgreSQL ---------------------------
# Each create_app is a whole server (its own engine, pool, stores, counters): nothing is
# shared between the two but the database, as between two hosts.


async def _say(client: TestClient[Any, Any], phone: str, message_id: str,
               text: str | None = None, *, button: str | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"from": phone, "id": message_id}
    if text is not None:
        body["text"] = text
    if button is not None:
        body["button"] = button
    response = await client.post("/webhooks/simulator", json=body, headers=SIM)
    assert response.status == 200, await response.text()
    replies: list[dict[str, Any]] = (await response.json())["replies"]
    return replies


def _text(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


async def _orders(client: TestClient[Any, Any], phone: str) -> list[dict[str, Any]]:
    response = await client.get("/api/orders", params={"customer": phone}, headers=ADMIN)
    assert response.status == 200
    orders: list[dict[str, Any]] = (await response.json())["orders"]
    return orders


@pytest.fixture
async def two_servers(aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
                      fresh_postgres: str) -> tuple[TestClient[Any, Any], TestClient[Any, Any]]:
    shared = settings.with_(database_url=fresh_postgres)
    first = await start_live(aiohttp_client, shared, clock)
    second = await start_live(aiohttp_client, shared, clock)
    return first, second


async def test_one_shopper_spread_over_two_servers_keeps_one_cart_and_one_order(
        two_servers: tuple[TestClient[Any, Any], TestClient[Any, Any]]) -> None:
    a, b = two_servers
    phone = "+919000001601"
    await _say(a, phone, "m1", "2 samosa")
    await _say(b, phone, "m2", "1 biscuit")
    await _say(a, phone, "m2", "1 biscuit")  # a redelivery, to the other server: no change
    await _say(a, phone, "m3", "1 kachori")
    cart = _text(await _say(b, phone, "m4", "cart"))
    assert "2 × Samosa" in cart and "1 × Butter Biscuits" in cart and "1 × Kachori" in cart, cart
    await _say(a, phone, "m5", "checkout")
    replies = await _say(b, phone, "m6", ADDRESS)
    assert "confirm" in [x["payload"] for r in replies for x in r.get("buttons", [])], replies
    await _say(a, phone, "m7", button="confirm")
    await _say(b, phone, "m7", button="confirm")  # redelivered: the same order, no second
    (order,) = await _orders(b, phone)
    assert {line["sku"]: line["quantity"] for line in order["lines"]} == {
        "SAMOSA": 2, "BISCUITS": 1, "KACHORI": 1}


async def test_a_change_through_the_other_server_between_two_turns_is_seen(
        two_servers: tuple[TestClient[Any, Any], TestClient[Any, Any]]) -> None:
    # each server keeps the conversation it last saved and skips decoding a row that
    # reads back unchanged (bot/state.py); a row the other server changed must be decoded
    a, b = two_servers
    store_a = a.app[ENGINE].store
    assert isinstance(store_a, SqlStateStore) and store_a.shared
    phone = "+919000001651"
    await _say(a, phone, "c1", "2 samosa")
    decoded = store_a.decoded
    assert "2 × Samosa" in _text(await _say(a, phone, "c2", "cart"))
    assert store_a.decoded == decoded  # its own save, read back: not decoded again
    await _say(b, phone, "c3", "1 kachori")  # between two of a's turns
    cart = _text(await _say(a, phone, "c4", "cart"))
    assert "2 × Samosa" in cart and "1 × Kachori" in cart, cart
    assert store_a.decoded == decoded + 1
    await _say(b, phone, "c5", "remove samosa")
    cart = _text(await _say(a, phone, "c6", "cart"))
    assert "Samosa" not in cart and "1 × Kachori" in cart, cart


async def test_order_numbers_from_two_servers_never_collide(
        two_servers: tuple[TestClient[Any, Any], TestClient[Any, Any]]) -> None:
    # a number cached by the second server falls three behind while the first takes
    # orders: a per-process counter then collided on every retry of the turn
    a, b = two_servers
    ids: list[str] = []
    for n, server in enumerate((b, a, a, a, b)):
        phone = f"+91900000170{n}"
        await _say(server, phone, f"{phone}-1", "2 samosa")
        await _say(server, phone, f"{phone}-2", "checkout")
        await _say(server, phone, f"{phone}-3", ADDRESS)
        await _say(server, phone, f"{phone}-4", button="confirm")
        (order,) = await _orders(a, phone)
        ids.append(order["id"])
    assert ids == ["ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005"]


async def test_two_servers_confirming_the_last_unit_at_once_sell_it_once(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        fresh_postgres: str, tmp_path: Path) -> None:
    shop = tmp_path / "last-unit"
    shutil.copytree(settings.shop_dir, shop, ignore=shutil.ignore_patterns("*.db*"))
    catalog = (shop / "catalog.yaml").read_text(encoding="utf-8")
    fish = catalog.index("sku: FISH-FRY")
    stock = catalog.index("stock: 8", fish)
    (shop / "catalog.yaml").write_text(catalog[:stock] + "stock: 1" + catalog[stock + 8:],
                                       encoding="utf-8")
    shared = settings.with_(database_url=fresh_postgres, shop_dir=shop)
    a = await start_live(aiohttp_client, shared, clock)
    b = await start_live(aiohttp_client, shared, clock)
    buyers = ("+919000001801", "+919000001802")
    for phone, server in zip(buyers, (a, b), strict=True):
        await _say(server, phone, f"{phone}-1", "1 fish fry")
        await _say(server, phone, f"{phone}-2", "checkout")
        replies = await _say(server, phone, f"{phone}-3", ADDRESS)
        assert "confirm" in [x["payload"] for r in replies for x in r.get("buttons", [])]
    answers = await asyncio.gather(_say(a, buyers[0], f"{buyers[0]}-4", button="confirm"),
                                   _say(b, buyers[1], f"{buyers[1]}-4", button="confirm"))
    placed = [await _orders(a, phone) for phone in buyers]
    assert sorted(len(orders) for orders in placed) == [0, 1], answers
    loser = answers[[len(orders) for orders in placed].index(0)]
    assert "sold out" in _text(loser) or "only 0" in _text(loser), loser
    held = await a.app[DB].fetchone(
        "SELECT held FROM stock_levels WHERE sku = ?", ("FISH-FRY",))
    assert held == (1,)
