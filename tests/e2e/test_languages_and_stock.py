"""The four languages through both WhatsApp channels, and no overselling under a rush."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import AiohttpClient, Shopper
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import cloud_text, signed_cloud_request, signed_twilio_request, twilio_text

TWILIO_URL = "https://shop.example.test/webhooks/twilio"
# (language, greeting, the script's letters that must appear, a price question, an add)
CASES = [
    ("en", "hello", "Welcome", "how much is a samosa?", "2 samosa"),
    ("hi", "नमस्ते", "स्वागत", "समोसा कितने का है?", "2 समोसे दे दो"),
    ("bn", "নমস্কার", "স্বাগতম", "সিঙ্গারা কত টাকা?", "২টা সিঙ্গারা দিন"),
    ("ar", "مرحبا", "أهلاً", "كم سعر السمبوسة؟", "أريد ٢ سمبوسة"),
]


@pytest.mark.parametrize(("language", "hello", "welcome", "price", "add"), CASES,
                         ids=[c[0] for c in CASES])
async def test_each_language_over_twilio(client: TestClient[Any, Any], settings: Settings,
                                         language: str, hello: str, welcome: str, price: str,
                                         add: str) -> None:
    sender = f"9190000005{CASES.index(next(c for c in CASES if c[0] == language))}"
    answers = []
    for n, text in enumerate((hello, price, add)):
        body, headers = signed_twilio_request(TWILIO_URL, settings.env.get(
            "TWILIO_AUTH_TOKEN", ""),
                                              twilio_text(text, sid=f"SM{language}{n:030d}",
                                                          from_=sender))
        response = await client.post("/webhooks/twilio", data=body, headers=headers)
        assert response.status == 200
        answers.append(await response.text())
    assert welcome in answers[0]
    assert "₹12.00" in answers[1]
    assert "₹24.00" in answers[2]  # two samosas in the cart, answered in the same language
    if language != "en":
        assert not any(w in answers[2] for w in ("Added", "Your cart"))


@pytest.mark.parametrize(("language", "hello", "welcome", "price", "add"), CASES,
                         ids=[c[0] for c in CASES])
async def test_each_language_over_the_cloud_api(aiohttp_client: AiohttpClient,
                                                settings: Settings, graph: FakeGraphApi,
                                                language: str, hello: str, welcome: str,
                                                price: str, add: str) -> None:
    from webhooks.app import create_app
    from webhooks.keys import OUTBOX

    client = await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN)))
    for n, text in enumerate((hello, price, add)):
        body, headers = signed_cloud_request(
            settings.env.get("WHATSAPP_APP_SECRET", ""),
            cloud_text(text, message_id=f"wamid.{language}.{n}", from_="919000000061"))
        assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status \
            == 200
    await client.app[OUTBOX].drain()
    texts = []
    for record in graph.received:
        message = record.json or {}
        if message.get("type") == "text":
            texts.append(message["text"]["body"])
        elif message.get("type") == "interactive":
            texts.append(message["interactive"]["body"]["text"])
    joined = "\n".join(texts)
    assert welcome in joined and "₹12.00" in joined and "₹24.00" in joined


async def test_the_last_items_are_sold_once_when_many_shoppers_confirm_at_once(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    """KACHORI has 4 on the shelf (the merchant says so); 10 shoppers try to buy 1 each."""
    from webhooks.app import create_app
    from webhooks.keys import DB

    # the merchant's stock command comes over the simulator: owner powers there are opt-in
    client = await aiohttp_client(create_app(settings.with_(simulator_owner=True), clock=clock))

    await Shopper(client, "+919811111111").send("stock KACHORI 4")
    shoppers = [Shopper(client, f"+9190000070{i:02d}") for i in range(10)]
    for shopper in shoppers:
        await shopper.send("1 kachori")
        await shopper.send("checkout")
        await shopper.send("7 Park Street, Kolkata")
    answers = await asyncio.gather(*(s.send(button="confirm") for s in shoppers))
    placed = [a for a in answers if any("ORD-" in r["text"] for r in a)]
    refused = [a for a in answers if any("sold out" in r["text"] for r in a)]
    assert len(placed) == 4 and len(refused) == 6
    rows = await client.app[DB].fetchall(
        "SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l "
        "JOIN orders o ON o.id = l.order_id "
        "WHERE l.sku = 'KACHORI' AND o.status = 'pending_payment'")
    assert rows == [(4,)]
    held = await client.app[DB].fetchone(
        "SELECT held, base_override FROM stock_levels WHERE sku = 'KACHORI'")
    assert held == (4, 4)
