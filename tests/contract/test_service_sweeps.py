"""The payment service's sweeps and the merchant's hand-made bookings, from outside: what
``reconcile``, ``poll_refunds``, ``retry_refunds``, ``expire_due``, ``cancel_unpaid``, the
transfer claims and confirmations, ``collect_cash`` (cash on delivery: its refusals, the one
capture of what is due, a deliver that conflicts and decides again), the default excess
policy and ``record_manual_refund`` book and answer, on a real database, with the real
Razorpay provider against tests/fakes/razorpay.py (a link paid while its webhook was lost,
an expired link, a link the PSP no longer knows, refunds pending then processed or failed)
and the scripted PSP of tests/fakes/psp.py. The ledger is checked account by account.

Also what no other test of the selection reached: an event its request never asked for
(stored rejected, only alerted, a redelivery or a concurrent delivery stored once), an
event for no request (kept as an orphan for the audit; reconcile books its money),
``refund`` (the excess, a part with its reason, one payment, the rest) and the reads the
flows use (``orders`` by customer, status and limit, ``order``, ``lines``, ...), and one
refund sent to its provider for each answer it can give (processed, pending, failed, an
HTTP error, no refund API, cash), with its row, its retry key and backoff, what the bot
hears, the log line, the lease while it is sent and a row moved meanwhile.

Issue 20: mutation testing of payments/service.py found these functions run by tests that
checked little of what they booked, or by none (docs/TESTING.md, "Mutation testing")."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.outgoing import OutboxItem, outbox_statement, unsent_ids
from bot.types import Reply
from catalog.money import Money
from payments.audit import audit
from payments.providers.base import (
    NotCancellable,
    PaymentProvider,
    ProviderEvent,
    TransferPayee,
    Unsupported,
)
from payments.providers.manual import ManualTransferProvider
from payments.providers.razorpay import RazorpayProvider
from payments.repository import CANCEL_LINK, Order, OrderLine, PaymentRequest, Refund
from payments.service import (
    PaymentError,
    PaymentPlan,
    PaymentService,
    PaymentUpdate,
    RefundUpdate,
)
from payments.status import (
    OrderEvent,
    PaymentEventKind,
    PaymentStatus,
    RefundStatus,
    apply_events,
)
from storage import jobs
from storage.database import Conflict, Database, Params, Row, WriteSet, open_database
from tests.contract.money_env import (
    T0,
    TOTAL,
    Env,
    ask,
    clean_books,
    cod_order,
    event,
    fresh,
    new_order,
    pay,
)
from tests.fakes.psp import NAME, HandRefundPsp, ScriptedPsp
from tests.fakes.razorpay import FakeRazorpay
from webhooks.redaction import Redactor

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
_redact = Redactor().redact
K = PaymentEventKind
RZP = PaymentPlan(provider="razorpay", payee=None)
BKASH = PaymentPlan(provider=NAME, payee=None, transfers={"bkash": TransferPayee(
    method="bkash", number="01711111111", name="Rahman Grocery", expiry_minutes=60)})
HOUR = 3_600_000


@dataclass
class Told:
    """A notify callback that keeps what it was told (the bot's stand-in)."""

    updates: list[PaymentUpdate] = field(default_factory=list)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        self.updates.append(update)


async def _accounts(env: Env, order: Order) -> dict[str, int]:
    """The order's ledger balance per exact account (clearing accounts kept apart)."""
    out: dict[str, int] = {}
    for _shop, ref, account, amount, _currency in await env.service.repo.ledger_rows(
            order.shop_id):
        if ref.split(":")[1:2] == [order.label]:
            out[account] = out.get(account, 0) + amount
    return {a: v for a, v in out.items() if v}


async def _request(env: Env, request: PaymentRequest) -> PaymentRequest:
    row = await env.service.repo.request(request.id)
    assert row is not None
    return row


@pytest.fixture
async def rzp(env: Env, aiohttp_server: ServerFactory
              ) -> AsyncIterator[tuple[Env, FakeRazorpay]]:
    """The service with the real Razorpay provider (over HTTP to the fake) beside the
    scripted PSP and manual transfers."""
    fake = FakeRazorpay(now=T0 // 1000)
    server = await aiohttp_server(fake.build_app())
    async with aiohttp.ClientSession() as session:
        providers: dict[str, PaymentProvider] = {
            "razorpay": RazorpayProvider(session, key_id=fake.key_id,
                                         key_secret=fake.key_secret, webhook_secret="w",
                                         base_url=str(server.make_url("/v1"))),
            NAME: env.psp, "manual": ManualTransferProvider()}
        service = PaymentService(env.db, providers, public_url="http://127.0.0.1",
                                 now_ms=env.now)
        yield Env(env.db, env.psp, service, env.clock, env.policy), fake


async def _link(env: Env, order: Order) -> PaymentRequest:
    writes = WriteSet()
    request = await env.service.request_payment(writes, order, method="payment_link",
                                                plan=RZP)
    await env.db.write(writes)
    return request


# ---- reconcile ----------------------------------------------------------------------------


async def test_reconcile_books_a_payment_whose_webhook_never_came(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    link = await _link(env, order)
    payment_id = fake.pay_link(str(link.provider_ref))
    told = Told()
    report = await env.service.reconcile(told)
    assert report == {"checked": 1, "applied": 1, "unreachable": 0, "refunds_polled": 0,
                      "refunds_settled": 0, "refunds_unreachable": 0}
    (update,) = told.updates
    assert update.request.id == link.id and update.newly_paid
    assert update.event.event_id == f"fetch:{payment_id}:captured"
    assert (await fresh(env, order)).status == "paid"
    paid = await _request(env, link)
    assert (paid.status, paid.captured_minor) == (PaymentStatus.PAID, TOTAL)
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL,
                                           "psp_clearing:razorpay": TOTAL}
    # asked again (captured money a PSP could still refund is reconcilable): nothing new
    again = await env.service.reconcile(told)
    assert (again["checked"], again["applied"], again["unreachable"]) == (1, 0, 0)
    assert len(told.updates) == 1
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL,
                                           "psp_clearing:razorpay": TOTAL}
    await clean_books(env)


async def test_reconcile_counts_what_it_cannot_reach_and_goes_on(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    lost, expired, unasked = [await new_order(env) for _ in range(3)]
    lost_link = await _link(env, lost)
    env.advance(1_000)
    expired_link = await _link(env, expired)
    env.advance(1_000)
    scripted = await ask(env, unasked)  # the scripted PSP has no fetch: never asked
    del fake.links[str(lost_link.provider_ref)]  # the PSP answers 400 for it
    fake.expire_link(str(expired_link.provider_ref))
    report = await env.service.reconcile()
    # newest first: the expired link is applied even though the lost one fails after it,
    # and the lost one is counted once
    assert report == {"checked": 2, "applied": 1, "unreachable": 1, "refunds_polled": 0,
                      "refunds_settled": 0, "refunds_unreachable": 0}
    assert (await _request(env, expired_link)).status == PaymentStatus.EXPIRED
    assert (await _request(env, lost_link)).status == PaymentStatus.ISSUED
    assert (await _request(env, scripted)).status == PaymentStatus.ISSUED
    # an unreachable request listed first (the newest) does not stop the ones after it
    paid = []
    for _ in range(2):
        env.advance(1_000)
        paid.append(await _link(env, await new_order(env)))
        fake.pay_link(str(paid[-1].provider_ref))
    env.advance(1_000)
    gone = await _link(env, await new_order(env))
    del fake.links[str(gone.provider_ref)]
    report = await env.service.reconcile()
    assert (report["checked"], report["applied"], report["unreachable"]) == (4, 2, 2)
    assert [(await _request(env, r)).status for r in paid] == [PaymentStatus.PAID] * 2
    await clean_books(env)


async def test_reconcile_also_settles_refunds_pending_at_the_provider(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    link = await _link(env, order)
    fake.pay_link(str(link.provider_ref))
    await env.service.reconcile()
    fake.refund_mode = "pending"
    (row,) = (await env.service.refund_order(await fresh(env, order),
                                             Money(3_000, "INR"))).refunds
    assert row.status == RefundStatus.PENDING
    fake.settle_refund(str(row.provider_ref), "processed")  # late, and no webhook comes
    told = Told()
    report = await env.service.reconcile(told)
    assert report == {"checked": 1, "applied": 0, "unreachable": 0, "refunds_polled": 1,
                      "refunds_settled": 1, "refunds_unreachable": 0}
    (done,) = await env.service.repo.refunds_for_order(order.id)
    assert done.status == RefundStatus.PROCESSED
    assert [u.refund.id for u in told.updates if u.refund] == [row.id]  # the bot is told
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           "psp_clearing:razorpay": TOTAL - 3_000}
    await clean_books(env)


# ---- poll_refunds -------------------------------------------------------------------------


async def test_polled_refunds_settle_as_processed_or_failed_and_count_what_is_unreachable(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    # a row on a provider without a refund-status API is not asked (the scripted PSP's
    # pending refund, listed first)
    scripted_order = await new_order(env)
    await pay(env, await ask(env, scripted_order), TOTAL)
    env.psp.refund_mode = "pending"
    await env.service.refund_order(await fresh(env, scripted_order), Money(500, "INR"))
    order = await new_order(env)
    link = await _link(env, order)
    fake.pay_link(str(link.provider_ref))
    await env.service.reconcile()
    fake.refund_mode = "pending"
    rows: list[Refund] = []
    for part in (1_000, 2_000, 3_000, 500):  # polled oldest first
        env.advance(1_000)
        rows += (await env.service.refund_order(await fresh(env, order),
                                                Money(part, "INR"))).refunds
    assert [r.status for r in rows] == [RefundStatus.PENDING] * 4
    unknown, processed, failed, unknown_too = rows
    without_fetch = PaymentService(env.db, {"razorpay": env.service.providers["razorpay"]},
                                   public_url="http://127.0.0.1", now_ms=env.now)
    assert await without_fetch.poll_refunds() == {
        "refunds_polled": 4, "refunds_settled": 0, "refunds_unreachable": 0}
    # the first and the last the PSP no longer knows (unreachable); the others go on
    del fake.refunds[str(unknown.provider_ref)]
    del fake.refunds[str(unknown_too.provider_ref)]
    fake.settle_refund(str(processed.provider_ref), "processed")
    fake.settle_refund(str(failed.provider_ref), "failed")
    told = Told()
    assert await without_fetch.poll_refunds(told) == {
        "refunds_polled": 4, "refunds_settled": 2, "refunds_unreachable": 2}
    assert {u.refund.id for u in told.updates if u.refund} == {processed.id, failed.id}
    by_id = {r.id: r for r in await env.service.repo.refunds_for_order(order.id)}
    assert by_id[processed.id].status == RefundStatus.PROCESSED
    assert by_id[failed.id].status == RefundStatus.FAILED
    assert by_id[failed.id].next_attempt_at == env.now() + 60_000  # retried with backoff
    assert by_id[unknown.id].status == RefundStatus.PENDING  # still counts against the cap
    # only what the PSP paid out left its clearing account; the failed and the unknown
    # ones are still owed to the customer
    assert await _accounts(env, order) == {
        "merchant_revenue": -TOTAL + 6_500, "psp_clearing:razorpay": TOTAL - 2_000,
        "refunds_payable": -4_500}
    assert await without_fetch.poll_refunds() == {  # only the unknown ones are pending
        "refunds_polled": 2, "refunds_settled": 0, "refunds_unreachable": 2}


# ---- expiry and the unpaid order ----------------------------------------------------------


async def test_expire_due_closes_only_what_is_past_due_and_unclaimed(env: Env) -> None:
    first, later, claimed, silent = [await new_order(env) for _ in range(4)]
    first_link = await ask(env, first)
    writes = WriteSet()
    transfers = [await env.service.request_payment(writes, order, method="bkash",
                                                   plan=BKASH)
                 for order in (claimed, silent)]
    await env.db.write(writes)
    writes = WriteSet()
    assert await env.service.record_transfer_claim(writes, transfers[0], "8N7A6D5EE7")
    await env.db.write(writes)
    env.advance(30 * 60_000)
    later_link = await ask(env, later)
    env.advance(30 * 60_000 + 5_000)  # the first link's hour is up, the later one's not
    told = Told()
    updates = await env.service.expire_due(told)
    assert told.updates == updates
    assert [u.request.id for u in updates] == [first_link.id, transfers[1].id]
    for update, request in zip(updates, (first_link, transfers[1]), strict=True):
        assert update.after.status is PaymentStatus.EXPIRED
        assert (update.event.event_id, update.event.kind) == (f"expiry:{request.id}",
                                                               K.EXPIRED)
        assert update.event.provider == request.provider
        assert (update.event.provider_ref, update.event.reference, update.event.refs) == (
            request.provider_ref, request.id, (request.id,))
        assert update.event.amount == Money.zero("INR")
        assert update.event.occurred_at == request.expires_at // 1000
        assert type(update.event.occurred_at) is int  # unix seconds, never a float
        (stored,) = await env.service.repo.events_for(await _request(env, request))
        assert (stored.event_id, stored.occurred_at) == (f"expiry:{request.id}",
                                                         request.expires_at // 1000)
    assert (await _request(env, later_link)).status == PaymentStatus.ISSUED
    assert (await _request(env, transfers[0])).status == PaymentStatus.ISSUED
    assert await env.service.expire_due(told) == []  # once
    env.advance(HOUR)
    (late,) = await env.service.expire_due()
    assert late.request.id == later_link.id
    await clean_books(env)


async def test_an_unpaid_order_cancelled_reverses_its_receivable(env: Env) -> None:
    order = await new_order(env)
    assert await _accounts(env, order) == {"customer_receivable": TOTAL,
                                           "merchant_revenue": -TOTAL}
    env.advance(HOUR)
    writes = WriteSet()
    env.service.cancel_unpaid(writes, order, env.now())
    await env.db.write(writes)
    cancelled = await fresh(env, order)
    assert (cancelled.status, cancelled.updated_at) == ("cancelled", env.now())
    assert await _accounts(env, order) == {}
    rows = [(ref.split(":")[0], account, amount)
            for _s, ref, account, amount, _c in await env.service.repo.ledger_rows("money")]
    assert sorted(r for r in rows if r[0] == "cancel") == [
        ("cancel", "customer_receivable", -TOTAL), ("cancel", "merchant_revenue", TOTAL)]
    # a second cancel on the stale order is refused whole: no second reversal
    writes = WriteSet()
    env.service.cancel_unpaid(writes, order, env.now())
    with pytest.raises(Conflict):
        await env.db.write(writes)
    assert await _accounts(env, order) == {}
    await clean_books(env)


# ---- manual transfers ---------------------------------------------------------------------


async def test_transfer_claims_are_the_shoppers_ids_in_order_and_only_for_transfers(
        env: Env) -> None:
    order = await new_order(env)
    writes = WriteSet()
    transfer = await env.service.request_payment(writes, order, method="bkash", plan=BKASH)
    await env.db.write(writes)
    link = await ask(env, await new_order(env))
    assert env.service.is_transfer(transfer) and not env.service.is_transfer(link)
    assert env.service.account_of(transfer) == "manual:bkash"
    env.advance(1_567)  # not on a whole second: events are dated in whole seconds
    for trx, new in (("8N7A6D5EE7", True), ("7A6B5C4D9X", True), ("8N7A6D5EE7", False)):
        writes = WriteSet()
        assert await env.service.record_transfer_claim(writes, transfer, trx) is new
        await env.db.write(writes)
    assert await env.service.transfer_claims(transfer) == ["8N7A6D5EE7", "7A6B5C4D9X"]
    assert await env.service.transfer_claims(link) == []
    claimed = await env.service.repo.events_for(await _request(env, transfer))
    assert [(e.event_id, e.kind, e.amount, e.occurred_at) for e in claimed] == [
        (f"claim:{transfer.id}:{trx}", K.AUTHORIZED, order.total, env.now() // 1000)
        for trx in ("8N7A6D5EE7", "7A6B5C4D9X")]
    assert all(type(e.occurred_at) is int for e in claimed)
    with pytest.raises(PaymentError) as refused:
        await env.service.record_transfer_claim(WriteSet(), link, "8N7A6D5EE7")
    assert refused.value.code == "unsupported"
    assert str(refused.value) == "not a manual transfer"
    assert env.service.transfer_confirmation(link, order.total, None, env.now()) is None
    confirm = env.service.transfer_confirmation(transfer, order.total, "7A6B5C4D9X",
                                                env.now())
    assert confirm is not None
    assert (confirm.event_id, confirm.occurred_at) == (
        f"manual:{transfer.id}:7A6B5C4D9X", env.now() // 1000)
    assert type(confirm.occurred_at) is int
    await env.service.apply_event("manual", confirm)
    # the capture is not a claim, and the claims stay as given
    assert await env.service.transfer_claims(transfer) == ["8N7A6D5EE7", "7A6B5C4D9X"]
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL,
                                           "psp_clearing:manual:bkash": TOTAL}
    # a provider that is no longer configured: not a transfer, no claims
    gone = PaymentService(env.db, {NAME: env.psp}, public_url="http://127.0.0.1",
                          now_ms=env.now)
    assert not gone.is_transfer(transfer) and await gone.transfer_claims(transfer) == []
    await clean_books(env)


# ---- refunds made by hand -----------------------------------------------------------------


def _by_hand(env: Env) -> Env:
    return Env(env.db, HandRefundPsp(), env.service, env.clock, env.policy).restart()


async def test_a_manual_refund_refuses_bad_references_and_amounts(env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    for bad in ("UTR", "-UTR1", ".UTR1", "UTR 1", "UTR1 ", "U" * 41, "UTR1/2", ""):
        with pytest.raises(PaymentError) as refused:
            await env.service.record_manual_refund(await fresh(env, order),
                                                   Money(100, "INR"), bad)
        assert refused.value.code == "bad_reference", bad
        assert str(refused.value) == "a UPI reference is 4-40 letters or digits"
    for amount in (Money(0, "INR"), Money(-100, "INR"), Money(100, "USD")):
        with pytest.raises(PaymentError) as refused:
            await env.service.record_manual_refund(await fresh(env, order), amount,
                                                   "UTR000111")
        assert refused.value.code == "bad_amount", amount
    assert not await env.service.repo.refunds_for_order(order.id)
    # the shortest, the longest and every allowed character pass
    for n, good in enumerate(("UTR1", "9" + "a" * 39, "u.T_r-9")):
        result = await env.service.record_manual_refund(await fresh(env, order),
                                                        Money(100 + n, "INR"), good)
        assert [r.provider_ref for r in result.refunds] == [f"manual:{good}:0"]
    with pytest.raises(PaymentError) as used:
        await env.service.record_manual_refund(await fresh(env, order), Money(999, "INR"),
                                               "UTR1")
    assert used.value.code == "reference_used"
    with pytest.raises(PaymentError) as too_much:
        await env.service.record_manual_refund(await fresh(env, order),
                                               Money(TOTAL - 302, "INR"), "UTR000222")
    assert too_much.value.code == "refund_too_large"
    assert str(too_much.value) == "at most ₹96.97 can be refunded"
    await clean_books(env)


async def test_a_manual_refund_settles_what_is_owed_then_reserves_the_rest(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    (owed,) = (await env.service.refund_order(await fresh(env, order),
                                              Money(4_000, "INR"))).refunds
    assert owed.status == RefundStatus.FAILED  # no provider can send it
    told = Told()
    result = await env.service.record_manual_refund(await fresh(env, order),
                                                    Money(6_000, "INR"), "UTR000777",
                                                    notify=told)
    assert result.amount == Money(6_000, "INR")
    settled, rest = result.refunds
    assert (settled.id, settled.provider_ref, settled.amount_minor) == (
        owed.id, "manual:UTR000777:0", 4_000)
    assert (rest.provider_ref, rest.amount_minor, rest.reason) == (
        "manual:UTR000777:1", 2_000, "manual")
    assert [r.status for r in result.refunds] == [RefundStatus.PROCESSED] * 2
    assert [r.next_attempt_at for r in result.refunds] == [0, 0]  # never sent anywhere
    assert result.count(RefundStatus.PROCESSED) == 2
    assert {u.refund.id for u in told.updates if u.refund} == {owed.id, rest.id}
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 6_000,
                                           f"psp_clearing:{NAME}": TOTAL - 6_000}
    # the same reference and amount again is the same refund: nothing booked twice
    again = await env.service.record_manual_refund(await fresh(env, order),
                                                   Money(6_000, "INR"), "UTR000777")
    assert {r.id: r.provider_ref for r in again.refunds} == {
        owed.id: "manual:UTR000777:0", rest.id: "manual:UTR000777:1"}
    # the rest of it, by hand: a full refund closes the order
    await env.service.record_manual_refund(await fresh(env, order), Money(4_000, "INR"),
                                           "UTR000888")
    assert (await fresh(env, order)).status == "refunded"
    assert await _accounts(env, order) == {}
    assert len(await env.service.repo.refunds_for_order(order.id)) == 3
    await clean_books(env)


# ---- events that cannot be applied: rejected, or matching no request ------------------------


@dataclass
class Alerts:
    """A notify callback that alerts the merchant the way the bot does: an outbox row in
    the writes it is handed, so the alert commits with the event or not at all. ``race``:
    run once, first, inside the first call (another process delivering the same event)."""

    name: str
    updates: list[PaymentUpdate] = field(default_factory=list)
    race: Callable[[], Awaitable[object]] | None = None

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        race, self.race = self.race, None
        if race is not None:
            await race()
        self.updates.append(update)
        outbox_statement(writes, OutboxItem(
            id=f"alert-{self.name}-{len(self.updates)}", shop_id=update.order.shop_id,
            channel="simulator", customer="owner", business="",
            reply=Reply(type="text", text=str(update.rejected))), 0)


async def _event_row(env: Env, event_id: str) -> tuple[object, ...]:
    """The stored provider_events row of one event id (exactly one)."""
    rows = await env.db.fetchall(
        "SELECT provider, event_id, provider_ref, kind, amount_minor, currency, payment_id, "
        "occurred_at, received_at, payload, rejected FROM provider_events "
        "WHERE event_id = ?", (event_id,))
    assert len(rows) == 1, rows
    return tuple(rows[0])


def _too_much(request: PaymentRequest, event_id: str) -> ProviderEvent:
    return ProviderEvent(
        provider=NAME, event_id=event_id, kind=K.CAPTURED,
        provider_ref=request.provider_ref or request.id, amount=Money(15_000, "INR"),
        occurred_at=T0 // 1000 + 60, payment_id="pay_big", reference=request.id,
        refs=(request.id,))


async def test_an_event_its_request_never_asked_for_is_stored_rejected_and_only_alerted(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    order = await new_order(env)
    request = await ask(env, order)
    await pay(env, request, 4_000)  # part of it paid: the state the event is checked against
    env.advance(5_000)
    before_row, before_order = await _request(env, request), await fresh(env, order)
    before_events = await env.service.repo.events_for(before_row)
    state = apply_events(before_row.amount, before_events)
    ledger = await _accounts(env, order)
    assert ledger == {"customer_receivable": TOTAL - 4_000, "merchant_revenue": -TOTAL,
                      f"psp_clearing:{NAME}": 4_000}
    reason = "amount ₹150.00 is more than the request's ₹100.00"
    alerts = Alerts("ours")
    caplog.set_level("WARNING", logger="payments.service")
    too_much = _too_much(request, "ev_too_much")
    assert await env.service.apply_event(NAME, too_much, alerts) is None
    assert [r.getMessage() for r in caplog.records if r.name == "payments.service"] == [
        f"payment event {NAME}/captured rejected for {order.label}: {reason}"]
    assert alerts.updates == [PaymentUpdate(
        request=before_row, order=before_order, event=too_much, before=state, after=state,
        order_status_before="pending_payment", order_status_after="pending_payment",
        rejected=reason)]
    assert state.captured == Money(4_000, "INR")
    # stored as it came, for its request, with why; the alert committed with it
    assert await _event_row(env, "ev_too_much") == (
        NAME, "ev_too_much", request.id, "captured", 15_000, "INR", "pay_big",
        T0 // 1000 + 60, env.now(), "", reason)
    assert await env.service.repo.event_rejection(NAME, "ev_too_much") == reason
    assert await unsent_ids(env.db) == {"alert-ours-1"}
    # nothing moved: the request, its applied events, the order, the ledger
    assert await _request(env, request) == before_row
    assert await env.service.repo.events_for(before_row) == before_events
    assert await fresh(env, order) == before_order
    assert await _accounts(env, order) == ledger
    # a redelivery is a duplicate: not stored, logged or alerted again
    caplog.clear()
    env.advance(5_000)
    assert await env.service.apply_event(NAME, too_much, alerts) is None
    assert len(alerts.updates) == 1 and caplog.records == []
    assert (await _event_row(env, "ev_too_much"))[8] == env.now() - 5_000
    # another currency, without anyone to alert: stored rejected all the same
    dollars = replace(too_much, event_id="ev_dollars", amount=Money(4_000, "USD"))
    assert await env.service.apply_event(NAME, dollars) is None
    assert await env.service.repo.event_rejection(NAME, "ev_dollars") == \
        "currency USD is not the request's INR"
    assert await _request(env, request) == before_row
    assert await _accounts(env, order) == ledger
    assert await unsent_ids(env.db) == {"alert-ours-1"}
    await clean_books(env)


async def test_a_rejected_event_stored_meanwhile_by_another_process_is_not_stored_twice(
        env: Env) -> None:
    order = await new_order(env)
    request = await ask(env, order)
    other = env.restart()  # a second process on the same database
    too_much = _too_much(request, "ev_raced")
    theirs = Alerts("theirs")
    ours = Alerts("ours", race=lambda: other.service.apply_event(NAME, too_much, theirs))
    # our delivery reads, checks and alerts; the other process commits the same event
    # first: ours conflicts and is dropped whole, its alert with it
    assert await env.service.apply_event(NAME, too_much, ours) is None
    assert [u.rejected for u in ours.updates] == [theirs.updates[0].rejected]
    assert len(theirs.updates) == 1
    assert (await _event_row(env, "ev_raced"))[10] == \
        "amount ₹150.00 is more than the request's ₹100.00"
    assert await unsent_ids(env.db) == {"alert-theirs-1"}
    assert (await _request(env, request)).status == PaymentStatus.ISSUED
    assert await _accounts(env, order) == {"customer_receivable": TOTAL,
                                           "merchant_revenue": -TOTAL}
    await clean_books(env)


async def test_an_event_for_no_request_is_kept_as_an_orphan_and_reconcile_books_its_money(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    writes = WriteSet()
    link = await env.service.request_payment(writes, order, method="payment_link", plan=RZP)
    plink = str(link.provider_ref)
    payment_id = fake.pay_link(plink)
    # the webhook beats the commit of its own request: it matches nothing (yet)
    early = ProviderEvent(
        provider="razorpay", event_id="evt_early", kind=K.CAPTURED, provider_ref=plink,
        amount=Money(TOTAL, "INR"), occurred_at=T0 // 1000 + 30, payment_id=payment_id,
        reference=link.id, refs=(plink, link.id))
    told = Told()
    assert await env.service.apply_event("razorpay", early, told) is None
    assert told.updates == []
    orphan = ("razorpay", "evt_early", f"orphan:{plink}", "captured", TOTAL, "INR",
              payment_id, T0 // 1000 + 30, env.now(), "", "")
    assert await _event_row(env, "evt_early") == orphan
    found = [str(a) for a in await audit(env.service.repo, shop_id="money", now_ms=env.now())]
    assert found == [f"orphan_event : razorpay evt_early (orphan:{plink}) matches no "
                     "payment request"]
    await env.db.write(writes)
    assert await _accounts(env, order) == {"customer_receivable": TOTAL,
                                           "merchant_revenue": -TOTAL}
    # its redelivery, now that the request is there, is the stored event again: not applied
    env.advance(5_000)
    assert await env.service.apply_event("razorpay", early, told) is None
    assert told.updates == [] and await _event_row(env, "evt_early") == orphan
    assert (await _request(env, link)).status == PaymentStatus.ISSUED
    # reconcile asks the PSP, which knows the payment: booked once, under its own event id
    report = await env.service.reconcile(told)
    assert (report["checked"], report["applied"]) == (1, 1)
    (update,) = told.updates
    assert update.event.event_id == f"fetch:{payment_id}:captured" and update.newly_paid
    paid = await _request(env, link)
    assert (paid.status, paid.captured_minor) == (PaymentStatus.PAID, TOTAL)
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL,
                                           "psp_clearing:razorpay": TOTAL}
    # and the orphan stays for the audit to show (nothing else reads it)
    assert await _event_row(env, "evt_early") == orphan
    # a refund the PSP reports later names only the payment (as Razorpay's refund.processed
    # does): it finds the request through the booked capture, never through the orphan row
    refund = ProviderEvent(
        provider="razorpay", event_id="evt_refund", kind=K.REFUNDED, provider_ref="",
        amount=Money(1_000, "INR"), occurred_at=T0 // 1000 + 90, payment_id=payment_id,
        refund_id="rfnd_late")
    env.advance(5_000)
    applied = await env.service.apply_event("razorpay", refund, told)
    assert applied is not None and applied.request.id == link.id
    assert (await _request(env, link)).refunded_minor == 1_000
    await clean_books(env, "orphan_event")


# ---- refunds by the merchant's word, and what the flows read ------------------------------


async def test_refund_takes_the_excess_a_part_with_its_reason_then_the_rest(
        env: Env) -> None:
    env.policy["other"] = "hold"  # paid twice: the merchant decides what to give back
    order = await new_order(env)
    request = await ask(env, order)
    first = await pay(env, request, TOTAL)
    second = await pay(env, request, 2_000)
    assert await env.service.refundable(await fresh(env, order)) == TOTAL + 2_000
    assert await _accounts(env, order) == {"customer_receivable": -2_000,
                                           "merchant_revenue": -TOTAL,
                                           f"psp_clearing:{NAME}": TOTAL + 2_000}
    # only what is beyond the total: the second payment's, the order still paid
    assert await env.service.refund(await fresh(env, order), excess_only=True) == \
        Money(2_000, "INR")
    (excess,) = await env.service.refunds_for_order(order.id)
    assert (excess.amount_minor, excess.payment_id, excess.reason, excess.status) == (
        2_000, second, "merchant", RefundStatus.PROCESSED)
    assert (await fresh(env, order)).status == "paid"
    assert await env.service.refundable(await fresh(env, order)) == TOTAL
    # a part, with the merchant's reason, the bot told
    told = Told()
    env.advance(1_000)
    assert await env.service.refund(await fresh(env, order), Money(3_000, "INR"),
                                    reason="damaged", notify=told) == Money(3_000, "INR")
    part = (await env.service.refunds_for_order(order.id))[1]
    assert (part.amount_minor, part.payment_id, part.reason, part.status) == (
        3_000, first, "damaged", RefundStatus.PROCESSED)
    assert [u.refund.id for u in told.updates if u.refund] == [part.id]
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await env.service.refundable(await fresh(env, order)) == 7_000
    assert await _accounts(env, order) == {"merchant_revenue": -7_000,
                                           f"psp_clearing:{NAME}": 7_000}
    # everything left, nothing said: the rest of the sale, and the order refunded
    env.advance(1_000)
    assert await env.service.refund(await fresh(env, order)) == Money(7_000, "INR")
    rest = (await env.service.refunds_for_order(order.id))[2]
    assert (rest.amount_minor, rest.payment_id, rest.reason) == (7_000, first, "merchant")
    assert (await fresh(env, order)).status == "refunded"
    assert await env.service.refundable(await fresh(env, order)) == 0
    assert await _accounts(env, order) == {}
    assert env.psp.paid_out() == TOTAL + 2_000
    await clean_books(env)


async def test_refund_of_one_payment_gives_back_only_that_payment(env: Env) -> None:
    order = await new_order(env)
    request = await ask(env, order)
    await pay(env, request, 6_000)
    second = await pay(env, request, 4_000)
    with pytest.raises(PaymentError) as unknown:
        await env.service.refund(await fresh(env, order), payment_id="pay_nope")
    assert unknown.value.code == "unknown_payment"
    assert await env.service.refund(await fresh(env, order), payment_id=second) == \
        Money(4_000, "INR")
    (row,) = await env.service.refunds_for_order(order.id)
    assert (row.amount_minor, row.payment_id, row.status) == (4_000, second,
                                                              RefundStatus.PROCESSED)
    assert env.psp.refunded == {second: 4_000}
    assert await env.service.refundable(await fresh(env, order)) == 6_000
    assert await _accounts(env, order) == {"merchant_revenue": -6_000,
                                           f"psp_clearing:{NAME}": 6_000}
    await clean_books(env)


async def _place(env: Env, customer: str) -> Order:
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id="money", channel="simulator", customer=customer,
        lines=[OrderLine("THALI", "Thali", 2, Money(4_000, "INR")),
               OrderLine("LASSI", "Lassi", 1, Money(1_000, "INR"))],
        delivery=Money(1_000, "INR"), address="12 Park St", language="en")
    await env.db.write(writes)
    return order


async def test_the_reads_answer_the_shops_orders_by_customer_status_and_newest_first(
        env: Env) -> None:
    first, second = await _place(env, "ana"), await _place(env, "ana")
    ben = await _place(env, "ben")
    third = await _place(env, "ana")
    others = [await new_order(env) for _ in range(47)]  # 51 orders in the shop
    request = await ask(env, second)
    await pay(env, request, TOTAL)
    writes = WriteSet()
    env.service.cancel_unpaid(writes, first, env.now())
    await env.db.write(writes)
    first, second, third = [await fresh(env, o) for o in (first, second, third)]
    assert (first.status, second.status, third.status) == ("cancelled", "paid",
                                                           "pending_payment")
    orders = env.service.orders
    assert await orders("money", customer="ana") == [third, second, first]
    assert await orders("money", customer="ana", statuses=["paid", "cancelled"]) == [
        second, first]
    assert await orders("money", customer="ana", statuses=["pending_payment"]) == [third]
    assert await orders("money", customer="ana", limit=2) == [third, second]
    assert await orders("money", customer="ben") == [await fresh(env, ben)]
    assert await orders("elsewhere") == []
    everyone = await orders("money")  # 50 at most, newest first
    assert [o.number for o in everyone] == [o.number for o in reversed(others)] + [
        third.number, ben.number, second.number]
    assert await env.service.order(second.id) == second
    assert await env.service.order("money:404") is None
    assert await env.service.lines(second.id) == [
        OrderLine("THALI", "Thali", 2, Money(4_000, "INR")),
        OrderLine("LASSI", "Lassi", 1, Money(1_000, "INR"))]
    assert await env.service.requests_for_order(second.id) == [await _request(env, request)]
    assert await env.service.requests_for_order(third.id) == []
    assert await env.service.refunds_for_order(second.id) == []
# ---- cash on delivery ---------------------------------------------------------------------


async def _move(env: Env, order: Order, *events: OrderEvent) -> Order:
    for move in events:
        writes = WriteSet()
        await env.service.change_order(writes, await fresh(env, order), move)
        await env.db.write(writes)
    return await fresh(env, order)


async def _cash_request(env: Env, order: Order) -> PaymentRequest:
    (cash,) = [r for r in await env.service.requests_for_order(order.id) if r.method == "cod"]
    return cash


def _cash_event(order: Order, cash: PaymentRequest, amount: int, now_ms: int
                ) -> ProviderEvent:
    """The one capture collect_cash applies: exactly what is due, dated now in seconds."""
    return ProviderEvent(
        provider="cash", event_id=f"cash:{cash.id}", kind=K.CAPTURED, provider_ref=cash.id,
        amount=Money(amount, "INR"), occurred_at=now_ms // 1000,
        payment_id=f"cash:{order.label}", reference=cash.id, refs=(cash.id,))


async def test_cash_is_refused_before_confirmation_and_once_delivered_without_it(
        env: Env) -> None:
    order = await cod_order(env)
    placed = {"customer_receivable": TOTAL, "merchant_revenue": -TOTAL}
    for deliver in (True, False):
        with pytest.raises(PaymentError) as refused:
            await env.service.collect_cash(order, deliver=deliver)
        assert refused.value.code == "not_confirmed"
        assert str(refused.value) == f"{order.label} is not confirmed yet"
    cash = await _cash_request(env, order)
    assert await env.service.repo.events_for(cash) == []
    assert (await fresh(env, order)).status == "awaiting_confirmation"
    assert await _accounts(env, order) == placed
    # handed over without the cash being recorded: the order is closed to it
    delivered = await _move(env, order, OrderEvent.CONFIRM, OrderEvent.SHIP,
                            OrderEvent.DELIVER)
    assert (await env.service.book(delivered)).cash_due == TOTAL
    for deliver in (True, False):
        with pytest.raises(PaymentError) as closed:
            await env.service.collect_cash(delivered, deliver=deliver)
        assert closed.value.code == "order_closed"
        assert str(closed.value) == f"{order.label} is delivered"
    assert await env.service.repo.events_for(cash) == []
    assert (await fresh(env, order)).status == "delivered"
    assert await _accounts(env, order) == placed
    # an order that is not cash on delivery has no cash due: nothing, no refusal
    prepaid = await new_order(env)
    assert await env.service.collect_cash(prepaid, deliver=True) is None
    # the audit sees the cash that was never recorded
    await clean_books(env, "delivered_unpaid", "open_request_on_closed_order")


@pytest.mark.parametrize(("moves", "deliver", "status"), [
    ((OrderEvent.CONFIRM,), False, "paid"),  # taken at the shop before dispatch
    ((OrderEvent.CONFIRM,), True, "delivered"),  # ``deliver ORD-…``: shipped and delivered
    ((OrderEvent.CONFIRM, OrderEvent.SHIP), False, "delivered"),  # at the door
    ((OrderEvent.CONFIRM, OrderEvent.SHIP), True, "delivered"),
])
async def test_cash_collected_is_one_capture_of_what_is_due_in_cash_in_hand(
        env: Env, moves: tuple[OrderEvent, ...], deliver: bool, status: str) -> None:
    order = await cod_order(env)
    await _move(env, order, *moves)
    cash = await _cash_request(env, order)
    env.advance(1_234)  # not on a whole second: the event's time is in whole seconds
    told = Told()
    # the caller's copy is stale (placed, not confirmed): the stored order decides
    update = await env.service.collect_cash(order, deliver=deliver, notify=told)
    assert update is not None and told.updates == [update]
    expected = _cash_event(order, cash, TOTAL, env.now())
    assert update.event == expected and type(update.event.occurred_at) is int
    assert update.request.id == cash.id
    assert (update.before.captured.minor, update.after.captured.minor) == (0, TOTAL)
    assert update.after.status is PaymentStatus.PAID
    assert update.order_status_after == status
    (stored,) = await env.service.repo.events_for(cash)
    assert stored == replace(expected, reference=None, refs=())  # as the table keeps it
    assert (await fresh(env, order)).status == status
    assert (await _request(env, cash)).status == PaymentStatus.PAID
    paid = {"cash_in_hand": TOTAL, "merchant_revenue": -TOTAL}
    assert await _accounts(env, order) == paid
    # nothing is due any more: the same command again is nothing, not a refusal
    for again in (True, False):
        assert await env.service.collect_cash(order, deliver=again, notify=told) is None
    assert len(told.updates) == 1
    assert len(await env.service.repo.events_for(cash)) == 1
    assert await _accounts(env, order) == paid
    await clean_books(env)


async def test_the_cash_taken_is_what_the_prepaid_money_left_due(env: Env) -> None:
    order = await cod_order(env)
    await _move(env, order, OrderEvent.CONFIRM)
    link = await ask(env, order)  # the shopper paid part of it online first
    await pay(env, link, TOTAL - 1)
    assert (await fresh(env, order)).status == "confirmed"
    cash = await _cash_request(env, order)
    update = await env.service.collect_cash(order, deliver=True)
    assert update is not None
    assert update.event == _cash_event(order, cash, 1, env.now())
    assert (await fresh(env, order)).status == "delivered"
    assert await _accounts(env, order) == {"cash_in_hand": 1, "merchant_revenue": -TOTAL,
                                           f"psp_clearing:{NAME}": TOTAL - 1}
    assert await env.service.collect_cash(order, deliver=False) is None
    await clean_books(env)


class _Between:
    """The service's database, on which another process writes just before the service's
    next write (set ``before_write``): the interleaving of two servers, nothing patched."""

    def __init__(self, db: Database) -> None:
        self.db, self.dialect = db, db.dialect
        self.before_write: Callable[[], Awaitable[object]] | None = None

    async def start(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self.db.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.db.fetchall(sql, params)

    async def write(self, writes: WriteSet) -> None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            await hook()
        await self.db.write(writes)

    async def ping(self) -> bool:
        return await self.db.ping()


async def test_deliver_decides_again_when_the_order_moved_under_it(env: Env) -> None:
    between = _Between(env.db)
    other = Env(between, env.psp, env.service, env.clock, env.policy).restart()
    # shipped by another server meanwhile: the cash is taken at the door, shipped once
    shipped = await cod_order(env)
    await _move(env, shipped, OrderEvent.CONFIRM)
    between.before_write = lambda: _move(env, shipped, OrderEvent.SHIP)
    told = Told()
    update = await other.service.collect_cash(shipped, deliver=True, notify=told)
    assert update is not None and told.updates == [update]
    cash = await _cash_request(env, shipped)
    assert update.event == _cash_event(shipped, cash, TOTAL, env.now())
    assert (update.order_status_before, update.order_status_after) == ("shipped", "delivered")
    assert await _accounts(env, shipped) == {"cash_in_hand": TOTAL,
                                             "merchant_revenue": -TOTAL}
    # part paid online meanwhile (still confirmed, not dispatched): the cash for the rest
    # is taken, and the order is not dispatched behind the merchant's back
    part = await cod_order(env)
    await _move(env, part, OrderEvent.CONFIRM)
    link = await ask(env, part)
    between.before_write = lambda: pay(env, link, 4_000)
    update = await other.service.collect_cash(part, deliver=True, notify=told)
    assert update is not None and told.updates[-1] is update
    cash = await _cash_request(env, part)
    assert update.event == _cash_event(part, cash, TOTAL - 4_000, env.now())
    assert (update.order_status_before, update.order_status_after) == ("confirmed", "paid")
    assert (await fresh(env, part)).status == "paid"
    assert await _accounts(env, part) == {"cash_in_hand": TOTAL - 4_000,
                                          "merchant_revenue": -TOTAL,
                                          f"psp_clearing:{NAME}": 4_000}
    await clean_books(env)


# ---- the default excess policy, the durable refund retry ----------------------------------


async def test_without_a_shop_policy_money_beyond_the_total_is_refunded(env: Env) -> None:
    service = PaymentService(env.db, {NAME: env.psp}, public_url="http://127.0.0.1",
                             now_ms=env.now)  # no excess_policy: the default
    plain = Env(env.db, env.psp, service, env.clock, env.policy)
    order = await new_order(plain)
    link = await ask(plain, order)
    await pay(plain, link, TOTAL)
    told = Told()
    pid = "pay-twice"
    env.psp.capture(pid, TOTAL)
    update = await service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id=pid),
                                       told)
    assert update is not None and update.excess_policy == "refund"
    assert update.excess_after == Money(TOTAL, "INR")
    (refund,) = await service.repo.refunds_for_order(order.id)
    assert (refund.payment_id, refund.amount_minor, refund.reason, refund.status) == (
        pid, TOTAL, "excess", RefundStatus.PROCESSED)
    assert await _accounts(plain, order) == {"merchant_revenue": -TOTAL,
                                             f"psp_clearing:{NAME}": TOTAL}
    await clean_books(plain)


async def test_a_refund_retried_after_its_backoff_tells_whoever_asked(env: Env) -> None:
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    env.psp.refund_mode = "error"  # the PSP answers 500: retried in a minute
    (row,) = (await env.service.refund_order(await fresh(env, order),
                                             Money(3_000, "INR"))).refunds
    assert (row.status, row.next_attempt_at) == (RefundStatus.FAILED, env.now() + 60_000)
    env.psp.refund_mode = "processed"
    assert await env.service.retry_refunds() == 0  # not yet due
    env.advance(60_000)
    told = Told()
    assert await env.service.retry_refunds(told) == 1
    assert [u.refund.id for u in told.updates if u.refund] == [row.id]
    (done,) = await env.service.repo.refunds_for_order(order.id)
    assert done.status == RefundStatus.PROCESSED
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           f"psp_clearing:{NAME}": TOTAL - 3_000}
    assert await env.service.retry_refunds(told) == 0
    await clean_books(env)


# ---- provider links cancelled after a close (run_link_cancels) --------------------------
# A closed request's link is cancelled at its provider by a durable job (scheduled_jobs,
# kind cancel_link), after the close commits: the real Razorpay provider against the fake.


async def _cancel_jobs(env: Env) -> dict[str, tuple[str, int]]:
    """Every link-cancel job: key → (status, due_at)."""
    rows = await env.db.fetchall(
        "SELECT key, status, due_at FROM scheduled_jobs WHERE kind = ?", (CANCEL_LINK,))
    return {str(k): (str(s), int(d)) for k, s, d in rows}


def _cancels(fake: FakeRazorpay) -> list[str]:
    """The links haat asked Razorpay to cancel, in order."""
    return [r.path.split("/")[3] for r in fake.requests
            if r.method == "POST" and r.path.endswith("/cancel")]


async def _cancel_order(env: Env, order: Order) -> None:
    writes = WriteSet()
    assert await env.service.change_order(writes, await fresh(env, order),
                                          OrderEvent.CANCEL) == "cancelled"
    await env.db.write(writes)


async def test_a_closed_link_is_cancelled_at_razorpay_once_and_its_job_is_done(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    orders = [await new_order(env) for _ in range(2)]
    links = [await _link(env, order) for order in orders]
    plinks = [str(link.provider_ref) for link in links]
    for order in orders:
        await _cancel_order(env, order)
        env.advance(1_000)
    keys = [f"{CANCEL_LINK}:{link.id}" for link in links]
    assert await _cancel_jobs(env) == {keys[0]: ("pending", T0), keys[1]: ("pending",
                                                                            T0 + 1_000)}
    assert _cancels(fake) == []  # never inside the close's transaction
    assert await env.service.run_link_cancels() == 2
    assert _cancels(fake) == plinks  # oldest job first
    assert [fake.links[p]["status"] for p in plinks] == ["cancelled", "cancelled"]
    assert await _cancel_jobs(env) == {keys[0]: ("fired", T0), keys[1]: ("fired",
                                                                          T0 + 1_000)}
    # done: a later sweep asks nothing
    env.advance(HOUR)
    assert await env.service.run_link_cancels() == 0
    assert _cancels(fake) == plinks
    for order, link in zip(orders, links, strict=True):
        assert (await _request(env, link)).status == PaymentStatus.CANCELLED
        assert await _accounts(env, order) == {}  # the cancel reversed the receivable
    await clean_books(env)


async def test_a_link_cancel_razorpay_cannot_answer_is_retried_a_minute_later(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    link = await _link(env, order)
    plink, key = str(link.provider_ref), f"{CANCEL_LINK}:{link.id}"
    await _cancel_order(env, order)
    fake.cancel_mode = "error"  # Razorpay's SERVER_ERROR (HTTP 500): nothing cancelled
    env.advance(5_000)
    assert await env.service.run_link_cancels() == 0
    assert _cancels(fake) == [plink]
    assert await _cancel_jobs(env) == {key: ("pending", env.now() + 60_000)}
    assert fake.links[plink]["status"] == "created"
    env.advance(59_999)  # not due yet: Razorpay is not asked again
    assert await env.service.run_link_cancels() == 0
    assert _cancels(fake) == [plink]
    fake.cancel_mode = "ok"
    env.advance(1)
    assert await env.service.run_link_cancels() == 1
    assert _cancels(fake) == [plink, plink]
    assert fake.links[plink]["status"] == "cancelled"
    assert await _cancel_jobs(env) == {key: ("fired", env.now())}
    assert await _accounts(env, order) == {}
    await clean_books(env)


async def test_a_link_paid_or_expired_at_razorpay_is_past_cancelling_and_its_job_dropped(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    paid_order, expired_order = await new_order(env), await new_order(env)
    paid, expired = await _link(env, paid_order), await _link(env, expired_order)
    payment_id = fake.pay_link(str(paid.provider_ref))  # its webhook is lost
    fake.expire_link(str(expired.provider_ref))
    for order in (paid_order, expired_order):
        await _cancel_order(env, order)
    # Razorpay answers 400 for both: final, never retried; what the paid link took is
    # asked for at once and booked (paid after close, handed back), the bot told: with
    # its webhook lost, nothing else would ever look at a closed request again
    told = Told()
    assert await env.service.run_link_cancels(told) == 0
    assert _cancels(fake) == [str(paid.provider_ref), str(expired.provider_ref)]
    assert await _cancel_jobs(env) == {f"{CANCEL_LINK}:{paid.id}": ("cancelled", T0),
                                       f"{CANCEL_LINK}:{expired.id}": ("cancelled", T0)}
    assert [(u.request.id, u.event.event_id, u.after.status) for u in told.updates] == [
        (paid.id, f"fetch:{payment_id}:captured", PaymentStatus.PAID_AFTER_CLOSE),
        (paid.id, f"refund:{next(iter(fake.refunds))}", PaymentStatus.REFUNDED),
        (expired.id, f"fetch:{expired.provider_ref}:expired", PaymentStatus.CANCELLED)]
    assert fake.payments[payment_id]["amount_refunded"] == TOTAL
    row = await _request(env, paid)
    assert (row.status, row.captured_minor, row.refunded_minor) == (
        PaymentStatus.REFUNDED, TOTAL, TOTAL)
    assert await _accounts(env, paid_order) == {}
    assert await _accounts(env, expired_order) == {}
    assert (await _request(env, expired)).captured_minor == 0
    env.advance(HOUR)
    assert await env.service.run_link_cancels(told) == 0
    assert len(_cancels(fake)) == 2 and len(told.updates) == 3
    # the webhook, if it comes after all, is the same payment: nothing booked twice
    plink = str(paid.provider_ref)
    captured = ProviderEvent(
        provider="razorpay", event_id="evt_paid_before_cancel", kind=K.CAPTURED,
        provider_ref=plink, amount=Money(TOTAL, "INR"), occurred_at=T0 // 1000 + 60,
        payment_id=payment_id, reference=paid.id, refs=(plink, paid.id))
    await env.service.apply_event("razorpay", captured)
    row = await _request(env, paid)
    assert (row.status, row.captured_minor, row.refunded_minor) == (
        PaymentStatus.REFUNDED, TOTAL, TOTAL)
    assert fake.payments[payment_id]["amount_refunded"] == TOTAL
    assert await _accounts(env, paid_order) == {}
    await clean_books(env)


async def test_a_link_past_cancelling_that_cannot_be_fetched_is_asked_again_later(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    link = await _link(env, order)
    payment_id = fake.pay_link(str(link.provider_ref))  # its webhook is lost
    await _cancel_order(env, order)
    key, plink = f"{CANCEL_LINK}:{link.id}", str(link.provider_ref)
    fake.fetch_mode = "error"  # past cancelling (400), and the link cannot be read (500)
    told = Told()
    assert await env.service.run_link_cancels(told) == 0
    assert await _cancel_jobs(env) == {key: ("pending", env.now() + 60_000)}
    assert told.updates == [] and (await _request(env, link)).captured_minor == 0
    fake.fetch_mode = "ok"
    env.advance(60_000)
    assert await env.service.run_link_cancels(told) == 0
    assert _cancels(fake) == [plink, plink]
    assert await _cancel_jobs(env) == {key: ("cancelled", T0 + 60_000)}
    assert [(u.event.event_id, u.after.status) for u in told.updates][:1] == [
        (f"fetch:{payment_id}:captured", PaymentStatus.PAID_AFTER_CLOSE)]
    assert fake.payments[payment_id]["amount_refunded"] == TOTAL
    row = await _request(env, link)
    assert (row.status, row.captured_minor, row.refunded_minor) == (
        PaymentStatus.REFUNDED, TOTAL, TOTAL)
    assert await _accounts(env, order) == {}
    await clean_books(env)


async def test_a_link_cancel_job_whose_request_or_provider_is_gone_is_dropped(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    link = await _link(env, order)
    await _cancel_order(env, order)
    writes = WriteSet()  # a job naming a request that is no longer there
    jobs.schedule(writes, f"{CANCEL_LINK}:pr_gone", shop_id="money", kind=CANCEL_LINK,
                  due_at=T0, payload="pr_gone", now_ms=T0, rearm=False)
    await env.db.write(writes)
    # restarted without Razorpay configured: nobody can cancel the link
    without = env.restart()
    assert "razorpay" not in without.service.providers
    assert await without.service.run_link_cancels() == 0
    assert await _cancel_jobs(env) == {f"{CANCEL_LINK}:{link.id}": ("cancelled", T0),
                                       f"{CANCEL_LINK}:pr_gone": ("cancelled", T0)}
    assert await env.service.run_link_cancels() == 0  # dropped for good
    assert _cancels(fake) == []
    assert fake.links[str(link.provider_ref)]["status"] == "created"
    assert await _accounts(env, order) == {}
    await clean_books(env)


async def test_a_link_cancel_another_process_did_meanwhile_is_skipped_and_the_rest_done(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    orders = [await new_order(env) for _ in range(2)]
    links = [await _link(env, order) for order in orders]
    plinks = [str(link.provider_ref) for link in links]
    for order in orders:
        await _cancel_order(env, order)
        env.advance(1_000)
    # a second process, its clock a second behind (it sees only the first job), sweeps
    # while Razorpay answers our first cancel: it cancels that link and finishes its job
    other = PaymentService(env.db, env.service.providers, public_url="http://127.0.0.1",
                           now_ms=lambda: T0)
    theirs: list[int] = []

    async def race() -> None:
        theirs.append(await other.run_link_cancels())

    fake.before_cancel = race
    assert await env.service.run_link_cancels() == 1  # ours conflicted; the next one done
    assert theirs == [1]
    assert _cancels(fake) == [plinks[0], plinks[0], plinks[1]]
    assert [fake.links[p]["status"] for p in plinks] == ["cancelled", "cancelled"]
    assert await _cancel_jobs(env) == {
        f"{CANCEL_LINK}:{links[0].id}": ("fired", T0),
        f"{CANCEL_LINK}:{links[1].id}": ("fired", T0 + 1_000)}
    await clean_books(env)


# ---- what a refund by hand may take (record_manual_refund's split) -----------------------


async def test_a_manual_refund_never_takes_a_failed_refund_a_provider_will_retry_itself(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order = await new_order(env)
    link = await _link(env, order)
    fake.pay_link(str(link.provider_ref))
    await env.service.reconcile()
    fake.refund_mode = "failed"  # Razorpay refuses it: retried by haat, with backoff
    (failed,) = (await env.service.refund_order(await fresh(env, order),
                                                Money(3_000, "INR"))).refunds
    assert failed.status == RefundStatus.FAILED
    assert failed.next_attempt_at == env.now() + 60_000
    stored = await env.service.repo.refunds_for_order(order.id)
    assert [(r.id, r.status, r.provider_ref) for r in stored] == [
        (failed.id, RefundStatus.FAILED, None)]
    ledger = await _accounts(env, order)
    assert ledger == {"merchant_revenue": -TOTAL + 3_000,
                      "psp_clearing:razorpay": TOTAL, "refunds_payable": -3_000}
    # the merchant says they paid exactly that back by hand: refused, Razorpay refunds it
    for amount in (3_000, 1_000):
        with pytest.raises(PaymentError) as refused:
            await env.service.record_manual_refund(await fresh(env, order),
                                                   Money(amount, "INR"), "UTR000999")
        assert refused.value.code == "provider_refunds"
        assert str(refused.value) == ("this order was paid through a provider that "
                                      "refunds by itself: use refund")
    assert await env.service.repo.refunds_for_order(order.id) == stored
    assert await _accounts(env, order) == ledger


@dataclass
class Crash:
    """A notify callback that fails once, the first time (the process dies mid-way)."""

    crashed: bool = False

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("the process died")


async def test_a_manual_refund_cut_short_keeps_its_reference_and_finishes_under_it(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    # reserved under its reference, then cut short before it was booked as paid back
    with pytest.raises(RuntimeError):
        await env.service.record_manual_refund(await fresh(env, order),
                                               Money(3_000, "INR"), "UTR0001", notify=Crash())
    (cut,) = await env.service.repo.refunds_for_order(order.id)
    assert (cut.status, cut.provider_ref, cut.amount_minor) == (
        RefundStatus.REQUESTED, "manual:UTR0001:0", 3_000)
    # another refund by hand of the same amount is its own: it never takes the cut one
    env.advance(1_000)
    other = await env.service.record_manual_refund(await fresh(env, order),
                                                   Money(3_000, "INR"), "UTR0002")
    (row,) = other.refunds
    assert row.id != cut.id
    assert (row.provider_ref, row.status) == ("manual:UTR0002:0", RefundStatus.PROCESSED)
    assert await env.service.repo.refund(cut.id) == cut
    # the cut one again, by its reference: finished, not doubled
    done = await env.service.record_manual_refund(await fresh(env, order),
                                                  Money(3_000, "INR"), "UTR0001")
    assert [(r.id, r.provider_ref, r.status) for r in done.refunds] == [
        (cut.id, "manual:UTR0001:0", RefundStatus.PROCESSED)]
    assert len(await env.service.repo.refunds_for_order(order.id)) == 2
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 6_000,
                                           f"psp_clearing:{NAME}": TOTAL - 6_000}
    await clean_books(env)


# ---- one refund sent to its provider (_send_refund, _refund_failed, _refund_event) ---------
# What the provider answers decides the row: processed (booked at once as the refund event
# it is, the shopper told by that event only), pending (accepted: the shopper told now),
# failed (retried with backoff under a new idempotency key), an error (retried under the
# same key: it may have been done), no refund API (the merchant refunds by hand).


@dataclass
class Heard(Told):
    """The bot's stand-in that also hears each refund row's move (``refund_changed``)."""

    moves: list[RefundUpdate] = field(default_factory=list)

    async def refund_changed(self, update: RefundUpdate, writes: WriteSet) -> None:
        self.moves.append(update)


def _moves(heard: Heard) -> list[tuple[str, RefundStatus, RefundStatus, int, str]]:
    return [(m.refund.id, m.before, m.after, m.retry_at, m.refund.last_error)
            for m in heard.moves]


def _row(refund: Refund) -> tuple[RefundStatus, int, str, int, str, str | None]:
    return (refund.status, refund.attempts, refund.attempt_key, refund.next_attempt_at,
            refund.last_error, refund.provider_ref)


def _refunds_asked(fake: FakeRazorpay) -> list[tuple[str, str, object]]:
    """Each refund haat asked Razorpay for: payment id, idempotency key, amount."""
    return [(r.path.split("/")[3], r.headers.get("X-Refund-Idempotency", ""),
             (r.body or {}).get("amount")) for r in fake.requests
            if r.method == "POST" and r.path.endswith("/refund")]


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The service's log lines as webhooks/redaction.py leaves them (once a test in the
    process made an app, a refund id's long digit runs are masked): redacted here too."""
    return [_redact(r.getMessage()) for r in caplog.records if r.name == "payments.service"]


def _failed_line(row: Refund, attempt: int, retry: str) -> str:
    return _redact(f"refund {row.id} failed at the provider (attempt {attempt}); retry {retry}")


async def _paid_link(env: Env, fake: FakeRazorpay) -> tuple[Order, PaymentRequest, str]:
    order = await new_order(env)
    link = await _link(env, order)
    payment_id = fake.pay_link(str(link.provider_ref))
    await env.service.reconcile()  # booked; Razorpay dates the capture 60 s after T0
    return order, link, payment_id


async def test_a_refund_razorpay_processes_at_once_is_booked_as_its_event_and_told_once(
        rzp: tuple[Env, FakeRazorpay], caplog: pytest.LogCaptureFixture) -> None:
    env, fake = rzp
    caplog.set_level(logging.WARNING, logger="payments.service")
    order, link, pid = await _paid_link(env, fake)
    heard = Heard()
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                             notify=heard)).refunds
    assert row == await env.service.repo.refund(row.id)
    rfnd = str(row.provider_ref)
    assert rfnd.startswith("rfnd_")
    assert _row(row) == (RefundStatus.PROCESSED, 1, row.id, 0, "", rfnd)
    assert _refunds_asked(fake) == [(pid, row.id, 3_000)]
    assert heard.moves == []  # processed at once: the shopper hears it from the event
    (update,) = heard.updates
    # dated after the capture Razorpay dated ahead of our clock (T0 + 60 s)
    assert update.event == ProviderEvent(
        provider="razorpay", event_id=f"refund:{rfnd}", kind=K.REFUNDED,
        provider_ref=str(link.provider_ref), amount=Money(3_000, "INR"),
        occurred_at=T0 // 1000 + 61, payment_id=pid, refund_id=rfnd, reference=link.id,
        refs=(link.id,))
    assert update.refund is not None and update.refund.id == row.id
    assert update.refund.status == RefundStatus.PROCESSED
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           "psp_clearing:razorpay": TOTAL - 3_000}
    # ten minutes later, off a whole second: pending, the shopper told it is on its way
    env.advance(10 * 60_000 + 345)
    fake.refund_mode = "pending"
    (pending,) = (await env.service.refund_order(await fresh(env, order),
                                                 Money(2_000, "INR"), notify=heard)).refunds
    assert pending == await env.service.repo.refund(pending.id)
    ref = str(pending.provider_ref)
    assert _row(pending) == (RefundStatus.PENDING, 1, pending.id, 0, "", ref)
    assert _refunds_asked(fake)[1:] == [(pid, pending.id, 2_000)]
    assert _moves(heard) == [(pending.id, RefundStatus.REQUESTED, RefundStatus.PENDING, 0, "")]
    assert heard.moves[0].order.id == order.id
    assert len(heard.updates) == 1
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 5_000,
                                           "psp_clearing:razorpay": TOTAL - 3_000,
                                           "refunds_payable": -2_000}
    # settled later, asked for: the event is dated now, in whole seconds
    fake.settle_refund(ref, "processed")
    assert (await env.service.poll_refunds(heard))["refunds_settled"] == 1
    polled = heard.updates[-1].event
    assert polled == ProviderEvent(
        provider="razorpay", event_id=f"fetch:{ref}:processed", kind=K.REFUNDED,
        provider_ref=str(link.provider_ref), amount=Money(2_000, "INR"),
        occurred_at=env.now() // 1000, payment_id=pid, refund_id=ref, reference=link.id,
        refs=(link.id,))
    assert type(polled.occurred_at) is int
    assert _logged(caplog) == []
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 5_000,
                                           "psp_clearing:razorpay": TOTAL - 5_000}
    await clean_books(env)


async def test_a_refund_razorpay_answers_failed_is_retried_under_a_new_key_with_backoff(
        rzp: tuple[Env, FakeRazorpay], caplog: pytest.LogCaptureFixture) -> None:
    env, fake = rzp
    caplog.set_level(logging.WARNING, logger="payments.service")
    order, _, pid = await _paid_link(env, fake)
    fake.refund_mode = "failed"  # Razorpay's refund entity, status failed
    heard = Heard()
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                             notify=heard)).refunds
    failed = "the provider answered failed"
    first = env.now()
    stored = await env.service.repo.refund(row.id)
    assert stored is not None and row.status == RefundStatus.FAILED
    assert _row(stored) == (RefundStatus.FAILED, 1, f"{row.id}-1", first + 60_000, failed,
                            None)
    assert _moves(heard) == [(row.id, RefundStatus.REQUESTED, RefundStatus.FAILED,
                              first + 60_000, failed)]
    assert heard.updates == []
    assert _logged(caplog) == [_failed_line(row, 1, "scheduled")]
    owed = {"merchant_revenue": -TOTAL + 3_000, "psp_clearing:razorpay": TOTAL,
            "refunds_payable": -3_000}
    assert await _accounts(env, order) == owed
    # the second try, under the key the failure named, fails too: five minutes
    env.advance(60_000)
    assert await env.service.retry_refunds(heard) == 1
    again = await env.service.repo.refund(row.id)
    assert again is not None
    assert _row(again) == (RefundStatus.FAILED, 2, f"{row.id}-2", env.now() + 300_000,
                           failed, None)
    assert _moves(heard)[1:] == [(row.id, RefundStatus.REQUESTED, RefundStatus.FAILED,
                                  env.now() + 300_000, failed)]
    assert _logged(caplog)[1:] == [_failed_line(row, 2, "scheduled")]
    # the third is processed: booked, the shopper told by the event, nobody else
    env.advance(300_000)
    fake.refund_mode = "processed"
    assert await env.service.retry_refunds(heard) == 1
    done = await env.service.repo.refund(row.id)
    assert done is not None
    assert _row(done) == (RefundStatus.PROCESSED, 3, f"{row.id}-2", 0, failed,
                          done.provider_ref)
    assert _refunds_asked(fake) == [(pid, row.id, 3_000), (pid, f"{row.id}-1", 3_000),
                                    (pid, f"{row.id}-2", 3_000)]
    assert len(heard.moves) == 2 and len(_logged(caplog)) == 2
    (update,) = heard.updates
    assert update.refund is not None and update.refund.id == row.id
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           "psp_clearing:razorpay": TOTAL - 3_000}
    await clean_books(env)


async def test_a_refund_razorpay_errors_on_is_retried_under_the_same_key_with_its_error(
        rzp: tuple[Env, FakeRazorpay], caplog: pytest.LogCaptureFixture) -> None:
    env, fake = rzp
    caplog.set_level(logging.WARNING, logger="payments.service")
    order, _, pid = await _paid_link(env, fake)
    heard = Heard()
    fake.refund_mode = "error"  # HTTP 500 SERVER_ERROR: it may or may not have been done
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                             notify=heard)).refunds
    error = "razorpay POST payments: HTTP 500 We are facing some trouble completing your request"
    assert row == await env.service.repo.refund(row.id)
    assert _row(row) == (RefundStatus.FAILED, 1, row.id, env.now() + 60_000, error, None)
    assert _moves(heard) == [(row.id, RefundStatus.REQUESTED, RefundStatus.FAILED,
                              env.now() + 60_000, error)]
    # Razorpay's documented refusal (a payment older than six months), then a long
    # description: the row keeps its first 200 characters
    fake.refund_mode = "processed"
    old = "Refund is not supported by the bank because the payment is more than 6 months old"
    long = "Too many requests: " + "slow down and retry after the given time; " * 8
    for wait, answer, backoff in ((60_000, (400, "BAD_REQUEST_ERROR", old), 300_000),
                                  (300_000, (429, "BAD_REQUEST_ERROR", long), 900_000)):
        env.advance(wait)
        fake.refund_error = answer
        assert await env.service.retry_refunds(heard) == 1
        stored = await env.service.repo.refund(row.id)
        assert stored is not None
        said = f"razorpay POST payments: HTTP {answer[0]} {answer[2]}"[:200]
        assert _row(stored) == (RefundStatus.FAILED, stored.attempts, row.id,
                                env.now() + backoff, said, None)
        assert heard.moves[-1].refund.last_error == said
    assert len(said) == 200
    assert [s.attempts for s in await env.service.repo.refunds_for_order(order.id)] == [3]
    env.advance(900_000)
    fake.refund_error = None
    assert await env.service.retry_refunds(heard) == 1
    assert _refunds_asked(fake) == [(pid, row.id, 3_000)] * 4  # one key: one refund
    done = await env.service.repo.refund(row.id)
    assert done is not None and done.status == RefundStatus.PROCESSED
    assert [m.after for m in heard.moves] == [RefundStatus.FAILED] * 3
    assert _logged(caplog) == [_failed_line(row, n, "scheduled") for n in (1, 2, 3)]
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           "psp_clearing:razorpay": TOTAL - 3_000}
    await clean_books(env)


async def test_a_refund_no_provider_can_send_waits_for_the_merchant_with_the_reason(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="payments.service")
    reason = "no refund API: " + "the merchant refunds from their UPI app; " * 6
    env = Env(env.db, HandRefundPsp(reason=reason), env.service, env.clock,
              env.policy).restart()
    with pytest.raises(PaymentError) as nothing:
        await env.service.refund_order(await new_order(env), Money(1_000, "INR"))
    assert (nothing.value.code, str(nothing.value)) == ("nothing_to_refund",
                                                         "nothing_to_refund")
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    heard = Heard()
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                             notify=heard)).refunds
    assert row == await env.service.repo.refund(row.id)
    assert _row(row) == (RefundStatus.FAILED, 1, row.id, 0, reason[:200], None)
    assert _moves(heard) == [(row.id, RefundStatus.REQUESTED, RefundStatus.FAILED, 0,
                              reason[:200])]
    # cash on delivery, collected: refunded by hand too
    cod = await cod_order(env)
    await _move(env, cod, OrderEvent.CONFIRM)
    await env.service.collect_cash(cod, deliver=False)
    (cash,) = (await env.service.refund_order(await fresh(env, cod), Money(2_000, "INR"),
                                              notify=heard)).refunds
    by_hand = "cash on delivery is refunded by hand"
    assert _row(cash) == (RefundStatus.FAILED, 1, cash.id, 0, by_hand, None)
    assert _moves(heard)[1:] == [(cash.id, RefundStatus.REQUESTED, RefundStatus.FAILED, 0,
                                  by_hand)]
    assert heard.updates == []
    assert _logged(caplog) == [_failed_line(row, 1, "needs the merchant"),
                               _failed_line(cash, 1, "needs the merchant")]
    env.advance(7 * 24 * HOUR)
    assert await env.service.retry_refunds(heard) == 0  # never sent again by itself
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           f"psp_clearing:{NAME}": TOTAL,
                                           "refunds_payable": -3_000}
    assert await _accounts(env, cod) == {"merchant_revenue": -TOTAL + 2_000,
                                         "cash_in_hand": TOTAL, "refunds_payable": -2_000}


async def test_a_refund_being_sent_is_leased_and_one_moved_meanwhile_is_answered_as_stored(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    env, fake = rzp
    order, _, pid = await _paid_link(env, fake)
    seen: list[Refund] = []

    async def look() -> None:  # while Razorpay is asked, another process looks
        (claimed,) = await env.service.repo.refunds_for_order(order.id)
        seen.append(claimed)
        assert await env.service.retry_refunds() == 0

    fake.before_refund = look
    (row,) = (await env.service.refund_order(await fresh(env, order),
                                             Money(3_000, "INR"))).refunds
    (claimed,) = seen
    assert _row(claimed) == (RefundStatus.REQUESTED, 1, row.id, env.now() + 120_000, "",
                             None)
    assert row.status == RefundStatus.PROCESSED
    assert _refunds_asked(fake) == [(pid, row.id, 3_000)]
    # two payments, refunded whole: while the first is sent the provider reports the
    # other paid back (its dashboard): that one is not sent, and answered as stored
    two = await new_order(env)
    first_link = await ask(env, two)
    first = await pay(env, first_link, TOTAL - 2_000)
    link = await ask(env, two)  # the rest
    assert link.amount_minor == 2_000
    second = await pay(env, link, 2_000, at=T0 // 1000 + 5)
    requests = {first: first_link, second: link}
    paid_back: list[Refund] = []

    async def dashboard() -> None:
        (other,) = [r for r in await env.service.repo.refunds_for_order(two.id)
                    if r.attempts == 0]
        env.psp.refunded[other.payment_id] = other.amount_minor
        await env.service.apply_event(NAME, event(
            requests[other.payment_id], K.REFUNDED, other.amount_minor,
            payment_id=other.payment_id, refund_id="srf_dashboard", at=T0 // 1000 + 10))
        paid_back.append(other)

    env.psp.before_refund = dashboard
    sent = (await env.service.refund_order(await fresh(env, two))).refunds
    (other,) = paid_back
    stored = {r.id: r for r in await env.service.repo.refunds_for_order(two.id)}
    assert {r.id: r for r in sent} == stored
    assert sorted((r.payment_id, r.amount_minor) for r in sent) == sorted(
        [(first, TOTAL - 2_000), (second, 2_000)])
    assert _row(stored[other.id]) == (RefundStatus.PROCESSED, 0, "", env.now() + 120_000,
                                      "", "srf_dashboard")
    assert [r.status for r in sent] == [RefundStatus.PROCESSED] * 2
    assert env.psp.paid_out() == TOTAL and env.psp.rejected == 0
    assert await _accounts(env, two) == {}
    await clean_books(env)


# ---- request_payment: what the provider received, what the row holds ----------------------


async def test_a_payment_link_asks_razorpay_for_what_is_owed_and_the_row_holds_it(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    """Issue 20: request_payment's link body at Razorpay, field by field, and its row."""
    env, fake = rzp
    order = await new_order(env)
    writes = WriteSet()
    request = await env.service.request_payment(
        writes, order, method="payment_link", plan=RZP, description="Thali for two",
        customer_phone="+919812345678")
    await env.db.write(writes)
    sent = [r for r in fake.requests if r.method == "POST"]
    assert [r.path for r in sent] == ["/v1/payment_links"]
    expires = T0 + RZP.link_expiry_minutes * 60_000
    page = f"http://127.0.0.1/pay/{request.token}"
    assert sent[0].body == {
        "amount": TOTAL, "currency": "INR", "accept_partial": False,
        "reference_id": request.id, "description": "Thali for two",
        "notify": {"sms": False, "email": False}, "reminder_enable": False,
        "notes": {"haat_ref": request.id}, "expire_by": expires // 1000,
        "callback_url": page, "callback_method": "get",
        "customer": {"contact": "+919812345678"}}
    (link_id,) = fake.links
    assert request.id.startswith("pr") and len(request.token) == 32
    assert (request.order_id, request.shop_id, request.method, request.provider,
            request.provider_ref, request.status, request.amount_minor, request.currency,
            request.captured_minor, request.refunded_minor, request.upi_link,
            request.link_url, request.vpa, request.expires_at, request.created_at) == (
        order.id, order.shop_id, "payment_link", "razorpay", link_id, PaymentStatus.ISSUED,
        TOTAL, "INR", 0, 0, "", fake.links[link_id]["short_url"], None, expires, T0)
    assert await _request(env, request) == request


async def test_a_collect_asks_razorpay_for_an_order_and_a_upi_collect_of_it(
        rzp: tuple[Env, FakeRazorpay]) -> None:
    """Issue 20: request_payment's collect: the order and the collect bodies, the row, and
    a collect without a VPA refused before the provider hears anything."""
    env, fake = rzp
    order = await new_order(env)
    with pytest.raises(PaymentError) as refused:
        await env.service.request_payment(WriteSet(), order, method="collect", plan=RZP)
    assert refused.value.code == "vpa_required" and fake.requests == []
    writes = WriteSet()
    request = await env.service.request_payment(
        writes, order, method="collect", plan=RZP, vpa="shopper@okhdfc",
        description="Thali", customer_phone="+919812345678", amount=Money(4_000, "INR"))
    await env.db.write(writes)
    sent = [r for r in fake.requests if r.method == "POST"]
    assert [r.path for r in sent] == ["/v1/orders", "/v1/payments/create/upi"]
    (order_id,) = fake.orders
    assert sent[0].body == {"amount": 4_000, "currency": "INR", "receipt": request.id,
                            "notes": {"haat_ref": request.id}}
    assert sent[1].body == {
        "amount": 4_000, "currency": "INR", "order_id": order_id, "method": "upi",
        "description": "Thali", "email": "", "contact": "+919812345678", "ip": "",
        "referer": "", "user_agent": "", "notes": {"haat_ref": request.id},
        "upi": {"flow": "collect", "vpa": "shopper@okhdfc",
                "expiry_time": RZP.collect_expiry_minutes}}
    assert (request.method, request.provider, request.provider_ref, request.status,
            request.amount_minor, request.currency, request.upi_link, request.link_url,
            request.vpa, request.expires_at, request.created_at) == (
        "collect", "razorpay", order_id, PaymentStatus.ISSUED, 4_000, "INR", "",
        f"http://127.0.0.1/pay/{request.token}", "shopper@okhdfc",
        T0 + RZP.collect_expiry_minutes * 60_000, T0)
    assert await _request(env, request) == request


async def _refused(env: Env, order: Order, amount: Money | None, method: str = "upi_link"
                   ) -> tuple[str, str]:
    with pytest.raises(PaymentError) as refused:
        await ask(env, order, method, amount)
    return refused.value.code, str(refused.value)


async def test_the_amount_asked_is_what_is_owed_or_less_and_a_tip_is_its_own(
        env: Env) -> None:
    """Issue 20: _amount_to_ask: the whole amount, a smaller one, more than owed, zero and
    negative refused; after a part is paid only the rest; a paid order refused, a tip the
    order total unless given."""
    order = await new_order(env)
    assert (await ask(env, order)).amount_minor == TOTAL
    assert await _refused(env, order, Money(TOTAL + 1, "INR")) == (
        "bad_amount", "more than is still owed")
    assert await _refused(env, order, Money(0, "INR")) == ("bad_amount", "bad_amount")
    assert await _refused(env, order, Money(-1, "INR")) == ("bad_amount", "bad_amount")
    part = await ask(env, order, amount=Money(3_000, "INR"))
    assert (part.amount_minor, part.currency) == (3_000, "INR")
    await pay(env, part, 3_000)
    rest = await ask(env, order)
    assert (rest.amount_minor, rest.currency) == (TOTAL - 3_000, "INR")
    assert await _refused(env, order, Money(TOTAL - 2_999, "INR")) == (
        "bad_amount", "more than is still owed")
    assert (await ask(env, order, amount=Money(TOTAL - 3_000, "INR"))).amount_minor == (
        TOTAL - 3_000)
    await pay(env, rest, TOTAL - 3_000)
    assert (await _refused(env, order, None))[0] in {"already_paid", "order_closed"}
    tip = await ask(env, order, "tip")
    assert (tip.method, tip.amount_minor, tip.currency) == ("tip", TOTAL, "INR")
    assert (await ask(env, order, "tip", Money(500, "INR"))).amount_minor == 500
    assert await _refused(env, order, Money(0, "INR"), "tip") == ("bad_amount", "bad_amount")


# ---- issue 20: survivors of the 2026-12-04 run of payments/service.py, group C ------------
# (docs/TESTING.md, "Mutation testing"): what an event may carry, the order numbers, a link
# past cancelling at a provider that cannot be asked, the smallest and the free cash order,
# the pending-refund sweep's pages, the provider's own refunds and a refund's answer time.


async def test_an_event_in_another_currency_or_below_zero_is_rejected_with_why(
        env: Env) -> None:
    """mismatch: an amount kind in another currency is refused even at zero, any money in
    another currency whatever its kind, a negative amount says so; no money, no check."""
    order = await new_order(env)
    request = await ask(env, order)
    dollars = "currency USD is not the request's INR"
    cases = [  # (kind, amount, why)
        (K.CAPTURED, Money(0, "USD"), dollars),  # an amount kind: its currency counts
        (K.REFUNDED, Money(0, "USD"), dollars),
        (K.REFUND_FAILED, Money(500, "USD"), dollars),  # money, whatever the kind
        (K.FAILED, Money(-1, "USD"), dollars),
        (K.CAPTURED, Money(-100, "INR"), "negative amount"),
        (K.FAILED, Money(-1, "INR"), "negative amount"),
    ]
    for n, (kind, amount, why) in enumerate(cases):
        odd = replace(event(request, kind, event_id=f"ev_odd_{n}"), amount=amount)
        assert await env.service.apply_event(NAME, odd) is None
        assert await env.service.repo.event_rejection(NAME, f"ev_odd_{n}") == why, (
            kind, amount)
    assert (await _request(env, request)).status == PaymentStatus.ISSUED
    assert await env.service.repo.events_for(request) == []
    # no money and no amount kind: another currency's zero is nothing to check, stored
    # as applied (the request's state leaves it out as an anomaly, moving nothing)
    failed = replace(event(request, K.FAILED, event_id="ev_no_money"),
                     amount=Money.zero("USD"))
    update = await env.service.apply_event(NAME, failed)
    assert update is not None and update.rejected is None
    assert update.after.status is PaymentStatus.ISSUED
    assert await env.service.repo.event_rejection(NAME, "ev_no_money") == ""
    assert [e.event_id for e in await env.service.repo.events_for(request)] == [
        "ev_no_money"]
    assert await _accounts(env, order) == {"customer_receivable": TOTAL,
                                           "merchant_revenue": -TOTAL}


async def _order_in(env: Env, shop_id: str) -> Order:
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id=shop_id, channel="simulator", customer="numbered",
        lines=[OrderLine("THALI", "Thali", 1, Money(TOTAL - 1_000, "INR"))],
        delivery=Money(1_000, "INR"), address="", language="en")
    await env.db.write(writes)
    return order


async def test_order_numbers_count_from_1001_one_by_one_in_each_shop(env: Env) -> None:
    """_allocate_number: a shop's first order is ORD-1001, each next one the number after,
    each shop on its own (on PostgreSQL from the shop's counter row), and after a restart
    the numbers go on from the stored orders."""
    assert [(await _order_in(env, "money")).number for _ in range(3)] == [1001, 1002, 1003]
    other = await _order_in(env, "corner")
    assert (other.number, other.id, other.label) == (1001, "corner/ORD-1001", "ORD-1001")
    assert (await _order_in(env.restart(), "money")).number == 1004
    assert (await _order_in(env, "corner")).number == 1002


@pytest.fixture
async def pg_env(fresh_postgres: str) -> AsyncIterator[Env]:
    """The service on an empty database of the session's PostgreSQL server only."""
    db = open_database(fresh_postgres)
    await db.start()
    yield Env(db, ScriptedPsp(), None, [T0]).restart()  # type: ignore[arg-type]
    await db.close()


async def test_two_servers_on_one_postgresql_never_give_one_order_number_twice(
        pg_env: Env) -> None:
    """_allocate_number: servers sharing one PostgreSQL take numbers from the shop's counter
    row, never from a number one of them remembers (it would give a number twice)."""
    one, two = pg_env, pg_env.restart()
    numbers = [(await _order_in(server, "money")).number for server in (one, two, one, two,
                                                                        one)]
    assert numbers == [1001, 1002, 1003, 1004, 1005]
    assert [o.number for o in await one.service.orders("money")] == [
        1005, 1004, 1003, 1002, 1001]


@dataclass
class _PastCancelling(ScriptedPsp):
    """A PSP whose links are past cancelling (paid or expired there) and that cannot be
    asked what they took (it has no ``fetch``)."""

    fetched: list[str] = field(default_factory=list)

    async def cancel_link(self, provider_ref: str) -> None:
        self.cancelled.append(provider_ref)
        raise NotCancellable(f"{provider_ref} is past cancelling")

    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        self.fetched.append(provider_ref)
        raise Unsupported("no fetch")


async def test_a_link_past_cancelling_at_a_provider_that_cannot_be_asked_is_dropped(
        env: Env) -> None:
    """_book_what_the_link_took: a provider without ``fetch`` is never asked what a link
    past cancelling took, and the job is done (not retried every minute for ever)."""
    psp = _PastCancelling()
    env = Env(env.db, psp, env.service, env.clock, env.policy).restart()
    order = await new_order(env)
    link = await ask(env, order)
    await _cancel_order(env, order)
    key = f"{CANCEL_LINK}:{link.id}"
    assert await _cancel_jobs(env) == {key: ("pending", T0)}
    assert await env.service.run_link_cancels() == 0
    assert psp.cancelled == [str(link.provider_ref)] and psp.fetched == []
    assert await _cancel_jobs(env) == {key: ("cancelled", T0)}
    env.advance(HOUR)
    assert await env.service.run_link_cancels() == 0  # dropped for good
    assert psp.cancelled == [str(link.provider_ref)] and psp.fetched == []
    assert (await _request(env, link)).status == PaymentStatus.CANCELLED
    assert await _accounts(env, order) == {}
    await clean_books(env)


async def _cod_of(env: Env, price: int) -> Order:
    """A cash-on-delivery order of one item at ``price``, delivered free."""
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id="money", channel="simulator", customer="cod-small",
        lines=[OrderLine("SWEET", "Sweet", 1, Money(price, "INR"))],
        delivery=Money(0, "INR"), address="Park Street", language="en",
        cash_on_delivery=True)
    await env.db.write(writes)
    return order


async def test_one_paisa_of_cash_taken_at_the_door_delivers_the_order(env: Env) -> None:
    """_order_after: the cash of a shipped cash-on-delivery order delivers it, however
    small (one minor unit is money taken)."""
    order = await _cod_of(env, 1)
    await _move(env, order, OrderEvent.CONFIRM, OrderEvent.SHIP)
    update = await env.service.collect_cash(order, deliver=False)
    assert update is not None
    assert (update.order_status_before, update.order_status_after) == ("shipped",
                                                                       "delivered")
    assert (await fresh(env, order)).status == "delivered"
    assert await _accounts(env, order) == {"cash_in_hand": 1, "merchant_revenue": -1}
    await clean_books(env)


async def test_an_event_that_brings_no_money_never_settles_a_free_order(env: Env) -> None:
    """_order_after: a free cash-on-delivery order (total 0) is not paid by an event that
    takes no money (a failed attempt on its cash request) before dispatch, nor delivered
    by one once shipped: nothing was captured."""
    order = await _cod_of(env, 0)
    cash = await _cash_request(env, order)
    assert await env.service.collect_cash(order, deliver=False) is None  # nothing due

    def attempt(n: int) -> ProviderEvent:
        return ProviderEvent(
            provider="cash", event_id=f"cash-attempt:{cash.id}:{n}", kind=K.FAILED,
            provider_ref=cash.id, amount=Money(0, "INR"), occurred_at=env.now() // 1000,
            reference=cash.id, refs=(cash.id,))

    for n, moves, status in ((1, (), "awaiting_confirmation"),
                             (2, (OrderEvent.CONFIRM,), "confirmed"),
                             (3, (OrderEvent.SHIP,), "shipped")):
        await _move(env, order, *moves)
        update = await env.service.apply_event("cash", attempt(n))
        assert update is not None and update.after.failed_attempts == n
        assert (update.order_status_before, update.order_status_after) == (status, status)
        assert (await fresh(env, order)).status == status
    assert await _accounts(env, order) == {}


async def test_pending_refunds_of_one_moment_are_each_asked_once_a_sweep(env: Env) -> None:
    """_pending_refunds: rows of one update time are paged by id, the next page starting
    after the last row of the one before (not its second): each asked once."""
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    env.psp.refund_mode = "pending"
    rows = [row for _ in range(4) for row in (await env.service.refund_order(
        await fresh(env, order), Money(1_000, "INR"))).refunds]
    assert {(r.status, r.updated_at) for r in rows} == {(RefundStatus.PENDING, env.now())}
    service = PaymentService(env.db, env.service.providers, public_url="http://127.0.0.1",
                             now_ms=env.now, sweep_page=3)
    assert await service.poll_refunds() == {
        "refunds_polled": 4, "refunds_settled": 0, "refunds_unreachable": 0}
    for row in rows:
        env.psp.finish(str(row.provider_ref), "processed")
    assert await service.poll_refunds() == {
        "refunds_polled": 4, "refunds_settled": 4, "refunds_unreachable": 0}
    assert [r.status for r in await env.service.repo.refunds_for_order(order.id)] == [
        RefundStatus.PROCESSED] * 4
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 4_000,
                                           f"psp_clearing:{NAME}": TOTAL - 4_000}
    await clean_books(env)


async def test_a_provider_refund_of_a_payment_we_promised_back_is_one_row_of_its_amount(
        env: Env) -> None:
    """_provider_refund_row: the PSP pays back by itself a payment whose whole refund we
    hold as failed: one processed row of what it paid (its account taken from the rest
    of the order), and ours superseded."""
    order = await new_order(env)
    request = await ask(env, order)
    first = await pay(env, request, 2_000)
    for _ in range(2):
        await pay(env, request, 4_000)
    env.psp.refund_mode = "failed"
    (ours,) = (await env.service.refund_order(await fresh(env, order),
                                              payment_id=first)).refunds
    assert (ours.status, ours.amount_minor) == (RefundStatus.FAILED, 2_000)
    env.psp.refunded[first] = 2_000  # its dashboard
    update = await env.service.apply_event(NAME, event(
        request, K.REFUNDED, 2_000, payment_id=first, refund_id="srf_dashboard",
        at=T0 // 1000 + 10))
    assert update is not None and update.provider_refund == Money(2_000, "INR")
    rows = await env.service.repo.refunds_for_order(order.id)
    assert {(r.amount_minor, r.status, r.reason, r.payment_id, r.against, r.provider_ref)
            for r in rows} == {
        (2_000, RefundStatus.SUPERSEDED, "merchant", first, "merchant_revenue", None),
        (2_000, RefundStatus.PROCESSED, "provider", first, "merchant_revenue",
         "srf_dashboard")}
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 2_000,
                                           f"psp_clearing:{NAME}": TOTAL - 2_000}
    await clean_books(env)


async def test_provider_refunds_booked_by_their_late_capture_take_the_excess_then_the_sale(
        env: Env) -> None:
    """_refunds_the_capture_counts: two refunds the PSP reported before their capture are
    booked when it comes, one after the other: the second sees the first, so what is
    beyond the excess gives back part of the sale."""
    order = await new_order(env)
    first_link, second_link = await ask(env, order), await ask(env, order)
    await pay(env, first_link, 7_000)  # the order still waits for 3,000
    second = "pay_second"
    for refund_id, amount, at in (("srf_early_1", 6_000, 20), ("srf_early_2", 4_000, 21)):
        early = await env.service.apply_event(NAME, event(
            second_link, K.REFUNDED, amount, payment_id=second, refund_id=refund_id,
            at=T0 // 1000 + at))
        assert early is not None and early.provider_refund is None  # nothing counts yet
    assert await env.service.repo.refunds_for_order(order.id) == []
    env.psp.capture(second, TOTAL)
    env.psp.refunded[second] = TOTAL
    update = await env.service.apply_event(NAME, event(
        second_link, K.CAPTURED, TOTAL, payment_id=second, at=T0 // 1000 + 10))
    assert update is not None and update.provider_refund == Money(TOTAL, "INR")
    rows = await env.service.repo.refunds_for_order(order.id)
    # 17,000 captured, 7,000 beyond the total: the first takes 6,000 of it, the second the
    # last 1,000 and 3,000 of the sale
    assert {(r.provider_ref, r.amount_minor, r.against, r.status, r.payment_id)
            for r in rows} == {
        ("srf_early_1", 6_000, "customer_receivable", RefundStatus.PROCESSED, second),
        ("srf_early_2", 1_000, "customer_receivable", RefundStatus.PROCESSED, second),
        ("srf_early_2", 3_000, "merchant_revenue", RefundStatus.PROCESSED, second)}
    assert (update.order_status_before, update.order_status_after) == (
        "pending_payment", "partially_refunded")
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -7_000,
                                           f"psp_clearing:{NAME}": 7_000}
    await clean_books(env)


async def test_a_late_capture_tells_only_the_provider_refunds_it_booked(env: Env) -> None:
    """_refunds_the_capture_counts: of two refunds reported before their capture, one
    names no refund (no row can be made of it): the update tells the one booked."""
    order = await new_order(env)
    link = await ask(env, order)
    pid = "pay_late"
    for refund_id, amount, at in (("srf_named", 3_000, 20), (None, 2_000, 21)):
        await env.service.apply_event(NAME, event(
            link, K.REFUNDED, amount, payment_id=pid, refund_id=refund_id,
            at=T0 // 1000 + at))
    told = Told()
    update = await env.service.apply_event(NAME, event(
        link, K.CAPTURED, TOTAL, payment_id=pid, at=T0 // 1000 + 10), told)
    assert update is not None and told.updates == [update]
    assert update.provider_refund == Money(3_000, "INR")
    (row,) = await env.service.repo.refunds_for_order(order.id)
    assert (row.provider_ref, row.amount_minor, row.status, row.reason) == (
        "srf_named", 3_000, RefundStatus.PROCESSED, "provider")
    # (the audit reports the 2,000 the provider paid out without a row: refund_unrecorded)


async def test_a_refund_that_failed_while_the_clock_moved_is_answered_as_stored(
        env: Env) -> None:
    """_refund_move: the row a refund command answers (and the bot hears) carries the time
    the failure was recorded, not the time it was claimed before the provider call."""
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    env.psp.refund_mode = "failed"

    async def slow() -> None:  # the PSP takes five seconds to answer
        env.advance(5_000)

    env.psp.before_refund = slow
    heard = Heard()
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                             notify=heard)).refunds
    assert row == await env.service.repo.refund(row.id)
    assert (row.status, row.created_at, row.updated_at) == (RefundStatus.FAILED, T0,
                                                            T0 + 5_000)
    assert [(m.after, m.refund.updated_at) for m in heard.moves] == [
        (RefundStatus.FAILED, T0 + 5_000)]


async def test_a_sweep_page_beyond_the_repositorys_default_still_reads_whole_pages(
        env: Env) -> None:
    """_pending_refunds: a sweep configured with pages of 501 asks the repository for 501
    rows a page: 501 pending refunds are one page, all of them asked about."""
    order = await new_order(env, total=100_000)
    await pay(env, await ask(env, order), 100_000)
    env.psp.refund_mode = "pending"
    for _ in range(501):
        await env.service.refund_order(await fresh(env, order), Money(1, "INR"))
    service = PaymentService(env.db, env.service.providers, public_url="http://127.0.0.1",
                             now_ms=env.now, sweep_page=501)
    assert await service.poll_refunds() == {
        "refunds_polled": 501, "refunds_settled": 0, "refunds_unreachable": 0}


async def test_a_late_cancel_of_a_closed_link_leaves_a_shipped_orders_cash_request_open(
        env: Env) -> None:
    """Shipping a cash-on-delivery order closes its prepaid link and keeps the cash request
    open for the door. The PSP's own cancel of that link, arriving after, closes nothing
    more: the cash taken at the door is the sale, not late money."""
    order = await _cod_of(env, 5_000)
    confirmed = await _move(env, order, OrderEvent.CONFIRM)
    link = await ask(env, confirmed)
    shipped = await _move(env, confirmed, OrderEvent.SHIP)
    assert shipped.status == "shipped"
    statuses = {r.method: r.status for r in await env.service.requests_for_order(order.id)}
    assert statuses == {"cod": PaymentStatus.ISSUED, "upi_link": PaymentStatus.CANCELLED}
    late = await env.service.apply_event(NAME, event(link, K.CANCELLED,
                                                     at=env.now() // 1000))
    assert late is not None and late.closed == ()
    assert (await _cash_request(env, order)).status is PaymentStatus.ISSUED
    collected = await env.service.collect_cash(await fresh(env, order), deliver=False)
    assert collected is not None
    assert (collected.after.status, collected.after.captured_after_close.minor) == (
        PaymentStatus.PAID, 0)
    assert (await fresh(env, order)).status == "delivered"
    assert await _accounts(env, order) == {"cash_in_hand": 5_000, "merchant_revenue": -5_000}
    await clean_books(env)


async def test_a_sweep_reads_pages_of_500_as_documented(env: Env) -> None:
    """docs/ARCHITECTURE.md promises pending refunds are read 500 at a time."""
    assert env.service.sweep_page == 500
