"""Issue 14's remaining gaps, through the real service and database (SQLite and
PostgreSQL): a partial refund has its own order status and never blocks fulfilment; a
refund made by hand (no provider API can refund, as with ``upi_intent``) is booked truthfully
and never beyond the captures; refunds still pending at the provider are polled and settled
by reconcile, and count against the cap meanwhile."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from catalog.money import Money
from payments.audit import audit
from payments.repository import Order, Refund
from payments.service import (
    REFUND_LEASE_MS,
    PaymentError,
    PaymentService,
    PaymentUpdate,
    RefundUpdate,
    backoff_ms,
)
from payments.status import OrderEvent, RefundStatus
from storage.database import WriteSet, open_database
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
from tests.fakes.psp import NAME, HandRefundPsp


async def _ship(env: Env, order_id: str) -> str:
    order = await env.service.repo.order(order_id)
    assert order is not None
    writes = WriteSet()
    new = await env.service.change_order(writes, order, OrderEvent.SHIP)
    await env.db.write(writes)
    return new


# ---- partially refunded -----------------------------------------------------------------


async def test_a_partial_refund_is_its_own_status_and_the_order_still_ships(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"))
    assert (await fresh(env, order)).status == "partially_refunded"
    await clean_books(env)
    assert await _ship(env, order.id) == "shipped"  # a partial refund never blocks it
    # the rest of it closes the order as a full refund would
    await env.service.refund_order(await fresh(env, order))
    assert (await fresh(env, order)).status == "refunded"
    await clean_books(env)


async def test_a_second_partial_refund_then_the_rest_before_shipping(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    for part in (1_000, 2_000):
        await env.service.refund_order(await fresh(env, order), Money(part, "INR"))
        assert (await fresh(env, order)).status == "partially_refunded"
    await env.service.refund_order(await fresh(env, order), Money(TOTAL - 3_000, "INR"))
    assert (await fresh(env, order)).status == "refunded"
    await clean_books(env)


async def test_returning_only_the_excess_is_not_a_partial_refund(env: Env) -> None:
    env.policy["other"] = "hold"
    env = env.restart()
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    await pay(env, link, 2_500)  # paid twice: held
    await env.service.refund_order(await fresh(env, order), excess_only=True)
    assert (await fresh(env, order)).status == "paid"  # the sale is whole
    await clean_books(env)


async def test_audit_names_a_status_that_contradicts_the_refunds(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"))
    writes = WriteSet()
    writes.add("UPDATE orders SET status = 'paid' WHERE id = ?", (order.id,))
    await env.db.write(writes)
    found = [a for a in await audit(env.service.repo, shop_id="money")
             if a.order == order.label]
    assert [a.kind for a in found] == ["status_mismatch"], [str(a) for a in found]


# ---- refunds made by hand ---------------------------------------------------------------


def _by_hand(env: Env) -> Env:
    return Env(env.db, HandRefundPsp(), env.service, env.clock, env.policy).restart()


async def test_a_refund_made_by_hand_settles_what_is_owed_and_never_exceeds_captures(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    # `refund` cannot reach any provider: owed, visible, and no automatic retry
    (owed,) = (await env.service.refund_order(await fresh(env, order),
                                              Money(4_000, "INR"))).refunds
    assert owed.status == RefundStatus.FAILED and owed.next_attempt_at == 0
    assert (await fresh(env, order)).status == "partially_refunded"
    # more than was captured is refused, whatever is owed already
    with pytest.raises(PaymentError) as too_much:
        await env.service.record_manual_refund(await fresh(env, order),
                                               Money(TOTAL + 1, "INR"), "UTR000111")
    assert too_much.value.code == "refund_too_large"
    result = await env.service.record_manual_refund(await fresh(env, order),
                                                    Money(4_000, "INR"), "UTR000222")
    (row,) = result.refunds
    assert row.id == owed.id and row.status == RefundStatus.PROCESSED  # settled, not doubled
    assert (await fresh(env, order)).status == "partially_refunded"
    await clean_books(env)
    # the same reference again is the same refund
    again = await env.service.record_manual_refund(await fresh(env, order),
                                                   Money(4_000, "INR"), "UTR000222")
    assert [r.id for r in again.refunds] == [owed.id]
    assert len(await env.service.repo.refunds_for_order(order.id)) == 1
    with pytest.raises(PaymentError):
        await env.service.record_manual_refund(await fresh(env, order),
                                               Money(TOTAL - 3_999, "INR"), "UTR000333")
    # the rest, by hand: the order is refunded and the books say so
    await env.service.record_manual_refund(await fresh(env, order),
                                           Money(TOTAL - 4_000, "INR"), "UTR000444")
    assert (await fresh(env, order)).status == "refunded"
    book = await env.service.book(await fresh(env, order))
    assert book.refunds_processed == TOTAL == book.captured
    await clean_books(env)


async def test_late_money_by_hand_is_owed_then_booked_when_the_merchant_refunds_it(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    link = await ask(env, order)
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    await pay(env, link, TOTAL)  # the merchant saw it in their bank after the cancel
    kinds = {a.kind for a in await audit(env.service.repo, shop_id="money")
             if a.order == order.label}
    assert kinds == {"refund_failed"}  # owed back, and no provider can send it
    await env.service.record_manual_refund(await fresh(env, order), Money(TOTAL, "INR"),
                                           "UTR000555")
    assert (await fresh(env, order)).status == "cancelled"
    await clean_books(env)


async def test_a_provider_that_refunds_itself_is_not_refunded_by_hand(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    with pytest.raises(PaymentError) as refused:
        await env.service.record_manual_refund(await fresh(env, order),
                                               Money(1_000, "INR"), "UTR000666")
    assert refused.value.code == "provider_refunds"
    assert not await env.service.repo.refunds_for_order(order.id)
    await clean_books(env)


# ---- refunds pending at the provider ----------------------------------------------------


async def test_reconcile_polls_pending_refunds_until_processed_or_failed(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    env.psp.refund_mode = "pending"
    (first,) = (await env.service.refund_order(await fresh(env, order),
                                               Money(3_000, "INR"))).refunds
    (second,) = (await env.service.refund_order(await fresh(env, order),
                                                Money(2_000, "INR"))).refunds
    assert (first.status, second.status) == (RefundStatus.PENDING, RefundStatus.PENDING)
    report = await env.service.reconcile()
    assert (report["refunds_polled"], report["refunds_settled"]) == (2, 0)  # still pending
    # pending refunds count against the cap: 5,000 of 10,000 are promised
    with pytest.raises(PaymentError):
        await env.service.refund_order(await fresh(env, order), Money(5_001, "INR"))
    env.psp.finish(str(first.provider_ref), "processed")  # no webhook ever comes
    env.psp.finish(str(second.provider_ref), "failed")
    report = await env.restart().service.reconcile()
    assert report["refunds_settled"] == 2
    rows = {r.id: r for r in await env.service.repo.refunds_for_order(order.id)}
    assert rows[first.id].status == RefundStatus.PROCESSED
    assert rows[second.id].status == RefundStatus.FAILED and rows[second.id].next_attempt_at
    assert (await env.service.reconcile())["refunds_settled"] == 0  # nothing left to ask
    await clean_books(env, "refund_failed")
    env.psp.refund_mode = "processed"
    env.advance(3_600_000)
    assert await env.service.retry_refunds() == 1
    assert env.psp.refunded[first.payment_id] == 5_000
    assert (await fresh(env, order)).status == "partially_refunded"
    await clean_books(env)


@pytest.mark.parametrize("page", [2, 3])
async def test_reconcile_reaches_every_pending_refund_behind_ones_that_stay_pending(
        env: Env, page: int) -> None:
    """A sweep read only the oldest page of pending refunds: while those stayed pending at
    the provider (UPI refunds can take days), every newer one that ended quietly was never
    asked about again. Here a page is two (or three) rows and five refunds wait; each is
    asked about once a sweep, the next page starting after the last row of the one before."""
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    env.psp.refund_mode = "pending"
    refunds = []
    for _ in range(5):  # one a minute: the oldest first
        (refund,) = (await env.service.refund_order(await fresh(env, order),
                                                    Money(1_000, "INR"))).refunds
        refunds.append(refund)
        env.advance(60_000)
    newest = refunds[-1]
    env.psp.finish(str(newest.provider_ref), "processed")  # no webhook ever comes
    service = PaymentService(env.db, env.service.providers, public_url="http://127.0.0.1",
                             now_ms=env.now, sweep_page=page)
    assert [r.id for r in await service.repo.pending_refunds(limit=2)] == \
        [r.id for r in refunds[:2]]
    report = await service.poll_refunds()
    assert (report["refunds_polled"], report["refunds_settled"]) == (5, 1)
    rows = {r.id: r.status for r in await env.service.repo.refunds_for_order(order.id)}
    assert rows == {**{r.id: RefundStatus.PENDING for r in refunds[:4]},
                    newest.id: RefundStatus.PROCESSED}
    # the same updated time for all (one clock tick): the id orders the pages
    env.psp.refund_mode = "pending"
    tied = [*(await service.refund_order(await fresh(env, order), Money(500, "INR"))).refunds,
            *(await service.refund_order(await fresh(env, order), Money(500, "INR"))).refunds,
            *(await service.refund_order(await fresh(env, order), Money(500, "INR"))).refunds]
    for refund in tied:
        env.psp.finish(str(refund.provider_ref), "processed")
    assert (await service.poll_refunds())["refunds_settled"] == 3
    assert (await service.poll_refunds())["refunds_polled"] == 4  # the first four, still


# ---- refunds made by hand: what each refusal says, what is stored, the retry -------------
# (issue 20: mutation testing of payments/service.py, record_manual_refund)


async def _accounts(env: Env, order: Order) -> dict[str, int]:
    """The order's ledger balance per exact account."""
    out: dict[str, int] = {}
    for _shop, ref, account, amount, _currency in await env.service.repo.ledger_rows("money"):
        if ref.split(":")[1:2] == [order.label]:
            out[account] = out.get(account, 0) + amount
    return {a: v for a, v in out.items() if v}


@dataclass
class _Told:
    updates: list[PaymentUpdate] = field(default_factory=list)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        self.updates.append(update)


async def test_one_minor_unit_by_hand_is_a_refund_and_a_used_reference_says_so(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    (row,) = (await env.service.record_manual_refund(await fresh(env, order),
                                                     Money(1, "INR"), "UTR0001")).refunds
    assert (row.provider_ref, row.amount_minor, row.status) == (
        "manual:UTR0001:0", 1, RefundStatus.PROCESSED)
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 1,
                                           f"psp_clearing:{NAME}": TOTAL - 1}
    with pytest.raises(PaymentError) as used:
        await env.service.record_manual_refund(await fresh(env, order), Money(2, "INR"),
                                               "UTR0001")
    assert used.value.code == "reference_used"
    assert str(used.value) == "UTR0001 is already booked for another amount"
    assert len(await env.service.repo.refunds_for_order(order.id)) == 1
    await clean_books(env)


async def test_a_manual_refund_reads_the_order_again_whatever_the_caller_holds(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)  # read before it was paid: stale status and money version
    await pay(env, await ask(env, order), TOTAL)
    (row,) = (await env.service.record_manual_refund(order, Money(3_000, "INR"),
                                                     "UTR0002")).refunds
    assert (row.provider_ref, row.status) == ("manual:UTR0002:0", RefundStatus.PROCESSED)
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           f"psp_clearing:{NAME}": TOTAL - 3_000}
    await clean_books(env)


async def test_a_manual_refund_waits_for_the_orders_lock(env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    async with env.service.locked(order.id):  # another turn of this process is deciding
        task = asyncio.create_task(env.service.record_manual_refund(
            await fresh(env, order), Money(1_000, "INR"), "UTR0003"))
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert not done
        assert not await env.service.repo.refunds_for_order(order.id)
    (row,) = (await task).refunds
    assert row.provider_ref == "manual:UTR0003:0"
    await clean_books(env)


async def test_an_owed_refund_waiting_for_a_retry_is_settled_by_hand_and_never_retried(
        env: Env) -> None:
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    env.psp.refund_mode = "failed"  # the PSP said no; then the shop lost its refund API
    (owed,) = (await env.service.refund_order(await fresh(env, order),
                                              Money(4_000, "INR"))).refunds
    assert owed.status == RefundStatus.FAILED and owed.next_attempt_at > env.now()
    env = _by_hand(env)
    (row,) = (await env.service.record_manual_refund(await fresh(env, order),
                                                     Money(4_000, "INR"), "UTR0004")).refunds
    assert (row.id, row.provider_ref, row.status, row.next_attempt_at) == (
        owed.id, "manual:UTR0004:0", RefundStatus.PROCESSED, 0)
    (stored,) = await env.service.repo.refunds_for_order(order.id)
    assert (stored.status, stored.next_attempt_at) == (RefundStatus.PROCESSED, 0)
    await clean_books(env)


async def test_a_full_refund_by_hand_is_refund_pending_until_its_events_are_applied(
        env: Env) -> None:
    env = _by_hand(env)
    order = await new_order(env)
    link = await ask(env, order, amount=Money(6_000, "INR"))
    await pay(env, link, 6_000)
    await pay(env, await ask(env, order, amount=Money(4_000, "INR")), 4_000)
    assert (await fresh(env, order)).status == "paid"
    told = _Told()
    result = await env.service.record_manual_refund(await fresh(env, order),
                                                    Money(TOTAL, "INR"), "UTR0005",
                                                    notify=told)
    assert sorted(r.amount_minor for r in result.refunds) == [4_000, 6_000]
    # both rows reserved in one commit that moved the order to refund_pending; each event
    # then settles one, and the last one closes the order
    assert [(u.order_status_before, u.order_status_after) for u in told.updates] == [
        ("refund_pending", "refund_pending"), ("refund_pending", "refunded")]
    assert (await fresh(env, order)).status == "refunded"
    assert await _accounts(env, order) == {}
    await clean_books(env)


class _OtherProcess:
    """A second server on the same database: its own event loop (a thread), its own
    connections and its own PaymentService, over a provider with no refund API."""

    def __init__(self, url: str, clock: list[int]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.db = open_database(url)
        self.run(self.db.start())
        self.service = PaymentService(self.db, {NAME: HandRefundPsp()},
                                      public_url="http://127.0.0.1", now_ms=lambda: clock[0])

    def run(self, job: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(job, self.loop).result(timeout=60)

    def close(self) -> None:
        self.run(self.db.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@dataclass
class _RacingClock:
    """Our service's clock. While ``wins`` is above zero, each reading first lets the other
    process book one hand refund of 1.00 on the order and waits for its commit: the other
    process wins the race between our service's read of the order and its write."""

    clock: list[int]
    other: _OtherProcess
    order_id: str
    wins: int = 0
    booked: list[str] = field(default_factory=list)

    def __call__(self) -> int:
        if self.wins > 0:
            self.wins -= 1
            reference = f"OTHER{len(self.booked)}"
            self.other.run(self._book(reference))
            self.booked.append(reference)
        return self.clock[0]

    async def _book(self, reference: str) -> None:
        order = await self.other.service.repo.order(self.order_id)
        assert order is not None
        await self.other.service.record_manual_refund(order, Money(100, "INR"), reference)


@pytest.fixture
async def racing(env: Env, database_url: str
                 ) -> AsyncIterator[tuple[Env, Order, _RacingClock]]:
    env = _by_hand(env)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    other = _OtherProcess(database_url, env.clock)
    clock = _RacingClock(env.clock, other, order.id)
    service = PaymentService(env.db, {NAME: env.psp}, public_url="http://127.0.0.1",
                             now_ms=clock)
    yield Env(env.db, env.psp, service, env.clock, env.policy), order, clock
    other.close()


async def test_a_manual_refund_that_loses_a_race_reads_again_and_books_once(
        racing: tuple[Env, Order, _RacingClock]) -> None:
    env, order, clock = racing
    clock.wins = 1
    result = await env.service.record_manual_refund(await fresh(env, order),
                                                    Money(1_000, "INR"), "UTR0006")
    assert clock.booked == ["OTHER0"]
    assert [(r.provider_ref, r.amount_minor, r.status) for r in result.refunds] == [
        ("manual:UTR0006:0", 1_000, RefundStatus.PROCESSED)]
    stored = await env.service.repo.refunds_for_order(order.id)
    assert sorted(str(r.provider_ref) for r in stored) == ["manual:OTHER0:0",
                                                           "manual:UTR0006:0"]
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 1_100,
                                           f"psp_clearing:{NAME}": TOTAL - 1_100}
    await clean_books(env)


async def test_a_manual_refund_that_loses_eight_races_is_refused_as_busy(
        racing: tuple[Env, Order, _RacingClock]) -> None:
    env, order, clock = racing
    clock.wins = 8
    with pytest.raises(PaymentError) as busy:
        await env.service.record_manual_refund(await fresh(env, order),
                                               Money(1_000, "INR"), "UTR0007")
    assert busy.value.code == "busy"
    assert str(busy.value) == "the order kept changing; try again"
    assert len(clock.booked) == 8  # the other process booked each of its refunds
    stored = await env.service.repo.refunds_for_order(order.id)
    assert sorted(str(r.provider_ref) for r in stored) == sorted(
        f"manual:OTHER{n}:0" for n in range(8))  # and nothing of ours
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 800,
                                           f"psp_clearing:{NAME}": TOTAL - 800}
    # asked again once the order is quiet, it is booked
    (row,) = (await env.service.record_manual_refund(await fresh(env, order),
                                                     Money(1_000, "INR"), "UTR0007")).refunds
    assert row.provider_ref == "manual:UTR0007:0"
    await clean_books(env)


# ---- a refund row's moves: the rows, what notify is told, the ledger per account --------
# (issue 20: mutation testing of payments/service.py, _refund_move, _reserve, _after_commit)

_ROW_ID = re.compile(r"rf_[0-9a-f]{20}")


@dataclass
class _Listener:
    """The bot's stand-in with all three hooks: applied events, refund moves (with the
    write set they come in), and what it is told after each commit."""

    updates: list[PaymentUpdate] = field(default_factory=list)
    moves: list[RefundUpdate] = field(default_factory=list)
    committed: list[PaymentUpdate] = field(default_factory=list)
    move_writes: list[object] = field(default_factory=list)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        self.updates.append(update)

    async def refund_changed(self, update: RefundUpdate, writes: WriteSet) -> None:
        self.moves.append(update)
        self.move_writes.append(writes)

    async def after_commit(self, update: PaymentUpdate) -> None:
        self.committed.append(update)


async def _paid(env: Env, told: _Listener, amount: int = TOTAL) -> tuple[Order, str, str]:
    order = await new_order(env)
    link = await ask(env, order, amount=None if amount == TOTAL else Money(amount, "INR"))
    pid = f"pay_{link.id}"
    env.psp.capture(pid, amount)
    update = await env.service.apply_event(NAME, event(link, K.CAPTURED, amount,
                                                       payment_id=pid), told)
    assert update is not None
    return order, link.id, pid


async def test_a_refund_the_provider_accepts_is_told_once_with_the_row_as_stored(
        env: Env) -> None:
    told = _Listener()
    order, request_id, pid = await _paid(env, told)
    assert told.committed == told.updates and len(told.updates) == 1  # after its commit
    env.psp.refund_mode = "pending"
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(3_000, "INR"),
                                             reason="damaged", notify=told)).refunds
    assert _ROW_ID.fullmatch(row.id)
    expected = Refund(
        id=row.id, payment_request_id=request_id, amount_minor=3_000, currency="INR",
        status=RefundStatus.PENDING, provider_ref="srf_1", reason="damaged", created_at=T0,
        order_id=order.id, payment_id=pid, against="merchant_revenue", attempts=1,
        attempt_key=row.id, next_attempt_at=0, last_error="", updated_at=T0)
    assert row == expected
    assert await env.service.repo.refunds_for_order(order.id) == [expected]
    now = await fresh(env, order)
    assert now.status == "partially_refunded"
    assert told.moves == [RefundUpdate(now, expected, RefundStatus.REQUESTED,
                                       RefundStatus.PENDING, retry_at=0)]
    assert [type(w) for w in told.move_writes] == [WriteSet]
    assert len(told.updates) == 1  # no provider event yet
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 3_000,
                                           "refunds_payable": -3_000,
                                           f"psp_clearing:{NAME}": TOTAL}
    # a refund the provider answers processed at once is not a move to tell of
    env.psp.refund_mode = "processed"
    (done,) = (await env.service.refund_order(await fresh(env, order), Money(1_000, "INR"),
                                              notify=told)).refunds
    assert done.status == RefundStatus.PROCESSED and done.provider_ref == "srf_2"
    assert len(told.moves) == 1
    assert told.committed == told.updates and len(told.updates) == 2
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 4_000,
                                           "refunds_payable": -3_000,
                                           f"psp_clearing:{NAME}": TOTAL - 1_000}


async def test_a_refund_that_fails_then_errors_is_told_with_its_retry_and_error(
        env: Env) -> None:
    told = _Listener()
    order, request_id, pid = await _paid(env, told)
    env.psp.refund_mode = "failed"
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(4_000, "INR"),
                                             notify=told)).refunds
    retry_at = T0 + backoff_ms(1)
    moved = Refund(
        id=row.id, payment_request_id=request_id, amount_minor=4_000, currency="INR",
        status=RefundStatus.FAILED, provider_ref=None, reason="merchant", created_at=T0,
        order_id=order.id, payment_id=pid, against="merchant_revenue", attempts=1,
        attempt_key=f"{row.id}-1", next_attempt_at=retry_at,
        last_error="the provider answered failed", updated_at=T0)
    # a definitive failure is retried under a new idempotency key: the row handed back
    # carries it, as the stored one does
    assert row == moved
    stored = moved
    assert await env.service.repo.refunds_for_order(order.id) == [stored]
    partly = await fresh(env, order)
    assert partly.status == "partially_refunded"
    assert told.moves == [RefundUpdate(partly, moved, RefundStatus.REQUESTED,
                                       RefundStatus.FAILED, retry_at=retry_at)]
    # the retry is sent, the provider errors: the new error replaces the old one
    env.clock[0] = retry_at
    env.psp.refund_mode = "error"
    assert await env.service.retry_refunds(told) == 1
    again_at = retry_at + backoff_ms(2)
    second = replace(stored, status=RefundStatus.FAILED, attempts=2,
                     next_attempt_at=again_at, last_error="HTTP 500 (scripted)",
                     updated_at=retry_at)
    assert await env.service.repo.refunds_for_order(order.id) == [second]
    assert told.moves[1:] == [RefundUpdate(partly, second, RefundStatus.REQUESTED,
                                           RefundStatus.FAILED, retry_at=again_at)]
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 4_000,
                                           "refunds_payable": -4_000,
                                           f"psp_clearing:{NAME}": TOTAL}
    # then it goes through
    env.clock[0] = again_at
    env.psp.refund_mode = "processed"
    assert await env.service.retry_refunds(told) == 1
    (last,) = await env.service.repo.refunds_for_order(order.id)
    assert (last.status, last.attempts, last.attempt_key) == (
        RefundStatus.PROCESSED, 3, f"{row.id}-1")
    assert len(told.moves) == 2
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL + 4_000,
                                           f"psp_clearing:{NAME}": TOTAL - 4_000}
    await clean_books(env)


@dataclass
class _Peeking(_Listener):
    """Reads the order's refund rows as they stand when each move is told."""

    env: Env | None = None
    seen: list[list[Refund]] = field(default_factory=list)

    async def refund_changed(self, update: RefundUpdate, writes: WriteSet) -> None:
        await super().refund_changed(update, writes)
        assert self.env is not None
        self.seen.append(await self.env.service.repo.refunds_for_order(update.order.id))


async def test_a_reserved_refund_waits_for_its_lease_before_it_is_sent(env: Env) -> None:
    told = _Peeking(env=env)
    order = await new_order(env)
    first = await ask(env, order, amount=Money(6_000, "INR"))
    await pay(env, first, 6_000, "payA")
    second = await ask(env, order, amount=Money(4_000, "INR"))
    await pay(env, second, 4_000, "payB")
    env.psp.refund_mode = "pending"
    result = await env.service.refund_order(await fresh(env, order), notify=told)
    assert len(result.refunds) == 2 and len(told.seen) == 2
    # while the first part (claimed: one attempt) was being told of, the second was as
    # reserved: never sent, leased for a while so no retry sends it beside us
    waiting = [r for r in told.seen[0] if r.attempts == 0]
    assert len(waiting) == 1
    (row,) = waiting
    assert _ROW_ID.fullmatch(row.id)
    assert row == Refund(
        id=row.id, payment_request_id=row.payment_request_id, amount_minor=row.amount_minor,
        currency="INR", status=RefundStatus.REQUESTED, provider_ref=None, reason="merchant",
        created_at=T0, order_id=order.id, payment_id=row.payment_id,
        against="merchant_revenue", attempts=0, attempt_key="",
        next_attempt_at=T0 + REFUND_LEASE_MS, last_error="", updated_at=T0)
    assert {r.payment_id: r.amount_minor for r in result.refunds} == {"payA": 6_000,
                                                                      "payB": 4_000}
    assert (await fresh(env, order)).status == "refund_pending"
    assert await _accounts(env, order) == {"refunds_payable": -TOTAL,
                                           f"psp_clearing:{NAME}": TOTAL}


@dataclass
class _Mover(_Listener):
    """Another server moving the refund row each time we are about to write it (its status
    back and forth, and what it last saw), so every compare-and-set of ours loses."""

    env: Env | None = None

    async def refund_changed(self, update: RefundUpdate, writes: WriteSet) -> None:
        await super().refund_changed(update, writes)
        assert self.env is not None
        status = "pending" if update.before == RefundStatus.REQUESTED else "requested"
        theirs = WriteSet()
        theirs.add("UPDATE refunds SET status = ?, last_error = ? WHERE id = ?",
                   (status, f"moved {len(self.moves)}", update.refund.id))
        await self.env.db.write(theirs)


async def test_a_refund_row_that_keeps_moving_is_given_back_as_stored_after_eight_tries(
        env: Env) -> None:
    told = _Mover(env=env)
    order, _request_id, _pid = await _paid(env, told)
    env.psp.refund_mode = "failed"
    (row,) = (await env.service.refund_order(await fresh(env, order), Money(2_000, "INR"),
                                             notify=told)).refunds
    assert len(told.moves) == 8  # eight tries, each read the row again
    assert [m.before for m in told.moves] == [RefundStatus.REQUESTED,
                                              RefundStatus.PENDING] * 4
    assert (row.status, row.last_error, row.attempts) == (
        RefundStatus.REQUESTED, "moved 8", 1)
    assert await env.service.repo.refunds_for_order(order.id) == [row]


async def test_a_close_reported_late_leaves_money_taken_in_time_as_paid(env: Env) -> None:
    told = _Listener()
    order, request_id, _pid = await _paid(env, told)
    link = await env.service.repo.request(request_id)
    assert link is not None
    late = await env.service.apply_event(
        NAME, event(link, K.EXPIRED, at=T0 // 1000 - 60), told)
    assert late is not None
    assert (late.before.status, late.after.status) == ("paid", "paid")
    assert late.after.captured_after_close.minor == 0
    stored = await env.service.repo.request(request_id)
    assert stored is not None and (stored.status, stored.captured_minor) == ("paid", TOTAL)
    assert (await fresh(env, order)).status == "paid"
    assert await env.service.repo.refunds_for_order(order.id) == []
    assert await _accounts(env, order) == {"merchant_revenue": -TOTAL,
                                           f"psp_clearing:{NAME}": TOTAL}
    assert told.committed == told.updates and len(told.updates) == 2
    await clean_books(env)


async def test_the_ledger_is_balanced_per_shop(env: Env) -> None:
    order, _request_id, _pid = await _paid(env, _Listener())
    off = WriteSet()
    off.add("INSERT INTO ledger_entries (shop_id, ref, account, amount_minor, currency, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            ("elsewhere", "order:X-1", "merchant_revenue", -5, "INR", T0))
    await env.db.write(off)
    assert await env.service.ledger_balanced("money")
    assert not await env.service.ledger_balanced("elsewhere")
    assert not await env.service.ledger_balanced()
    assert (await fresh(env, order)).status == "paid"
