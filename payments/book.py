"""The money of one order, derived from its payment requests, their events and its refunds.

Pure: the service reads the rows, builds an :class:`OrderBook` and decides from it (how much
is still owed, how much is held beyond the total, what may be refunded from which payment).
``haat reconcile`` builds the same book and compares it with the ledger. The rules are in
docs/ARCHITECTURE.md, "Money invariants".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalog.money import Money
from payments.ledger import CASH_PROVIDER, Account
from payments.repository import Order, PaymentRequest, Refund
from payments.status import (
    CASH_DUE,
    NO_SALE,
    OPEN_FOR_PAYMENT,
    REFUND_COMMITTED,
    OrderStatus,
    PaymentState,
    RefundStatus,
)

# the payment method of a cash-on-delivery request (its provider is ledger.CASH_PROVIDER)
COD = "cod"


@dataclass(frozen=True, slots=True)
class Capture:
    """One provider payment on one request, with what may still be refunded of it."""

    request: PaymentRequest
    payment_id: str
    amount: int
    after_close: bool
    refundable: int
    rank: int  # larger: newer (refunds of excess take the newest money first)

    @property
    def is_tip(self) -> bool:
        return self.request.method == "tip"


@dataclass(frozen=True, slots=True)
class Allocation:
    """A part of a refund: ``amount`` from one payment, debiting ``against``."""

    capture: Capture
    amount: int
    against: str


@dataclass(frozen=True, slots=True)
class OrderBook:
    order: Order
    requests: tuple[PaymentRequest, ...]
    states: Mapping[str, PaymentState]
    refunds: tuple[Refund, ...]

    @property
    def live_refunds(self) -> tuple[Refund, ...]:
        """Refund rows that count (a superseded one will never be sent)."""
        return tuple(r for r in self.refunds if r.status in REFUND_COMMITTED)

    # ---- sums ---------------------------------------------------------------------------
    def _is_tip(self, request_id: str) -> bool:
        return any(r.id == request_id and r.method == "tip" for r in self.requests)

    @property
    def captured(self) -> int:
        """Money captured for the order itself (tips apart)."""
        return sum(self.states[r.id].captured.minor for r in self.requests if r.method != "tip")

    @property
    def tips_captured(self) -> int:
        return sum(self.states[r.id].captured.minor for r in self.requests if r.method == "tip")

    @property
    def captured_all(self) -> int:
        return self.captured + self.tips_captured

    @property
    def cash_request(self) -> PaymentRequest | None:
        """The order's cash-on-delivery request, if it was placed as COD."""
        return next((r for r in self.requests if r.method == COD), None)

    @property
    def cash_collected(self) -> int:
        """Cash recorded at the door (``cash_in_hand``)."""
        return sum(self.states[r.id].captured.minor for r in self.requests
                   if r.provider == CASH_PROVIDER)

    @property
    def cash_refunded(self) -> int:
        """Processed refunds paid out of the cash in hand."""
        cash = {r.id for r in self.requests if r.provider == CASH_PROVIDER}
        return sum(f.amount_minor for f in self.live_refunds
                   if f.payment_request_id in cash and f.status == RefundStatus.PROCESSED)

    @property
    def cash_due(self) -> int:
        """Cash still to collect at the door: a COD order not yet paid by any means."""
        if self.cash_request is None or self.order.status not in CASH_DUE | {
                OrderStatus.DELIVERED}:
            return 0
        return max(self.keep - self.held, 0)

    def refunded_where(self, *, tip: bool | None = None, against: str | None = None,
                       statuses: frozenset[RefundStatus] | None = None) -> int:
        total = 0
        for refund in self.live_refunds:
            if tip is not None and self._is_tip(refund.payment_request_id) is not tip:
                continue
            if against is not None and refund.against != against:
                continue
            if statuses is not None and refund.status not in statuses:
                continue
            total += refund.amount_minor
        return total

    @property
    def refunds_committed(self) -> int:
        """Every refund row counts: requested, pending, failed (still owed) and processed."""
        return sum(r.amount_minor for r in self.live_refunds)

    @property
    def refunds_processed(self) -> int:
        return self.refunded_where(statuses=frozenset({RefundStatus.PROCESSED}))

    @property
    def sale_refunded(self) -> int:
        """Refunds that give back part of the sale itself (not excess money, not tips): what
        makes a paid order ``partially_refunded``."""
        return self.refunded_where(tip=False, against=Account.MERCHANT_REVENUE)

    @property
    def keep(self) -> int:
        """What the order may keep: its total, less what the merchant gave back; nothing
        once it is cancelled."""
        if self.order.status in NO_SALE:
            return 0
        return max(self.order.total_minor - self.sale_refunded, 0)

    @property
    def held(self) -> int:
        """Order money we hold and have not promised back."""
        return self.captured - self.refunded_where(tip=False)

    @property
    def excess(self) -> int:
        """Held beyond what the order keeps: owed back to the shopper."""
        return max(self.held - self.keep, 0)

    @property
    def outstanding(self) -> int:
        """Still owed by the shopper (only while the order waits for money: a prepaid order,
        or a cash-on-delivery one before dispatch, whose shopper may switch to prepaid)."""
        if self.order.status not in OPEN_FOR_PAYMENT:
            return 0
        return max(self.keep - self.held, 0)

    @property
    def money_out(self) -> bool:
        """All the order's money (tips apart) has been refunded and processed."""
        processed = self.refunded_where(tip=False, statuses=frozenset({RefundStatus.PROCESSED}))
        return self.captured > 0 and processed >= self.captured

    def money(self, minor: int) -> Money:
        return Money(minor, self.order.currency)

    # ---- captures and refund allocation -------------------------------------------------
    def captures(self) -> list[Capture]:
        """Every captured payment, oldest first."""
        out: list[Capture] = []
        rank = 0
        for request in sorted(self.requests, key=lambda r: (r.created_at, r.id)):
            state = self.states[request.id]
            for payment_id, amount, after_close in state.captures:
                taken = sum(f.amount_minor for f in self.live_refunds
                            if f.payment_request_id == request.id and f.payment_id == payment_id)
                out.append(Capture(request, payment_id, amount, after_close,
                                   max(amount - taken, 0), rank))
                rank += 1
        return out

    def refundable_total(self) -> int:
        return sum(c.refundable for c in self.captures())

    def allocate(self, wanted: int | None, *, excess_only: bool = False,
                 payment_id: str | None = None) -> list[Allocation]:
        """Split a refund over payments, never beyond what each may still give back.

        The excess goes first (the newest money, debiting the shopper's credit on
        ``customer_receivable``), then the sale (``merchant_revenue``, or ``tips`` for a tip),
        oldest payment first. ``wanted=None`` means everything that is allowed.
        """
        captures = [c for c in self.captures() if c.refundable > 0 and
                    (payment_id is None or c.payment_id == payment_id)]
        left = {(c.request.id, c.payment_id): c.refundable for c in captures}
        excess = self.excess
        budget = excess if excess_only else None
        if wanted is not None:
            budget = wanted if budget is None else min(budget, wanted)
        out: list[Allocation] = []

        def take(capture: Capture, most: int, against: str) -> None:
            nonlocal budget
            key = (capture.request.id, capture.payment_id)
            amount = min(left[key], most, budget if budget is not None else left[key])
            if amount <= 0:
                return
            left[key] -= amount
            if budget is not None:
                budget -= amount
            out.append(Allocation(capture, amount, against))

        # 1. the excess: money after close first, then the newest order money
        room = excess
        for capture in sorted((c for c in captures if not c.is_tip),
                              key=lambda c: (not c.after_close, -c.rank)):
            if room <= 0:
                break
            before = len(out)
            take(capture, room, Account.CUSTOMER_RECEIVABLE)
            if len(out) > before:
                room -= out[-1].amount
        if excess_only:
            return out
        # 2. the sale, oldest first
        sale = Account.CUSTOMER_RECEIVABLE if self.order.status in NO_SALE \
            else Account.MERCHANT_REVENUE
        for capture in captures:
            take(capture, left[(capture.request.id, capture.payment_id)],
                 Account.TIPS if capture.is_tip else sale)
        return _merge(out)


def _merge(allocations: list[Allocation]) -> list[Allocation]:
    """One allocation per (payment, account): one refund row, one provider call."""
    merged: dict[tuple[str, str, str], Allocation] = {}
    for a in allocations:
        key = (a.capture.request.id, a.capture.payment_id, a.against)
        if key in merged:
            merged[key] = Allocation(a.capture, merged[key].amount + a.amount, a.against)
        else:
            merged[key] = a
    return list(merged.values())
