"""Issue 14's remaining gaps, through the real service and database (SQLite and
PostgreSQL): a partial refund has its own order status and never blocks fulfilment; a
refund made by hand (no provider API can refund, as with ``upi_intent``) is booked truthfully
and never beyond the captures; refunds still pending at the provider are polled and settled
by reconcile, and count against the cap meanwhile."""

from __future__ import annotations

import pytest

from catalog.money import Money
from payments.audit import audit
from payments.service import PaymentError
from payments.status import OrderEvent, RefundStatus
from storage.database import WriteSet
from tests.contract.money_env import TOTAL, Env, ask, clean_books, fresh, new_order, pay
from tests.fakes.psp import HandRefundPsp


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
