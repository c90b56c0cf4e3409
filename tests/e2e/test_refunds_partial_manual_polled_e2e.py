"""Issue 14's remaining refund gaps, through the live app as a shopper and a merchant would:
a partial refund shows as ``partially_refunded`` and the order still ships; on a plain-UPI
shop (``upi_intent``, no provider can refund) the merchant refunds by hand and books it
with ``refunded ORD-… <amount> <UPI reference>``; a Razorpay refund answered ``pending`` is
polled by reconcile (``GET /v1/payments/{id}/refunds/{id}`` on the fake) until it settles,
and counts against the cap meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from payments.audit import audit
from tests.conftest import AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADMIN,
    OWNER,
    outbox,
    place_order,
    running_fake_razorpay,
    shop_copy,
    start_live,
)
from tests.e2e.test_order_money_e2e import _clean, _webhook
from tests.e2e.test_payments_e2e import RAZORPAY_WEBHOOK_SECRET, _balanced, _texts
from webhooks import keys as k


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests play the merchant on the simulator, which needs HAAT_SIMULATOR_OWNER."""
    return settings.with_(simulator_owner=True)


async def _api_order(live: TestClient[Any, Any], label: str) -> dict[str, Any]:
    orders = (await (await live.get("/api/orders", headers=ADMIN)).json())["orders"]
    return next(o for o in orders if o["id"] == label)


async def test_a_partial_refund_is_shown_and_the_order_still_ships(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    from tests.e2e.conftest import payment_reply, token_of
    from tests.e2e.test_payments_e2e import _pay_on_page

    await _pay_on_page(live, token_of(payment_reply(await place_order(buyer))["link"]))
    owner = Shopper(live, OWNER)
    reply = await owner.text_of("refund ORD-1001 10")
    assert "₹10.00 refunded" in reply, reply
    assert "ORD-1001 — partially_refunded" in await owner.text_of("orders")
    order = await _api_order(live, "ORD-1001")
    assert (order["status"], order["refunded_minor"]) == ("partially_refunded", 1000)
    status = await buyer.text_of("where is my order")
    assert "part refunded" in status, status
    assert "ORD-1001 is now shipped" in await owner.text_of("ship ORD-1001")
    assert (await _api_order(live, "ORD-1001"))["status"] == "shipped"
    await _clean(live)


async def test_a_plain_upi_shop_refunds_by_hand_and_books_it_truthfully(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    live = await start_live(aiohttp_client, settings.with_(
        shop_dir=shop_copy(tmp_path, provider="upi_intent", methods=["upi_link"])))
    buyer = Shopper(live, "+919000000801")
    owner = Shopper(live, OWNER)
    await place_order(buyer)
    assert "ORD-1001 marked paid" in await owner.text_of("paid ORD-1001")
    # `refund` cannot reach any provider: it says so, and names the command that books it
    reply = await owner.text_of("refund ORD-1001 20")
    assert "NOT refunded" in reply and "`refunded ORD-1001 20.00 <UPI reference>`" in reply, \
        reply
    assert not any("refunded" in t for t in _texts(await outbox(live, buyer.phone)))
    # more than was captured is refused
    refused = await owner.text_of("refunded ORD-1001 100 412345678901")
    assert "Cannot record" in refused, refused
    reply = await owner.text_of("refunded ORD-1001 20 412345678901")
    assert "Recorded: you refunded ₹20.00 on ORD-1001" in reply, reply
    assert "partially_refunded" in reply
    told = _texts(await outbox(live, buyer.phone))
    assert any("The shop says it has refunded ₹20.00 for *ORD-1001*" in t
               and "412345678901" in t for t in told), told
    assert not any("has been refunded to you" in t for t in told)  # never more than it is
    # the same reference again is the same refund, booked once
    assert "already recorded" in await owner.text_of("refunded ORD-1001 20 412345678901")
    order = await _api_order(live, "ORD-1001")
    assert (order["status"], order["refunded_minor"]) == ("partially_refunded", 2000)
    assert "ORD-1001 is now shipped" in await owner.text_of("ship ORD-1001")
    await _clean(live)

    # money for a cancelled order: the alert names the command that books its refund
    await place_order(buyer)
    assert "ORD-1002 is now cancelled" in await owner.text_of("cancel ORD-1002")
    await outbox(live, OWNER)
    reply = await owner.text_of("paid ORD-1002 54 412345678999")
    assert "`refunded ORD-1002 54.00 <UPI reference>`" in reply, reply
    alerts = _texts(await outbox(live, OWNER))
    assert any("arrived for ORD-1002 after it closed" in t
               and "`refunded ORD-1002 54.00 <UPI reference>`" in t for t in alerts), alerts
    kinds = {a.kind for a in await audit(live.app[k.PAYMENTS].repo)}
    assert kinds == {"refund_failed"}  # owed back, visible
    # the API records a refund made by hand too
    response = await live.post("/api/orders/ORD-1002/refunded", headers=ADMIN,
                               json={"amount_minor": 5400, "reference": "412345679000"})
    assert response.status == 200, await response.text()
    assert (await response.json())["order"]["status"] == "cancelled"
    assert any("The shop says it has refunded ₹54.00 for *ORD-1002*" in t
               for t in _texts(await outbox(live, buyer.phone)))
    bad = await live.post("/api/orders/ORD-1002/refunded", headers=ADMIN,
                          json={"amount_minor": 100, "reference": "x"})
    assert bad.status == 400
    await _clean(live)


async def test_a_razorpay_refund_pending_is_polled_until_it_settles_and_caps_the_next(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    shop = shop_copy(tmp_path, provider="razorpay", methods=["payment_link"])
    async with running_fake_razorpay() as (fake, api_base):
        live = await start_live(aiohttp_client, settings.with_(
            shop_dir=shop).with_env(
            RAZORPAY_KEY_ID=fake.key_id, RAZORPAY_KEY_SECRET=fake.key_secret,
            RAZORPAY_WEBHOOK_SECRET=RAZORPAY_WEBHOOK_SECRET, RAZORPAY_API_BASE_URL=api_base))
        buyer = Shopper(live, "+919000000802")
        owner = Shopper(live, OWNER)
        await place_order(buyer)
        (link_id,) = list(fake.links)
        payment_id = fake.pay_link(link_id)
        link = fake.links[link_id]
        await _webhook(live, "payment_link.paid", "evt_p1", {
            "payment_link": link, "payment": fake.payments[payment_id],
            "order": fake.orders[link["order_id"]]}, fake.now + 61)
        fake.refund_mode = "pending"
        assert "₹50.00 accepted by the provider (pending)" in await owner.text_of(
            "refund ORD-1001 50")
        (refund_id,) = fake.refunds
        # the pending refund counts against the cap: ₹4.00 is all that is left
        posts = sum(r.method == "POST" for r in fake.requests)
        refused = await owner.text_of("refund ORD-1001 5")
        assert "Cannot refund ORD-1001" in refused and "₹4.00" in refused, refused
        assert sum(r.method == "POST" for r in fake.requests) == posts  # never asked
        # no webhook ever comes: reconcile asks Razorpay, which still says pending
        report = await live.app[k.SCHEDULER].reconcile()
        assert (report["refunds_polled"], report["refunds_settled"]) == (1, 0)
        path = f"/v1/payments/{payment_id}/refunds/{refund_id}"
        assert any(r.method == "GET" and r.path == path for r in fake.requests)
        assert not any("has been refunded" in t for t in _texts(await outbox(live, buyer.phone)))
        fake.settle_refund(refund_id, "processed")
        report = await live.app[k.SCHEDULER].reconcile()
        assert report["refunds_settled"] == 1
        assert any("₹50.00 for *ORD-1001* has been refunded" in t
                   for t in _texts(await outbox(live, buyer.phone)))
        assert (await _api_order(live, "ORD-1001"))["status"] == "partially_refunded"
        # a second one that ends failed: the merchant hears, a retry is scheduled
        assert "pending" in await owner.text_of("refund ORD-1001 4")
        second = next(r for r in fake.refunds if r != refund_id)
        fake.settle_refund(second, "failed")
        assert (await live.app[k.SCHEDULER].reconcile())["refunds_settled"] == 1
        alerts = _texts(await outbox(live, OWNER))
        assert any("Refund of ₹4.00 on ORD-1001 FAILED" in t and "retries" in t
                   for t in alerts), alerts
        await _balanced(live)
