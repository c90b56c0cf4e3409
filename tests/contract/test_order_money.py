"""The order as the unit of money, through the real service and database (SQLite and
PostgreSQL): one order never keeps more than its total, closes every other way to pay once
it is paid or cancelled, refunds truthfully and never beyond its captures, and its books
say so account by account (payments/audit.py). Each test names the problem it pins down
(issue 14). The last section pins down ``refund_order`` itself (issue 20): the exact
refusals, the rows it stores, what reached the provider (the scripted PSP, and the real
Razorpay provider over tests/fakes/razorpay.py), the order after, the ledger per account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import ClassVar

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from catalog.money import Money
from payments.audit import audit
from payments.providers.base import (
    PaymentProvider,
    ProviderTransfer,
    TransferPayee,
    TransferRequest,
    UpiPayee,
)
from payments.providers.manual import ManualTransferProvider
from payments.providers.razorpay import RazorpayProvider
from payments.providers.sandbox import SandboxProvider
from payments.repository import Order, OrderLine, PaymentRequest, Refund
from payments.service import (
    PaymentError,
    PaymentPlan,
    PaymentService,
    PaymentUpdate,
    RefundUpdate,
)
from payments.status import InvalidTransition, OrderEvent, RefundStatus
from storage.database import Database, Params, Row, WriteSet
from tests.contract.money_env import (
    PLAN,
    T0,
    TOTAL,
    Env,
    K,
    ask,
    clean_books,
    cod_order,
    event,
    fresh,
    late_money,
    new_order,
    pay,
)
from tests.fakes.psp import NAME, ScriptedPsp
from tests.fakes.razorpay import FakeRazorpay

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

# ---- paid twice -----------------------------------------------------------------------


async def test_paying_the_qr_and_the_link_of_one_order_refunds_the_second(env: Env) -> None:
    order = await new_order(env)
    qr, link = await ask(env, order), await ask(env, order, "payment_link")
    await pay(env, qr, TOTAL)
    # the link is closed at once: its page says so, and the provider link is cancelled
    assert (await env.service.repo.request(link.id)).status == "cancelled"  # type: ignore
    assert env.psp.cancelled == [link.provider_ref]
    second = await pay(env, link, TOTAL)  # the shopper paid the old link anyway
    assert await late_money(env, link) == TOTAL
    assert (await fresh(env, order)).status == "paid"
    assert env.psp.refunded == {second: TOTAL}  # exactly the second payment went back
    book = await env.service.book(await fresh(env, order))
    assert book.held == TOTAL and book.excess == 0
    await clean_books(env)


async def test_twenty_taps_on_one_link_keep_one_total(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    payments = [f"tap{n}" for n in range(20)]
    for pid in payments:
        env.psp.capture(pid, TOTAL)
    await asyncio.gather(*(env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL,
                                                               payment_id=pid))
                           for pid in payments))
    assert env.psp.paid_out() == 19 * TOTAL
    assert sum(1 for pid in payments if env.psp.refunded.get(pid)) == 19
    book = await env.service.book(await fresh(env, order))
    assert (book.captured, book.held, book.excess) == (20 * TOTAL, TOTAL, 0)
    await clean_books(env)


async def test_with_hold_the_excess_waits_for_one_command_that_returns_only_it(
        env: Env) -> None:
    env.policy["other"] = "hold"
    order = await new_order(env)
    qr, link = await ask(env, order), await ask(env, order, "payment_link")
    first = await pay(env, qr, TOTAL)
    second = await pay(env, link, TOTAL)
    assert env.psp.paid_out() == 0
    book = await env.service.book(await fresh(env, order))
    assert book.excess == TOTAL
    await clean_books(env, "money_held")
    assert [a.kind for a in await audit(env.service.repo, shop_id="money")] == ["money_held"]
    # the shipped order's legitimate payment is never what the late-money command refunds
    writes = WriteSet()
    await env.service.change_order(writes, await fresh(env, order), OrderEvent.SHIP)
    await env.db.write(writes)
    result = await env.service.refund_order(await fresh(env, order), excess_only=True)
    assert result.amount.minor == TOTAL
    assert env.psp.refunded == {second: TOTAL} and first not in env.psp.refunded
    assert (await fresh(env, order)).status == "shipped"
    await clean_books(env)


# ---- cancelled orders and late money --------------------------------------------------


async def test_a_cancel_closes_every_request_and_late_money_is_paid_after_close(
        env: Env) -> None:
    order = await new_order(env)
    qr, link = await ask(env, order), await ask(env, order, "payment_link")
    writes = WriteSet()
    assert await env.service.change_order(writes, order, OrderEvent.CANCEL) == "cancelled"
    await env.db.write(writes)
    for request in (qr, link):
        assert (await env.service.repo.request(request.id)).status == "cancelled"  # type: ignore
    assert await env.service.run_link_cancels() == 2
    assert sorted(env.psp.cancelled) == sorted([str(qr.provider_ref), str(link.provider_ref)])
    late = await pay(env, link, TOTAL)
    assert await late_money(env, link) == TOTAL
    assert (await fresh(env, order)).status == "cancelled"
    assert env.psp.refunded == {late: TOTAL}
    await clean_books(env)


async def test_money_dated_before_the_expiry_but_arriving_after_it_is_late(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    env.advance(61 * 60_000)
    await env.service.expire_due()
    # the order is cancelled by the bot when its only request expires (stock released)
    writes = WriteSet()
    await env.service.change_order(writes, await fresh(env, order), OrderEvent.CANCEL)
    await env.db.write(writes)
    dated_early = link.created_at // 1000 + 60  # "paid" a minute after the link was sent
    late = await pay(env, link, TOTAL, at=dated_early)
    assert await late_money(env, link) == TOTAL
    assert env.psp.refunded == {late: TOTAL}  # not kept silently on a cancelled order
    await clean_books(env)


async def test_late_money_on_a_still_pending_order_pays_it(env: Env) -> None:
    order = await new_order(env)
    first, second = await ask(env, order), await ask(env, order)
    env.advance(61 * 60_000)
    await env.service.apply_event(NAME, event(first, K.EXPIRED, at=env.now() // 1000))
    await pay(env, first, TOTAL)  # the other request is still open: the order waits
    assert (await fresh(env, order)).status == "paid"
    assert (await env.service.repo.request(second.id)).status == "cancelled"  # type: ignore
    assert env.psp.paid_out() == 0
    await clean_books(env)


# ---- refunds --------------------------------------------------------------------------


async def test_a_failed_refund_is_visible_and_retried_with_backoff(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    env.psp.refund_mode = "error"
    result = await env.service.refund_order(await fresh(env, order))
    (row,) = result.refunds
    assert row.status == RefundStatus.FAILED and row.next_attempt_at > env.now()
    assert env.psp.paid_out() == 0
    kinds = [a.kind for a in await audit(env.service.repo, shop_id="money")]
    assert kinds == ["refund_failed"]
    # nothing due yet; after the backoff the durable retry sends it again
    assert await env.service.retry_refunds() == 0
    env.psp.refund_mode = "processed"
    env.advance(61_000)
    assert await env.restart().service.retry_refunds() == 1
    assert env.psp.paid_out() == TOTAL
    assert (await fresh(env, order)).status == "refunded"
    await clean_books(env)


async def test_pending_refunds_settle_late_or_fail_by_webhook(env: Env) -> None:
    order = await new_order(env, 20_000)
    link = await ask(env, order)
    pid = await pay(env, link, 20_000)
    env.psp.refund_mode = "pending"
    first = (await env.service.refund_order(await fresh(env, order),
                                            Money(5_000, "INR"))).refunds[0]
    second = (await env.service.refund_order(await fresh(env, order),
                                             Money(5_000, "INR"))).refunds[0]
    assert (first.status, second.status) == (RefundStatus.PENDING, RefundStatus.PENDING)
    # pending refunds count against the cap
    with pytest.raises(PaymentError):
        await env.service.refund_order(await fresh(env, order), Money(10_001, "INR"))
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 5_000, at=T0 // 1000 + 99,
                                              payment_id=pid, refund_id=first.provider_ref))
    env.psp.finish(str(second.provider_ref), "failed")
    await env.service.apply_event(NAME, event(link, K.REFUND_FAILED, 5_000,
                                              at=T0 // 1000 + 99, payment_id=pid,
                                              refund_id=second.provider_ref))
    rows = {r.id: r for r in await env.service.repo.refunds_for_order(order.id)}
    assert rows[first.id].status == RefundStatus.PROCESSED
    assert rows[second.id].status == RefundStatus.FAILED and rows[second.id].next_attempt_at
    assert [a.kind for a in await audit(env.service.repo, shop_id="money")] == [
        "refund_failed"]
    env.psp.refund_mode = "processed"
    env.advance(3_600_000)
    await env.service.retry_refunds()
    assert env.psp.refunded[pid] == 10_000
    await clean_books(env)


async def test_a_full_refund_of_two_payments_and_a_tip_is_whole(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, 4_000)
    rest = await ask(env, order)
    assert rest.amount_minor == TOTAL - 4_000  # the remainder only
    await pay(env, rest, TOTAL - 4_000)
    assert (await fresh(env, order)).status == "paid"
    tip = await ask(env, await fresh(env, order), "tip", Money(500, "INR"))
    await pay(env, tip, 500)
    result = await env.service.refund_order(await fresh(env, order))
    assert result.amount.minor == TOTAL + 500
    assert all(r.status == RefundStatus.PROCESSED for r in result.refunds)
    assert env.psp.paid_out() == TOTAL + 500 and env.psp.rejected == 0
    assert (await fresh(env, order)).status == "refunded"
    await clean_books(env)


async def test_ten_parallel_partial_refunds_never_pass_the_capture(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    services = [env.restart().service for _ in range(10)]  # ten processes, one database
    results = await asyncio.gather(*(s.refund_order(order, Money(3_000, "INR"))
                                     for s in services), return_exceptions=True)
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, PaymentError)]
    assert len(done) == 3 and len(refused) == 7
    assert env.psp.paid_out() == 9_000 and env.psp.rejected == 0  # haat stopped them
    await clean_books(env)


async def test_a_refund_the_provider_made_itself_closes_the_order(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 3_000, at=T0 // 1000 + 50,
                                              payment_id=pid, refund_id="dash_1"))
    # partial: shown as such, and it may still ship
    assert (await fresh(env, order)).status == "partially_refunded"
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 7_000, at=T0 // 1000 + 60,
                                              payment_id=pid, refund_id="dash_2"))
    assert (await fresh(env, order)).status == "refunded"
    writes = WriteSet()
    with pytest.raises(InvalidTransition):
        await env.service.change_order(writes, await fresh(env, order), OrderEvent.SHIP)
    await clean_books(env)


# ---- remainders -----------------------------------------------------------------------


async def test_a_partial_payment_leaves_a_request_for_the_remainder_only(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    assert link.amount_minor == TOTAL
    await pay(env, link, 2_500)
    again = await ask(env, order)
    assert again.amount_minor == TOTAL - 2_500
    with pytest.raises(PaymentError):
        await ask(env, order, amount=Money(TOTAL, "INR"))  # never more than is owed
    await pay(env, again, TOTAL - 2_500)
    with pytest.raises(PaymentError):
        await ask(env, order)  # paid: nothing left to ask for
    await clean_books(env)


# ---- reconcile sees what double entry cannot ------------------------------------------


async def test_audit_reports_money_held_on_a_cancelled_order_and_unrecorded_refunds(
        env: Env) -> None:
    env.policy["cancelled"] = "hold"
    order = await new_order(env)
    link = await ask(env, order)
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    await pay(env, link, TOTAL)
    found = await audit(env.service.repo, shop_id="money")
    assert [(a.kind, a.order) for a in found] == [("money_held_on_cancelled", order.label)]
    # a refund paid out that the books never recorded (a lost row): the audit sees it
    await env.service.refund_order(await fresh(env, order))
    await env.db.write(_sql("DELETE FROM refunds WHERE order_id = ?", order.id))
    kinds = {a.kind for a in await audit(env.service.repo, shop_id="money")}
    assert {"ledger_mismatch", "refund_unrecorded"} <= kinds


async def test_audit_reports_a_ledger_row_that_means_nothing(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    await clean_books(env)
    # balanced, so "debits equal credits" passes, but the order's accounts are wrong
    writes = WriteSet()
    for account, amount in (("refunds_payable", -500), ("merchant_revenue", 500)):
        writes.add("INSERT INTO ledger_entries (shop_id, ref, account, amount_minor, currency, "
                   "created_at) VALUES ('money', ?, ?, ?, 'INR', 0)",
                   (f"refund:{order.label}:x", account, amount))
    await env.db.write(writes)
    assert await env.service.ledger_balanced()
    found = await audit(env.service.repo, shop_id="money")
    assert {(a.kind, a.order) for a in found} == {("ledger_mismatch", order.label)}


def _sql(sql: str, *params: object) -> WriteSet:
    writes = WriteSet()
    writes.add(sql, params)
    return writes


# ---- the merchant's and the shopper's order actions (change_order) ---------------------
# (issue 20: mutation testing of payments/service.py, change_order)


async def _change(env: Env, order: Order, change: OrderEvent) -> str:
    writes = WriteSet()
    new = await env.service.change_order(writes, order, change)
    await env.db.write(writes)
    return new


async def _postings(env: Env, order: Order) -> list[tuple[str, str, int]]:
    """The order's ledger rows: (reference, account, signed amount), sorted."""
    return sorted((ref, account, amount) for _shop, ref, account, amount, _currency
                  in await env.service.repo.ledger_rows("money")
                  if ref.split(":")[1:2] == [order.label])


async def test_dispatching_a_cod_order_closes_its_prepaid_links_and_keeps_the_cash_due(
        env: Env) -> None:
    order = await cod_order(env)
    assert await _change(env, order, OrderEvent.CONFIRM) == "confirmed"
    link = await ask(env, await fresh(env, order))  # the shopper may still switch to prepaid
    held = await fresh(env, order)  # what the merchant's turn read
    await env.service.apply_event(NAME, event(link, K.FAILED))  # an attempt failed meanwhile
    assert (await fresh(env, order)).money_version == held.money_version + 1
    env.advance(5_000)
    # decided on the money as it is now, not as the caller read it
    assert await _change(env, held, OrderEvent.SHIP) == "shipped"
    shipped = await fresh(env, order)
    assert (shipped.status, shipped.money_version) == ("shipped", held.money_version + 2)
    status = {r.method: r.status for r in await env.service.repo.requests_for_order(order.id)}
    assert status == {"cod": "issued", "upi_link": "cancelled"}
    closing = (await env.service.repo.events_for(link))[-1]
    assert (closing.event_id, closing.kind, closing.occurred_at) == (
        f"close:{link.id}", K.CANCELLED, env.now() // 1000)
    assert await env.service.run_link_cancels() == 1
    assert env.psp.cancelled == [link.provider_ref]
    # the cash is still due at the door
    await env.service.collect_cash(await fresh(env, order), deliver=True)
    assert (await fresh(env, order)).status == "delivered"
    await clean_books(env)


async def test_a_cod_order_refused_at_the_door_reverses_its_sale_under_its_own_reference(
        env: Env) -> None:
    order = await cod_order(env)
    await _change(env, order, OrderEvent.CONFIRM)
    await _change(env, await fresh(env, order), OrderEvent.SHIP)
    assert await _change(env, await fresh(env, order), OrderEvent.RETURN) == "returned"
    label, total = order.label, order.total.minor
    assert await _postings(env, order) == sorted([
        (f"order:{label}", "customer_receivable", total),
        (f"order:{label}", "merchant_revenue", -total),
        (f"return:{label}", "customer_receivable", -total),
        (f"return:{label}", "merchant_revenue", total)])
    (cash,) = await env.service.repo.requests_for_order(order.id)
    assert (cash.method, cash.status) == ("cod", "cancelled")
    await clean_books(env)


async def test_an_order_with_one_paisa_captured_cannot_be_cancelled(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, 1)  # partly paid: that money must be refunded, not cancelled
    before = await fresh(env, order)
    with pytest.raises(InvalidTransition):
        await env.service.change_order(WriteSet(), before, OrderEvent.CANCEL)
    after = await fresh(env, order)
    assert (after.status, after.money_version) == ("pending_payment", before.money_version)
    assert (await env.service.repo.request(link.id)).status == "partially_paid"  # type: ignore
    await clean_books(env)


async def test_shipping_a_paid_order_moves_no_money(env: Env) -> None:
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    paid = await fresh(env, order)
    assert await _change(env, paid, OrderEvent.SHIP) == "shipped"
    shipped = await fresh(env, order)
    # no money guard taken: a capture or refund committed meanwhile never conflicts with it
    assert (shipped.status, shipped.money_version) == ("shipped", paid.money_version)
    await clean_books(env)


# ---- refund_order from outside: its refusals, the rows it stores, what the provider got,
# the order after and the ledger per account (issue 20: mutation testing found them loose) --


@dataclass
class _Told:
    """The bot's stand-in: keeps the applied events and the refund moves it is told of."""

    updates: list[PaymentUpdate] = field(default_factory=list)
    moves: list[RefundUpdate] = field(default_factory=list)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        self.updates.append(update)

    async def refund_changed(self, update: RefundUpdate, writes: WriteSet) -> None:
        self.moves.append(update)


class _Watched:
    """The service's database, counting the reads made through it; ``before_write`` (while
    set) runs before each of the service's writes: another server committing first, every
    time, nothing patched."""

    def __init__(self, db: Database) -> None:
        self.db, self.dialect = db, db.dialect
        self.reads = 0
        self.before_write: Callable[[], Awaitable[object]] | None = None

    async def start(self) -> None:
        await self.db.start()

    async def close(self) -> None:
        await self.db.close()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        self.reads += 1
        return await self.db.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        self.reads += 1
        return await self.db.fetchall(sql, params)

    async def write(self, writes: WriteSet) -> None:
        if self.before_write is not None:
            await self.before_write()
        await self.db.write(writes)

    async def ping(self) -> bool:
        return await self.db.ping()


async def _ledger(env: Env, order: Order) -> dict[str, int]:
    """The order's ledger balance per exact account (clearing accounts kept apart)."""
    out: dict[str, int] = {}
    for _shop, ref, account, amount, _currency in await env.service.repo.ledger_rows(
            order.shop_id):
        if ref.split(":")[1:2] == [order.label]:
            out[account] = out.get(account, 0) + amount
    return {a: v for a, v in out.items() if v}


def _row(refund: Refund) -> tuple[object, ...]:
    return (refund.amount_minor, refund.payment_id, refund.reason, refund.status,
            refund.against)


async def _paid(env: Env, *amounts: int) -> tuple[Order, list[str]]:
    order = await new_order(env)
    request = await ask(env, order)
    payments = [await pay(env, request, amount) for amount in amounts]
    return await fresh(env, order), payments


async def test_refund_order_refusals_say_exactly_why_and_change_nothing(env: Env) -> None:
    unpaid = await new_order(env)
    await ask(env, unpaid)
    with pytest.raises(PaymentError) as nothing:
        await env.service.refund_order(unpaid)
    assert (nothing.value.code, str(nothing.value)) == ("nothing_to_refund",
                                                        "nothing_to_refund")
    order, _ = await _paid(env, TOTAL)
    with pytest.raises(PaymentError) as excess:  # paid exactly: no money beyond the total
        await env.service.refund_order(order, excess_only=True)
    assert (excess.value.code, str(excess.value)) == ("nothing_to_refund", "nothing_to_refund")
    with pytest.raises(PaymentError) as unknown:
        await env.service.refund_order(order, payment_id="pay_nope")
    assert (unknown.value.code, str(unknown.value)) == (
        "unknown_payment", f"no payment pay_nope on {order.label}")
    for minor in (0, -100, TOTAL + 1):
        with pytest.raises(PaymentError) as large:
            await env.service.refund_order(order, Money(minor, "INR"))
        assert (large.value.code, str(large.value)) == ("refund_too_large", "at most ₹100.00")
    assert await env.service.refunds_for_order(order.id) == []
    assert await env.service.refunds_for_order(unpaid.id) == []
    assert env.psp.refunded == {} and env.psp.by_key == {}
    assert (await fresh(env, order)).status == "paid"
    assert (await fresh(env, unpaid)).status == "pending_payment"
    assert await _ledger(env, order) == {"merchant_revenue": -TOTAL,
                                         f"psp_clearing:{NAME}": TOTAL}
    assert await _ledger(env, unpaid) == {"customer_receivable": TOTAL,
                                          "merchant_revenue": -TOTAL}
    await clean_books(env)


async def test_refund_order_of_one_paisa_then_all_but_one_then_the_last(env: Env) -> None:
    """The smallest refunds are refunds; each is reserved (``merchant`` when no reason is
    given) before the provider is asked, under its own row id as the idempotency key."""
    order, (pid,) = await _paid(env, TOTAL)
    env.psp.refund_mode = "pending"  # the order as the reservation left it
    told = _Told()
    one = await env.service.refund_order(order, Money(1, "INR"), notify=told)
    (row,) = one.refunds
    assert one.amount == Money(1, "INR")
    assert _row(row) == (1, pid, "merchant", RefundStatus.PENDING, "merchant_revenue")
    assert env.psp.refunded == {pid: 1} and list(env.psp.by_key) == [row.id]
    assert [(m.refund.id, m.before, m.after) for m in told.moves] == [
        (row.id, RefundStatus.REQUESTED, RefundStatus.PENDING)]
    assert (await fresh(env, order)).status == "partially_refunded"  # part of the sale
    assert await env.service.refundable(await fresh(env, order)) == TOTAL - 1
    assert await _ledger(env, order) == {"merchant_revenue": -(TOTAL - 1),
                                         "refunds_payable": -1,
                                         f"psp_clearing:{NAME}": TOTAL}
    env.advance(1_000)
    most = await env.service.refund_order(await fresh(env, order), Money(TOTAL - 2, "INR"),
                                          reason="short")
    (second,) = most.refunds
    assert _row(second) == (TOTAL - 2, pid, "short", RefundStatus.PENDING, "merchant_revenue")
    assert (await fresh(env, order)).status == "partially_refunded"
    env.advance(1_000)
    last = await env.service.refund_order(await fresh(env, order))  # the one paisa left
    (third,) = last.refunds
    assert last.amount == Money(1, "INR")
    assert _row(third) == (1, pid, "merchant", RefundStatus.PENDING, "merchant_revenue")
    assert list(env.psp.by_key) == [row.id, second.id, third.id]
    assert env.psp.refunded == {pid: TOTAL}
    assert (await fresh(env, order)).status == "refund_pending"  # everything given back
    assert await _ledger(env, order) == {"refunds_payable": -TOTAL,
                                         f"psp_clearing:{NAME}": TOTAL}
    with pytest.raises(PaymentError) as nothing:
        await env.service.refund_order(await fresh(env, order))
    assert nothing.value.code == "nothing_to_refund"
    await clean_books(env, "refund_pending")


async def test_a_part_of_one_payment_is_taken_from_that_payment_not_the_oldest(
        env: Env) -> None:
    order, (first, second) = await _paid(env, 6_000, 4_000)
    part = await env.service.refund_order(order, Money(1_000, "INR"), payment_id=second,
                                          reason="late")
    (row,) = part.refunds
    assert part.amount == Money(1_000, "INR")
    assert _row(row) == (1_000, second, "late", RefundStatus.PROCESSED, "merchant_revenue")
    assert env.psp.refunded == {second: 1_000} and list(env.psp.by_key) == [row.id]
    assert (await fresh(env, order)).status == "partially_refunded"
    env.advance(1_000)
    rest = await env.service.refund_order(await fresh(env, order), payment_id=second)
    assert rest.amount == Money(3_000, "INR")  # the rest of that payment, not the order's
    assert [_row(r) for r in rest.refunds] == [
        (3_000, second, "merchant", RefundStatus.PROCESSED, "merchant_revenue")]
    assert env.psp.refunded == {second: 4_000} and first not in env.psp.refunded
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _ledger(env, order) == {"merchant_revenue": -6_000,
                                         f"psp_clearing:{NAME}": 6_000}
    with pytest.raises(PaymentError) as nothing:
        await env.service.refund_order(await fresh(env, order), payment_id=second)
    assert nothing.value.code == "nothing_to_refund"
    await clean_books(env)


async def test_refund_order_gives_up_busy_when_the_order_changes_under_every_attempt(
        env: Env) -> None:
    order, (pid,) = await _paid(env, TOTAL)
    watched = _Watched(env.db)
    ours = Env(watched, env.psp, env.service, env.clock, env.policy).restart()
    other = env.restart()  # another server on the same database, refunding a rupee first

    async def theirs() -> None:
        await other.service.refund_order(await fresh(other, order), Money(100, "INR"),
                                         reason="theirs")

    watched.before_write = theirs
    with pytest.raises(PaymentError) as busy:
        await ours.service.refund_order(order, reason="ours")
    assert (busy.value.code, str(busy.value)) == ("busy", "the order kept changing; try again")
    rows = await env.service.refunds_for_order(order.id)
    assert [_row(r) for r in rows] == [
        (100, pid, "theirs", RefundStatus.PROCESSED, "merchant_revenue")] * 8
    assert env.psp.refunded == {pid: 800}
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _ledger(env, order) == {"merchant_revenue": -(TOTAL - 800),
                                         f"psp_clearing:{NAME}": TOTAL - 800}
    # changed under two attempts only: the third reads again and refunds what is left then
    count = [0]

    async def twice() -> None:
        count[0] += 1
        if count[0] == 2:
            watched.before_write = None
        await theirs()

    watched.before_write = twice
    done = await ours.service.refund_order(order, reason="ours")
    assert done.amount == Money(TOTAL - 1_000, "INR")
    assert [_row(r) for r in done.refunds] == [
        (TOTAL - 1_000, pid, "ours", RefundStatus.PROCESSED, "merchant_revenue")]
    assert env.psp.refunded == {pid: TOTAL}
    assert (await fresh(env, order)).status == "refunded"
    assert await _ledger(env, order) == {}
    await clean_books(env)


async def test_refund_order_waits_for_the_orders_guard(env: Env) -> None:
    order, (pid,) = await _paid(env, TOTAL)
    watched = _Watched(env.db)
    ours = Env(watched, env.psp, env.service, env.clock, env.policy).restart()
    async with ours.service.locked(order.id):  # a webhook of this order being applied
        task = asyncio.create_task(ours.service.refund_order(order, Money(2_500, "INR")))
        for _ in range(5):
            await asyncio.sleep(0)
        assert watched.reads == 0 and not task.done()  # not even read: it waits its turn
        assert env.psp.refunded == {}
    result = await task
    assert [_row(r) for r in result.refunds] == [
        (2_500, pid, "merchant", RefundStatus.PROCESSED, "merchant_revenue")]
    assert env.psp.refunded == {pid: 2_500}
    assert (await fresh(env, order)).status == "partially_refunded"
    await clean_books(env)


@pytest.fixture
async def razorpay(env: Env, aiohttp_server: ServerFactory
                   ) -> AsyncIterator[tuple[Env, FakeRazorpay]]:
    """The service with the real Razorpay provider, over HTTP to tests/fakes/razorpay.py."""
    fake = FakeRazorpay(now=T0 // 1000)
    server = await aiohttp_server(fake.build_app())
    async with aiohttp.ClientSession() as session:
        providers: dict[str, PaymentProvider] = {
            "razorpay": RazorpayProvider(session, key_id=fake.key_id,
                                         key_secret=fake.key_secret, webhook_secret="w",
                                         base_url=str(server.make_url("/v1"))),
            NAME: env.psp}
        service = PaymentService(env.db, providers, public_url="http://127.0.0.1",
                                 now_ms=env.now)
        yield Env(env.db, env.psp, service, env.clock, env.policy), fake


async def test_a_full_refund_at_razorpay_is_refund_pending_until_razorpay_pays_it(
        razorpay: tuple[Env, FakeRazorpay]) -> None:
    env, fake = razorpay
    order = await new_order(env)
    writes = WriteSet()
    link = await env.service.request_payment(
        writes, order, method="payment_link", plan=PaymentPlan(provider="razorpay",
                                                               payee=None))
    await env.db.write(writes)
    pid = fake.pay_link(str(link.provider_ref))
    await env.service.reconcile()
    assert (await fresh(env, order)).status == "paid"
    fake.refund_mode = "pending"
    told = _Told()
    result = await env.service.refund_order(await fresh(env, order), reason="out of stock",
                                            notify=told)
    (row,) = result.refunds
    assert result.amount == Money(TOTAL, "INR")
    assert _row(row) == (TOTAL, pid, "out of stock", RefundStatus.PENDING, "merchant_revenue")
    assert row.provider_ref in fake.refunds
    (sent,) = [r for r in fake.requests if r.path == f"/v1/payments/{pid}/refund"]
    assert sent.method == "POST" and sent.body is not None and sent.body["amount"] == TOTAL
    assert sent.headers["X-Refund-Idempotency"] == row.id
    assert [(m.refund.id, m.before, m.after) for m in told.moves] == [
        (row.id, RefundStatus.REQUESTED, RefundStatus.PENDING)]
    assert (await fresh(env, order)).status == "refund_pending"  # all of it, not yet paid
    assert await _ledger(env, order) == {"refunds_payable": -TOTAL,
                                         "psp_clearing:razorpay": TOTAL}
    fake.settle_refund(str(row.provider_ref))
    await env.service.poll_refunds()
    assert (await fresh(env, order)).status == "refunded"
    assert await _ledger(env, order) == {}
    await clean_books(env)


# ---- request_payment from outside: its refusals, what each provider was asked, the row
# it stores (issue 20: the survivors of mutation testing in request_payment, _provider,
# _amount_to_ask and PaymentService.__init__) ---------------------------------------------


async def _stored(env: Env, request: PaymentRequest) -> PaymentRequest:
    found = await env.service.repo.request(request.id)
    assert found is not None
    return found


async def _refusal(env: Env, order: Order, plan: PaymentPlan, method: str = "upi_link", *,
                   amount: Money | None = None, vpa: str | None = None) -> tuple[str, str]:
    """The code and text of a refused request_payment, having checked it stored nothing."""
    with pytest.raises(PaymentError) as refused:
        await env.service.request_payment(WriteSet(), order, method=method, plan=plan,
                                          amount=amount, vpa=vpa)
    assert await env.service.repo.requests_for_order(order.id) == []
    return refused.value.code, str(refused.value)


async def test_the_pay_page_is_under_the_public_url_even_one_ending_in_a_capital_x(
        env: Env) -> None:
    """Only the slashes after the public URL are dropped, nothing of its own path."""
    service = PaymentService(env.db, {NAME: env.psp},
                             public_url="https://shop.example.test/haat-X/", now_ms=env.now)
    ours = Env(env.db, env.psp, service, env.clock, env.policy)
    link = await ask(ours, await new_order(ours))
    assert link.link_url == f"https://shop.example.test/haat-X/pay/{link.token}"
    assert (await _stored(ours, link)).link_url == link.link_url


async def test_asking_with_an_order_read_before_it_was_cancelled_says_it_is_cancelled(
        env: Env) -> None:
    """The order's status is read again: a stale copy never opens a request, and the
    refusal names the order and what it is now."""
    order = await new_order(env)
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    assert order.status == "pending_payment"  # the caller's copy, read before the cancel
    assert await _refusal(env, order, PLAN) == ("order_closed",
                                                f"{order.label} is cancelled")
    await clean_books(env)


async def test_an_order_with_nothing_to_pay_is_already_paid_not_a_bad_amount(
        env: Env) -> None:
    """A free order (free sample, free delivery) owes nothing: there is nothing to ask."""
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id="money", channel="simulator", customer="free",
        lines=[OrderLine("SAMPLE", "Sample", 1, Money(0, "INR"))],
        delivery=Money(0, "INR"), address="", language="en")
    await env.db.write(writes)
    assert (order.status, order.total_minor) == ("pending_payment", 0)
    assert await _refusal(env, order, PLAN) == ("already_paid", "already_paid")
    await clean_books(env)


async def test_a_provider_nobody_configured_and_a_method_it_lacks_are_refused_by_name(
        env: Env) -> None:
    """The refusals say which provider is missing, and which method the provider cannot
    do (also a UPI-link provider asked for a collect: only a payment link falls back)."""
    order = await new_order(env)
    assert await _refusal(env, order, PaymentPlan(provider="paytm", payee=None)) == (
        "no_provider", "payment provider 'paytm' is not configured")
    assert await _refusal(env, order, PLAN, "collect", vpa="shopper@okhdfc") == (
        "unsupported", f"{NAME} cannot do collect")
    await clean_books(env)


class _SaysTransfer(ScriptedPsp):
    """A provider plugin that declares ``transfer`` but has no transfer methods."""

    name: ClassVar[str] = "fauxpay"
    capabilities: ClassVar[frozenset[str]] = frozenset({"transfer"})


class _RecordedTransfers(ManualTransferProvider):
    """The manual-transfer provider, keeping every transfer it was asked to create."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[TransferRequest] = []

    async def create_transfer(self, request: TransferRequest) -> ProviderTransfer:
        self.asked.append(request)
        return await super().create_transfer(request)


_BKASH = TransferPayee(method="bkash", number="01711111111", name="Rahman Grocery",
                       expiry_minutes=90)


async def test_a_transfer_asks_for_the_order_label_and_what_is_owed_until_its_expiry(
        env: Env) -> None:
    """The transfer provider gets the label the shopper types, the amount and the expiry
    in whole seconds; the row keeps that expiry, our page and no UPI link; a provider that
    only says it takes transfers is refused by name."""
    manual = _RecordedTransfers()
    service = PaymentService(env.db, {NAME: env.psp, "manual": manual, "fauxpay":
                                      _SaysTransfer()},
                             public_url="http://127.0.0.1", now_ms=env.now)
    ours = Env(env.db, env.psp, service, env.clock, env.policy)
    order = await new_order(ours)
    faux = PaymentPlan(provider=NAME, payee=None, transfers={"bkash": _BKASH},
                       transfer_provider="fauxpay")
    assert await _refusal(ours, order, faux, "bkash") == (
        "unsupported", "fauxpay takes no transfers")
    env.advance(1_234)  # not on a whole second
    now = env.now()
    plan = PaymentPlan(provider=NAME, payee=None, transfers={"bkash": _BKASH})
    writes = WriteSet()
    request = await service.request_payment(writes, order, method="bkash", plan=plan,
                                            amount=Money(6_000, "INR"))
    await env.db.write(writes)
    expires = now + 90 * 60_000
    assert manual.asked == [TransferRequest(request_id=request.id, reference=order.label,
                                            amount=Money(6_000, "INR"), payee=_BKASH,
                                            expire_by=expires // 1000)]
    stored = await _stored(ours, request)
    assert (stored.provider, stored.provider_ref, stored.amount_minor, stored.upi_link,
            stored.link_url, stored.expires_at, stored.created_at) == (
        "manual", request.id, 6_000, "", f"http://127.0.0.1/pay/{request.token}", expires,
        now)
    await clean_books(ours)


async def test_a_sandbox_link_is_always_shown_on_our_page(env: Env) -> None:
    """A test PSP's hosted page pays nobody, and a link with a UPI intent is shown as our
    QR: either way the shopper gets our /pay/ page, not the provider's URL."""
    sandbox = SandboxProvider(None, None)
    service = PaymentService(env.db, {"sandbox": sandbox}, public_url="http://127.0.0.1",
                             now_ms=env.now)
    ours = Env(env.db, env.psp, service, env.clock, env.policy)
    payee = UpiPayee(vpa="shop@okaxis", name="Shop")
    for plan, has_upi in ((PaymentPlan(provider="sandbox", payee=None), False),
                          (PaymentPlan(provider="sandbox", payee=payee), True)):
        writes = WriteSet()
        link = await service.request_payment(writes, await new_order(ours),
                                             method="payment_link", plan=plan)
        await env.db.write(writes)
        stored = await _stored(ours, link)
        assert stored.link_url == f"http://127.0.0.1/pay/{link.token}"
        assert bool(stored.upi_link) is has_upi and str(stored.provider_ref).startswith(
            "slink")
    await clean_books(ours)


async def test_razorpay_is_asked_with_the_plans_expiries_and_its_refusal_is_passed_on(
        razorpay: tuple[Env, FakeRazorpay]) -> None:
    """A link's expiry in whole seconds and no description unless one is given; a collect
    for the plan's minutes; a request Razorpay refuses is ``provider_failed`` with its
    words, and no row is stored."""
    env, fake = razorpay
    env.advance(1_234)  # not on a whole second
    now = env.now()
    plan = PaymentPlan(provider="razorpay", payee=None, link_expiry_minutes=45,
                       collect_expiry_minutes=30)
    order = await new_order(env)
    writes = WriteSet()
    link = await env.service.request_payment(writes, order, method="payment_link",
                                             plan=plan, amount=Money(4_000, "INR"))
    collect = await env.service.request_payment(writes, order, method="collect",
                                                plan=plan, vpa="shopper@okhdfc",
                                                amount=Money(4_000, "INR"))
    await env.db.write(writes)
    (sent_link,) = [r.body for r in fake.requests if r.path == "/v1/payment_links"]
    assert sent_link is not None
    assert (sent_link["expire_by"], sent_link["description"]) == (
        (now + 45 * 60_000) // 1000, "")
    (sent_collect,) = [r.body for r in fake.requests if r.path == "/v1/payments/create/upi"]
    assert sent_collect is not None and sent_collect["upi"]["expiry_time"] == 30
    assert ((await _stored(env, link)).expires_at,
            (await _stored(env, collect)).expires_at) == (now + 45 * 60_000,
                                                          now + 30 * 60_000)
    assert await _refusal(env, await new_order(env), plan, "payment_link",
                          amount=Money(50, "INR")) == (
        "provider_failed",
        "razorpay POST payment_links: HTTP 400 The amount must be at least INR 1.00.")
    await clean_books(env)


async def test_a_tip_through_a_psp_with_hosted_links_only_is_paid_on_the_psps_page(
        razorpay: tuple[Env, FakeRazorpay]) -> None:
    """Razorpay's links carry no UPI intent: our /pay/ page could only say "follow the link
    the shop sent", so a tip, like an order's payment link, points at Razorpay's page."""
    env, fake = razorpay
    plan = PaymentPlan(provider="razorpay", payee=None, link_expiry_minutes=45,
                       collect_expiry_minutes=30)
    order = await new_order(env)
    writes = WriteSet()
    tip = await env.service.request_payment(writes, order, method="tip", plan=plan,
                                            amount=Money(2_000, "INR"))
    link = await env.service.request_payment(writes, order, method="payment_link",
                                             plan=plan, amount=Money(4_000, "INR"))
    await env.db.write(writes)
    sent = [r.body for r in fake.requests if r.path == "/v1/payment_links"]
    assert len(sent) == 2
    stored_tip, stored_link = await _stored(env, tip), await _stored(env, link)
    assert stored_tip.upi_link == "" and "/pay/" not in stored_tip.link_url
    assert stored_tip.link_url.startswith("http") and stored_tip.link_url != stored_link.link_url
    assert "/pay/" not in stored_link.link_url
    await clean_books(env)
