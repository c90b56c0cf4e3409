"""The engine's turn from outside (bot/engine.py): what a message stores, who may act as the
owner, which options a number selects, when the language switches, and how a stored turn
is found again after a restart. Each test goes through the real app and its database, as
the mutation run of bot/engine.py showed these went unchecked (docs/TESTING.md)."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import ADMIN_TOKEN, OPEN_HOURS_MS, AiohttpClient, Shopper
from tests.e2e.conftest import outbox, place_order, shop_copy
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import cloud_text, signed_cloud_request

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

PHONE = "+919000000061"


async def test_a_restarted_app_knows_the_ids_it_handled_before_and_replays_them(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    from webhooks.app import create_app
    from webhooks.keys import DB, ENGINE, METRICS

    first: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    answer = await Shopper(first, PHONE).send("2 samosa", message_id="r1")
    await Shopper(first, PHONE).send("cart", message_id="r2")
    assert first.app[METRICS].duplicates == 0  # two new messages
    await first.close()
    again: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    engine = again.app[ENGINE]
    # start-up loads the handled ids: a redelivery costs one read, not a lost guard
    assert ("simulator", "r1") in engine.recent and ("simulator", "r2") in engine.recent
    assert ("simulator", "r3") not in engine.recent
    assert await Shopper(again, PHONE).send("2 samosa", message_id="r1") == answer
    assert again.app[METRICS].duplicates == 1
    rows = await again.app[DB].fetchall("SELECT message_id FROM inbound_messages ORDER BY id")
    assert [r[0] for r in rows] == ["r1", "r2"]


def _titles(replies: list[dict[str, Any]]) -> list[str]:
    return [c["title"] for r in replies for c in r.get("buttons", []) + r.get("rows", [])]


async def test_a_number_or_a_typed_title_selects_from_the_options_last_shown(
        shopper: Shopper) -> None:
    menu = _titles(await shopper.send("menu"))
    assert menu[:3] == ["Tea", "Coffee", "Snacks"] and len(menu) == 6
    # the first and the last option, with the decorations people type around a number
    assert "*Tea*" in await shopper.text_of("1")
    await shopper.send("menu")
    assert f"*{menu[5]}*" in await shopper.text_of(" #6) ")
    await shopper.send("menu")
    assert "*Snacks*" in await shopper.text_of("৩")  # a Bengali 3
    await shopper.send("menu")
    assert "*Coffee*" in await shopper.text_of("2.")
    # past either end is no choice: read as text (the fallback), not the last or first row
    await shopper.send("menu")
    for outside in ("7", "0"):
        told = await shopper.text_of(outside)
        assert "*Tea*" not in told and f"*{menu[5]}*" not in told, (outside, told)
    # a title typed out, in any case, with a full stop or an exclamation, full-width
    await shopper.send("menu")
    assert "*Sweets*" in await shopper.text_of("SWEETS!")
    await shopper.send("menu")
    assert "*Sweets*" in await shopper.text_of("ｓｗｅｅｔｓ.")
    # a tap that came without an id (its title as the payload) selects by that title
    await shopper.send("menu")
    assert "*Sweets*" in await shopper.text_of("Sweets", button="Sweets")
    # options are those of the last message that had any: after a plain answer, none
    await shopper.send("menu")
    await shopper.send("qwzx vbnm plk")
    assert "*Tea*" not in await shopper.text_of("1")


async def test_the_language_switches_only_on_a_clear_signal_and_never_once_chosen(
        shopper: Shopper) -> None:
    assert "समोसा" in await shopper.text_of("mujhe 2 samose chahiye")
    assert "समोसा" in await shopper.text_of("ok")  # one English word is not enough
    # romanised Hindi commands with English words stay in Hindi
    assert "पता" in await shopper.text_of("order kar do")
    # an address says nothing about the shopper's language
    summary = await shopper.text_of("12 Park Street Kolkata West Bengal")
    assert "कृपया अपना ऑर्डर" in summary, summary
    # three English words without a Hindi cue: English from now on
    assert "Here's our menu" in await shopper.text_of("show me the menu please")
    assert "Your cart" in await shopper.text_of("cart")
    # asked by name, it sticks: English sentences no longer switch it
    assert "বাংলায়" in await shopper.text_of("বাংলা")
    assert "মেনু" in await shopper.text_of("show me the menu please")


async def test_a_new_conversation_starts_in_the_shops_language_and_stop_speaks_its_own(
        client: TestClient[Any, Any]) -> None:
    hindi = Shopper(client, "+919000000062")
    told = await hindi.text_of("रोको")
    assert "START" in told and "हो गया" in told, told  # confirmed in Hindi, not English
    assert "टोकरी" in await hindi.text_of("cart")  # and the chat goes on in Hindi
    # a language chosen by name is kept even when STOP is said in another
    chosen = Shopper(client, "+919000000063")
    await chosen.send("বাংলা")
    told = await chosen.text_of("रोको")
    assert "হয়ে গেছে" in told, told
    english = Shopper(client, "+919000000064")
    assert "Welcome to Mitra Tea House" in await english.text_of("hello")


async def test_an_admin_status_change_runs_as_the_shops_first_owner_each_time_anew(
        client: TestClient[Any, Any]) -> None:
    from webhooks.keys import DB

    for phone in ("+919000000065", "+919000000066"):
        await place_order(Shopper(client, phone))
    for order in ("ORD-1001", "ORD-1002"):
        response = await client.post(f"/api/orders/{order}/status",
                                     json={"status": "cancelled"}, headers=ADMIN)
        assert response.status == 200, await response.text()
    assert any("ORD-1001" in str(m.get("text")) for m in await outbox(client, "+919000000065"))
    assert any("ORD-1002" in str(m.get("text")) for m in await outbox(client, "+919000000066"))
    rows = await client.app[DB].fetchall(
        "SELECT message_id, customer, kind, body, response FROM inbound_messages "
        "WHERE channel = 'api' ORDER BY id")
    # the owner's digits only (config/shop.yaml: "+919811111111"), a new id per command,
    # and no HTTP answer of its own to store
    assert [tuple(r[1:]) for r in rows] == [
        ("919811111111", "text", "cancel ORD-1001", ""),
        ("919811111111", "text", "cancel ORD-1002", "")]
    assert all(re.fullmatch(r"api-[0-9a-f]{32}", r[0]) for r in rows), rows
    # the command's own answer is the API's response, never a message queued to "api"
    queued = await client.app[DB].fetchall(
        "SELECT customer FROM outbound_messages WHERE channel = 'api'")
    assert queued == []


async def test_a_shop_without_an_owner_number_cannot_take_admin_commands(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    from webhooks.app import create_app

    folder = shop_copy(tmp_path)
    data = yaml.safe_load((folder / "shop.yaml").read_text(encoding="utf-8"))
    data["owners"] = []
    (folder / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                      encoding="utf-8")
    client = await aiohttp_client(create_app(settings.with_(shop_dir=folder), clock=clock))
    await place_order(Shopper(client, "+919000000067"))
    response = await client.post("/api/orders/ORD-1001/status", json={"status": "cancelled"},
                                 headers=ADMIN)
    assert response.status == 409 and "no owner number" in await response.text()


async def test_after_hours_the_owner_gets_no_away_notice_and_a_paused_chat_stays_quiet(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    from webhooks.app import create_app

    evening = Clock.starting_at(OPEN_HOURS_MS + 10 * 3_600_000)  # Monday 20:00, open
    client = await aiohttp_client(create_app(settings.with_(simulator_owner=True),
                                             clock=evening))
    shopper = Shopper(client, "+919000000068")
    assert "asked someone" in await shopper.text_of("talk to a person")
    evening.advance(minutes=90)  # 21:30: closed, and the shop still has the chat
    assert await shopper.send("are you there?") == []  # no away notice on nothing
    # the owner, spelled with spaces, is the owner; no away notice in front of the answer
    owner = await Shopper(client, "+91 98111 11111").send("orders")
    assert [r["text"] for r in owner] == ["No orders yet."]
    # a number that only contains the owner's digits is a shopper, told the shop is closed
    other = await Shopper(client, "+9198111111119").send("orders")
    assert "closed right now" in other[0]["text"]
    assert not any("No orders yet" in r["text"] for r in other), other


async def test_each_text_is_parsed_once_and_timed_and_a_tap_skips_the_intent_engine(
        client: TestClient[Any, Any], shopper: Shopper) -> None:
    def parses(metrics: str) -> float:
        found = re.search(r"(?m)^haat_nlu_seconds_count (\S+)$", metrics)
        assert found is not None, metrics
        return float(found.group(1))

    await shopper.send("hello")
    assert "Here's our menu" in await shopper.text_of(button="menu")
    metrics = await (await client.get("/metrics")).text()
    assert parses(metrics) == 1.0
    found = re.search(r"(?m)^haat_nlu_seconds_sum (\S+)$", metrics)
    assert found is not None and 0 < float(found.group(1)) < 60


def _alert(phone: str, *said: str) -> str:
    """A handoff alert as one digest item: its lines joined by " · " (bot/flows/orders.py)."""
    quoted = " · ".join(f"> {text}" for text in said)
    return (f"🙋 {phone} asked for a person: · {quoted} · Reply to them directly; send "
            f"`resume {phone}` to hand back to the bot.")


async def test_held_alerts_reach_the_owner_as_one_dated_digest_when_they_write(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    from webhooks.app import create_app

    folder = shop_copy(tmp_path)  # no templates: outside the owner's window, alerts wait
    data = yaml.safe_load((folder / "shop.yaml").read_text(encoding="utf-8"))
    data.pop("templates", None)
    (folder / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                      encoding="utf-8")
    client = await aiohttp_client(create_app(
        settings.with_(simulator_owner=True, shop_dir=folder), clock=clock))
    first, second, third = "+919000000071", "+919000000072", "+919000000073"
    chatty = Shopper(client, first)
    await chatty.send("x" * 200)
    await chatty.send("talk to a person")  # Monday 10:00 Kolkata
    clock.advance(minutes=15)
    await Shopper(client, second).send("talk to a person")
    owner = Shopper(client, "+919811111111")
    replies = await owner.send("orders")
    assert [r["type"] for r in replies] == ["text", "text"]
    head, one, two = replies[0]["text"].split("\n")
    assert head == "📬 2 alerts could not reach you while the chat was closed:"
    assert one == "• 23 Nov 04:30 UTC — " + _alert(first, "x" * 200, "talk to a person")[:300]
    assert two == "• 23 Nov 04:45 UTC — " + _alert(second, "talk to a person")
    assert replies[1]["text"] == "No orders yet."
    assert await owner.text_of("orders") == "No orders yet."  # once only
    clock.advance(minutes=25 * 60)  # the owner's 24-hour window has closed again
    await Shopper(client, third).send("talk to a person")
    assert await owner.text_of("orders") == (
        "📬 1 alert could not reach you while the chat was closed:\n"
        f"• 24 Nov 05:45 UTC — {_alert(third, 'talk to a person')}\nNo orders yet.")


async def test_a_tapped_stop_or_start_is_a_consent_command_unless_its_payload_names_one(
        client: TestClient[Any, Any], shopper: Shopper) -> None:
    from webhooks.keys import DB

    async def status() -> str:
        row = await client.app[DB].fetchone(
            "SELECT status FROM marketing_consent WHERE customer = ?",
            (shopper.phone.removeprefix("+"),))
        assert row is not None
        return str(row[0])

    # WhatsApp's own opt-out quick reply: its payload is its title
    told = await shopper.text_of("Stop promotions", button="Stop promotions")
    assert "START" in told and await status() == "opted_out", told
    # a merchant template's button titled START, whatever its payload
    told = await shopper.text_of("START", button="promo:diwali-2025")
    assert "STOP" in told and await status() == "opted_in", told
    # our own consent buttons answer by payload, whatever the title says
    await shopper.send("STOP", button="consent:yes")
    assert await status() == "opted_in"


async def test_each_app_remembers_what_it_handled_and_what_it_found_stored(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    from webhooks.app import create_app
    from webhooks.keys import ENGINE

    one: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    two: TestClient[Any, Any] = await aiohttp_client(create_app(settings, clock=clock))
    answer = await Shopper(one, PHONE).send("1 samosa", message_id="t1")
    assert ("simulator", "t1") in one.app[ENGINE].recent
    assert ("simulator", "t1") not in two.app[ENGINE].recent
    # the second finds it below its memory (the inbound row's guard), then remembers it
    assert await Shopper(two, PHONE).send("1 samosa", message_id="t1") == answer
    assert ("simulator", "t1") in two.app[ENGINE].recent
    assert len(two.app[ENGINE].recent) == 1


async def test_the_simulator_answer_says_what_was_understood_and_a_tap_is_not_parsed(
        client: TestClient[Any, Any]) -> None:
    from tests.conftest import SIM_TOKEN

    async def answer(body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post("/webhooks/simulator", json={"from": PHONE, **body},
                                     headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200
        data: dict[str, Any] = await response.json()
        return data

    added = await answer({"id": "u1", "text": "2 samosa"})
    assert (added["intent"], added["language"]) == ("add_to_cart", "en")
    assert 0 < added["confidence"] <= 1
    # a guess is worse than a question: what the engine cannot read is out of scope
    unknown = await answer({"id": "u2", "text": "qwzx vbnm plk"})
    assert unknown["intent"] == "out_of_scope"
    tapped = await answer({"id": "u3", "button": "menu"})
    assert "intent" not in tapped and tapped["replies"]


async def test_a_whatsapp_turn_stores_no_http_answer_and_replies_through_the_outbox(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        graph: FakeGraphApi) -> None:
    from webhooks.app import create_app
    from webhooks.keys import DB, OUTBOX

    client = await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock=clock))
    body, headers = signed_cloud_request(
        settings.env["WHATSAPP_APP_SECRET"],
        cloud_text("hello", from_="919000000081", phone_number_id="111222333",
                   message_id="wamid.engine1"))
    assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
    outbox = client.app[OUTBOX]
    await outbox.drain()
    await outbox.run_due()
    await outbox.drain()
    row = await client.app[DB].fetchone(
        "SELECT response FROM inbound_messages WHERE message_id = 'wamid.engine1'")
    assert row is not None and row[0] == ""
    # from the number it was written to
    assert [r.path for r in graph.received] == ["/111222333/messages"]


async def test_a_leasing_engine_stores_its_turns_replies_claimed_and_this_process_sends_them(
        client: TestClient[Any, Any], settings: Settings, clock: Clock) -> None:
    """bot/engine.py, _handle_once: create_app gives the engine an outbox lease where
    several servers poll one table (PostgreSQL, webhooks/app.py); the same engine with that
    lease, on any database, stores a turn's replies claimed by this process until the
    turn's time plus the lease (bot/outgoing.py, outbox_statement) and says so
    (HandleResult.claimed), so no poller takes them before this process sends them, once."""
    import dataclasses

    from bot.types import InboundMessage, MessageKind
    from webhooks.keys import DB, ENGINE, OUTBOX, SHOPS

    lease_ms = int(settings.outbox_lease_seconds * 1000)
    engine = dataclasses.replace(client.app[ENGINE], outbox_lease_ms=lease_ms)
    runtime = client.app[SHOPS].for_business("")
    assert runtime is not None
    customer = "919000000071"
    result = await engine.handle(runtime, InboundMessage(
        channel="simulator", message_id="lease-1", customer=customer, kind=MessageKind.TEXT,
        text="2 samosa"), render=lambda replies, understanding: "", direct=False)
    assert result.claimed is True and result.outbox, result
    database = client.app[DB]
    turn = await database.fetchone(
        "SELECT received_at FROM inbound_messages WHERE message_id = 'lease-1'")
    assert turn is not None
    rows = await database.fetchall(
        "SELECT id, status, next_attempt_at, created_at FROM outbound_messages ORDER BY id")
    assert rows == sorted((item.id, "sending", turn[0] + lease_ms, turn[0])
                          for item in result.outbox), rows
    # not due before the lease ends: the poller leaves them to the process that claimed them
    sender = client.app[OUTBOX]
    await sender.run_due()
    assert await outbox(client, customer) == []
    sender.submit(result.outbox, claimed=result.claimed)
    sent = await outbox(client, customer)
    assert sorted(m["id"] for m in sent) == [r[0] for r in rows], sent
    assert "2 × Samosa" in sent[0]["text"], sent
    assert await database.fetchall(
        "SELECT status, attempts FROM outbound_messages") == [("sent", 1)] * len(rows)
    # once: not again when the lease is over
    clock.advance(seconds=settings.outbox_lease_seconds + 1)
    assert await outbox(client, customer) == []


async def test_a_message_the_owner_causes_reaches_the_shopper_from_the_number_they_wrote_to(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        graph: FakeGraphApi) -> None:
    """A shop with two Cloud numbers: the shopper wrote to one, the owner to the other. The
    "I'm back" that the owner's resume sends the shopper comes from the shopper's number,
    and the owner's own answer from the owner's."""
    from webhooks.app import create_app
    from webhooks.keys import OUTBOX

    client = await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock=clock))
    secret = settings.env["WHATSAPP_APP_SECRET"]
    shopper, owner = "919000000082", "919811111111"

    async def write(text: str, sender: str, number: str, message_id: str) -> None:
        body, headers = signed_cloud_request(secret, cloud_text(
            text, from_=sender, phone_number_id=number, message_id=message_id))
        assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
        for _ in range(2):
            await client.app[OUTBOX].drain()
            await client.app[OUTBOX].run_due()

    await write("help", owner, "444555666", "wamid.own1")  # the owner's window is open
    await write("talk to a person", shopper, "111222333", "wamid.shop1")
    graph.received.clear()
    await write(f"resume +{shopper}", owner, "444555666", "wamid.own2")
    sent = {(r.json["to"], r.path) for r in graph.received if r.json}
    assert (shopper, "/111222333/messages") in sent, sent
    assert (owner, "/444555666/messages") in sent, sent
    assert (shopper, "/444555666/messages") not in sent, sent


async def test_three_english_words_leave_hindi_and_two_do_not(shopper: Shopper) -> None:
    assert "समोसा" in await shopper.text_of("mujhe 2 samose chahiye")
    assert "हमारा मेन्यू" in await shopper.text_of("menu please")  # two words: still Hindi
    assert "Your cart" in await shopper.text_of("show my cart")  # three: English


async def test_the_owner_hears_of_their_own_order_from_the_number_they_write_to_now(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    """The owner ordered as a shopper, writing to one of the shop's numbers, and cancels
    it from the other: their own notice comes from the number of this turn, not of the
    conversation's last stored one."""
    from tests.conftest import SIM_TOKEN
    from webhooks.app import create_app
    from webhooks.keys import DB

    client = await aiohttp_client(create_app(settings.with_(simulator_owner=True),
                                             clock=clock))
    owner = "+919811111111"
    count = 0

    async def write(text: str, to: str) -> None:
        nonlocal count
        count += 1
        response = await client.post(
            "/webhooks/simulator", json={"from": owner, "to": to, "text": text,
                                         "id": f"own-{count}"},
            headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200, await response.text()

    for text in ("2 samosa", "checkout", "12 Salt Lake, Sector 1, Kolkata"):
        await write(text, "shop-number-a")
    response = await client.post(
        "/webhooks/simulator", json={"from": owner, "to": "shop-number-a", "button": "confirm",
                                     "id": "own-confirm"},
        headers={"Authorization": f"Bearer {SIM_TOKEN}"})
    assert "ORD-1001" in await response.text()
    await write("cancel ORD-1001", "shop-number-b")
    rows = await client.app[DB].fetchall(
        "SELECT business, payload FROM outbound_messages WHERE customer = '919811111111'")
    told = [business for business, payload in rows if "ORD-1001" in payload]
    assert told == ["shop-number-b"], rows


async def test_a_notice_outside_the_window_speaks_the_orders_language_not_the_chats_latest(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        graph: FakeGraphApi, tmp_path: Path) -> None:
    """The shopper ordered in Hindi and then chatted in English: a day later their
    shipping notice is the Hindi template, as the order was placed in (bot/flows/merchant.py)."""
    from catalog.template_export import meta_templates
    from tests.e2e.conftest import SANDBOX_AUTH, open_shop, start_live
    from webhooks.keys import DB, OUTBOX
    from webhooks.plugins import load_shop

    graph.approve(meta_templates(load_shop(settings.shop_dir)))
    client = await start_live(aiohttp_client, settings.with_(
        shop_dir=open_shop(tmp_path, settings)).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock)
    secret = settings.env["WHATSAPP_APP_SECRET"]
    shopper, count = "919000000083", 0

    async def write(text: str, sender: str = shopper) -> None:
        nonlocal count
        count += 1
        body, headers = signed_cloud_request(secret, cloud_text(
            text, from_=sender, message_id=f"wamid.lang{count}"))
        assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
        for _ in range(2):
            await client.app[OUTBOX].drain()
            await client.app[OUTBOX].run_due()

    for text in ("नमस्ते", "2 समोसा", "checkout", "12 Lake Road, Salt Lake", "yes"):
        await write(text)
    row = await client.app[DB].fetchone("SELECT token FROM payment_requests")
    assert row is not None
    paid = await client.post(f"/pay/{row[0]}/sandbox", json={"outcome": "success"},
                             headers=SANDBOX_AUTH)
    assert paid.status == 200
    await write("show me the menu please")
    assert "Here's our menu" in str(graph.received[-1].json)  # the chat is English now
    clock.advance(minutes=25 * 60)
    await write("ship ORD-1001", "919811111111")
    shipped = [r.json for r in graph.received if r.json and r.json.get("to") == shopper][-1]
    assert shipped["type"] == "template", shipped
    assert shipped["template"]["name"] == "haat_order_shipped"
    assert shipped["template"]["language"] == {"code": "hi"}


async def test_after_hours_the_away_notice_is_a_text_of_its_own_once_each_day(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    from webhooks.app import create_app

    evening = Clock.starting_at(1_795_354_200_000)  # Sunday 2026-11-22 19:00 Kolkata, closed
    client = await aiohttp_client(create_app(settings, clock=evening))
    shopper = Shopper(client, "+919000000084")
    away = {"type": "text", "text": "We're closed right now (Mon–Sat 08:00–21:00, Sun "
            "09:00–13:00). You can still browse and order; we'll start on it when we open."}
    first = await shopper.send("cart")
    assert first[0] == away and len(first) == 2, first
    assert away not in await shopper.send("cart")
    evening.advance(minutes=27 * 60)  # Monday 22:00: closed again, a new day
    again = await shopper.send("cart")
    assert again[0] == away and again[1:] == first[1:], again


async def test_a_cart_sent_with_the_note_stop_is_an_order_not_an_opt_out(
        client: TestClient[Any, Any], shopper: Shopper) -> None:
    """A WhatsApp cart may carry the shopper's note as its text: only a text message (or a
    tap) can be the STOP command."""
    from webhooks.keys import DB

    told = await shopper.text_of("STOP", order=[{"sku": "SAMOSA", "qty": 2}])
    assert "2 × Samosa" in told and "START" not in told, told
    row = await client.app[DB].fetchone(
        "SELECT status FROM marketing_consent WHERE customer = ?",
        (shopper.phone.removeprefix("+"),))
    assert row is None or row[0] != "opted_out", row


async def test_a_tap_whose_payload_names_an_intent_is_that_intent_whatever_its_title(
        client: TestClient[Any, Any], shopper: Shopper) -> None:
    from webhooks.keys import DB

    replies = await shopper.send("STOP", button="/menu")
    assert replies[0]["text"] == "Here's our menu. Pick a category:", replies
    row = await client.app[DB].fetchone(
        "SELECT status FROM marketing_consent WHERE customer = ?",
        (shopper.phone.removeprefix("+"),))
    assert row is None or row[0] != "opted_out", row


async def test_each_turn_stores_when_the_shopper_wrote_and_the_number_they_wrote_to(
        client: TestClient[Any, Any], clock: Clock) -> None:
    """The conversation row keeps the time of the last inbound message (the service
    window is counted from it) and the shop number to answer from (bot/state.py)."""
    from tests.conftest import SIM_TOKEN
    from webhooks.keys import DB

    async def write(text: str, to: str | None, message_id: str) -> str:
        """The stored number after the message; both times are of this turn."""
        body = {"from": "+919000000085", "text": text, "id": message_id}
        if to is not None:
            body["to"] = to
        before = clock.now_ms()
        response = await client.post("/webhooks/simulator", json=body,
                                     headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200, await response.text()
        row = await client.app[DB].fetchone(
            "SELECT business, last_inbound_at, updated_at FROM conversations "
            "WHERE customer = '919000000085'")
        assert row is not None and before <= row[1] == row[2] <= clock.now_ms(), row
        return str(row[0])

    assert await write("hello", "shop-number-a", "b1") == "shop-number-a"
    clock.advance(minutes=30)  # both times move with the next message
    # a message that names no number keeps the one the shopper wrote to before
    assert await write("cart", None, "b2") == "shop-number-a"
    assert await write("menu", "shop-number-b", "b3") == "shop-number-b"


async def test_the_cart_nudge_is_set_when_the_cart_changes_and_only_then(
        client: TestClient[Any, Any], shopper: Shopper, clock: Clock) -> None:
    """bot/reminders.py: the nudge is due an hour after the cart last changed, so
    talking about something else does not move it."""
    from webhooks.keys import DB

    async def due() -> list[tuple[Any, ...]]:
        rows = await client.app[DB].fetchall(
            "SELECT due_at, status FROM scheduled_jobs WHERE kind = 'cart'")
        return [tuple(r) for r in rows]

    added = clock.now_ms()
    await shopper.send("2 samosa")
    [(first, status)] = await due()
    assert status == "pending" and added + 3_600_000 <= first <= clock.now_ms() + 3_600_000
    clock.advance(minutes=30)
    await shopper.send("menu")
    await shopper.send("how much is a samosa")
    assert await due() == [(first, "pending")]
    await shopper.send("1 samosa")
    [(moved, _)] = await due()
    assert moved >= first + 30 * 60_000


async def test_a_message_of_no_language_is_understood_in_the_conversations(
        client: TestClient[Any, Any]) -> None:
    """The intent engine is told the conversation's sticky language: an emoji in a Hindi
    chat is Hindi, not the shop's first language (bot/nlu/builtin.py, message_language)."""
    from tests.conftest import SIM_TOKEN

    async def understood(text: str, message_id: str) -> Any:
        response = await client.post(
            "/webhooks/simulator", json={"from": PHONE, "id": message_id, "text": text},
            headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200
        return (await response.json())["language"]

    assert await understood("👍", "e1") == "en"
    assert await understood("mujhe 2 samose chahiye", "e2") == "hi"
    assert await understood("👍", "e3") == "hi"


async def test_stop_in_english_keeps_a_hindi_chat_in_hindi(shopper: Shopper) -> None:
    """Everyone types STOP: only a STOP said in another language moves the chat to it."""
    await shopper.send("mujhe 2 samose chahiye")
    told = await shopper.text_of("STOP")
    assert "START" in told and "हो गया" in told, told
    assert "टोकरी" in await shopper.text_of("cart")


async def test_a_typed_question_gets_the_shops_answer(shopper: Shopper) -> None:
    """Parsed text leaves no payload behind, so the FAQ (which answers only typed text)
    still sees it as text (bot/flows/support.py)."""
    assert await shopper.text_of("do you deliver") == (
        "We deliver in Salt Lake, New Town and Park Street. Delivery is ₹30, free on orders "
        "above ₹500.")


async def test_an_intent_at_the_confidence_threshold_counts_and_one_below_is_a_question(
        client: TestClient[Any, Any]) -> None:
    """Rasa's ``/intent@confidence`` form (bot/nlu/builtin.py, parse_shortcut) sets the
    confidence exactly: LOW_CONFIDENCE (0.40) itself is enough, less goes to the fallback."""
    from tests.conftest import SIM_TOKEN

    async def intent(text: str, message_id: str) -> Any:
        response = await client.post(
            "/webhooks/simulator", json={"from": PHONE, "id": message_id, "text": text},
            headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200
        return (await response.json())["intent"]

    assert await intent("/browse_catalog@0.4", "c1") == "browse_catalog"
    assert await intent("/browse_catalog@0.39", "c2") == "out_of_scope"


async def test_checkout_asks_with_the_address_form_where_the_channel_has_one(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        graph: FakeGraphApi, shopper: Shopper) -> None:
    """A turn knows what its channel can show (Turn.channel_can, from the channels'
    declared capabilities): the Cloud API asks for the address with WhatsApp's own form
    (bot/flows/checkout.py, ask_address), the simulator in text."""
    from webhooks.app import create_app
    from webhooks.keys import OUTBOX

    client = await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock=clock))
    for number, text in enumerate(("2 samosa", "checkout")):
        body, headers = signed_cloud_request(settings.env["WHATSAPP_APP_SECRET"], cloud_text(
            text, from_="919000000086", message_id=f"wamid.form{number}"))
        assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
        await client.app[OUTBOX].drain()
    asked = graph.received[-1].json
    assert asked is not None and asked["type"] == "interactive", asked
    assert asked["interactive"]["type"] == "address_message", asked
    assert asked["interactive"]["action"]["parameters"]["values"]["phone_number"] == (
        "+919000000086")
    await shopper.send("2 samosa")
    [question] = await shopper.send("checkout")
    assert question["type"] == "text" and "address" in question["text"], question


async def test_a_message_no_flow_understands_gets_the_fallback_and_is_not_logged_unmatched(
        shopper: Shopper, caplog: pytest.LogCaptureFixture) -> None:
    """The root's last route (bot/flows/support.py, fallback) takes every turn, so the
    engine's "no handler matched" debug line means a turn really went unanswered."""
    caplog.set_level(logging.DEBUG, logger="bot.engine")
    told = await shopper.text_of("qwzx vbnm plk")
    assert told.startswith("Sorry, I didn't get that."), told
    unmatched = [r.getMessage() for r in caplog.records
                 if r.name == "bot.engine" and "no handler" in r.getMessage()]
    assert unmatched == []


async def test_a_chat_in_a_language_the_shop_dropped_moves_to_the_shops_on_any_message(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    """A short English message leaves a chat's language alone, unless the shop no longer
    speaks it: a chat stored in English at a shop that has dropped English is answered in
    the shop's first language from its next message on (bot/engine.py, _update_language;
    Shop.language_for)."""
    from webhooks.app import create_app
    from webhooks.keys import DB

    folder = shop_copy(tmp_path)
    shop = settings.with_(shop_dir=folder)
    before: TestClient[Any, Any] = await aiohttp_client(create_app(shop, clock=clock))
    [answer] = await Shopper(before, PHONE).send("show my cart", message_id="before-1")
    assert "Your cart" in answer["text"], answer
    await before.close()
    data = yaml.safe_load((folder / "shop.yaml").read_text(encoding="utf-8"))
    data["languages"] = ["hi", "bn"]  # the shop stops speaking English
    (folder / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                      encoding="utf-8")
    after: TestClient[Any, Any] = await aiohttp_client(create_app(shop, clock=clock))
    [answer] = await Shopper(after, PHONE).send("cart", message_id="after-1")
    assert "टोकरी" in answer["text"], answer
    row = await after.app[DB].fetchone(
        "SELECT language FROM conversations WHERE customer = ?", (PHONE.removeprefix("+"),))
    assert row is not None and row[0] == "hi", row


async def test_a_conversation_held_elsewhere_waits_and_every_other_goes_on(
        client: TestClient[Any, Any]) -> None:
    """A turn runs under its own conversation's lock, the one a merchant's ``resume`` also
    takes (bot/services.py, Conversations.resume): while it is held, that shopper's
    message waits for it, and other shoppers are answered meanwhile."""
    from bot.state import ConversationKey
    from webhooks.keys import ENGINE, SHOPS

    runtime = client.app[SHOPS].for_business("")
    assert runtime is not None
    held, other = Shopper(client, "+919000000091"), Shopper(client, "+919000000092")
    key = ConversationKey(runtime.shop.id, "simulator", "919000000091")
    async with client.app[ENGINE].store.lock(key):
        waiting = asyncio.create_task(held.text_of("2 samosa"))
        assert "Your cart is empty" in await other.text_of("cart")
        done, _ = await asyncio.wait([waiting], timeout=0.5)
        assert not done  # still waiting for the lock
    assert "2 × Samosa" in await waiting


async def test_only_a_tap_selects_by_payload_an_order_naming_one_is_an_order(
        client: TestClient[Any, Any], shopper: Shopper) -> None:
    """bot/engine.py, _payload_of: the simulator lets one message carry an order and a
    button; its kind is ORDER, so the button is not read, not even our consent button
    (whose router comes first, bot/flows/consent.py)."""
    from webhooks.keys import DB

    told = await shopper.text_of(order=[{"sku": "SAMOSA", "qty": 2}], button="consent:yes")
    assert "2 × Samosa" in told, told
    row = await client.app[DB].fetchone(
        "SELECT status FROM marketing_consent WHERE customer = ?",
        (shopper.phone.removeprefix("+"),))
    assert row is None, row


async def test_an_owner_number_written_with_spaces_in_the_shop_file_is_the_owner(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    """shop.yaml may spell an owner as people write numbers; the sender's digits are
    compared with the owner's digits (bot/engine.py, _is_owner)."""
    from webhooks.app import create_app

    folder = shop_copy(tmp_path)
    data = yaml.safe_load((folder / "shop.yaml").read_text(encoding="utf-8"))
    data["owners"] = ["+91 98000 12345"]
    (folder / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                      encoding="utf-8")
    client = await aiohttp_client(create_app(
        settings.with_(shop_dir=folder, simulator_owner=True), clock=clock))
    assert await Shopper(client, "+919800012345").text_of("orders") == "No orders yet."
    told = await Shopper(client, "+919811111111").text_of("orders")
    assert "No orders yet." not in told, told


def _refuse_message(message_id: str, *, postgres: bool) -> list[str]:
    """A constraint the storage enforces on one message's inbound row, as a schema that
    refuses it would: every write set storing that message conflicts (an integrity error,
    storage/database.py), so every attempt of its turn fails alike."""
    if postgres:
        return [
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.message_id = '{message_id}' THEN RAISE EXCEPTION 'refused' "
            "USING ERRCODE = '23514'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_one BEFORE INSERT ON inbound_messages "
            "FOR EACH ROW EXECUTE FUNCTION refuse_one()",
        ]
    return [f"CREATE TRIGGER refuse_one BEFORE INSERT ON inbound_messages "
            f"WHEN NEW.message_id = '{message_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"]


async def test_a_message_that_conflicts_three_times_is_refused_unstored_and_logged_why(
        client: TestClient[Any, Any], shopper: Shopper,
        caplog: pytest.LogCaptureFixture) -> None:
    """bot/engine.py, handle: a turn whose write set conflicts runs again, three times in
    all; then the message is refused (a 400, webhooks/routes.py) with the reason logged,
    and nothing of it is stored, so the channel's redelivery starts afresh."""
    from storage.database import WriteSet
    from tests.conftest import SIM_TOKEN, selected_backend
    from webhooks.keys import DB

    def parses(metrics: str) -> float:
        found = re.search(r"(?m)^haat_nlu_seconds_count (\S+)$", metrics)
        assert found is not None, metrics
        return float(found.group(1))

    database = client.app[DB]
    refusal = WriteSet()
    for statement in _refuse_message("c1", postgres=selected_backend() == "postgresql"):
        refusal.add(statement)
    await database.write(refusal)
    caplog.set_level(logging.WARNING, logger="webhooks.routes")
    body = {"from": shopper.phone, "id": "c1", "text": "2 samosa"}
    headers = {"Authorization": f"Bearer {SIM_TOKEN}"}
    refused = await client.post("/webhooks/simulator", json=body, headers=headers)
    assert refused.status == 400, await refused.text()
    # each attempt ran the turn anew (one parse each), and there were three
    assert parses(await (await client.get("/metrics")).text()) == 3.0
    logged = [r.getMessage() for r in caplog.records if r.name == "webhooks.routes"]
    # the operator's log line says which channel refused and why, nothing more
    assert "simulator delivery refused: message could not be stored after 3 attempts" \
        in logged, logged
    assert await database.fetchall("SELECT message_id FROM inbound_messages") == []
    assert "Your cart is empty" in await shopper.text_of("cart")  # no samosa kept either
    # the constraint gone, the redelivery is a new message, answered and stored
    lifted = WriteSet()
    lifted.add("DROP TRIGGER refuse_one" + (
        " ON inbound_messages" if selected_backend() == "postgresql" else ""))
    await database.write(lifted)
    again = await client.post("/webhooks/simulator", json=body, headers=headers)
    assert again.status == 200
    assert "2 × Samosa" in "\n".join(r["text"] for r in (await again.json())["replies"])
