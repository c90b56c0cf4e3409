"""Product questions through each channel: the card, and the image where the channel shows one.

"tell me about X" (and its Hindi, Bengali, Arabic forms) answers with the product's
description, price, options and stock; a product with an image is sent as a Cloud API image
message with the card as its caption, as a TwiML ``<Media>`` on Twilio and as ``image_url``
in the simulator, followed by its buttons. Nothing is added to the cart ("tell" is not the
mustard oil "tel").
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import SIM_TOKEN, AiohttpClient
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import cloud_text, signed_cloud_request, signed_twilio_request, twilio_text

IMAGE = "https://cdn.example.test/samosa.jpg"
TWILIO_URL = "https://shop.example.test/webhooks/twilio"


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
                 tmp_path: Path) -> TestClient[Any, Any]:
    """The demo shop with a picture of the samosa."""
    from webhooks.app import create_app

    shop = tmp_path / "shop"
    shutil.copytree(settings.shop_dir, shop, ignore=shutil.ignore_patterns("*.db"))
    catalog = (shop / "catalog.yaml").read_text(encoding="utf-8")
    catalog, count = re.subn(r"(?m)^(    price: \"12\.00\"\n)", rf"\1    image: {IMAGE}\n",
                             catalog, count=1)
    assert count == 1
    (shop / "catalog.yaml").write_text(catalog, encoding="utf-8")
    return await aiohttp_client(create_app(settings.with_(shop_dir=shop).with_env(
            WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN)))


async def _cart(client: TestClient[Any, Any], channel: str, customer: str) -> dict[str, int]:
    from webhooks.keys import ENGINE, SHOPS

    runtime = next(iter(client.app[SHOPS].runtimes.values()))
    found = await client.app[ENGINE].store.find(runtime.shop.id, customer)
    return next((dict(c.cart) for c in found if c.key.channel == channel), {})


async def test_simulator_sends_the_image_then_the_buttons(client: TestClient[Any, Any]) -> None:
    response = await client.post("/webhooks/simulator", json={
        "from": "+919000000401", "text": "tell me about samosa"},
        headers={"Authorization": f"Bearer {SIM_TOKEN}"})
    data = await response.json()
    assert data["intent"] == "product_info"
    image, actions = data["replies"]
    assert image["type"] == "image" and image["image_url"] == IMAGE
    assert "Crisp pastry with spiced potato and peas" in image["text"]
    assert "₹12.00 / piece" in image["text"] and "In stock" in image["text"]
    assert [b["payload"] for b in actions["buttons"]] == ["add:SAMOSA", "menu"]
    assert await _cart(client, "simulator", "919000000401") == {}


@pytest.mark.parametrize(("question", "language_word"), [
    ("tell me about samosa", "In stock"),
    ("समोसा के बारे में बताओ", "स्टॉक में है"),
    ("সিঙাড়া সম্পর্কে বলুন", "স্টকে আছে"),
    ("ما هي السمبوسة؟", "متوفر"),
])
async def test_cloud_api_sends_an_image_message_with_the_card_as_caption(
        client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
        question: str, language_word: str) -> None:
    from webhooks.keys import OUTBOX

    body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET") or "",
                                         cloud_text(question, from_="919000000402"))
    assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
    await client.app[OUTBOX].drain()
    sent = [r.json for r in graph.received if r.json is not None]
    image = next(m for m in sent if m["type"] == "image")
    assert image["image"]["link"] == IMAGE
    assert "₹12.00" in image["image"]["caption"] and language_word in image["image"]["caption"]
    buttons = next(m for m in sent if m["type"] == "interactive")
    assert [b["reply"]["id"] for b in buttons["interactive"]["action"]["buttons"]] == [
        "add:SAMOSA", "menu"]
    assert await _cart(client, "whatsapp", "919000000402") == {}


async def test_twilio_sends_the_image_as_media(client: TestClient[Any, Any],
                                               settings: Settings) -> None:
    body, headers = signed_twilio_request(TWILIO_URL, settings.env.get("TWILIO_AUTH_TOKEN") or "",
                                          twilio_text("what's in the samosa?",
                                                      from_="919000000403"))
    twiml = await (await client.post("/webhooks/twilio", data=body, headers=headers)).text()
    assert f"<Media>{IMAGE}</Media>" in twiml
    assert "Crisp pastry with spiced potato and peas" in twiml and "1. Add +1" in twiml
    assert await _cart(client, "twilio", "919000000403") == {}
