"""Prices come from shop.yaml all the way to the order total, whatever the client says.

A WhatsApp catalog ``order`` message carries an ``item_price`` per line; it is the client's
word, so a forged or stale one must not reach the cart, the order, the payment request or
the amount the shopper is asked to pay. Found missing by issue 20: the existing test never
checked out.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.conftest import AiohttpClient
from tests.e2e.conftest import ADDRESS, ADMIN
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import cloud_button, cloud_order, cloud_text, signed_cloud_request

SHOPPER = "919000000031"


async def _post(client: TestClient[Any, Any], settings: Settings, payload: Any) -> None:
    body, headers = signed_cloud_request(settings.env["WHATSAPP_APP_SECRET"], payload)
    response = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    assert response.status == 200, await response.text()


async def _sent(client: TestClient[Any, Any], graph: FakeGraphApi) -> list[dict[str, Any]]:
    from webhooks.keys import OUTBOX

    await client.app[OUTBOX].drain()
    return [r.json for r in graph.received if r.json is not None]


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    """id -> title of the reply buttons the renderer sent."""
    action = message.get("interactive", {}).get("action", {})
    return {b["reply"]["id"]: b["reply"]["title"] for b in action.get("buttons", [])}


async def test_a_lying_item_price_never_reaches_the_order_total(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN)))
    # the demo shop sells a samosa at ₹12.00 (config/catalog.yaml); the client claims ₹0.01
    await _post(client, settings, cloud_order([("SAMOSA", 2, "0.01", "INR")],
                                              message_id="wamid.p1", from_=SHOPPER))
    await _post(client, settings, cloud_text("checkout", message_id="wamid.p2", from_=SHOPPER))
    await _post(client, settings, cloud_text(ADDRESS, message_id="wamid.p3", from_=SHOPPER))
    confirm = next(_buttons(m)["confirm"] for m in reversed(await _sent(client, graph))
                   if "confirm" in _buttons(m))
    await _post(client, settings, cloud_button("confirm", confirm, message_id="wamid.p4",
                                               from_=SHOPPER))
    response = await client.get("/api/orders", headers=ADMIN)
    orders = (await response.json())["orders"]
    assert len(orders) == 1, orders
    order = orders[0]
    assert [(ln["sku"], ln["quantity"], ln["unit_price_minor"]) for ln in order["lines"]] == [
        ("SAMOSA", 2, 1200)]
    # 2 x 12.00 plus the demo shop's 30.00 delivery fee (config/shop.yaml)
    assert order["total_minor"] == 5400
    assert [p["amount_minor"] for p in order["payments"]] == [5400]
    texts = " ".join(str(m) for m in await _sent(client, graph))
    assert "₹54.00" in texts
    assert "0.01" not in texts
