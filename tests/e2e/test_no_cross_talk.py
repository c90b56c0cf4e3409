"""Issue 14: nothing meant for one order lands on another.

* Order numbers are per shop (every shop has an ORD-1001), so with several shops served an
  order route of the merchant API must name its shop: a 400 otherwise, never a guess.
* A provider callback whose currency or amount its payment request never asked for is
  stored as rejected, alerted to the merchant, and answered 200 (so the PSP stops retrying):
  never "applied".
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from payments.providers.sandbox import SandboxProvider
from payments.repository import PaymentRequest
from tests.conftest import ROOT, SIM_TOKEN, AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADDRESS,
    ADMIN,
    OWNER,
    SANDBOX_AUTH,
    outbox,
    payment_reply,
    place_order,
    start_live,
    token_of,
)
from webhooks import keys as k


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests play the merchant on the simulator, which needs HAAT_SIMULATOR_OWNER."""
    return settings.with_(simulator_owner=True)

MULTI = ROOT / "tests" / "fixtures" / "shops" / "multi"
TEA, SWEETS = "+919800000002", "+919800000003"
CALLBACK = "/webhooks/payments/sandbox"


async def _say(client: TestClient[Any, Any], to: str, n: int, *, text: str | None = None,
               button: str | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"from": "+919000000401", "to": to, "id": f"xt-{to}-{n}"}
    body.update({"text": text} if text is not None else {"button": button})
    response = await client.post("/webhooks/simulator", json=body,
                                 headers={"Authorization": f"Bearer {SIM_TOKEN}"})
    assert response.status == 200, await response.text()
    replies: list[dict[str, Any]] = (await response.json())["replies"]
    return replies


async def _order_and_pay(client: TestClient[Any, Any], shop_phone: str, items: str) -> None:
    await _say(client, shop_phone, 1, text=items)
    await _say(client, shop_phone, 2, text="checkout")
    await _say(client, shop_phone, 3, text=ADDRESS)
    token = token_of(payment_reply(await _say(client, shop_phone, 4, button="confirm"))["link"])
    paid = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                             headers=SANDBOX_AUTH)
    assert paid.status == 200


async def _orders(client: TestClient[Any, Any]) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/orders", headers=ADMIN)
    return {o["shop"]: o for o in (await response.json())["orders"]}


async def test_with_two_shops_an_order_route_must_name_its_shop(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    client = await start_live(aiohttp_client, settings.with_(shop_dir=MULTI), clock)
    await _order_and_pay(client, TEA, "2 samosa")
    await _order_and_pay(client, SWEETS, "3 samosa")
    before = await _orders(client)
    assert {s: (o["id"], o["status"], o["total_minor"]) for s, o in before.items()} == {
        "tea": ("ORD-1001", "paid", 5400), "sweets": ("ORD-1001", "paid", 6600)}

    for route, body in (("refund", {}), ("status", {"status": "shipped"})):
        response = await client.post(f"/api/orders/ORD-1001/{route}", json=body,
                                     headers=ADMIN)
        assert response.status == 400, route
        text = await response.text()
        assert "?shop=" in text and "sweets" in text and "tea" in text
    assert await _orders(client) == before  # nothing refunded, nothing shipped
    unknown = await client.post("/api/orders/ORD-1001/refund?shop=coffee", json={},
                                headers=ADMIN)
    assert unknown.status == 404

    refunded = await client.post("/api/orders/ORD-1001/refund?shop=sweets", json={},
                                 headers=ADMIN)
    assert refunded.status == 200, await refunded.text()
    assert (await refunded.json())["refunded_minor"] == 6600
    after = await _orders(client)
    assert after["tea"] == before["tea"]  # the other shop's ORD-1001 is untouched
    assert after["sweets"]["payments"][0]["refunded_minor"] == 6600
    listed = await client.get("/api/orders?shop=tea", headers=ADMIN)
    assert [o["shop"] for o in (await listed.json())["orders"]] == ["tea"]


def _signed(app_settings: Settings, request: PaymentRequest, event_id: str,
            **changes: Any) -> tuple[bytes, dict[str, str]]:
    payload = {"id": event_id, "type": "payment.captured", "created_at": int(time.time()),
               "ref": request.provider_ref, "reference": request.id,
               "payment_id": f"spay_{event_id}", "refund_id": None,
               "amount": request.amount_minor, "currency": request.currency} | changes
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    signer = SandboxProvider(None, app_settings.env.get("HAAT_SANDBOX_SECRET"))
    return body, {"X-Sandbox-Signature": signer.sign(body), "Content-Type": "application/json"}


async def test_a_callback_in_another_currency_or_amount_is_rejected_and_alerted(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    request = await live.app[k.PAYMENTS].repo.request_by_token(token)
    assert request is not None and request.currency == "INR"
    await outbox(live, OWNER)  # the new-order alert
    settings = live.app[k.SETTINGS]
    cases = {"sevt_usd00000001": {"currency": "USD"},
             "sevt_more0000001": {"amount": request.amount_minor + 1}}
    # a negative amount is not an amount at all: the parser refuses it with a 400
    # (tests/e2e/test_hostile_input.py), before any request is looked up
    for event_id, change in cases.items():
        body, headers = _signed(settings, request, event_id, **change)
        for _delivery in range(2):  # the PSP retries: still rejected, alerted once
            response = await live.post(CALLBACK, data=body, headers=headers)
            assert response.status == 200
            assert await response.json() == {"received": 1, "applied": 0, "rejected": 1}
    state = await (await live.get(f"/pay/{token}/status")).json()
    assert (state["status"], state["captured_minor"]) == ("issued", 0)
    rows = await live.app[k.DB].fetchall(
        "SELECT event_id, rejected FROM provider_events ORDER BY id")
    reasons = dict(rows)
    assert set(reasons) == set(cases)
    assert "USD" in reasons["sevt_usd00000001"] and "INR" in reasons["sevt_usd00000001"]
    assert "more than" in reasons["sevt_more0000001"]
    alerts = [m["text"] for m in await outbox(live, OWNER)]
    assert len(alerts) == 2 and all("rejected and not applied" in a for a in alerts), alerts
    assert all("ORD-1001" in a for a in alerts)
    assert await outbox(live, buyer.phone) == []  # no money moved: nothing to tell the shopper
    # the right callback still works afterwards
    body, headers = _signed(settings, request, "sevt_good0000001")
    response = await live.post(CALLBACK, data=body, headers=headers)
    assert await response.json() == {"received": 1, "applied": 1, "rejected": 0}
    state = await (await live.get(f"/pay/{token}/status")).json()
    assert state["status"] == "paid"
