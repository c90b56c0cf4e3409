"""Property tests of the order-level money invariants (docs/ARCHITECTURE.md, "Money
invariants"), through the real service and database, on SQLite and PostgreSQL.

Hypothesis writes random programs against one order: several requests with captures on any
of them (duplicates, redeliveries, money dated before the close that arrives after it),
failed attempts, expiries, cancels, tips, merchant refunds (alone and ten at once from ten
service objects), refunds the provider makes by itself, refunds that the provider answers
pending, failed, processed later or with an error (told by webhook, or only when reconcile
polls the provider), the durable retry, and restarts; and the same against a provider with
no refund API (``upi_intent``), where the merchant refunds by hand and books it with
``record_manual_refund``. After every program the invariants must hold, whatever happened,
including the order status: ``partially_refunded`` exactly when part of the sale went back
(and still shippable).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.money import Money
from payments.audit import audit, expected_balances, order_balances
from payments.book import OrderBook
from payments.providers.base import ProviderEvent
from payments.repository import Order, PaymentRequest
from payments.service import PaymentError
from payments.status import (
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    RefundStatus,
)
from storage.database import WriteSet
from tests.contract.money_env import T0, TOTAL, Env, ask, event, fresh, new_order
from tests.fakes.psp import NAME, HandRefundPsp, ScriptedPsp

K = PaymentEventKind
_PIDS = itertools.count(1)
CLOSED = ("expired", "cancelled", "paid_after_close")
AMOUNTS = (2_500, 5_000, TOTAL)

CAPTURE = st.tuples(st.just("capture"), st.tuples(st.integers(0, 3), st.sampled_from(AMOUNTS),
                                                 st.booleans()))
STEP = st.one_of(
    CAPTURE, CAPTURE, CAPTURE, CAPTURE, CAPTURE, CAPTURE, CAPTURE, CAPTURE,  # money moves
    st.tuples(st.just("ask"), st.sampled_from(["upi_link", "payment_link"])),
    st.tuples(st.just("tip"), st.just(0)),
    st.tuples(st.just("redeliver"), st.integers(0, 9)),
    st.tuples(st.just("fail"), st.integers(0, 3)),
    st.tuples(st.just("expire"), st.integers(0, 3)),
    st.tuples(st.just("expire_due"), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("ship"), st.just(0)),
    st.tuples(st.just("refund"), st.sampled_from([None, 1_000, 4_000])),
    st.tuples(st.just("refund_excess"), st.just(0)),
    st.tuples(st.just("parallel_refunds"), st.integers(2, 10)),
    st.tuples(st.just("provider_refund"), st.tuples(st.integers(0, 9),
                                                    st.sampled_from([1_000, 2_500, 4_000]))),
    # the provider's own refund of a payment whose capture webhook comes later (or last)
    st.tuples(st.just("refund_first"), st.tuples(st.integers(0, 3), st.sampled_from(AMOUNTS),
                                                 st.sampled_from([1_000, 2_500, 4_000]))),
    st.tuples(st.just("capture_refunded"), st.integers(0, 9)),
    st.tuples(st.just("refund_mode"), st.sampled_from(["processed", "pending", "failed",
                                                       "error"])),
    st.tuples(st.just("settle"), st.tuples(st.integers(0, 5), st.booleans())),
    st.tuples(st.just("settle_quiet"), st.tuples(st.integers(0, 5), st.booleans())),
    st.tuples(st.just("poll"), st.just(0)),
    st.tuples(st.just("by_hand"), st.sampled_from([None, 1_000, 4_000])),
    st.tuples(st.just("retry"), st.just(0)),
    st.tuples(st.just("restart"), st.just(0)),
)

# the provider's own refunds around their captures: before them (a webhook that came
# first), after them, of another payment of the same link, on a request closed meanwhile
EARLY = st.one_of(
    CAPTURE, CAPTURE,
    st.tuples(st.just("ask"), st.sampled_from(["upi_link", "payment_link"])),
    st.tuples(st.just("refund_first"), st.tuples(st.integers(0, 3), st.sampled_from(AMOUNTS),
                                                 st.sampled_from([1_000, 2_500, 4_000]))),
    st.tuples(st.just("refund_first"), st.tuples(st.integers(0, 3), st.sampled_from(AMOUNTS),
                                                 st.sampled_from([1_000, 2_500, 4_000]))),
    st.tuples(st.just("capture_refunded"), st.integers(0, 9)),
    st.tuples(st.just("provider_refund"), st.tuples(st.integers(0, 9),
                                                    st.sampled_from([1_000, 2_500, 4_000]))),
    st.tuples(st.just("expire_due"), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("ship"), st.just(0)),
    st.tuples(st.just("tip"), st.just(0)),
)


class Run:
    """One program's state as the test sees it: what it sent, and when."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.requests: list[PaymentRequest] = []
        self.sent: list[ProviderEvent] = []
        self.late: dict[str, bool] = {}  # payment id → did it first arrive on a closed request
        # payments the provider refunded before we heard of their capture:
        # (request, payment id, captured amount, the refund's second)
        self.early: list[tuple[PaymentRequest, str, int, int]] = []
        # payments larger than their request: rejected with an alert, never in our books,
        # and so neither is what the provider gives back of them
        self.rejected: set[str] = set()

    def pid(self) -> str:
        return f"p{next(_PIDS)}"  # unique across examples: one database holds them all

    async def deliver(self, ev: ProviderEvent) -> None:
        self.sent.append(ev)
        await self.env.service.apply_event(NAME, ev)


async def _step(run: Run, op: str, arg: Any, order_id: str) -> None:  # noqa: PLR0912 (one branch per operation)
    env = run.env
    order = await fresh(env, await _order(env, order_id))
    pick = (lambda i: run.requests[i % len(run.requests)]) if run.requests else None
    if op == "ask":
        with contextlib.suppress(PaymentError):  # paid or closed: nothing to ask for
            run.requests.append(await ask(env, order, arg))
    elif op == "tip" and order.status in ("paid", "partially_refunded", "shipped",
                                          "delivered"):
        run.requests.append(await ask(env, order, "tip", Money(500, "INR")))
    elif op == "capture" and pick:
        index, amount, dated_early = arg
        request = pick(index)
        row = await env.service.repo.request(request.id)
        assert row is not None
        pid = run.pid()
        run.late.setdefault(pid, row.status in CLOSED)
        if amount > request.amount_minor:
            run.rejected.add(pid)
        env.psp.capture(pid, amount)
        at = request.created_at // 1000 + (1 if dated_early else env.now() // 1000 + 5
                                           - request.created_at // 1000)
        await run.deliver(event(request, K.CAPTURED, amount, at=at, payment_id=pid))
    elif op == "redeliver" and run.sent:
        original = run.sent[arg % len(run.sent)]
        await env.service.apply_event(NAME, original)  # the same webhook again
        if original.kind is K.CAPTURED:  # and the same payment from a fetch, new event id
            await env.service.apply_event(NAME, ProviderEvent(
                provider=NAME, event_id=f"fetch:{original.payment_id}", kind=K.CAPTURED,
                provider_ref=original.provider_ref, amount=original.amount,
                occurred_at=original.occurred_at + 30, payment_id=original.payment_id,
                reference=original.reference, refs=original.refs))
    elif op == "fail" and pick:
        await run.deliver(event(pick(arg), K.FAILED, TOTAL, payment_id=run.pid(),
                                at=env.now() // 1000))
    elif op == "expire" and pick:
        await run.deliver(event(pick(arg), K.EXPIRED, at=env.now() // 1000))
    elif op == "expire_due":
        env.advance(61 * 60_000)
        await env.service.expire_due()
    elif op in ("cancel", "ship"):
        writes = WriteSet()
        try:
            await env.service.change_order(
                writes, order, OrderEvent.CANCEL if op == "cancel" else OrderEvent.SHIP)
            await env.db.write(writes)
        except InvalidTransition:
            pass
    elif op == "refund":
        with contextlib.suppress(PaymentError):
            await env.service.refund_order(order, None if arg is None else Money(arg, "INR"))
    elif op == "refund_excess":
        with contextlib.suppress(PaymentError):
            await env.service.refund_order(order, excess_only=True)
    elif op == "parallel_refunds":
        services = [env.restart().service for _ in range(arg)]
        await asyncio.gather(*(s.refund_order(order, Money(3_000, "INR")) for s in services),
                             return_exceptions=True)
    elif op == "provider_refund" and run.sent and not isinstance(env.psp, HandRefundPsp):
        index, amount = arg
        captures = [e for e in run.sent if e.kind is K.CAPTURED]
        if captures:
            ev = captures[index % len(captures)]
            assert ev.payment_id is not None
            room = env.psp.captured[ev.payment_id] - env.psp.refunded.get(ev.payment_id, 0)
            if room >= amount:  # the PSP refunds by itself (dashboard, dispute)
                env.psp.refunded[ev.payment_id] = env.psp.refunded.get(ev.payment_id, 0) + amount
                request = next(r for r in run.requests if r.id == ev.reference)
                await run.deliver(event(request, K.REFUNDED, amount, at=env.now() // 1000 + 7,
                                        payment_id=ev.payment_id, refund_id=run.pid()))
    elif op == "refund_first" and pick and not isinstance(env.psp, HandRefundPsp):
        index, amount, refunded = arg
        request = pick(index)
        amount = min(amount, request.amount_minor)  # one payment never exceeds its request
        pid, at = run.pid(), env.now() // 1000 + 7
        env.psp.capture(pid, amount)
        env.psp.refunded[pid] = min(refunded, amount)
        run.early.append((request, pid, amount, at))
        await run.deliver(event(request, K.REFUNDED, min(refunded, amount), at=at,
                                payment_id=pid, refund_id=run.pid()))
    elif op == "capture_refunded" and run.early:
        await _capture_refunded(run, run.early.pop(arg % len(run.early)))
    elif op == "refund_mode":
        env.psp.refund_mode = arg
    elif op == "settle":
        index, processed = arg
        pending = [r for r in await env.service.repo.refunds_for_order(order_id)
                   if r.status == RefundStatus.PENDING and r.provider_ref]
        if pending:
            row = pending[index % len(pending)]
            request = next(r for r in run.requests if r.id == row.payment_request_id)
            if not processed:
                env.psp.finish(str(row.provider_ref), "failed")
            await run.deliver(event(request, K.REFUNDED if processed else K.REFUND_FAILED,
                                    row.amount_minor, at=env.now() // 1000 + 9,
                                    payment_id=row.payment_id, refund_id=row.provider_ref))
    elif op == "settle_quiet":  # the PSP finishes a refund and no webhook ever comes
        index, processed = arg
        pending = [r for r in await env.service.repo.refunds_for_order(order_id)
                   if r.status == RefundStatus.PENDING and r.provider_ref]
        if pending:
            row = pending[index % len(pending)]
            env.psp.finish(str(row.provider_ref), "processed" if processed else "failed")
    elif op == "poll":
        await env.service.poll_refunds()
    elif op == "by_hand":
        await _by_hand(env, order, arg)
    elif op == "retry":
        env.advance(7 * 3_600_000)
        await env.service.retry_refunds()
    elif op == "restart":
        run.env = env.restart()


async def _capture_refunded(run: Run, early: tuple[PaymentRequest, str, int, int]) -> None:
    """The capture of a payment the provider already refunded, dated before that refund."""
    request, pid, amount, refunded_at = early
    row = await run.env.service.repo.request(request.id)
    assert row is not None
    run.late.setdefault(pid, row.status in CLOSED)
    await run.deliver(event(request, K.CAPTURED, amount, at=refunded_at - 1, payment_id=pid))


async def _by_hand(env: Env, order: Any, amount: int | None) -> None:
    """The merchant paid money back from their UPI app and records it (``None``: exactly
    what is owed)."""
    if amount is None:
        amount = sum(r.amount_minor for r in await env.service.repo.refunds_for_order(order.id)
                     if r.status in (RefundStatus.FAILED, RefundStatus.REQUESTED))
    with contextlib.suppress(PaymentError):  # nothing owed, too much, or a refunding PSP
        await env.service.record_manual_refund(order, Money(amount, "INR"),
                                               f"UTR{next(_PIDS):08d}")


async def _order(env: Env, order_id: str) -> Any:
    found = await env.service.repo.order(order_id)
    assert found is not None
    return found


async def _check(run: Run, order_id: str, policy: str) -> None:
    env = run.env
    await env.service.poll_refunds()  # what reconcile does: refunds that ended quietly
    order = await fresh(env, await _order(env, order_id))
    book = await env.service.book(order)
    refunds = book.refunds
    by_hand = isinstance(env.psp, HandRefundPsp)
    # 1. captured − refunded is what the ledger holds for the order, account by account
    rows = await env.service.repo.ledger_rows("money")
    expected = expected_balances(book)
    actual = order_balances(rows, "money", order.label)
    for account, want in expected.items():
        assert actual.get(account, 0) == want, (account, actual, expected)
    assert await env.service.ledger_balanced()
    # 2. never more than its total: refunded automatically, or held where it is seen
    found = {a.kind for a in await audit(env.service.repo, shop_id="money", now_ms=env.now())
             if a.order == order.label}
    if book.excess:
        assert policy == "hold" or any(r.status == RefundStatus.FAILED for r in refunds) or \
            env.psp.refund_mode == "error", (book.excess, refunds)
        assert found & {"money_held", "money_held_on_cancelled"}
    # 3. once paid or cancelled, no other request takes money
    if order.status != "pending_payment":
        for request in book.requests:
            if request.method != "tip":
                assert book.states[request.id].status not in ("issued", "partially_paid")
    # 4. money that arrived on a closed request is paid after close, whatever its date
    flags = {c.payment_id: c.after_close for c in book.captures()}
    for pid, late in run.late.items():
        if late and pid in flags:
            assert flags[pid], pid
    _check_refunds(env, book, found, by_hand=by_hand, off_books=run.rejected)
    # 7. fully refunded orders are not shippable
    if order.status in ("paid", "partially_refunded", "shipped", "delivered"):
        assert not book.money_out
    # 8. partially_refunded exactly when part of the sale went back (that it still ships:
    # tests/contract/test_partial_and_manual_refunds.py)
    status = OrderStatus(order.status)
    if status is OrderStatus.PAID:
        assert book.sale_refunded == 0, refunds
    if status is OrderStatus.PARTIALLY_REFUNDED:
        assert book.sale_refunded > 0, refunds
    # 9. an order that keeps its sale holds what it keeps: money given back beyond the
    # excess came out of the sale (kept = total less what the sale gave back)
    if status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.SHIPPED,
                  OrderStatus.DELIVERED):
        assert book.held >= book.keep, (book.held, book.keep, refunds)
    assert "status_mismatch" not in found


def _check_refunds(env: Env, book: OrderBook, found: set[str], *, by_hand: bool,
                   off_books: set[str]) -> None:
    """Invariants 5 and 6: refunds within captures, and every failed one visible."""
    refunds = book.refunds
    # 5. refunds never exceed captures (pending and failed ones counted), even concurrently
    for capture in book.captures():
        taken = sum(r.amount_minor for r in book.live_refunds  # superseded: never sent
                    if r.payment_id == capture.payment_id)
        assert taken <= capture.amount
    assert env.psp.rejected == 0  # haat never asked the PSP for more than it may give
    # the PSP paid out exactly what our rows say is out or on its way (refunds made by
    # hand never went through it), less its refunds of payments we rejected (off_books)
    out = sum(r.amount_minor for r in refunds
              if r.status in (RefundStatus.PROCESSED, RefundStatus.PENDING)
              and not (r.provider_ref or "").startswith("manual:"))
    paid_out = env.psp.paid_out() - sum(env.psp.refunded.get(pid, 0) for pid in off_books)
    assert paid_out == out, (env.psp.refunded, off_books, refunds)
    # 6. every failed refund is visible and has a retry scheduled
    for refund in refunds:
        if refund.status == RefundStatus.FAILED:
            # retried with backoff, or (no refund API) owed until the merchant books it
            assert (refund.next_attempt_at == 0) if by_hand else refund.next_attempt_at > 0
            assert "refund_failed" in found


async def _play(base: Env, program: list[tuple[str, Any]],
                paid_first: bool) -> tuple[Run, Order]:
    """One program on a new order of ``base``: half start from a paid order (refunds,
    ship, by hand); every capture's webhook comes in the end."""
    run = Run(base.restart())
    order = await new_order(run.env)
    run.requests.append(await ask(run.env, order))
    if paid_first:
        await _step(run, "capture", (0, TOTAL, False), order.id)
    for op, arg in program:
        await _step(run, op, arg, order.id)
    while run.early:
        await _capture_refunded(run, run.early.pop())
    return run, order


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=st.lists(STEP, min_size=5, max_size=16),
       policy=st.sampled_from(["refund", "hold"]), psp=st.sampled_from(["api", "by_hand"]),
       paid_first=st.booleans())
async def test_order_money_invariants_hold_for_any_program(
        env: Env, program: list[tuple[str, Any]], policy: str, psp: str,
        paid_first: bool) -> None:
    # each example: its own PSP and clock, the same database (orders never collide)
    fake = ScriptedPsp.unique() if psp == "api" else HandRefundPsp.unique()
    base = Env(env.db, fake, env.service, [T0],
               {"cancelled": policy, "other": policy})
    run, order = await _play(base, program, paid_first)
    await _check(run, order.id, policy)
    # and after the provider works again and every retry has run, nothing stays failed
    run.env.psp.refund_mode = "processed"
    for _ in range(3):
        run.env.advance(7 * 3_600_000)
        await run.env.service.retry_refunds()
    if psp == "by_hand":  # the merchant pays back what is owed and books it
        await _by_hand(run.env, await fresh(run.env, order), None)
    await _check(run, order.id, policy)
    assert not [r for r in await run.env.service.repo.refunds_for_order(order.id)
                if r.status in (RefundStatus.FAILED, RefundStatus.REQUESTED)]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=st.lists(EARLY, min_size=3, max_size=10),
       policy=st.sampled_from(["refund", "hold"]), paid_first=st.booleans())
async def test_the_providers_own_refunds_in_any_order_keep_the_books_true(
        env: Env, program: list[tuple[str, Any]], policy: str, paid_first: bool) -> None:
    """Issue 20: a provider refund delivered before its capture, of another payment of the
    link, or larger than a held excess was booked wrong or not at all; the general program
    above draws those sequences too rarely to find them."""
    base = Env(env.db, ScriptedPsp.unique(), env.service, [T0],
               {"cancelled": policy, "other": policy})
    run, order = await _play(base, program, paid_first)
    await _check(run, order.id, policy)
