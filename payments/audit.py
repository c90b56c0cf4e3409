"""``haat reconcile``'s books check: per order and per account, each balance means what it
should. Double entry alone only proves debits equal credits; this compares every account of
every order with what its payment requests, events and refund rows say happened.

Per order (``ref`` of a posting is ``kind:ORD-N[:…]``, see payments/ledger.py), with C the
order's captures (tips apart), T its total, R its refund rows (by account debited):

* ``customer_receivable`` = T (unless cancelled) − C + R[customer_receivable]: positive is
  still owed by the shopper, negative is the shopper's money we hold and have not promised
  back (an anomaly: ``money_held``);
* ``psp_clearing:*`` = all captures (tips too) − processed refunds, apart from cash;
* ``cash_in_hand`` = cash collected on delivery − processed refunds of it;
* ``refunds_payable`` = −(refunds promised and not yet processed);
* ``tips`` = −(tips captured − tips refunded); ``merchant_revenue`` = −(T − R[revenue]).

Also: refunds that failed or were never answered, money on a cancelled order, a paid order
whose money all went back, a status that contradicts the refunds (``paid`` with part of the
sale refunded, ``partially_refunded`` with none), an order whose money covers it but is
still pending, requests still open on a closed order, provider events that match no
request, and any currency whose postings do not sum to zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from payments.book import COD, OrderBook
from payments.ledger import Account
from payments.repository import PaymentRequest, PaymentsRepository
from payments.status import (
    CASH_DUE,
    KEEPS_SALE,
    NO_SALE,
    OPEN_FOR_PAYMENT,
    OrderStatus,
    PaymentState,
    PaymentStatus,
    RefundStatus,
    apply_events,
)

STUCK_MS = 3_600_000  # a refund the provider has not answered for an hour


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str
    shop_id: str
    order: str  # ORD-1042, or "" for shop-wide findings
    detail: str

    def __str__(self) -> str:
        where = f"{self.shop_id}/{self.order}" if self.order else self.shop_id
        return f"{self.kind} {where}: {self.detail}"


def expected_balances(book: OrderBook) -> dict[str, int]:
    """What each account of one order must hold (signed, debit positive)."""
    order = book.order
    sale = 0 if order.status in NO_SALE else order.total_minor
    recv = book.refunded_where(against=Account.CUSTOMER_RECEIVABLE)
    revenue = book.refunded_where(against=Account.MERCHANT_REVENUE)
    tips = book.refunded_where(against=Account.TIPS)
    promised = book.refunds_committed - book.refunds_processed
    cash = book.cash_collected - book.cash_refunded
    return {
        Account.CUSTOMER_RECEIVABLE: sale - book.captured + recv,
        Account.PSP_CLEARING: book.captured_all - book.refunds_processed - cash,
        Account.CASH_IN_HAND: cash,
        Account.REFUNDS_PAYABLE: -promised,
        Account.TIPS: -(book.tips_captured - tips),
        Account.MERCHANT_REVENUE: -(sale - revenue),
    }


def order_balances(rows: list[tuple[str, str, str, int, str]], shop_id: str, label: str
                   ) -> dict[str, int]:
    """The ledger's balance per account for one order (clearing accounts summed)."""
    out: dict[str, int] = defaultdict(int)
    for shop, ref, account, amount, _currency in rows:
        parts = ref.split(":")
        if shop != shop_id or len(parts) < 2 or parts[1] != label:
            continue
        key = Account.PSP_CLEARING if account.startswith(Account.PSP_CLEARING) else account
        out[key] += amount
    return dict(out)


async def audit(repo: PaymentsRepository, *, shop_id: str | None = None,
                now_ms: int = 0) -> list[Anomaly]:
    """Every anomaly in the books, each with its shop and order."""
    found: list[Anomaly] = []
    rows = await repo.ledger_rows(shop_id)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for shop, _ref, _account, amount, currency in rows:
        totals[(shop, currency)] += amount
    for (shop, currency), total in sorted(totals.items()):
        if total:
            found.append(Anomaly("unbalanced", shop, "", f"{currency} postings sum to {total}"))
    for order in await repo.all_orders(shop_id):
        requests = await repo.requests_for_order(order.id)
        states = {r.id: apply_events(r.amount, await repo.events_for(r)) for r in requests}
        book = OrderBook(order, tuple(requests), states,
                         tuple(await repo.refunds_for_order(order.id)))
        label, shop = order.label, order.shop_id

        def report(kind: str, detail: str, shop: str = shop, label: str = label) -> None:
            found.append(Anomaly(kind, shop, label, detail))

        _ledger_anomalies(order_balances(rows, shop, label), expected_balances(book), report)
        _refund_anomalies(book, states, now_ms, report)
        _status_anomalies(book, requests, states, report)
    for provider, event_id, ref in await repo.orphan_events():
        found.append(Anomaly("orphan_event", "", "", f"{provider} {event_id} ({ref}) matches "
                                                     "no payment request"))
    return found


Report: TypeAlias = Callable[[str, str], None]  # (kind, detail) of one order's anomaly


def _ledger_anomalies(actual: dict[str, int], expected: dict[str, int],
                      report: Report) -> None:
    for account, want in expected.items():
        have = actual.get(account, 0)
        if have != want:
            report("ledger_mismatch", f"{account} is {have}, the payments say {want}")
    for account, have in sorted(actual.items()):
        # money on an account the payments never explain (fees are the provider's)
        if account not in expected and account != Account.FEES and have:
            report("ledger_mismatch", f"{account} is {have}, the payments say 0")


def _refund_anomalies(book: OrderBook, states: Mapping[str, PaymentState], now_ms: int,
                      report: Report) -> None:
    """Money held beyond the order, refunds failed or unanswered, refunds not recorded."""
    order, label = book.order, book.order.label
    if book.excess:
        kind = "money_held_on_cancelled" if order.status in NO_SALE else "money_held"
        report(kind, f"{book.excess} {order.currency} held beyond what the order keeps "
                     f"and not refunded (`refund {label} excess`)")
    for refund in book.refunds:
        state = refund.status
        if state is RefundStatus.FAILED:
            report("refund_failed", f"{refund.id} {refund.amount_minor} "
                                    f"{refund.currency}: {refund.last_error or 'failed'}"
                                    + ("" if refund.next_attempt_at else
                                       f" (no automatic retry: refund it by hand, then "
                                       f"`refunded {label} <amount> <UPI reference>`)"))
        elif state is RefundStatus.REQUESTED and now_ms - refund.updated_at > STUCK_MS:
            report("refund_unanswered", f"{refund.id} sent and never answered")
    recorded = sum(s.refunded.minor for s in states.values())
    if recorded != book.refunds_processed:
        report("refund_unrecorded", f"the provider reports {recorded} refunded, our "
                                    f"refund rows {book.refunds_processed}")


def _status_anomalies(book: OrderBook, requests: Sequence[PaymentRequest],
                      states: Mapping[str, PaymentState], report: Report) -> None:
    """An order status its money contradicts, and requests still open on a closed order."""
    order = book.order
    status = order.status
    if status in KEEPS_SALE and book.money_out:
        report("refunded_but_open", f"all its money went back but it is {status}")
    if status is OrderStatus.PAID and book.sale_refunded:
        report("status_mismatch", f"{book.sale_refunded} {order.currency} of the sale "
                                  "was refunded but it is paid, not partially_refunded")
    if status is OrderStatus.PARTIALLY_REFUNDED and not book.sale_refunded:
        report("status_mismatch", "it is partially_refunded but none of the sale was "
                                  "refunded")
    if status in OPEN_FOR_PAYMENT and book.captured and \
            book.held >= book.keep:
        report("paid_not_marked", "its money covers the total but it is pending")
    if status is OrderStatus.DELIVERED and book.cash_due:
        report("delivered_unpaid", f"{book.cash_due} {order.currency} of cash on "
                                       "delivery was never recorded")
    if status in OPEN_FOR_PAYMENT:
        return
    for request in requests:
        if request.method == COD and status in CASH_DUE:
            continue  # the cash request stays open until the cash is recorded
        if request.method != "tip" and states[request.id].status in (
                PaymentStatus.ISSUED, PaymentStatus.PARTIALLY_PAID):
            report("open_request_on_closed_order",
                   f"{request.id} still takes money on a {status} order")
