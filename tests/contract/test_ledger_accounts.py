"""The books account by account, written out by hand, not only "debits equal credits".

Issue 20: late money refunded after a cancel could be booked against revenue while the
books still balanced, and no test looked at the accounts. Each case here states, per
account, what the ledger must hold for one order (payments/ledger.py names the accounts).
"""

from __future__ import annotations

from catalog.money import Money
from payments.audit import order_balances
from payments.repository import Order
from payments.status import OrderEvent, PaymentEventKind, RefundStatus
from storage.database import WriteSet
from tests.contract.money_env import (
    T0,
    TOTAL,
    Env,
    ask,
    clean_books,
    event,
    fresh,
    late_money,
    new_order,
    pay,
)
from tests.fakes.psp import NAME

K = PaymentEventKind


async def _accounts(env: Env, label: str, shop: str) -> dict[str, int]:
    rows = await env.service.repo.ledger_rows(shop)
    return {a: v for a, v in order_balances(rows, shop, label).items() if v}


async def test_a_paid_order_is_revenue(env: Env) -> None:
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    assert await _accounts(env, order.label, order.shop_id) == {
        "merchant_revenue": -TOTAL, "psp_clearing": TOTAL}
    await clean_books(env)


async def test_late_money_after_a_cancel_goes_back_and_never_touches_revenue(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order, "payment_link")
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    await pay(env, link, TOTAL)
    assert await late_money(env, link) == TOTAL
    # every account of the order is back at zero: the money came in and went back out
    assert await _accounts(env, order.label, order.shop_id) == {}
    rows = await env.service.repo.ledger_rows(order.shop_id)
    revenue = [(ref.split(":")[0], amount) for _shop, ref, account, amount, _cur in rows
               if account == "merchant_revenue"]
    # revenue moved only by the sale and its cancel, never by the late capture or its refund
    assert sorted(revenue) == [("cancel", TOTAL), ("order", -TOTAL)]
    refunded: dict[str, int] = {}
    for _shop, ref, account, amount, _cur in rows:
        if ref.startswith(f"refund:{order.label}:"):
            refunded[account] = refunded.get(account, 0) + amount
    # the refund is owed to the customer (receivable) and paid out of the PSP's clearing
    assert {a: v for a, v in refunded.items() if v} == {
        "customer_receivable": TOTAL, "psp_clearing:scripted": -TOTAL}
    await clean_books(env)


# ---- PaymentService._ledger_for: the exact rows of one request's change of state --------
# Issue 20: mutation testing of payments/service.py found the capture's ref (it names the
# payment request) and a refund booked with a capture in one step unchecked.


async def _order_rows(env: Env, order: Order) -> list[tuple[str, str, int]]:
    """(ref, account, signed amount) of every posting of the order, in a stable order."""
    return sorted((ref, account, amount) for _shop, ref, account, amount, _cur
                  in await env.service.repo.ledger_rows(order.shop_id)
                  if ref.split(":")[1:2] == [order.label])


async def test_a_capture_and_a_tip_are_booked_under_their_request_ids(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    tip = await ask(env, await fresh(env, order), "tip", Money(500, "INR"))
    await pay(env, tip, 500)
    label = order.label
    assert await _order_rows(env, order) == sorted([
        (f"order:{label}", "customer_receivable", TOTAL),
        (f"order:{label}", "merchant_revenue", -TOTAL),
        # the ref names the payment request whose money it is, not only the order
        (f"capture:{label}:{link.id}", "customer_receivable", -TOTAL),
        (f"capture:{label}:{link.id}", "psp_clearing:scripted", TOTAL),
        # a tip is income nobody owed: clearing up, tips up, the receivable untouched
        (f"tip:{label}:{tip.id}", "psp_clearing:scripted", 500),
        (f"tip:{label}:{tip.id}", "tips", -500)])
    assert await _accounts(env, label, order.shop_id) == {
        "merchant_revenue": -TOTAL, "psp_clearing": TOTAL + 500, "tips": -500}
    await clean_books(env)


async def test_a_refund_that_came_before_its_capture_is_paid_out_with_the_capture(
        env: Env) -> None:
    # the provider's refund event is older than nothing we know: no capture yet, so it
    # refunds nothing; the capture it refunds, dated before it, then brings both at once
    order = await new_order(env)
    link = await ask(env, order)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 4_000, at=T0 // 1000 + 50,
                                              payment_id="payA", refund_id="rfnd_A"))
    assert await _order_rows(env, order) == sorted([
        (f"order:{order.label}", "customer_receivable", TOTAL),
        (f"order:{order.label}", "merchant_revenue", -TOTAL)])
    env.psp.capture("payA", TOTAL)
    await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id="payA"))
    request = await env.service.repo.request(link.id)
    assert request is not None
    assert (request.captured_minor, request.refunded_minor) == (TOTAL, 4_000)
    # one step books the capture and the refund's payout, each under the request's id
    mine = [row for row in await _order_rows(env, order) if row[0].endswith(f":{link.id}")]
    assert mine == sorted([
        (f"capture:{order.label}:{link.id}", "customer_receivable", -TOTAL),
        (f"capture:{order.label}:{link.id}", "psp_clearing:scripted", TOTAL),
        (f"refund:{order.label}:{link.id}", "psp_clearing:scripted", -4_000),
        (f"refund:{order.label}:{link.id}", "refunds_payable", 4_000)])
    assert await env.service.ledger_balanced()
    # and that refund is the provider's own (dashboard): booked as one processed refund
    # row with revenue giving the money back, as if its webhook had come after the capture
    (refund,) = await env.service.repo.refunds_for_order(order.id)
    assert (refund.amount_minor, refund.status, refund.provider_ref, refund.reason,
            refund.payment_id, refund.against) == (
        4_000, RefundStatus.PROCESSED, "rfnd_A", "provider", "payA", "merchant_revenue")
    settled = {"merchant_revenue": -TOTAL + 4_000, "psp_clearing": TOTAL - 4_000}
    assert await _accounts(env, order.label, order.shop_id) == settled
    await clean_books(env)
    # its webhook delivered again, under another event id, books nothing more
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 4_000, at=T0 // 1000 + 50,
                                              payment_id="payA", refund_id="rfnd_A"))
    assert len(await env.service.repo.refunds_for_order(order.id)) == 1
    assert await _accounts(env, order.label, order.shop_id) == settled
    await clean_books(env)


async def test_a_refund_before_its_capture_ends_in_the_books_of_the_usual_order(
        env: Env) -> None:
    """The same events in the usual order (capture, then the provider's refund) and in the
    reverse one leave every account of the order the same."""
    books = []
    for refund_first in (False, True):
        order = await new_order(env)
        link = await ask(env, order)
        pid, rid = f"pay{int(refund_first)}", f"rfnd{int(refund_first)}"
        refund = event(link, K.REFUNDED, 2_500, at=T0 // 1000 + 50, payment_id=pid,
                       refund_id=rid)
        if refund_first:
            await env.service.apply_event(NAME, refund)
        env.psp.capture(pid, TOTAL)
        await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id=pid))
        if not refund_first:
            await env.service.apply_event(NAME, refund)
        rows = await env.service.repo.refunds_for_order(order.id)
        assert [(r.amount_minor, r.status, r.provider_ref) for r in rows] == [
            (2_500, RefundStatus.PROCESSED, rid)]
        assert (await fresh(env, order)).status == "partially_refunded"
        books.append(await _accounts(env, order.label, order.shop_id))
    assert books[0] == books[1] == {"merchant_revenue": -TOTAL + 2_500,
                                    "psp_clearing": TOTAL - 2_500}
    await clean_books(env)
