"""The order book through its public API: real request states (``apply_events``) and refund
rows in, sums and refund allocations out. The service and ``haat reconcile`` decide from
these numbers, so each one is pinned for orders with several payments, tips, late money,
cash and refunds in every status (docs/ARCHITECTURE.md, "Money invariants")."""

from __future__ import annotations

from payments.book import COD, Allocation, OrderBook
from payments.ledger import CASH_PROVIDER, Account
from payments.repository import Order, PaymentRequest, Refund
from payments.status import (
    OrderStatus,
    PaymentEventKind,
    PaymentState,
    PaymentStatus,
    RefundStatus,
    apply_events,
)
from tests.unit.test_payment_status import ev

OS = OrderStatus
K = PaymentEventKind
R = RefundStatus
REVENUE, RECEIVABLE, TIPS = (Account.MERCHANT_REVENUE, Account.CUSTOMER_RECEIVABLE,
                             Account.TIPS)


def _order(status: OrderStatus = OS.PAID, total: int = 10_000) -> Order:
    return Order(id="s/ORD-1001", shop_id="s", number=1001, channel="simulator", customer="1",
                 status=status, currency="INR", subtotal_minor=total, delivery_minor=0,
                 tip_minor=0, total_minor=total, address="", language="en", created_at=0,
                 updated_at=0)


def _request(rid: str, amount: int, *, created: int = 0, method: str = "upi_link",
             provider: str = "sandbox") -> PaymentRequest:
    return PaymentRequest(id=rid, order_id="s/ORD-1001", shop_id="s", method=method,
                          provider=provider, provider_ref=None, token=rid,
                          status=PaymentStatus.ISSUED, amount_minor=amount, currency="INR",
                          captured_minor=0, refunded_minor=0, upi_link="", link_url="",
                          vpa=None, expires_at=0, created_at=created)


def _paid(request: PaymentRequest, *captures: tuple[str, int, int],
          expire_at: int | None = None, provider: str = "sandbox") -> PaymentState:
    """The request's state after captures ``(payment id, amount, at)`` and maybe an expiry."""
    events = [ev(K.CAPTURED, amount, at, pid=pid, provider=provider)
              for pid, amount, at in captures]
    if expire_at is not None:
        events.append(ev(K.EXPIRED, 0, expire_at, provider=provider))
    return apply_events(request.amount, events)


def _refund(fid: str, request: PaymentRequest, payment_id: str, amount: int,
            status: RefundStatus = R.PROCESSED, against: str = REVENUE) -> Refund:
    return Refund(id=fid, payment_request_id=request.id, amount_minor=amount, currency="INR",
                  status=status, provider_ref=None, reason="", created_at=0,
                  order_id="s/ORD-1001", payment_id=payment_id, against=against, attempts=0,
                  attempt_key=fid, next_attempt_at=0, last_error="", updated_at=0)


def _parts(allocations: list[Allocation]) -> list[tuple[str, str, int, str]]:
    return [(a.capture.request.id, a.capture.payment_id, a.amount, str(a.against))
            for a in allocations]


# ---- one order, paid twice: the second payment is excess --------------------------------
FIRST = _request("pr_1", 10_000, created=1)
SECOND = _request("pr_2", 10_000, created=2)


def _double(status: OrderStatus = OS.PAID, *refunds: Refund) -> OrderBook:
    return OrderBook(_order(status), (SECOND, FIRST),  # rows in any order: sorted by age
                     {FIRST.id: _paid(FIRST, ("pay_a", 10_000, 5)),
                      SECOND.id: _paid(SECOND, ("pay_b", 6_000, 6))}, tuple(refunds))


def test_captures_are_oldest_first_with_what_each_may_still_give_back() -> None:
    book = _double(OS.PAID, _refund("rf_1", FIRST, "pay_a", 2_500),
                   _refund("rf_2", SECOND, "pay_b", 1_000, R.SUPERSEDED))
    got = [(c.request.id, c.payment_id, c.amount, c.after_close, c.refundable, c.rank)
           for c in book.captures()]
    assert got == [("pr_1", "pay_a", 10_000, False, 7_500, 0),
                   ("pr_2", "pay_b", 6_000, False, 6_000, 1)]
    assert book.refundable_total() == 13_500
    assert [r.id for r in book.live_refunds] == ["rf_1"]


def test_sums_of_an_order_paid_twice() -> None:
    book = _double()
    assert (book.captured, book.tips_captured, book.captured_all) == (16_000, 0, 16_000)
    assert (book.keep, book.held, book.excess, book.outstanding) == (10_000, 16_000, 6_000, 0)
    assert book.money(book.excess).minor == 6_000 and book.money(1).currency == "INR"
    assert not book.money_out


def test_everything_refunds_the_excess_from_the_newest_then_the_sale_from_the_oldest() -> None:
    assert _parts(_double().allocate(None)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE), ("pr_1", "pay_a", 10_000, REVENUE)]


def test_a_small_refund_takes_only_excess() -> None:
    assert _parts(_double().allocate(2_000)) == [("pr_2", "pay_b", 2_000, RECEIVABLE)]
    assert _parts(_double().allocate(6_000)) == [("pr_2", "pay_b", 6_000, RECEIVABLE)]


def test_a_refund_beyond_the_excess_spills_into_the_sale() -> None:
    assert _parts(_double().allocate(7_000)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE), ("pr_1", "pay_a", 1_000, REVENUE)]
    assert _parts(_double().allocate(0)) == []
    assert _parts(_double().allocate(99_000)) == _parts(_double().allocate(None))


def test_excess_only_never_touches_the_sale() -> None:
    assert _parts(_double().allocate(None, excess_only=True)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE)]
    assert _parts(_double().allocate(9_000, excess_only=True)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE)]
    assert _parts(_double().allocate(1_500, excess_only=True)) == [
        ("pr_2", "pay_b", 1_500, RECEIVABLE)]


def test_a_refund_of_one_payment_takes_only_from_it() -> None:
    assert _parts(_double().allocate(None, payment_id="pay_a")) == [
        ("pr_1", "pay_a", 6_000, RECEIVABLE), ("pr_1", "pay_a", 4_000, REVENUE)]
    assert _parts(_double().allocate(3_000, payment_id="pay_a")) == [
        ("pr_1", "pay_a", 3_000, RECEIVABLE)]
    assert _parts(_double().allocate(None, payment_id="pay_x")) == []


def test_refunded_payments_give_nothing_more() -> None:
    book = _double(OS.PAID, _refund("rf_1", SECOND, "pay_b", 6_000, R.PENDING, RECEIVABLE),
                   _refund("rf_2", FIRST, "pay_a", 4_000, R.REQUESTED))
    # 4,000 of the sale went back: the order keeps 6,000 and holds 6,000 (no excess)
    assert (book.keep, book.held, book.excess, book.sale_refunded) == (6_000, 6_000, 0, 4_000)
    assert _parts(book.allocate(None)) == [("pr_1", "pay_a", 6_000, REVENUE)]
    assert book.refunds_committed == 10_000 and book.refunds_processed == 0
    assert book.refunded_where(against=RECEIVABLE) == 6_000
    assert book.refunded_where(statuses=frozenset({R.PENDING})) == 6_000
    assert book.refunded_where(tip=False, statuses=frozenset({R.REQUESTED})) == 4_000
    assert book.refunded_where(tip=True) == 0


def test_money_out_needs_every_payment_refunded_and_processed() -> None:
    half = _double(OS.CANCELLED, _refund("rf_1", FIRST, "pay_a", 10_000, against=RECEIVABLE))
    assert not half.money_out
    pending = _double(OS.CANCELLED, _refund("rf_1", FIRST, "pay_a", 10_000),
                      _refund("rf_2", SECOND, "pay_b", 6_000, R.PENDING))
    assert not pending.money_out
    out = _double(OS.CANCELLED, _refund("rf_1", FIRST, "pay_a", 10_000),
                  _refund("rf_2", SECOND, "pay_b", 6_000))
    assert out.money_out and out.refunds_processed == 16_000
    unpaid = OrderBook(_order(OS.CANCELLED), (FIRST,), {FIRST.id: _paid(FIRST)}, ())
    assert not unpaid.money_out


def test_a_cancelled_order_keeps_nothing_and_gives_everything_back_to_the_shopper() -> None:
    book = _double(OS.CANCELLED)
    assert (book.keep, book.excess, book.outstanding) == (0, 16_000, 0)
    # all of it is excess: newest first, every part against the shopper's credit
    assert _parts(book.allocate(None)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE), ("pr_1", "pay_a", 10_000, RECEIVABLE)]


def test_a_returned_order_refunds_the_sale_to_the_receivable() -> None:
    # one payment with the excess already given back: what is left is the (gone) sale
    book = OrderBook(_order(OS.RETURNED), (FIRST,), {FIRST.id: _paid(FIRST, ("pay_a", 10_000, 5))},
                     ())
    assert _parts(book.allocate(4_000)) == [("pr_1", "pay_a", 4_000, RECEIVABLE)]


# ---- late money, tips --------------------------------------------------------------------
def test_money_after_close_is_refunded_before_newer_money_in_time() -> None:
    late = _request("pr_late", 10_000, created=1)
    fresh = _request("pr_new", 10_000, created=2)
    book = OrderBook(_order(OS.PAID), (late, fresh), {
        late.id: _paid(late, ("pay_late", 4_000, 9), expire_at=5),
        fresh.id: _paid(fresh, ("pay_new", 10_000, 6))}, ())
    assert [(c.payment_id, c.after_close) for c in book.captures()] == [
        ("pay_late", True), ("pay_new", False)]
    assert book.excess == 4_000
    assert _parts(book.allocate(4_000)) == [("pr_late", "pay_late", 4_000, RECEIVABLE)]
    assert _parts(book.allocate(5_000)) == [
        ("pr_late", "pay_late", 4_000, RECEIVABLE), ("pr_new", "pay_new", 1_000, REVENUE)]


def test_two_payments_on_one_request_rank_by_their_order() -> None:
    request = _request("pr_1", 10_000, created=1)
    book = OrderBook(_order(OS.PAID, 6_000), (request,), {
        request.id: _paid(request, ("pay_a", 6_000, 3), ("pay_b", 4_000, 4))}, ())
    assert [(c.payment_id, c.rank) for c in book.captures()] == [("pay_a", 0), ("pay_b", 1)]
    # the 4,000 beyond the total is the newest payment's
    assert _parts(book.allocate(4_000)) == [("pr_1", "pay_b", 4_000, RECEIVABLE)]


def test_the_excess_of_three_payments_comes_from_the_newest_first() -> None:
    """Each payment ranks after the one before it, not just after the first: with three,
    the excess is the third's, then the second's, and the sale stays with the oldest."""
    request = _request("pr_1", 10_000, created=1)
    book = OrderBook(_order(OS.PAID, 10_000), (request,), {
        request.id: _paid(request, ("pay_a", 5_000, 3), ("pay_b", 3_000, 4),
                          ("pay_c", 4_000, 5))}, ())
    assert [(c.payment_id, c.rank) for c in book.captures()] == [
        ("pay_a", 0), ("pay_b", 1), ("pay_c", 2)]
    assert book.excess == 2_000
    assert _parts(book.allocate(2_000)) == [("pr_1", "pay_c", 2_000, RECEIVABLE)]
    assert _parts(book.allocate(None, excess_only=True)) == [
        ("pr_1", "pay_c", 2_000, RECEIVABLE)]


def test_tips_are_apart_from_the_order_money() -> None:
    tip = _request("pr_tip", 500, created=3, method="tip")
    book = OrderBook(_order(OS.PAID), (FIRST, tip), {
        FIRST.id: _paid(FIRST, ("pay_a", 10_000, 5)), tip.id: _paid(tip, ("pay_t", 500, 6))},
        (_refund("rf_1", tip, "pay_t", 200, against=TIPS),))
    assert (book.captured, book.tips_captured, book.captured_all) == (10_000, 500, 10_500)
    assert [c.is_tip for c in book.captures()] == [False, True]
    assert book.refunded_where(tip=True) == 200 and book.refunded_where(tip=False) == 0
    assert (book.held, book.excess, book.sale_refunded) == (10_000, 0, 0)
    assert _parts(book.allocate(None)) == [
        ("pr_1", "pay_a", 10_000, REVENUE), ("pr_tip", "pay_t", 300, TIPS)]
    assert _parts(book.allocate(None, excess_only=True)) == []
    everything = OrderBook(book.order, book.requests, book.states, (
        _refund("rf_1", tip, "pay_t", 500, against=TIPS),
        _refund("rf_2", FIRST, "pay_a", 10_000)))
    assert everything.money_out  # the tips do not count


# ---- the order still waiting for money, cash on delivery ---------------------------------
def test_outstanding_only_while_the_order_waits_for_money() -> None:
    part = _paid(FIRST, ("pay_a", 3_000, 5))
    waiting = OrderBook(_order(OS.PENDING_PAYMENT), (FIRST,), {FIRST.id: part}, ())
    assert (waiting.outstanding, waiting.excess, waiting.cash_due) == (7_000, 0, 0)
    paid = OrderBook(_order(OS.PAID), (FIRST,), {FIRST.id: part}, ())
    assert paid.outstanding == 0


def _cash_book(status: OrderStatus, *refunds: Refund, collected: int = 0) -> OrderBook:
    cash = _request("pr_cash", 10_000, method=COD, provider=CASH_PROVIDER)
    captures = (("cash:1", collected, 5),) if collected else ()
    return OrderBook(_order(status), (cash,), {
        cash.id: _paid(cash, *captures, provider=CASH_PROVIDER)}, refunds)


def test_cash_is_due_at_the_door_until_collected() -> None:
    assert _cash_book(OS.AWAITING_CONFIRMATION).cash_due == 10_000
    assert _cash_book(OS.SHIPPED).cash_due == 10_000
    assert _cash_book(OS.DELIVERED).cash_due == 10_000
    assert _cash_book(OS.SHIPPED, collected=4_000).cash_due == 6_000
    assert _cash_book(OS.CANCELLED).cash_due == 0
    assert _cash_book(OS.PAID).cash_due == 0
    assert _cash_book(OS.CONFIRMED).outstanding == 10_000  # may still switch to prepaid
    prepaid = OrderBook(_order(OS.SHIPPED), (FIRST,), {FIRST.id: _paid(FIRST)}, ())
    assert prepaid.cash_request is None and prepaid.cash_due == 0


def test_cash_refunds_count_once_processed() -> None:
    cash = _request("pr_cash", 10_000, method=COD, provider=CASH_PROVIDER)
    book = _cash_book(OS.DELIVERED, _refund("rf_1", cash, "cash:1", 1_000),
                      _refund("rf_2", cash, "cash:1", 2_000, R.PENDING),
                      _refund("rf_3", cash, "cash:1", 4_000, R.SUPERSEDED),
                      collected=10_000)
    assert book.cash_request is not None and book.cash_request.id == "pr_cash"
    assert (book.cash_collected, book.cash_refunded, book.cash_due) == (10_000, 1_000, 0)
    online = _request("pr_on", 10_000, created=2)
    mixed = OrderBook(book.order, (*book.requests, online), {
        **book.states, online.id: _paid(online, ("pay_on", 2_000, 7))},
        (*book.refunds, _refund("rf_4", online, "pay_on", 500)))
    assert (mixed.cash_collected, mixed.cash_refunded) == (10_000, 1_000)


def test_one_payment_refunded_from_both_passes_is_one_refund_row() -> None:
    # a refund booked on the request under another payment id lowers what is held, not
    # what either payment may give back: the excess pass leaves part of the oldest payment,
    # the sale pass (a cancelled order: the shopper's credit again) takes the rest of it
    book = _double(OS.CANCELLED, _refund("rf_1", FIRST, "pay_gone", 3_000))
    assert (book.held, book.excess, book.refundable_total()) == (13_000, 13_000, 16_000)
    assert _parts(book.allocate(None)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE), ("pr_1", "pay_a", 10_000, RECEIVABLE)]
    assert _parts(book.allocate(15_000)) == [
        ("pr_2", "pay_b", 6_000, RECEIVABLE), ("pr_1", "pay_a", 9_000, RECEIVABLE)]


def test_a_single_minor_unit_left_on_a_payment_is_still_refundable() -> None:
    book = _double(OS.PAID, _refund("rf_1", SECOND, "pay_b", 5_999, against=RECEIVABLE))
    assert [c.refundable for c in book.captures()] == [10_000, 1]
    assert _parts(book.allocate(None)) == [
        ("pr_2", "pay_b", 1, RECEIVABLE), ("pr_1", "pay_a", 10_000, REVENUE)]
