"""One order, one payment, through the live app as a shopper and a merchant would (issue 14):
the sandbox PSP's signed callbacks over loopback, the pay page and its QR, merchant commands,
the confirm step, and ``haat reconcile`` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from payments.audit import audit
from tests.conftest import ROOT, AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADDRESS,
    OWNER,
    account,
    outbox,
    payment_reply,
    place_order,
    running_fake_razorpay,
    shop_copy,
    start_live,
    token_of,
)
from tests.e2e.test_payments_e2e import (
    RAZORPAY_WEBHOOK_SECRET,
    _balanced,
    _pay_on_page,
    _sign,
    _status,
    _texts,
)
from webhooks import keys as k
from webhooks.app import reload_shops


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests play the merchant on the simulator, which needs HAAT_SIMULATOR_OWNER."""
    return settings.with_(simulator_owner=True)


async def _clean(live: TestClient[Any, Any]) -> None:
    await _balanced(live)
    found = await audit(live.app[k.PAYMENTS].repo)
    assert not found, [str(a) for a in found]


async def test_paying_the_qr_and_then_a_second_link_gives_the_second_back(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    first = token_of(payment_reply(await place_order(buyer))["link"])
    second = token_of(payment_reply(await buyer.send("pay"))["link"])
    assert second != first
    await _pay_on_page(live, first)
    # the other way to pay closed at once: its page and its QR say so
    assert (await _status(live, second))["status"] == "closed"
    assert (await live.get(f"/pay/{second}/qr.png")).status == 410
    page = await (await live.get(f"/pay/{second}")).text()
    assert 'data-status="closed"' in page
    await _pay_on_page(live, second)  # paid from the other screen anyway
    state = await _status(live, second)
    assert (state["status"], state["captured_minor"]) == ("refunded", 5400)
    told = _texts(await outbox(live, buyer.phone))
    assert sum("Payment of ₹54.00 received" in t for t in told) == 1
    assert any("after it had closed" in t for t in told)
    assert any("₹54.00 for *ORD-1001* has been refunded" in t for t in told)
    alerts = _texts(await outbox(live, OWNER))
    assert any("₹54.00 arrived for ORD-1001 after it closed" in t for t in alerts), alerts
    assert await account(live, "psp_clearing:sandbox") == 5400  # one total kept
    await _clean(live)


async def test_twenty_presses_on_one_link_keep_one_total(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    for _ in range(20):
        await _pay_on_page(live, token)
    assert await account(live, "psp_clearing:sandbox") == 5400
    assert await account(live, "customer_receivable") == 0
    told = _texts(await outbox(live, buyer.phone))
    assert sum("has been refunded" in t for t in told) == 19
    await _clean(live)


async def test_with_overpayment_hold_the_merchant_gets_one_command_for_the_excess(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    live = await start_live(aiohttp_client, settings.with_(
        shop_dir=shop_copy(tmp_path, overpayment="hold")))
    buyer = Shopper(live, "+919000000711")
    token = token_of(payment_reply(await place_order(buyer))["link"])
    await _pay_on_page(live, token)
    await _pay_on_page(live, token)
    owner = Shopper(live, OWNER)
    alerts = _texts(await outbox(live, OWNER))
    assert any("beyond its total" in t and "`refund ORD-1001 excess`" in t for t in alerts)
    assert "⚠️ ₹54.00 held" in await owner.text_of("orders")
    assert "ORD-1001 is now shipped" in await owner.text_of("ship ORD-1001")
    reply = await owner.text_of("refund ORD-1001 excess")
    assert "Refund of ₹54.00 for ORD-1001: ₹54.00 refunded" in reply
    orders = await owner.text_of("orders")
    assert "ORD-1001 — shipped" in orders and "held" not in orders  # the sale stands
    assert await account(live, "psp_clearing:sandbox") == 5400
    await _clean(live)


async def test_a_cancelled_order_stops_taking_money_and_says_so(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    owner = Shopper(live, OWNER)
    assert "ORD-1001 is now cancelled" in await owner.text_of("cancel ORD-1001")
    assert (await _status(live, token))["status"] == "cancelled"
    assert (await live.get(f"/pay/{token}/qr.png")).status == 410
    await _pay_on_page(live, token)  # the shopper paid from the old screen
    state = await _status(live, token)
    assert (state["status"], state["order_status"]) == ("refunded", "cancelled")
    alerts = _texts(await outbox(live, OWNER))
    assert any("arrived for ORD-1001 after it closed (cancelled)" in t for t in alerts)
    assert "ORD-1001 — cancelled" in await owner.text_of("orders")
    await _clean(live)


async def test_a_price_change_before_confirm_shows_a_new_summary(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    shop = shop_copy(tmp_path)
    live = await start_live(aiohttp_client, settings.with_(shop_dir=shop,
                                                           reload_interval_seconds=3600))
    buyer = Shopper(live, "+919000000712")
    await buyer.send("2 samosa")
    await buyer.send("checkout")
    summary = "\n".join(r["text"] for r in await buyer.send(ADDRESS))
    assert "₹54.00" in summary
    catalog = shop / "catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(
        'price: "12.00"', 'price: "15.00"', 1), encoding="utf-8")
    assert await reload_shops(live.app)
    again = await buyer.send(button="confirm")
    text = "\n".join(r["text"] for r in again)
    assert "Something changed" in text and "₹60.00" in text, text
    assert not any("ORD-1001" in r["text"] for r in again)  # no order at a price unseen
    placed = "\n".join(r["text"] for r in await buyer.send(button="confirm"))
    assert "ORD-1001" in placed and "₹60.00" in placed


def test_haat_reconcile_names_the_order_and_fails(tmp_path: Path) -> None:
    import asyncio

    from storage.database import WriteSet, open_database
    from webhooks.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'rec.db'}"
    upgrade(url)

    async def seed() -> None:
        db = open_database(url)
        await db.start()
        writes = WriteSet()
        writes.add("INSERT INTO orders (id, shop_id, number, channel, customer, status, "
                   "currency, subtotal_minor, delivery_minor, tip_minor, total_minor, address, "
                   "language, created_at, updated_at) VALUES ('mitra/ORD-1001', "
                   "'mitra', 1001, 'simulator', '91', 'cancelled', 'INR', 5400, 0, 0, 5400, "
                   "'', 'en', 0, 0)")
        # the cancelled order's money arrived and sits in the books, owed to the shopper
        for account_name, amount in (("customer_receivable", 5400),
                                     ("merchant_revenue", -5400),
                                     ("merchant_revenue", 5400),
                                     ("customer_receivable", -5400),
                                     ("psp_clearing:sandbox", 5400),
                                     ("customer_receivable", -5400)):
            writes.add("INSERT INTO ledger_entries (shop_id, ref, account, amount_minor, "
                       "currency, created_at) VALUES ('mitra', 'x:ORD-1001', ?, ?, 'INR', 0)",
                       (account_name, amount))
        await db.write(writes)
        await db.close()

    asyncio.run(seed())
    done = subprocess.run([sys.executable, "-m", "webhooks", "reconcile"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, "HAAT_DATABASE_URL": url})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ANOMALY ledger_mismatch mitra/ORD-1001" in done.stdout, done.stdout
    assert "ledger_balanced=True" in done.stdout  # double entry alone saw nothing


# ---- Razorpay (tests/fakes/razorpay.py on loopback) -----------------------------------


async def _webhook(client: TestClient[Any, Any], name: str, event_id: str,
                   payload: dict[str, Any], created_at: int) -> None:
    body = json.dumps({"entity": "event", "account_id": "acc_FakeAccount01", "event": name,
                       "contains": list(payload), "created_at": created_at,
                       "payload": {key: {"entity": value} for key, value in payload.items()}
                       }).encode()
    response = await client.post("/webhooks/payments/razorpay", data=body, headers={
        "Content-Type": "application/json", "X-Razorpay-Event-Id": event_id,
        "X-Razorpay-Signature": _sign(RAZORPAY_WEBHOOK_SECRET, body)})
    assert response.status == 200, await response.text()


async def test_razorpay_links_are_cancelled_refunds_report_truthfully_and_a_dashboard_refund_closes_the_order(  # noqa: E501
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    shop = shop_copy(tmp_path, provider="razorpay", methods=["payment_link"])
    async with running_fake_razorpay() as (fake, api_base):
        live = await start_live(aiohttp_client, settings.with_(
            shop_dir=shop).with_env(
            RAZORPAY_KEY_ID=fake.key_id, RAZORPAY_KEY_SECRET=fake.key_secret,
            RAZORPAY_WEBHOOK_SECRET=RAZORPAY_WEBHOOK_SECRET, RAZORPAY_API_BASE_URL=api_base))
        buyer = Shopper(live, "+919000000713")
        owner = Shopper(live, OWNER)
        await place_order(buyer)
        await buyer.send("pay")  # a second link for the same order
        first, second = list(fake.links)
        payment_id = fake.pay_link(first)
        link = fake.links[first]
        await _webhook(live, "payment_link.paid", "evt_1", {
            "payment_link": link, "payment": fake.payments[payment_id],
            "order": fake.orders[link["order_id"]]}, fake.now + 61)
        # the order is paid: the other link is cancelled through Razorpay's API
        assert any(r.path == f"/v1/payment_links/{second}/cancel" for r in fake.requests)
        assert fake.links[second]["status"] == "cancelled"

        # a refund Razorpay answers "pending": nobody is told it is done
        fake.refund_mode = "pending"
        reply = await owner.text_of("refund ORD-1001 10")
        assert "₹10.00 accepted by the provider (pending)" in reply, reply
        told = _texts(await outbox(live, buyer.phone))
        assert any("accepted by the payment provider" in t for t in told)
        assert not any("has been refunded" in t for t in told)
        (refund_id,) = fake.refunds
        # …and then fails: the merchant is alerted and a retry is scheduled
        failed = fake.settle_refund(refund_id, "failed")
        await _webhook(live, "refund.failed", "evt_2", {
            "refund": failed, "payment": fake.payments[payment_id]}, fake.now + 200)
        alerts = _texts(await outbox(live, OWNER))
        assert any("Refund of ₹10.00 on ORD-1001 FAILED" in t and "retries" in t
                   for t in alerts), alerts

        # the whole payment is refunded from Razorpay's dashboard, not by haat
        fake.refund_mode = "processed"
        dashboard = {"id": "rfnd_Dashboard01", "entity": "refund", "amount": 5400,
                     "currency": "INR", "payment_id": payment_id, "status": "processed",
                     "created_at": fake.now + 300}
        await _webhook(live, "refund.processed", "evt_3", {
            "refund": dashboard, "payment": fake.payments[payment_id]}, fake.now + 300)
        orders = await owner.text_of("order ORD-1001")
        assert orders.startswith("ORD-1001 — refunded"), orders
        assert "cannot ship" in await owner.text_of("ship ORD-1001")
        assert any("refunded ₹54.00 on ORD-1001 by itself" in t
                   for t in _texts(await outbox(live, OWNER)))
