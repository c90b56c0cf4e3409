"""The foundation end to end: the real app, the simulator route, SQLite on disk."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import SIM_TOKEN, AiohttpClient, Shopper

AUTH = {"Authorization": f"Bearer {SIM_TOKEN}"}


async def test_greeting_names_the_shop_and_offers_the_menu(shopper: Shopper) -> None:
    replies = await shopper.send("hello")
    assert "Mitra Tea House" in replies[0]["text"]
    assert [b["payload"] for b in replies[0]["buttons"]] == ["menu"]


async def test_menu_then_category_lists_products_with_prices(shopper: Shopper) -> None:
    replies = await shopper.send("menu")
    rows = replies[0]["rows"]
    assert replies[0]["type"] == "list"
    assert len(rows) >= 5 and all(r["payload"].startswith("cat:") for r in rows)
    replies = await shopper.send(button=rows[0]["payload"])
    products = replies[0]["rows"]
    assert products and all(r["payload"].startswith("add:") for r in products)
    assert all("₹" in r["description"] for r in products)


async def test_price_question_in_four_languages(client: TestClient[Any, Any]) -> None:
    asks = {
        "+919000000011": ("how much is a samosa?", "₹"),
        "+919000000012": ("समोसा कितने का है?", "कीमत"),
        "+919000000013": ("সিঙ্গারা কত টাকা?", "দাম"),
        "+919000000014": ("كم سعر الشاي؟", "سعر"),
    }
    for phone, (question, word) in asks.items():
        text = await Shopper(client, phone).text_of(question)
        assert word in text and "₹" in text, (question, text)


async def test_adding_items_and_viewing_the_cart(shopper: Shopper) -> None:
    text = await shopper.text_of("2 samosa")
    assert "2 × Samosa" in text
    text = await shopper.text_of("cart")
    assert "2 × Samosa — ₹24.00" in text
    assert "Total" in text


async def test_an_option_is_asked_for_and_chosen_by_number(shopper: Shopper) -> None:
    replies = await shopper.send("1 masala chai")
    titles = [b["title"] for b in replies[-1]["buttons"]]
    assert any("Large" in t for t in titles)
    large = next(i for i, t in enumerate(titles, 1) if "Large" in t)
    text = await shopper.text_of(str(large))
    assert "Masala Chai (Large)" in text
    assert "₹30.00" in await shopper.text_of("show my cart")


async def test_a_redelivered_message_replays_the_first_answer_and_changes_nothing(
        shopper: Shopper, client: TestClient[Any, Any]) -> None:
    body = {"from": shopper.phone, "id": "wamid.same", "text": "3 samosa"}
    first = await client.post("/webhooks/simulator", json=body, headers=AUTH)
    again = await client.post("/webhooks/simulator", json=body, headers=AUTH)
    assert first.status == again.status == 200
    assert await first.read() == await again.read()
    assert "3 × Samosa — ₹36.00" in await shopper.text_of("cart")


async def test_concurrent_redeliveries_are_handled_once(
        shopper: Shopper, client: TestClient[Any, Any]) -> None:
    body = {"from": shopper.phone, "id": "wamid.race", "text": "1 samosa"}
    responses = await asyncio.gather(*(client.post("/webhooks/simulator", json=body,
                                                   headers=AUTH) for _ in range(5)))
    bodies = {await r.read() for r in responses}
    assert len(bodies) == 1
    assert "1 × Samosa — ₹12.00" in await shopper.text_of("cart")


async def test_a_new_message_the_dedupe_window_thinks_it_saw_is_still_handled(
        shopper: Shopper, client: TestClient[Any, Any]) -> None:
    # the in-memory window keeps hashes: a collision must cost a read, never the message
    from webhooks.keys import ENGINE

    client.app[ENGINE].recent.add(("simulator", "wamid.collides"))
    body = {"from": shopper.phone, "id": "wamid.collides", "text": "2 samosa"}
    response = await client.post("/webhooks/simulator", json=body, headers=AUTH)
    assert response.status == 200
    assert "2 × Samosa" in str(await response.json())
    assert "2 × Samosa — ₹24.00" in await shopper.text_of("cart")


async def test_bad_token_is_403_and_nothing_is_stored(client: TestClient[Any, Any],
                                                       shopper: Shopper) -> None:
    body = {"from": shopper.phone, "id": "wamid.forged", "text": "5 samosa"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SIM_TOKEN}):
        response = await client.post("/webhooks/simulator", json=body, headers=headers)
        assert response.status == 403
    assert "empty" in await shopper.text_of("cart")


async def test_bad_input_gets_a_clear_4xx(client: TestClient[Any, Any]) -> None:
    cases: list[tuple[bytes, str]] = [
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"text": "hi"}', "from"),
        (b'{"from": "+91900"}', "required"),
        (b'{"from": "+91900", "text": 5}', "string"),
        (b'{"from": "+91900", "order": [{"sku": "X", "qty": 0}]}', "qty"),
        (('{"from": "+91900", "text": "' + "a" * 5000 + '"}').encode(), "longer"),
    ]
    for body, word in cases:
        response = await client.post("/webhooks/simulator", data=body,
                                     headers=AUTH | {"Content-Type": "application/json"})
        assert response.status == 400, body[:40]
        assert word in (await response.json())["error"]
    huge = b'{"from": "1", "text": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post("/webhooks/simulator", data=io.BytesIO(huge), headers=AUTH)
    assert response.status == 413


async def test_emoji_rtl_and_long_messages_get_a_polite_answer(shopper: Shopper) -> None:
    for text in ("🙏🙏🙏", "مرحبا 👋", "चाय" * 1300, "x" * 4000):
        replies = await shopper.send(text)
        assert replies and all(r["text"] for r in replies)


async def test_health_readiness_and_metrics(client: TestClient[Any, Any],
                                            shopper: Shopper) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"started": True, "database": True, "shops": True}
    await shopper.send("hi")
    metrics = await (await client.get("/metrics")).text()
    assert "haat_inbound_messages_total 1" in metrics


async def test_simulator_routes_do_not_exist_without_a_token(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(settings.with_env(HAAT_SIMULATOR_TOKEN=None)))
    response = await client.post("/webhooks/simulator", json={"from": "1", "text": "hi"})
    assert response.status in (404, 405)


async def test_state_survives_a_restart(aiohttp_client: AiohttpClient,
                                        settings: Settings) -> None:
    from webhooks.app import create_app

    first = await aiohttp_client(create_app(settings))
    await Shopper(first, "+919000000099").send("2 samosa")
    await first.close()
    second = await aiohttp_client(create_app(settings))
    assert "2 × Samosa" in await Shopper(second, "+919000000099").text_of("cart")


async def test_yaml_edits_are_served_within_seconds_and_bad_edits_are_ignored(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    from webhooks.app import create_app

    shop_dir = tmp_path / "shop"
    shutil.copytree(settings.shop_dir, shop_dir, ignore=shutil.ignore_patterns("*.py", "__*"))
    client = await aiohttp_client(create_app(settings.with_(shop_dir=shop_dir),
                                             clock=Clock()))
    shopper = Shopper(client)
    assert "₹12.00" in await shopper.text_of("how much is a samosa")
    catalog = shop_dir / "catalog.yaml"
    original = catalog.read_text(encoding="utf-8")
    assert 'price: "12.00"' in original
    catalog.write_text(original.replace('price: "12.00"', 'price: "14.00"', 1), encoding="utf-8")
    for _ in range(50):
        await asyncio.sleep(0.1)
        if "₹14.00" in await shopper.text_of("how much is a samosa"):
            break
    else:
        raise AssertionError("the new price was not served")
    catalog.write_text(original.replace('price: "12.00"', 'price: "-1"', 1), encoding="utf-8")
    await asyncio.sleep(1.0)
    assert "₹14.00" in await shopper.text_of("how much is a samosa")


async def test_outside_hours_the_first_answer_of_the_day_starts_with_the_away_message(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    from webhooks.app import create_app

    sunday_evening = Clock.starting_at(1_795_354_200_000)  # Sun 2026-11-22 19:00 Kolkata
    client = await aiohttp_client(create_app(settings, clock=sunday_evening))
    shopper = Shopper(client)
    first = await shopper.send("2 samosa")
    assert "closed right now" in first[0]["text"] and "Sun 09:00–13:00" in first[0]["text"]
    assert "2 × Samosa" in first[1]["text"]  # the order is still taken
    second = await shopper.send("cart")
    assert not any("closed" in r["text"] for r in second)
