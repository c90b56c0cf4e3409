"""Payments at the HTTP edge: a simulator checkout, the link and QR it offers, the PSP's signed
callbacks (forged, duplicated, reordered, late), refunds, tips, and each provider — the
sandbox, plain UPI intent, Razorpay (a loopback fake) — and the WhatsApp Cloud API's
``order_details`` message. The app listens on loopback and is its own public URL, so every
callback travels over real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from payments.providers.sandbox import SandboxProvider
from payments.repository import PaymentRequest
from payments.upi import UpiLink
from tests.browser import decode_qr
from tests.conftest import AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADDRESS,
    ADMIN,
    OWNER,
    SANDBOX_AUTH,
    account,
    ledger_by_currency,
    outbox,
    payment_reply,
    place_order,
    running_fake_razorpay,
    shop_copy,
    start_live,
    token_of,
)
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.sim import cloud_button, cloud_text, signed_cloud_request
from webhooks import keys as k

CALLBACK = "/webhooks/payments/sandbox"
RECEIPT = "Payment of ₹54.00 received for *ORD-1001*"
RAZORPAY_WEBHOOK_SECRET = "rzp-webhook-secret"


# ---- helpers -----------------------------------------------------------------------------


async def _request(client: TestClient[Any, Any], token: str) -> PaymentRequest:
    found: PaymentRequest | None = await client.app[k.PAYMENTS].repo.request_by_token(token)
    assert found is not None
    return found


def _sandbox(client: TestClient[Any, Any]) -> SandboxProvider:
    provider = client.app[k.PROVIDERS]["sandbox"]
    assert isinstance(provider, SandboxProvider)
    return provider


async def _settle(client: TestClient[Any, Any], token: str, outcome: str = "success",
                  **options: Any) -> list[int]:
    """The sandbox PSP decides and POSTs its signed callbacks to our public URL."""
    request = await _request(client, token)
    callback = client.app[k.SETTINGS].public_base + CALLBACK
    deliveries = await _sandbox(client).settle(request.provider_ref or "", outcome,  # type: ignore[arg-type]
                                               callback, **options)
    return [d.status for d in deliveries]


async def _pay_on_page(client: TestClient[Any, Any], token: str) -> None:
    response = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
    assert response.status == 200 and (await response.json())["delivered"] == 1


async def _orders(client: TestClient[Any, Any], customer: str | None = None,
                  ) -> list[dict[str, Any]]:
    params = {"customer": customer} if customer else {}
    response = await client.get("/api/orders", params=params, headers=ADMIN)
    assert response.status == 200
    orders: list[dict[str, Any]] = (await response.json())["orders"]
    return orders


async def _status(client: TestClient[Any, Any], token: str) -> dict[str, Any]:
    response = await client.get(f"/pay/{token}/status")
    assert response.status == 200
    data: dict[str, Any] = await response.json()
    return data


async def _events_stored(client: TestClient[Any, Any]) -> int:
    row = await client.app[k.DB].fetchone("SELECT COUNT(*) FROM provider_events", ())
    return int(row[0]) if row else 0


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("text", "")) for m in messages]


async def _balanced(client: TestClient[Any, Any]) -> None:
    totals = await ledger_by_currency(client)
    assert totals and all(total == 0 for total in totals.values()), totals


def _two_decimals(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _sandbox_body(request: PaymentRequest, **changes: Any) -> bytes:
    payload = {"id": "sevt_forged0001", "type": "payment.captured",
               "created_at": int(time.time()), "ref": request.provider_ref,
               "reference": request.id, "payment_id": "spay_forged0001", "refund_id": None,
               "amount": request.amount_minor, "currency": request.currency} | changes
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---- the offer: link, QR, UPI link ---------------------------------------------------------


async def test_checkout_offers_a_page_and_a_qr_of_the_exact_upi_link(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    replies = await place_order(buyer, "2 samosa")
    assert "ORD-1001" in replies[0]["text"] and "₹54.00" in replies[0]["text"]
    pay = payment_reply(replies)
    token = token_of(pay["link"])
    assert len(token) >= 32  # unguessable: ≥ 192 random bits
    assert pay["link"] == f"{live.app[k.SETTINGS].public_base}/pay/{token}"
    assert pay["image_url"] == pay["link"] + "/qr.png"
    request = await _request(live, token)
    assert pay["extra"]["upi_link"] == request.upi_link

    qr = await live.get(f"/pay/{token}/qr.png")
    assert qr.status == 200 and qr.content_type == "image/png"
    assert decode_qr(await qr.read()) == [request.upi_link]

    order = (await _orders(live))[0]
    link = UpiLink.parse(request.upi_link)
    assert order["total_minor"] == 5400 and order["payments"][0]["id"] == request.id
    assert link.am == _two_decimals(order["total_minor"]) == "54.00"
    assert link.tr == request.id
    # the sandbox is a test: its QR pays a reserved test VPA, never the merchant's
    assert (link.pa, link.pn, link.cu, link.mc) == ("sandbox.test@invalid", "SANDBOX TEST",
                                                    "INR", None)
    state = await _status(live, token)
    assert (state["status"], state["order_status"], state["amount_minor"]) == (
        "issued", "pending_payment", 5400)


async def test_unknown_or_malformed_payment_tokens_are_404(live: TestClient[Any, Any]) -> None:
    for token in ("x" * 32, "short", "y" * 80):
        for suffix in ("", "/qr.png", "/status"):
            assert (await live.get(f"/pay/{token}{suffix}")).status == 404, (token, suffix)
        response = await live.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
        assert response.status == 404


async def test_the_sandbox_button_rejects_bad_input(live: TestClient[Any, Any],
                                                    buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    for body in (b"{not json", b'{"outcome": "maybe"}', b"[]"):
        response = await live.post(f"/pay/{token}/sandbox", data=body,
                                   headers={"Content-Type": "application/json", **SANDBOX_AUTH})
        assert response.status == 400, body
    assert (await _status(live, token))["status"] == "issued"
    assert await _events_stored(live) == 0


# ---- signed callbacks ----------------------------------------------------------------------


async def test_forged_callbacks_are_403_and_store_nothing(
        live: TestClient[Any, Any], buyer: Shopper, settings: Settings) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    request = await _request(live, token)
    body = _sandbox_body(request)
    secret = settings.env.get("HAAT_SANDBOX_SECRET", "")
    tampered = _sandbox_body(request, amount=1)
    forgeries: list[tuple[bytes, dict[str, str]]] = [
        (body, {}),
        (body, {"X-Sandbox-Signature": "sha256=" + _sign("not-the-secret", body)}),
        (body, {"X-Sandbox-Signature": _sign(secret, body)}),  # no scheme prefix
        (body, {"X-Sandbox-Signature": "sha256=" + "0" * 64}),
        (tampered, {"X-Sandbox-Signature": "sha256=" + _sign(secret, body)}),
        (body + b" ", {"X-Sandbox-Signature": "sha256=" + _sign(secret, body)}),
    ]
    for data, headers in forgeries:
        response = await live.post(CALLBACK, data=data,
                                   headers=headers | {"Content-Type": "application/json"})
        assert response.status == 403, headers
    assert await _events_stored(live) == 0
    assert (await _status(live, token))["status"] == "issued"
    assert not any("received" in t for t in _texts(await outbox(live, buyer.phone)))
    # nobody calls back for plain UPI, and there is no such provider as "paypal" here
    signed = {"X-Sandbox-Signature": "sha256=" + _sign(secret, body)}
    assert (await live.post("/webhooks/payments/upi_intent", data=body,
                            headers=signed)).status == 403
    assert (await live.post("/webhooks/payments/paypal", data=body,
                            headers=signed)).status == 404
    assert await _events_stored(live) == 0

    # the very same bytes signed with the real secret are accepted: only the signature was off
    response = await live.post(CALLBACK, data=body, headers=signed)
    assert response.status == 200 and await response.json() == {"received": 1, "applied": 1,
                                                             "rejected": 0}
    assert (await _status(live, token))["status"] == "paid"


async def test_no_sandbox_secret_means_every_callback_is_refused(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    client = await start_live(aiohttp_client, settings.with_env(HAAT_SANDBOX_SECRET=None))
    shopper = Shopper(client, "+919000000102")
    token = token_of(payment_reply(await place_order(shopper))["link"])
    request = await _request(client, token)
    body = _sandbox_body(request)
    for secret in ("", "sandbox-secret"):
        response = await client.post(CALLBACK, data=body, headers={
            "X-Sandbox-Signature": "sha256=" + _sign(secret, body)})
        assert response.status == 403
    assert await _events_stored(client) == 0
    # and the sandbox cannot settle without a secret to sign with: a clear 409, not a 500
    # (the admin token may ask; the link alone may not)
    response = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"})
    assert response.status == 403
    response = await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=ADMIN)
    assert response.status == 409


@pytest.mark.parametrize("options", [
    {"duplicates": 2},
    {"reverse": True},
    {"prior_failure": True},
    {"prior_failure": True, "reverse": True, "duplicates": 2},
], ids=["duplicates", "reversed", "failure-then-success", "all-at-once"])
async def test_awkward_deliveries_pay_once_with_one_receipt(
        live: TestClient[Any, Any], buyer: Shopper, options: dict[str, Any]) -> None:
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    request = await _request(live, token)
    statuses = await _settle(live, token, **options)
    assert statuses and all(status == 200 for status in statuses)
    # the PSP then retries every webhook it ever sent for this request
    redelivered = await _sandbox(live).redeliver(
        request.provider_ref or "", live.app[k.SETTINGS].public_base + CALLBACK)
    assert all(d.status == 200 for d in redelivered)

    texts = _texts(await outbox(live, buyer.phone))
    assert sum(RECEIPT in t for t in texts) == 1, texts
    alerts = _texts(await outbox(live, OWNER))
    assert sum("ORD-1001 paid" in t for t in alerts) == 1, alerts
    distinct = {d.event.event_id for d in redelivered}
    assert await _events_stored(live) == len(distinct)
    order = (await _orders(live))[0]
    assert order["status"] == "paid"
    assert [(p["status"], p["captured_minor"]) for p in order["payments"]] == [("paid", 5400)]
    await _balanced(live)
    assert await account(live, "psp_clearing:sandbox") == 5400
    assert await account(live, "customer_receivable") == 0


async def test_money_after_expiry_is_kept_and_the_merchant_is_told(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    """``payments.late_payment: manual``: the money waits for the merchant's refund."""
    shop = shop_copy(tmp_path, late_payment="manual")
    # the owner's refund is typed on the simulator: owner powers there are opt-in
    live = await start_live(aiohttp_client,
                            settings.with_(shop_dir=shop, simulator_owner=True), clock)
    buyer = Shopper(live, "+919000000654")
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    clock.advance(minutes=61)
    await live.app[k.SCHEDULER].run_due()
    assert any("expired" in t for t in _texts(await outbox(live, buyer.phone)))
    assert (await _orders(live))[0]["status"] == "cancelled"
    assert (await live.get(f"/pay/{token}/qr.png")).status == 410

    await _pay_on_page(live, token)  # the shopper paid from an old screen anyway
    state = await _status(live, token)
    assert (state["status"], state["order_status"], state["captured_minor"]) == (
        "paid_after_close", "cancelled", 5400)
    told = _texts(await outbox(live, buyer.phone))
    assert any("after it had closed" in t for t in told), told
    assert not any(RECEIPT in t for t in told)
    alerts = _texts(await outbox(live, OWNER))
    assert any("₹54.00 arrived for ORD-1001 after it closed" in t for t in alerts), alerts
    await _balanced(live)
    assert await account(live, "psp_clearing:sandbox") == 5400
    assert await account(live, "customer_receivable") == -5400  # we owe it back

    # the merchant returns it, as the alert says
    reply = await Shopper(live, OWNER).text_of("refund ORD-1001")
    assert "Refund of ₹54.00 for ORD-1001" in reply
    assert (await _status(live, token))["status"] == "refunded"
    assert any("has been refunded" in t for t in _texts(await outbox(live, buyer.phone)))
    await _balanced(live)
    assert await account(live, "psp_clearing:sandbox") == 0


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
async def test_a_psp_reported_late_capture_tells_one_consistent_story(
        live: TestClient[Any, Any], buyer: Shopper, reverse: bool) -> None:
    """The PSP says the request expired and then the money came (``late``). Whatever order
    the two webhooks arrive in, the order, the payment page and the messages must agree."""
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    statuses = await _settle(live, token, late=True, duplicates=1, reverse=reverse)
    assert all(status == 200 for status in statuses)
    state = await _status(live, token)
    assert state["captured_minor"] == 5400  # never dropped
    await _balanced(live)
    texts = _texts(await outbox(live, buyer.phone))
    receipts = sum(RECEIPT in t for t in texts)
    late_notes = sum("after it had closed" in t for t in texts)
    assert receipts + late_notes == 1, texts
    if state["status"] in ("paid_after_close", "refunded"):
        # the page says "the shop will refund you": the order must not be going ahead, and
        # with the default policy (payments.late_payment: refund) the money goes back at once
        # the sale stays cancelled: the money went back, nothing was sold
        assert (state["status"], state["order_status"]) == ("refunded", "cancelled"), state
        assert late_notes == 1
        assert any("has been refunded" in t for t in texts)
        assert any("refund exactly that" in t for t in _texts(await outbox(live, OWNER)))
    else:
        assert (state["status"], state["order_status"]) == ("paid", "paid"), state
        assert receipts == 1


# ---- refunds -------------------------------------------------------------------------------


async def test_refunds_by_command_and_api_never_exceed_the_capture(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    live = await start_live(aiohttp_client, settings.with_(simulator_owner=True), clock)
    buyer = Shopper(live, "+919000000101")
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    await _pay_on_page(live, token)
    owner = Shopper(live, OWNER)

    assert "Refund of ₹10.00 for ORD-1001: " in await owner.text_of("refund ORD-1001 10")
    assert any("₹10.00 for *ORD-1001* has been refunded" in t
               for t in _texts(await outbox(live, buyer.phone)))
    assert "Cannot refund ORD-1001" in await owner.text_of("refund ORD-1001 50")  # 44 left

    too_much = await live.post("/api/orders/ORD-1001/refund", json={"amount_minor": 4401},
                               headers=ADMIN)
    assert too_much.status == 409
    assert (await too_much.json())["error"] == "refund_too_large"
    rest = await live.post("/api/orders/ORD-1001/refund", json={"amount_minor": 4400},
                           headers=ADMIN)
    assert rest.status == 200, await rest.text()
    body = await rest.json()
    assert body["refunded_minor"] == 4400
    assert [(p["captured_minor"], p["refunded_minor"], p["status"])
            for p in body["order"]["payments"]] == [(5400, 5400, "refunded")]
    again = await live.post("/api/orders/ORD-1001/refund", json={}, headers=ADMIN)
    assert again.status == 409 and (await again.json())["error"] == "nothing_to_refund"
    assert "Cannot refund ORD-1001" in await owner.text_of("refund ORD-1001")

    assert (await _orders(live))[0]["status"] == "refunded"
    await _balanced(live)
    assert await account(live, "psp_clearing:sandbox") == 0
    assert await account(live, "refunds_payable") == 0


# ---- tips ----------------------------------------------------------------------------------


async def test_a_tip_after_delivery_is_its_own_payment_and_goes_to_tips(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock) -> None:
    live = await start_live(aiohttp_client, settings.with_(simulator_owner=True), clock)
    buyer = Shopper(live, "+919000000101")
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    await _pay_on_page(live, token)
    assert "ORD-1001 is now delivered" in await Shopper(live, OWNER).text_of("deliver ORD-1001")
    await outbox(live, buyer.phone)
    await outbox(live, OWNER)

    tip = payment_reply(await buyer.send("tip 50"))
    tip_token = token_of(tip["link"])
    assert tip_token != token
    tip_link = UpiLink.parse(tip["extra"]["upi_link"])
    tip_request = await _request(live, tip_token)
    assert (tip_link.am, tip_link.tr) == ("50.00", tip_request.id)
    assert (tip_request.method, tip_request.amount_minor) == ("tip", 5000)
    assert decode_qr(await (await live.get(f"/pay/{tip_token}/qr.png")).read()) == [
        tip["extra"]["upi_link"]]

    await _pay_on_page(live, tip_token)
    assert any("₹50.00 tip" in t for t in _texts(await outbox(live, buyer.phone)))
    assert any("Tip ₹50.00 on ORD-1001" in t for t in _texts(await outbox(live, OWNER)))
    order = (await _orders(live))[0]
    assert order["status"] == "delivered" and order["total_minor"] == 5400
    assert sorted((p["method"], p["captured_minor"]) for p in order["payments"]) == [
        ("tip", 5000), ("upi_link", 5400)]
    assert await account(live, "tips") == -5000  # income: a credit
    assert await account(live, "psp_clearing:sandbox") == 10400
    await _balanced(live)


# ---- plain UPI: the merchant confirms ------------------------------------------------------


async def test_upi_intent_shop_is_paid_by_the_merchants_confirmation(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    shop = shop_copy(tmp_path, provider="upi_intent", methods=["upi_link"])
    client = await start_live(aiohttp_client,
                              settings.with_(shop_dir=shop, simulator_owner=True))
    shopper = Shopper(client, "+919000000103")
    pay = payment_reply(await place_order(shopper, "2 samosa"))
    token = token_of(pay["link"])
    request = await _request(client, token)
    assert request.provider == "upi_intent"
    link = UpiLink.parse(pay["extra"]["upi_link"])
    assert (link.pa, link.am, link.tr) == ("mitratea@okaxis", "54.00", request.id)
    assert decode_qr(await (await client.get(f"/pay/{token}/qr.png")).read()) == [
        pay["extra"]["upi_link"]]
    # no PSP: no sandbox button, and nobody may call back pretending to be one
    assert (await client.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
            ).status == 404
    assert (await client.post("/webhooks/payments/upi_intent", data=b"{}")).status == 403

    owner = Shopper(client, OWNER)
    assert "ORD-1001 marked paid (₹54.00)" in await owner.text_of("paid ORD-1001")
    assert sum(RECEIPT in t for t in _texts(await outbox(client, shopper.phone))) == 1
    assert "nothing to confirm" in await owner.text_of("paid ORD-1001")
    assert not any(RECEIPT in t for t in _texts(await outbox(client, shopper.phone)))
    order = (await _orders(client))[0]
    assert order["status"] == "paid"
    assert [(p["status"], p["captured_minor"]) for p in order["payments"]] == [("paid", 5400)]
    assert await account(client, "psp_clearing:upi_intent") == 5400
    await _balanced(client)


# ---- Razorpay (tests/fakes/razorpay.py on loopback) -----------------------------------------


def _razorpay_webhook(fake: Any, link_id: str, payment_id: str) -> bytes:
    """A ``payment_link.paid`` envelope shaped like Razorpay's docs sample."""
    link = fake.links[link_id]
    payment = fake.payments[payment_id]
    order = fake.orders[link["order_id"]] | {"status": "paid", "amount_paid": link["amount"]}
    envelope = {
        "entity": "event", "account_id": "acc_FakeAccount01", "event": "payment_link.paid",
        "contains": ["payment_link", "order", "payment"],
        "payload": {"payment_link": {"entity": link}, "order": {"entity": order},
                    "payment": {"entity": payment}},
        "created_at": fake.now + 61,
    }
    return json.dumps(envelope).encode()


async def test_razorpay_payment_link_then_signed_webhook_marks_the_order_paid(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    shop = shop_copy(tmp_path, provider="razorpay", methods=["payment_link"])
    async with running_fake_razorpay() as (fake, api_base):
        client = await start_live(aiohttp_client, settings.with_(shop_dir=shop).with_env(
            RAZORPAY_KEY_ID=fake.key_id, RAZORPAY_KEY_SECRET=fake.key_secret,
            RAZORPAY_WEBHOOK_SECRET=RAZORPAY_WEBHOOK_SECRET, RAZORPAY_API_BASE_URL=api_base))
        shopper = Shopper(client, "+919000000104")
        replies = await place_order(shopper, "2 samosa")

        created = [r for r in fake.requests if (r.method, r.path) == ("POST", "/v1/payment_links")]
        assert len(created) == 1 and created[0].body is not None
        order = (await _orders(client))[0]
        request_id = order["payments"][0]["id"]
        assert created[0].body["amount"] == 5400  # paise, an integer
        assert created[0].body["currency"] == "INR"
        assert created[0].body["reference_id"] == request_id
        (link_id,) = fake.links
        offered = [r for r in replies if r.get("link")]
        assert offered and offered[-1]["link"] == fake.links[link_id]["short_url"]

        payment_id = fake.pay_link(link_id)  # the shopper pays on Razorpay's page
        body = _razorpay_webhook(fake, link_id, payment_id)
        headers = {"Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_Fake0001"}
        forged = await client.post("/webhooks/payments/razorpay", data=body, headers=headers | {
            "X-Razorpay-Signature": _sign("the-api-key-secret-is-not-it", body)})
        assert forged.status == 403
        assert await _events_stored(client) == 0
        signed = headers | {"X-Razorpay-Signature": _sign(RAZORPAY_WEBHOOK_SECRET, body)}
        response = await client.post("/webhooks/payments/razorpay", data=body, headers=signed)
        assert response.status == 200 and await response.json() == {"received": 1, "applied": 1,
                                                             "rejected": 0}
        again = await client.post("/webhooks/payments/razorpay", data=body, headers=signed)
        assert again.status == 200 and (await again.json())["applied"] == 0

        order = (await _orders(client))[0]
        assert order["status"] == "paid"
        assert [(p["status"], p["captured_minor"]) for p in order["payments"]] == [
            ("paid", 5400)]
        assert sum(RECEIPT in t for t in _texts(await outbox(client, shopper.phone))) == 1
        assert await account(client, "psp_clearing:razorpay") == 5400
        await _balanced(client)

        # a refund goes to Razorpay for that payment, in paise, with an idempotency key
        refund = await client.post("/api/orders/ORD-1001/refund", json={"amount_minor": 1000},
                                   headers=ADMIN)
        assert refund.status == 200, await refund.text()
        sent = [r for r in fake.requests if r.path == f"/v1/payments/{payment_id}/refund"]
        assert len(sent) == 1 and sent[0].body is not None and sent[0].body["amount"] == 1000
        assert sent[0].headers.get("X-Refund-Idempotency")
        assert fake.payments[payment_id]["amount_refunded"] == 1000
        await _balanced(client)


async def test_a_tip_at_a_shop_paid_by_razorpay_links_is_paid_on_razorpays_page(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    """Razorpay's links carry no UPI intent, so the tip's link is Razorpay's own page (our
    /pay/ page would have nothing to pay with), and the money it takes is a tip."""
    shop = shop_copy(tmp_path, provider="razorpay", methods=["payment_link"])
    async with running_fake_razorpay() as (fake, api_base):
        client = await start_live(aiohttp_client, settings.with_(
            shop_dir=shop, simulator_owner=True).with_env(
            RAZORPAY_KEY_ID=fake.key_id, RAZORPAY_KEY_SECRET=fake.key_secret,
            RAZORPAY_WEBHOOK_SECRET=RAZORPAY_WEBHOOK_SECRET, RAZORPAY_API_BASE_URL=api_base))
        shopper = Shopper(client, "+919000000105")
        await place_order(shopper, "2 samosa")
        headers = {"Content-Type": "application/json"}
        for n, link_id in enumerate(list(fake.links)):  # the order's link, paid
            body = _razorpay_webhook(fake, link_id, fake.pay_link(link_id))
            paid = await client.post("/webhooks/payments/razorpay", data=body, headers=headers | {
                "X-Razorpay-Event-Id": f"evt_order{n}",
                "X-Razorpay-Signature": _sign(RAZORPAY_WEBHOOK_SECRET, body)})
            assert paid.status == 200
        assert "ORD-1001 is now delivered" in await Shopper(client, OWNER).text_of(
            "deliver ORD-1001")
        tip_reply = [r for r in await shopper.send("tip 50") if r.get("link")]
        (tip_link_id,) = [lid for lid in fake.links if fake.links[lid]["amount"] == 5000]
        assert tip_reply and tip_reply[-1]["link"] == fake.links[tip_link_id]["short_url"]
        assert "tip" in tip_reply[-1]["text"] and "/pay/" not in tip_reply[-1]["text"]
        body = _razorpay_webhook(fake, tip_link_id, fake.pay_link(tip_link_id))
        paid = await client.post("/webhooks/payments/razorpay", data=body, headers=headers | {
            "X-Razorpay-Event-Id": "evt_tip", "X-Razorpay-Signature": _sign(
                RAZORPAY_WEBHOOK_SECRET, body)})
        assert paid.status == 200 and (await paid.json())["applied"] == 1
        assert await account(client, "tips") == -5000  # income: a credit
        await _balanced(client)


# ---- the WhatsApp Cloud API channel --------------------------------------------------------


async def _cloud_checkout(aiohttp_client: AiohttpClient, settings: Settings,
                          graph: FakeGraphApi, customer: str,
                          ) -> tuple[TestClient[Any, Any], list[dict[str, Any]]]:
    """A checkout over signed Cloud API webhooks; (client, the messages sent to Graph)."""
    client = await start_live(aiohttp_client, settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN))
    steps = [cloud_text("2 samosa", from_=customer), cloud_text("checkout", from_=customer),
             cloud_text(ADDRESS, from_=customer), cloud_button("confirm", "Confirm",
                                                               from_=customer)]
    for payload in steps:
        body, headers = signed_cloud_request(settings.env.get("WHATSAPP_APP_SECRET", ""), payload)
        assert (await client.post("/webhooks/whatsapp", data=body, headers=headers)).status == 200
        await client.app[k.OUTBOX].drain()
    return client, [r.json for r in graph.received if r.json is not None]


def _order_details(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in sent if m.get("type") == "interactive"
            and m["interactive"].get("type") == "order_details"]


async def test_cloud_checkout_sends_order_details_and_then_the_receipt(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi) -> None:
    customer = "919000000105"
    client, sent = await _cloud_checkout(aiohttp_client, settings, graph, customer)
    details = _order_details(sent)
    assert len(details) == 1 and details[0]["to"] == customer
    assert details[0]["interactive"]["action"]["name"] == "review_and_pay"
    params = details[0]["interactive"]["action"]["parameters"]
    order = (await _orders(client))[0]
    request = await client.app[k.PAYMENTS].repo.request(order["payments"][0]["id"])
    assert request is not None
    assert params["reference_id"] == request.id
    assert params["currency"] == "INR"
    assert params["total_amount"] == {"value": 5400, "offset": 100}
    assert params["order"]["status"] == "pending"
    (setting,) = params["payment_settings"]
    assert setting["type"] == "upi_intent_link"
    link = UpiLink.parse(setting["upi_intent_link"]["link"])
    assert (link.pa, link.tr) == ("sandbox.test@invalid", request.id)  # a test link

    await _pay_on_page(client, request.token)
    await client.app[k.OUTBOX].drain()
    after = [r.json for r in graph.received if r.json is not None][len(sent):]
    to_shopper = [m for m in after if m.get("to") == customer]
    receipts = [m for m in to_shopper if
                (m.get("type") == "text" and RECEIPT in m["text"]["body"]) or
                (m.get("type") == "interactive" and m["interactive"]["type"] == "order_status"
                 and m["interactive"]["action"]["parameters"]["reference_id"] == request.id)]
    assert len(receipts) >= 1, to_shopper
    texts = [m["text"]["body"] for m in to_shopper if m.get("type") == "text"]
    assert sum(RECEIPT in t for t in texts) <= 1


async def test_cloud_order_details_follow_metas_rules(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi) -> None:
    """docs/DESIGN.md §5.3: the intent link carries only pa, pn, mc, purpose
    and tr (the amount comes from total_amount); tax is mandatory; subtotal = Σ items and
    total = subtotal + tax + shipping − discount."""
    _, sent = await _cloud_checkout(aiohttp_client, settings, graph, "919000000106")
    params = _order_details(sent)[0]["interactive"]["action"]["parameters"]
    link = UpiLink.parse(params["payment_settings"][0]["upi_intent_link"]["link"])
    keys = {key for key, _ in link.params}
    assert keys <= {"pa", "pn", "mc", "purpose", "tr"}, sorted(keys)
    order = params["order"]
    assert "tax" in order, sorted(order)
    items = order["items"]
    assert items, "order_details needs its items"
    assert order["subtotal"]["value"] == sum(i["amount"]["value"] * i["quantity"] for i in items)
    total = order["subtotal"]["value"] + order["tax"]["value"] + \
        order.get("shipping", {}).get("value", 0) - order.get("discount", {}).get("value", 0)
    assert params["total_amount"]["value"] == total


async def test_with_late_payment_manual_late_money_waits_for_the_merchant(
        aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path) -> None:
    shop = shop_copy(tmp_path, late_payment="manual")
    live = await start_live(aiohttp_client, settings.with_(shop_dir=shop))
    buyer = Shopper(live, "+919000000321")
    token = token_of(payment_reply(await place_order(buyer, "2 samosa"))["link"])
    await _settle(live, token, late=True)
    state = await _status(live, token)
    assert (state["status"], state["order_status"]) == ("paid_after_close", "cancelled")
    assert state["captured_minor"] == 5400  # kept, never dropped
    alerts = _texts(await outbox(live, OWNER))
    assert any("Send `refund ORD-1001 excess` to return exactly" in t for t in alerts)
    await _balanced(live)
