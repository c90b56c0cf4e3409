"""One provider event counts once even when several services on one database get it.

A single service's lock serialises its own deliveries, which hid the database's unique
guard on provider events (issue 20). Here the same webhook reaches ten service objects on
the same database at once (ten processes behind a load balancer), then once more later.
(Removing only the event row's guard, ``must_change`` in payments/repository.py
``insert_event``, is still caught here by the request row's version check: the two guards
back each other up; docs/TESTING.md.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from catalog.money import Money
from payments.providers.base import PaymentProvider, ProviderError, ProviderEvent, ProviderRefund
from payments.providers.razorpay import RazorpayProvider
from payments.repository import Order, PaymentRequest, Refund
from payments.service import PaymentPlan, PaymentService, PaymentUpdate
from payments.status import RefundStatus
from security.signatures import hmac_sha256_hex
from storage.database import WriteSet
from tests.contract.money_env import (
    T0,
    TOTAL,
    Env,
    K,
    ask,
    clean_books,
    event,
    fresh,
    new_order,
    pay,
)
from tests.fakes.psp import NAME, ScriptedPsp
from tests.fakes.razorpay import FakeRazorpay

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


async def test_the_same_capture_at_ten_services_at_once_is_captured_once(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    env.psp.capture("pay_once", TOTAL)
    captured = event(link, K.CAPTURED, TOTAL, payment_id="pay_once", event_id="evt_once")
    services = [env.restart().service for _ in range(10)]
    await asyncio.gather(*(s.apply_event(NAME, captured) for s in services),
                         return_exceptions=True)
    await env.restart().service.apply_event(NAME, captured)  # a redelivery, much later
    events = await env.service.repo.events_for(await env.service.repo.request(link.id))  # type: ignore[arg-type]
    assert [e.event_id for e in events if e.kind is K.CAPTURED] == ["evt_once"]
    assert (await fresh(env, order)).status == "paid"
    assert env.psp.refunded == {}  # nothing counted twice, so no "overpayment" refunded
    await clean_books(env)


# ---- a provider's refund event matched to our refund rows, or booked as its own -----------
# Issue 20: mutants of PaymentService._refund_rows_for_event survived. Each case feeds the
# provider's refund event through apply_event and states the refund rows stored (every
# field), the order's status, what notify was told and the ledger per exact account.



@dataclass
class _Told:
    updates: list[PaymentUpdate] = field(default_factory=list)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        self.updates.append(update)


async def _ledger(env: Env, order: Order) -> dict[str, int]:
    out: dict[str, int] = {}
    for _shop, ref, account, amount, _cur in await env.service.repo.ledger_rows(order.shop_id):
        if ref.split(":")[1:2] == [order.label]:
            out[account] = out.get(account, 0) + amount
    return {a: v for a, v in out.items() if v}


async def _refund_postings(env: Env, order: Order) -> list[tuple[str, str, int]]:
    return sorted((ref, account, amount) for _s, ref, account, amount, _c
                  in await env.service.repo.ledger_rows(order.shop_id)
                  if ref.startswith(f"refund:{order.label}"))


def _provider_row(row: Refund, request: PaymentRequest, order: Order, amount: int,
                  refund_id: str, payment_id: str, against: str, now: int) -> Refund:
    """The row of a refund the provider made by itself, as it must be stored."""
    assert row.id.startswith("rf_") and len(row.id) == 23
    return Refund(id=row.id, payment_request_id=request.id, amount_minor=amount,
                  currency="INR", status=RefundStatus.PROCESSED, provider_ref=refund_id,
                  reason="provider", created_at=now, order_id=order.id,
                  payment_id=payment_id, against=against, attempts=0, attempt_key="",
                  next_attempt_at=0, last_error="", updated_at=now)


async def test_a_refund_made_at_the_dashboard_is_booked_as_the_providers_own(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    told = _Told()
    env.advance(1_000)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 3_000, at=T0 // 1000 + 50,
                                              payment_id=pid, refund_id="dash_1"), told)
    (row,) = await env.service.repo.refunds_for_order(order.id)
    assert row == _provider_row(row, link, order, 3_000, "dash_1", pid, "merchant_revenue",
                                env.now())
    (update,) = told.updates
    assert (update.refund, update.provider_refund) == (None, Money(3_000, "INR"))
    assert (await fresh(env, order)).status == "partially_refunded"
    # one paisa more, later: its own row too
    env.advance(1_000)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 1, at=T0 // 1000 + 60,
                                              payment_id=pid, refund_id="dash_2"), told)
    first, second = await env.service.repo.refunds_for_order(order.id)
    assert first == row
    assert second == _provider_row(second, link, order, 1, "dash_2", pid, "merchant_revenue",
                                   env.now())
    assert told.updates[1].provider_refund == Money(1, "INR")
    assert await _ledger(env, order) == {"merchant_revenue": -(TOTAL - 3_001),
                                         "psp_clearing:scripted": TOTAL - 3_001}
    # the liability of each row under its own id; paid out of the scripted PSP's clearing
    label = order.label
    assert await _refund_postings(env, order) == sorted([
        (f"refund:{label}:{row.id}", "merchant_revenue", 3_000),
        (f"refund:{label}:{row.id}", "refunds_payable", -3_000),
        (f"refund:{label}:{second.id}", "merchant_revenue", 1),
        (f"refund:{label}:{second.id}", "refunds_payable", -1),
        (f"refund:{label}:{link.id}", "refunds_payable", 3_000),
        (f"refund:{label}:{link.id}", "psp_clearing:scripted", -3_000),
        (f"refund:{label}:{link.id}", "refunds_payable", 1),
        (f"refund:{label}:{link.id}", "psp_clearing:scripted", -1)])
    await clean_books(env)


async def test_a_dashboard_refund_of_a_tip_naming_no_payment_is_against_tips(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    tip = await ask(env, await fresh(env, order), "tip", Money(500, "INR"))
    await pay(env, tip, 500)
    env.advance(1_000)
    # no payment id: the order's payment is the oldest, but the money came off the tip
    await env.service.apply_event(NAME, event(tip, K.REFUNDED, 200, at=T0 // 1000 + 50,
                                              refund_id="dash_tip"))
    (row,) = await env.service.repo.refunds_for_order(order.id)
    assert row == _provider_row(row, tip, order, 200, "dash_tip", "", "tips", env.now())
    assert (await fresh(env, order)).status == "paid"
    assert await _ledger(env, order) == {"merchant_revenue": -TOTAL, "tips": -300,
                                         "psp_clearing:scripted": TOTAL + 300}
    assert await _refund_postings(env, order) == sorted([
        (f"refund:{order.label}:{row.id}", "tips", 200),
        (f"refund:{order.label}:{row.id}", "refunds_payable", -200),
        (f"refund:{order.label}:{tip.id}", "refunds_payable", 200),
        (f"refund:{order.label}:{tip.id}", "psp_clearing:scripted", -200)])
    await clean_books(env)


async def test_a_dashboard_refund_of_money_paid_twice_is_against_the_shoppers_credit(
        env: Env) -> None:
    env.policy["other"] = "hold"
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    second = await pay(env, link, 2_000)
    env.advance(1_000)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 2_000, at=T0 // 1000 + 50,
                                              payment_id=second, refund_id="dash_x"))
    (row,) = await env.service.repo.refunds_for_order(order.id)
    assert row == _provider_row(row, link, order, 2_000, "dash_x", second,
                                "customer_receivable", env.now())
    assert (await fresh(env, order)).status == "paid"
    assert await _ledger(env, order) == {"merchant_revenue": -TOTAL,
                                         "psp_clearing:scripted": TOTAL}
    await clean_books(env)


async def test_a_refund_event_naming_no_refund_books_no_row(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    told = _Told()
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 3_000, at=T0 // 1000 + 50,
                                              payment_id=pid), told)
    assert await env.service.repo.refunds_for_order(order.id) == []
    (update,) = told.updates
    assert (update.refund, update.provider_refund) == (None, None)
    # the request's refunded money moves (its ledger too), but no refund row is made up
    assert (await fresh(env, order)).status == "paid"
    assert await _ledger(env, order) == {"merchant_revenue": -TOTAL, "refunds_payable": 3_000,
                                         "psp_clearing:scripted": TOTAL - 3_000}


async def test_a_dashboard_refund_supersedes_our_newest_unsent_refunds_that_no_longer_fit(
        env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    env.psp.refund_mode = "failed"
    for _ in range(3):  # three refunds of 3 000 the PSP failed: owed, to be sent again
        env.advance(1_000)
        await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"))
    first, second, third = await env.service.repo.refunds_for_order(order.id)
    assert [r.status for r in (first, second, third)] == [RefundStatus.FAILED] * 3
    assert first.created_at < second.created_at < third.created_at
    assert all(r.next_attempt_at for r in (first, second, third))
    env.advance(1_000)
    # 9 000 owed and unsent, then the merchant refunds 5 000 at the dashboard: 14 000 of
    # 10 000 captured, so the newest unsent ones are superseded until it fits (two)
    told = _Told()
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 5_000, at=T0 // 1000 + 50,
                                              payment_id=pid, refund_id="dash_5"), told)
    now = env.now()
    *kept, dash = await env.service.repo.refunds_for_order(order.id)
    assert kept == [first,
                    replace(second, status=RefundStatus.SUPERSEDED, next_attempt_at=0,
                            updated_at=now),
                    replace(third, status=RefundStatus.SUPERSEDED, next_attempt_at=0,
                            updated_at=now)]
    assert dash == _provider_row(dash, link, order, 5_000, "dash_5", pid, "merchant_revenue",
                                 now)
    assert told.updates[0].provider_refund == Money(5_000, "INR")
    assert (await fresh(env, order)).status == "partially_refunded"
    label = order.label
    liability = [(f"refund:{label}:{r.id}", a, v) for r in (first, second, third, dash)
                 for a, v in (("merchant_revenue", r.amount_minor),
                              ("refunds_payable", -r.amount_minor))]
    reversed_ = [(f"refund:{label}:{r.id}:superseded", a, v) for r in (second, third)
                 for a, v in (("merchant_revenue", -3_000), ("refunds_payable", 3_000))]
    paid_out = [(f"refund:{label}:{link.id}", "refunds_payable", 5_000),
                (f"refund:{label}:{link.id}", "psp_clearing:scripted", -5_000)]
    assert await _refund_postings(env, order) == sorted(liability + reversed_ + paid_out)
    assert await _ledger(env, order) == {"merchant_revenue": -2_000,
                                         "refunds_payable": -3_000,
                                         "psp_clearing:scripted": 5_000}
    # 2 000 more at the dashboard: 3 000 + 5 000 + 2 000 is exactly what was captured,
    # so the oldest unsent refund still fits and is kept
    env.advance(1_000)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 2_000, at=T0 // 1000 + 60,
                                              payment_id=pid, refund_id="dash_2"))
    rows = await env.service.repo.refunds_for_order(order.id)
    assert rows[:4] == [*kept, dash] and len(rows) == 5
    assert await _ledger(env, order) == {"refunds_payable": -3_000,
                                         "psp_clearing:scripted": 3_000}


async def test_refund_failed_from_the_provider_moves_our_pending_refund_to_a_retry(
        env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    env.psp.refund_mode = "pending"
    env.advance(1_000)
    (pending,) = (await env.service.refund_order(await fresh(env, order),
                                                 Money(4_000, "INR"))).refunds
    assert (pending.status, pending.provider_ref, pending.attempts) == (
        RefundStatus.PENDING, "srf_1", 1)
    env.psp.finish("srf_1", "failed")
    env.advance(1_000)
    told = _Told()
    await env.service.apply_event(NAME, event(link, K.REFUND_FAILED, 4_000,
                                              at=T0 // 1000 + 50, payment_id=pid,
                                              refund_id="srf_1"), told)
    now = env.now()
    (row,) = await env.service.repo.refunds_for_order(order.id)
    assert row == replace(pending, status=RefundStatus.FAILED, next_attempt_at=now + 60_000,
                          attempt_key=f"{pending.id}-2",
                          last_error="refund.failed from the provider", updated_at=now)
    (update,) = told.updates
    # the bot is told the row as it now is (its updated_at as read before the move)
    assert update.refund == replace(row, updated_at=pending.updated_at)
    assert update.provider_refund is None
    assert (await fresh(env, order)).status == "partially_refunded"  # still owed
    assert await _ledger(env, order) == {"merchant_revenue": -6_000,
                                         "refunds_payable": -4_000,
                                         "psp_clearing:scripted": TOTAL}


@dataclass
class _RacingPsp(ScriptedPsp):
    """A PSP whose refund webhook reaches us before its answer to the refund call does
    (``racing``), or that is down for some payments (``down``)."""

    service: PaymentService | None = None
    request: PaymentRequest | None = None
    down: set[str] = field(default_factory=set)
    # payments whose refund call hangs until its event is set (no webhook for those)
    slow: dict[str, asyncio.Event] = field(default_factory=dict)
    called: asyncio.Event = field(default_factory=asyncio.Event)
    told: _Told = field(default_factory=_Told)  # what the webhooks' notify was told

    async def refund(self, payment_id: str, amount: Money, *, idempotency_key: str
                     ) -> ProviderRefund:
        if payment_id in self.down:
            raise ProviderError("HTTP 503 (scripted)")
        if payment_id in self.slow:
            self.called.set()
            await self.slow[payment_id].wait()
            return await super().refund(payment_id, amount, idempotency_key=idempotency_key)
        result = await super().refund(payment_id, amount, idempotency_key=idempotency_key)
        assert self.service is not None and self.request is not None
        await self.service.apply_event(NAME, event(
            self.request, K.REFUNDED, amount.minor, at=T0 // 1000 + 70, payment_id=payment_id,
            refund_id=result.refund_id, event_id=f"wh_{result.refund_id}"), self.told)
        return result


async def test_a_refund_webhook_faster_than_the_answer_settles_our_row_being_sent(
        env: Env) -> None:
    psp = _RacingPsp()
    racing = Env(env.db, psp, env.service, env.clock, env.policy).restart()
    order = await new_order(racing)
    link = await ask(racing, order)
    first = await pay(racing, link, 5_000)
    second = await pay(racing, link, 5_000)
    psp.service, psp.request, psp.down = racing.service, link, {first}
    env.advance(1_000)
    # the whole order: 5 000 of each payment; the first's call fails (owed, unsent), the
    # second's webhook arrives while its call is still out
    await racing.service.refund_order(await fresh(racing, order))
    now = env.now()
    rows = {r.payment_id: r for r in await racing.service.repo.refunds_for_order(order.id)}
    down, sent = rows[first], rows[second]
    base = Refund(id="", payment_request_id=link.id, amount_minor=5_000, currency="INR",
                  status=RefundStatus.PROCESSED, provider_ref="srf_1", reason="merchant",
                  created_at=now, order_id=order.id, payment_id=second,
                  against="merchant_revenue", attempts=1, attempt_key=sent.id,
                  next_attempt_at=0, last_error="", updated_at=now)
    # the webhook found the row being sent (no provider ref yet, its payment, its amount,
    # requested): processed under the PSP's id, no row of its own for the "dashboard"
    assert rows == {
        second: replace(base, id=sent.id),
        first: replace(base, id=down.id, status=RefundStatus.FAILED, provider_ref=None,
                       payment_id=first, attempt_key=down.id, next_attempt_at=now + 60_000,
                       last_error="HTTP 503 (scripted)")}
    assert psp.refunded == {second: 5_000}
    (update,) = psp.told.updates  # the bot is told the row it settled, with the PSP's id
    assert update.refund == replace(rows[second], next_attempt_at=now + 120_000)  # its lease
    assert update.provider_refund is None
    assert (await fresh(racing, order)).status == "refund_pending"
    assert await _ledger(racing, order) == {"refunds_payable": -5_000,
                                            "psp_clearing:scripted": 5_000}


async def test_a_dashboard_refund_of_everything_owed_supersedes_it_and_more_books_nothing(
        env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    env.psp.refund_mode = "failed"
    env.advance(1_000)
    await env.service.refund_order(await fresh(env, order))
    (owed,) = await env.service.repo.refunds_for_order(order.id)
    assert (owed.status, owed.amount_minor) == (RefundStatus.FAILED, TOTAL)
    env.advance(1_000)
    # all of it at the dashboard: nothing of the payment left to allocate (revenue)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, TOTAL, at=T0 // 1000 + 50,
                                              payment_id=pid, refund_id="dash_all"))
    now = env.now()
    kept, dash = await env.service.repo.refunds_for_order(order.id)
    assert kept == replace(owed, status=RefundStatus.SUPERSEDED, next_attempt_at=0,
                           updated_at=now)
    assert dash == _provider_row(dash, link, order, TOTAL, "dash_all", pid,
                                 "merchant_revenue", now)
    assert (await fresh(env, order)).status == "refunded"
    assert await _ledger(env, order) == {}
    # the PSP says it refunded more than was captured: nothing more to book, no row
    env.advance(1_000)
    told = _Told()
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 1_000, at=T0 // 1000 + 60,
                                              payment_id=pid, refund_id="dash_more"), told)
    assert await env.service.repo.refunds_for_order(order.id) == [kept, dash]
    (update,) = told.updates
    assert (update.refund, update.provider_refund) == (None, None)
    assert await _ledger(env, order) == {}


async def test_only_the_same_payments_refunds_count_when_superseding(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    tip = await ask(env, await fresh(env, order), "tip", Money(3_000, "INR"))
    tip_pid = await pay(env, tip, 3_000)
    env.advance(1_000)
    await env.service.apply_event(NAME, event(tip, K.REFUNDED, 3_000, at=T0 // 1000 + 40,
                                              payment_id=tip_pid, refund_id="dash_tip"))
    env.psp.refund_mode = "failed"
    for _ in range(2):
        env.advance(1_000)
        await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                       payment_id=pid)
    tipped, first, second = await env.service.repo.refunds_for_order(order.id)
    assert (tipped.payment_id, first.payment_id, second.payment_id) == (tip_pid, pid, pid)
    env.advance(1_000)
    # 6 000 owed + 5 000 = 11 000 of the payment's 10 000: only the newest goes (the tip's
    # refunded 3 000 is another payment's)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 5_000, at=T0 // 1000 + 50,
                                              payment_id=pid, refund_id="dash_5"))
    now = env.now()
    rows = await env.service.repo.refunds_for_order(order.id)
    assert rows[:3] == [tipped, first, replace(second, status=RefundStatus.SUPERSEDED,
                                               next_attempt_at=0, updated_at=now)]
    assert rows[3] == _provider_row(rows[3], link, order, 5_000, "dash_5", pid,
                                    "merchant_revenue", now)
    assert await _ledger(env, order) == {"merchant_revenue": -2_000,
                                         "refunds_payable": -3_000,
                                         "psp_clearing:scripted": 5_000}


@pytest.fixture
async def rzp(env: Env, aiohttp_server: ServerFactory
              ) -> AsyncIterator[tuple[Env, FakeRazorpay, RazorpayProvider]]:
    """The service with the real Razorpay provider, over HTTP to tests/fakes/razorpay.py."""
    fake = FakeRazorpay(now=T0 // 1000)
    server = await aiohttp_server(fake.build_app())
    async with aiohttp.ClientSession() as session:
        provider = RazorpayProvider(session, key_id=fake.key_id, key_secret=fake.key_secret,
                                    webhook_secret="w", base_url=str(server.make_url("/v1")))
        providers: dict[str, PaymentProvider] = {"razorpay": provider, NAME: env.psp}
        service = PaymentService(env.db, providers, public_url="http://127.0.0.1",
                                 now_ms=env.now)
        yield Env(env.db, env.psp, service, env.clock, env.policy), fake, provider


def _webhook(provider: RazorpayProvider, event_id: str, kind: str, refund: dict[str, Any]
             ) -> list[ProviderEvent]:
    """A signed Razorpay ``refund.*`` webhook, parsed by the real provider."""
    body = json.dumps({"entity": "event", "event": kind, "contains": ["refund"],
                       "payload": {"refund": {"entity": refund}},
                       "created_at": refund["created_at"]}).encode()
    headers = {"X-Razorpay-Signature": hmac_sha256_hex("w", body),
               "X-Razorpay-Event-Id": event_id}
    assert provider.verify_callback(headers, body)
    return provider.parse_callback(headers, body)


async def test_a_refund_made_at_the_razorpay_dashboard_arrives_by_webhook(
        rzp: tuple[Env, FakeRazorpay, RazorpayProvider]) -> None:
    env, fake, provider = rzp
    order = await new_order(env)
    writes = WriteSet()
    link = await env.service.request_payment(writes, order, method="payment_link",
                                             plan=PaymentPlan(provider="razorpay", payee=None))
    await env.db.write(writes)
    payment_id = fake.pay_link(str(link.provider_ref))
    assert (await env.service.reconcile())["applied"] == 1
    env.advance(5_000)
    told = _Told()
    for found in _webhook(provider, "evt_dash", "refund.processed", {
            "id": "rfnd_dash", "entity": "refund", "amount": 2_500, "currency": "INR",
            "payment_id": payment_id, "status": "processed", "created_at": T0 // 1000 + 90}):
        await env.service.apply_event("razorpay", found, told)
    (row,) = await env.service.repo.refunds_for_order(order.id)
    assert row == _provider_row(row, link, order, 2_500, "rfnd_dash", payment_id,
                                "merchant_revenue", env.now())
    (update,) = told.updates
    assert (update.refund, update.provider_refund) == (None, Money(2_500, "INR"))
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _ledger(env, order) == {"merchant_revenue": -(TOTAL - 2_500),
                                         "psp_clearing:razorpay": TOTAL - 2_500}


async def test_a_dashboard_refund_is_allocated_to_its_own_payment_not_the_oldest(
        env: Env) -> None:
    order = await new_order(env)
    first_link = await ask(env, order, amount=Money(4_000, "INR"))
    first = await pay(env, first_link, 4_000)
    env.advance(1_000)
    tip = await ask(env, await fresh(env, order), "tip", Money(500, "INR"))
    await pay(env, tip, 500)
    env.advance(1_000)
    rest = await ask(env, await fresh(env, order))
    last = await pay(env, rest, TOTAL - 4_000)
    env.advance(1_000)
    await env.service.apply_event(NAME, event(first_link, K.REFUNDED, 4_000,
                                              at=T0 // 1000 + 50, payment_id=first,
                                              refund_id="dash_a"))
    env.advance(1_000)
    # the oldest payment with money left is now the tip's; this refund is the last one's
    await env.service.apply_event(NAME, event(rest, K.REFUNDED, 1_000, at=T0 // 1000 + 60,
                                              payment_id=last, refund_id="dash_b"))
    whole, part = await env.service.repo.refunds_for_order(order.id)
    assert whole == _provider_row(whole, first_link, order, 4_000, "dash_a", first,
                                  "merchant_revenue", env.now() - 1_000)
    assert part == _provider_row(part, rest, order, 1_000, "dash_b", last,
                                 "merchant_revenue", env.now())
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _ledger(env, order) == {"merchant_revenue": -5_000, "tips": -500,
                                         "psp_clearing:scripted": 5_500}
    await clean_books(env)


async def test_a_refund_webhook_settles_its_own_payments_row_not_another_being_sent(
        env: Env) -> None:
    psp = _RacingPsp()
    racing = Env(env.db, psp, env.service, env.clock, env.policy).restart()
    order = await new_order(racing)
    link = await ask(racing, order)
    first = await pay(racing, link, 5_000)
    second = await pay(racing, link, 5_000)
    answer = asyncio.Event()
    psp.service, psp.request, psp.slow = racing.service, link, {first: answer}
    env.advance(1_000)
    # the first payment's refund call is still out (its row requested, no provider ref)
    # when the second's is made and its webhook overtakes the answer: same request, same
    # amount, both requested; only the payment tells them apart
    slow = asyncio.create_task(racing.service.refund_order(
        await fresh(racing, order), Money(5_000, "INR"), payment_id=first))
    await psp.called.wait()
    reserved_at = env.now()
    env.advance(1_000)  # listed after the first: the first is the one a loose match takes
    await racing.service.refund_order(await fresh(racing, order), Money(5_000, "INR"),
                                      payment_id=second)
    now = env.now()
    rows = {r.payment_id: r for r in await racing.service.repo.refunds_for_order(order.id)}
    out, settled = rows[first], rows[second]
    base = Refund(id=settled.id, payment_request_id=link.id, amount_minor=5_000,
                  currency="INR", status=RefundStatus.PROCESSED, provider_ref="srf_1",
                  reason="merchant", created_at=now, order_id=order.id, payment_id=second,
                  against="merchant_revenue", attempts=1, attempt_key=settled.id,
                  next_attempt_at=0, last_error="", updated_at=now)
    assert settled == base
    # the first is untouched: still requested, claimed by its call (the lease), no ref
    assert out == replace(base, id=out.id, status=RefundStatus.REQUESTED, provider_ref=None,
                          created_at=reserved_at, payment_id=first, attempt_key=out.id,
                          next_attempt_at=reserved_at + 120_000, updated_at=reserved_at)
    answer.set()
    await slow
    rows = {r.payment_id: r for r in await racing.service.repo.refunds_for_order(order.id)}
    assert rows == {second: settled,
                    first: replace(out, status=RefundStatus.PROCESSED, provider_ref="srf_2",
                                   next_attempt_at=0, updated_at=now)}
    assert psp.refunded == {first: 5_000, second: 5_000}
    assert (await fresh(racing, order)).status == "refunded"
    assert await _ledger(racing, order) == {}


async def test_a_superseded_tip_refund_gives_its_liability_back_to_tips(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    tip = await ask(env, await fresh(env, order), "tip", Money(500, "INR"))
    tip_pid = await pay(env, tip, 500)
    env.psp.refund_mode = "failed"
    env.advance(1_000)
    await env.service.refund_order(await fresh(env, order), Money(500, "INR"),
                                   payment_id=tip_pid)
    (owed,) = await env.service.repo.refunds_for_order(order.id)
    assert (owed.against, owed.status) == ("tips", RefundStatus.FAILED)
    env.advance(1_000)
    await env.service.apply_event(NAME, event(tip, K.REFUNDED, 500, at=T0 // 1000 + 50,
                                              payment_id=tip_pid, refund_id="dash_tip"))
    now = env.now()
    kept, dash = await env.service.repo.refunds_for_order(order.id)
    assert kept == replace(owed, status=RefundStatus.SUPERSEDED, next_attempt_at=0,
                           updated_at=now)
    assert dash == _provider_row(dash, tip, order, 500, "dash_tip", tip_pid, "tips", now)
    assert sorted(p for p in await _refund_postings(env, order)
                  if p[0].endswith(":superseded")) == [
        (f"refund:{order.label}:{owed.id}:superseded", "refunds_payable", 500),
        (f"refund:{order.label}:{owed.id}:superseded", "tips", -500)]
    assert await _ledger(env, order) == {"merchant_revenue": -TOTAL,
                                         "psp_clearing:scripted": TOTAL}
