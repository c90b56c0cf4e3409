"""Stripe's own vectors and wire contract (the shared provider suite covers the rest).

Signature vectors: stripe-python's tests/test_webhook.py payload, secret and header cases,
each answered by stripe-python's own ``WebhookSignature`` (fixtures/payments/stripe).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from catalog.money import Money
from payments.providers.base import LinkRequest, ProviderError, Unsupported
from payments.providers.stripe import (
    StripeProvider,
    form_encode,
    signature_header,
    verify_signature,
)
from payments.status import PaymentEventKind, PaymentStatus, apply_events
from tests.fakes.stripe import WEBHOOK_SECRET, FakeStripe, parse_form

FIXTURES = Path(__file__).parents[1] / "fixtures" / "payments" / "stripe"
VECTORS = json.loads((FIXTURES / "signature_vectors__stripe_python.json").read_text(
    encoding="utf-8"))
AED = Money(4250, "AED")
K = PaymentEventKind
ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_stripe_python_signature_vectors(case: dict[str, Any]) -> None:
    body = VECTORS["payload"].encode()
    assert verify_signature([VECTORS["secret"]], body, case["header"], now=VECTORS["now"],
                            tolerance=case["tolerance"]) is case["valid"]


def test_the_shared_fixed_timestamp_vector() -> None:
    """stripe-python's older 125-byte DUMMY_WEBHOOK_PAYLOAD signed at t=12345 (computed for
    the shared fixtures and checked there with stripe 16.1.0; fixtures/payments/SOURCES.md)."""
    body = (FIXTURES / "sdk_test__DUMMY_WEBHOOK_PAYLOAD.json").read_bytes()
    assert len(body) == 125 and not body.endswith(b"\n")
    header = "t=12345,v1=07b1ede164afb7b5de91267ffa656f568c65d6e0783ce0ac55ee094643578eda"
    assert verify_signature([WEBHOOK_SECRET], body, header, now=12345, tolerance=300)
    assert not verify_signature([WEBHOOK_SECRET], body, header, now=12345 + 301,
                                tolerance=300)
    assert signature_header(WEBHOOK_SECRET, body, 12345) == header


def test_fixed_vectors_and_fail_closed() -> None:
    body = VECTORS["payload"].encode()
    for fixed in VECTORS["fixed"]:
        assert signature_header(VECTORS["secret"], body, fixed["t"]) == (
            f"t={fixed['t']},v1={fixed['v1']}")
        header = f"t={fixed['t']},v1={fixed['v1']}"
        assert verify_signature(["whsec_rotated", VECTORS["secret"]], body, header,
                                now=fixed["t"] + 1, tolerance=300)
        assert not verify_signature([], body, header, now=fixed["t"], tolerance=300)
        assert not verify_signature([""], body, header, now=fixed["t"], tolerance=300)
        assert not verify_signature([VECTORS["secret"]], body + b"\n", header,
                                    now=fixed["t"], tolerance=300)
        assert not verify_signature([VECTORS["secret"]], body, header,
                                    now=fixed["t"] + 301, tolerance=300)  # a replay
        assert not verify_signature([VECTORS["secret"]], body, None, now=fixed["t"],
                                    tolerance=300)
        assert not verify_signature([VECTORS["secret"]], body, f"t=-{fixed['t']},v1=00",
                                    now=fixed["t"], tolerance=300)


def test_form_encoding_round_trips_through_the_fake() -> None:
    form = {"line_items": [{"price_data": {"currency": "aed", "unit_amount": 4250},
                            "quantity": 1}], "active": False, "metadata": {"haat_ref": "R 1&2"}}
    encoded = form_encode(form)
    assert "line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=aed" in encoded
    assert parse_form(encoded) == {
        "line_items": {"0": {"price_data": {"currency": "aed", "unit_amount": "4250"},
                             "quantity": "1"}},
        "active": "false", "metadata": {"haat_ref": "R 1&2"}}


async def test_stripe_requests_on_the_wire(aiohttp_server: ServerFactory) -> None:
    fake = FakeStripe()
    server = await aiohttp_server(fake.build_app())
    base = str(server.make_url("/v1"))
    async with aiohttp.ClientSession() as session:
        provider = StripeProvider(session, secret_key=fake.secret_key,
                                  webhook_secret=WEBHOOK_SECRET, base_url=base)
        request = LinkRequest(reference="pr_1", amount=AED, description="Order ORD-3",
                              callback_url="https://haat.example/pay/tok")
        link = await provider.create_payment_link(request)
        sent = fake.requests[-1]
        assert (sent.method, sent.path) == ("POST", "/v1/payment_links")
        assert sent.headers["Authorization"] == f"Bearer {fake.secret_key}"
        assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert sent.headers["Stripe-Version"] == "2025-07-30.basil"
        assert sent.headers["Idempotency-Key"] == "haat-link-pr_1"
        item = sent.form["line_items"]["0"]
        assert item["price_data"] == {"currency": "aed", "unit_amount": "4250",
                                      "product_data": {"name": "Order ORD-3"}}
        assert sent.form["metadata"] == {"haat_ref": "pr_1"}
        assert sent.form["payment_intent_data"] == {"metadata": {"haat_ref": "pr_1"}}
        assert sent.form["restrictions"] == {"completed_sessions": {"limit": "1"}}
        assert sent.form["after_completion"] == {
            "type": "redirect", "redirect": {"url": "https://haat.example/pay/tok"}}
        assert link.url is not None and link.url.startswith("https://buy.stripe.com/")
        assert link.upi_uri is None and link.amount == AED
        again = await provider.create_payment_link(request)  # a retry: the same link
        assert again.provider_ref == link.provider_ref and len(fake.links) == 1

        intent = fake.pay_link(link.provider_ref)
        events = await provider.fetch(link.provider_ref)
        assert [(e.kind, e.payment_id, e.amount) for e in events] == [(K.CAPTURED, intent, AED)]
        fake.refund_mode = "pending"
        pending = await provider.refund(intent, Money(1000, "AED"), idempotency_key="rf-1")
        assert (pending.status, pending.amount, pending.payment_id) == (
            "pending", Money(1000, "AED"), intent)
        assert fake.requests[-1].headers["Idempotency-Key"] == "rf-1"
        with pytest.raises(ProviderError, match="idempotent"):
            await provider.refund(intent, Money(999, "AED"), idempotency_key="rf-1")
        with pytest.raises(ProviderError, match="greater than unrefunded"):
            await provider.refund(intent, AED, idempotency_key="rf-2")
        fake.refund_mode = "failed"
        failed = await provider.refund(intent, Money(1, "AED"), idempotency_key="rf-3")
        assert failed.status == "failed"

        await provider.cancel_link(link.provider_ref)
        assert fake.requests[-1].form == {"active": "false"}
        assert fake.links[link.provider_ref]["active"] is False
        closed = await provider.fetch(link.provider_ref)
        assert {e.kind for e in closed} == {K.CAPTURED, K.CANCELLED}
        assert apply_events(AED, closed).status is PaymentStatus.PAID

        with pytest.raises(Unsupported):
            await provider.create_collect(None)  # type: ignore[arg-type]
        with pytest.raises(ProviderError, match="ISO 4217"):
            await provider.create_payment_link(LinkRequest("pr_2", Money(5, "ETH/18")))
        wrong = StripeProvider(session, secret_key="sk_test_wrong", webhook_secret=None,
                               base_url=base)
        with pytest.raises(ProviderError, match="401") as info:
            await wrong.create_payment_link(request)
        assert "sk_test_wrong" not in str(info.value)
        with pytest.raises(ProviderError, match="STRIPE_SECRET_KEY"):
            await StripeProvider(session, secret_key=None, webhook_secret=None,
                                 base_url=base).create_payment_link(request)
        as_json = await session.post(f"{base}/payment_links", json={"a": 1}, headers={
            "Authorization": f"Bearer {fake.secret_key}"})
        assert as_json.status == 400  # the fake enforces form encoding, as Stripe does


async def test_stripe_events_parse(aiohttp_server: ServerFactory) -> None:
    fake = FakeStripe()
    server = await aiohttp_server(fake.build_app())
    async with aiohttp.ClientSession() as session:
        provider = StripeProvider(session, secret_key=fake.secret_key,
                                  webhook_secret=WEBHOOK_SECRET,
                                  base_url=str(server.make_url("/v1")))
        link = await provider.create_payment_link(LinkRequest("pr_9", AED))
        intent = fake.pay_link(link.provider_ref)
        session_obj = fake.session_for(intent)
        body = fake.event("checkout.session.completed", session_obj)
        assert provider.verify_callback(fake.signed(body), body)
        assert not provider.verify_callback(fake.signed(body, at=1_000_000), body)  # replayed
        [paid] = provider.parse_callback({}, body)
        assert (paid.kind, paid.provider_ref, paid.payment_id, paid.reference, paid.amount) == (
            K.CAPTURED, link.provider_ref, intent, "pr_9", AED)
        unpaid = fake.event("checkout.session.completed",
                            session_obj | {"payment_status": "unpaid"})
        assert provider.parse_callback({}, unpaid) == []  # an async method: wait for it
        failed = fake.event("checkout.session.async_payment_failed", session_obj)
        assert provider.parse_callback({}, failed)[0].kind is K.FAILED
        refund = await provider.refund(intent, Money(250, "AED"), idempotency_key="r")
        created = fake.event("refund.created", dict(refund.raw) | {"status": "pending"})
        assert provider.parse_callback({}, created) == []
        [done] = provider.parse_callback({}, fake.event("refund.updated", dict(refund.raw)))
        assert (done.kind, done.refund_id, done.payment_id, done.amount) == (
            K.REFUNDED, refund.refund_id, intent, Money(250, "AED"))
        float_amount = fake.event("checkout.session.completed",
                                  session_obj | {"amount_total": 42.5})
        with pytest.raises(ProviderError, match="integer"):
            provider.parse_callback({}, float_amount)
        for bad in (b"[]", b'{"object": "event"}', b"nope"):
            with pytest.raises(ProviderError):
                provider.parse_callback({}, bad)
