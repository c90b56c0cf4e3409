"""Order and payment-request state machines, and the event reducer.

Two explicit tables (``ORDER_ALLOWED``, ``PAYMENT_ALLOWED``) and one pure ``transition`` each.
Provider events arrive at least once and in any order, so the payment state is *derived from
the set of events* by :func:`apply_events`: duplicates collapse on their business key (a
payment id is counted once however many webhooks mention it), the survivors are folded in a
canonical order (time of occurrence, then kind, then id), so any permutation or repetition
of the same events gives the same state. Money is never dropped: a capture after expiry or
cancellation lands in ``paid_after_close``; refunds are capped at what was captured.
Diagrams: ``status_order.mmd`` and ``status_payment.mmd`` beside this file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from catalog.money import Money


class InvalidTransition(ValueError):
    """An event that the current status does not allow."""

    def __init__(self, machine: str, current: str, event: str) -> None:
        super().__init__(f"{machine}: {event!r} is not allowed in status {current!r}")
        self.current = current
        self.event = event


# ---------------------------------------------------------------------------------------
# Order
# ---------------------------------------------------------------------------------------
class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    # cash on delivery: placed, waiting for the shopper to confirm it in chat (a reminder,
    # then an auto-cancel: bot/reminders.py); confirmed: the cash is due at the door
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    PAID = "paid"
    # paid, and part of the sale went back (a missing item, a goodwill gesture): still
    # shippable; once it ships the fulfilment status wins and the refunds stay in the book
    PARTIALLY_REFUNDED = "partially_refunded"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    # a cash-on-delivery order refused at the door or never delivered: back at the shop
    # (return to origin), its stock released, its sale reversed
    RETURNED = "returned"


class OrderEvent(StrEnum):
    PAYMENT_RECEIVED = "payment_received"  # its payment request reached paid
    SHIP = "ship"
    DELIVER = "deliver"
    CANCEL = "cancel"  # only with no pending or successful payment (WhatsApp rule)
    REFUND_REQUESTED = "refund_requested"
    PARTIAL_REFUND = "partial_refund"  # some of the sale was given back, the rest is kept
    REFUND_COMPLETED = "refund_completed"
    REFUND_FAILED = "refund_failed"  # liability stays open; the merchant retries
    CONFIRM = "confirm"  # the shopper confirmed a cash-on-delivery order
    CASH_COLLECTED = "cash_collected"  # the cash was taken at the door: delivered and paid
    RETURN = "return"  # refused at the door (only with no money taken)


_O = OrderStatus
_OE = OrderEvent

ORDER_ALLOWED: Mapping[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (_O.PENDING_PAYMENT, _OE.PAYMENT_RECEIVED): _O.PAID,
    (_O.PENDING_PAYMENT, _OE.CANCEL): _O.CANCELLED,
    # cash on delivery (COD): confirmed in chat, or cancelled (by the shopper, the shop or
    # the auto-cancel); paid before dispatch when the shopper switches to a prepaid method
    # (or hands the cash over at the shop)
    (_O.AWAITING_CONFIRMATION, _OE.CONFIRM): _O.CONFIRMED,
    (_O.AWAITING_CONFIRMATION, _OE.CANCEL): _O.CANCELLED,
    (_O.AWAITING_CONFIRMATION, _OE.PAYMENT_RECEIVED): _O.PAID,
    (_O.CONFIRMED, _OE.CANCEL): _O.CANCELLED,
    (_O.CONFIRMED, _OE.PAYMENT_RECEIVED): _O.PAID,
    (_O.CONFIRMED, _OE.SHIP): _O.SHIPPED,
    # shipped with the cash still due: collected at the door, or refused there
    (_O.SHIPPED, _OE.CASH_COLLECTED): _O.DELIVERED,
    (_O.SHIPPED, _OE.RETURN): _O.RETURNED,
    (_O.PAID, _OE.SHIP): _O.SHIPPED,
    (_O.SHIPPED, _OE.DELIVER): _O.DELIVERED,
    (_O.PAID, _OE.REFUND_REQUESTED): _O.REFUND_PENDING,
    (_O.SHIPPED, _OE.REFUND_REQUESTED): _O.REFUND_PENDING,
    (_O.DELIVERED, _OE.REFUND_REQUESTED): _O.REFUND_PENDING,
    (_O.REFUND_PENDING, _OE.REFUND_COMPLETED): _O.REFUNDED,
    # the provider refunded everything by itself (dashboard, dispute): no longer shippable
    (_O.PAID, _OE.REFUND_COMPLETED): _O.REFUNDED,
    (_O.SHIPPED, _OE.REFUND_COMPLETED): _O.REFUNDED,
    (_O.DELIVERED, _OE.REFUND_COMPLETED): _O.REFUNDED,
    (_O.REFUND_PENDING, _OE.REFUND_FAILED): _O.REFUND_PENDING,
    # a partial refund keeps the sale: the order can still ship, or be refunded in full
    (_O.PAID, _OE.PARTIAL_REFUND): _O.PARTIALLY_REFUNDED,
    (_O.PARTIALLY_REFUNDED, _OE.SHIP): _O.SHIPPED,
    (_O.PARTIALLY_REFUNDED, _OE.REFUND_REQUESTED): _O.REFUND_PENDING,
    (_O.PARTIALLY_REFUNDED, _OE.REFUND_COMPLETED): _O.REFUNDED,
    # after it left, the fulfilment status stays (the refunds are in the order's book)
    (_O.SHIPPED, _OE.PARTIAL_REFUND): _O.SHIPPED,
    (_O.DELIVERED, _OE.PARTIAL_REFUND): _O.DELIVERED,
    # idempotent repeats (a second webhook, a merchant typing the command twice)
    (_O.PAID, _OE.PAYMENT_RECEIVED): _O.PAID,
    (_O.PARTIALLY_REFUNDED, _OE.PAYMENT_RECEIVED): _O.PARTIALLY_REFUNDED,
    (_O.PARTIALLY_REFUNDED, _OE.PARTIAL_REFUND): _O.PARTIALLY_REFUNDED,
    (_O.SHIPPED, _OE.PAYMENT_RECEIVED): _O.SHIPPED,
    (_O.DELIVERED, _OE.PAYMENT_RECEIVED): _O.DELIVERED,
    (_O.SHIPPED, _OE.SHIP): _O.SHIPPED,
    (_O.DELIVERED, _OE.DELIVER): _O.DELIVERED,
    (_O.CANCELLED, _OE.CANCEL): _O.CANCELLED,
    (_O.CONFIRMED, _OE.CONFIRM): _O.CONFIRMED,
    (_O.DELIVERED, _OE.CASH_COLLECTED): _O.DELIVERED,
    (_O.RETURNED, _OE.RETURN): _O.RETURNED,
    (_O.REFUND_PENDING, _OE.REFUND_REQUESTED): _O.REFUND_PENDING,
    (_O.REFUNDED, _OE.REFUND_COMPLETED): _O.REFUNDED,
}

# Statuses in which the order keeps no sale: every unit of money held for it is owed back.
NO_SALE: frozenset[OrderStatus] = frozenset({_O.CANCELLED, _O.RETURNED})
# Statuses of an order that keeps its sale and has not left the shop yet (it may ship).
SHIPPABLE: frozenset[OrderStatus] = frozenset({_O.PAID, _O.PARTIALLY_REFUNDED})
# Statuses of an order that keeps (some of) its sale: money may be refunded from it.
KEEPS_SALE: frozenset[OrderStatus] = frozenset(
    {_O.PAID, _O.PARTIALLY_REFUNDED, _O.SHIPPED, _O.DELIVERED})
# Statuses in which an order still waits for money (requests may be open): a prepaid
# order, and a cash-on-delivery order before dispatch (the shopper may switch to prepaid).
OPEN_FOR_PAYMENT: frozenset[OrderStatus] = frozenset(
    {_O.PENDING_PAYMENT, _O.AWAITING_CONFIRMATION, _O.CONFIRMED})
# Cash-on-delivery statuses in which the cash request (method ``cod``) stays open: the
# cash is due when the order reaches the door.
CASH_DUE: frozenset[OrderStatus] = frozenset(
    {_O.AWAITING_CONFIRMATION, _O.CONFIRMED, _O.SHIPPED})
# Statuses in which the shopper (or the shop) may still cancel without any refund: those
# still waiting for money
CANCELLABLE: frozenset[OrderStatus] = OPEN_FOR_PAYMENT

# WhatsApp ``order_status`` values for each of ours (docs/DESIGN.md §5.3).
WHATSAPP_ORDER_STATUS: Mapping[OrderStatus, str] = {
    _O.PENDING_PAYMENT: "pending",
    _O.AWAITING_CONFIRMATION: "pending",
    _O.CONFIRMED: "processing",
    _O.RETURNED: "canceled",
    _O.PAID: "processing",
    _O.PARTIALLY_REFUNDED: "processing",
    _O.SHIPPED: "shipped",
    _O.DELIVERED: "completed",
    _O.CANCELLED: "canceled",
    _O.REFUND_PENDING: "processing",
    _O.REFUNDED: "canceled",
}


def order_transition(
    current: OrderStatus, event: OrderEvent, *, payment_in_flight: bool = False
) -> OrderStatus:
    """Next order status, or InvalidTransition.

    ``payment_in_flight``: some payment for the order is pending or has succeeded; a cancel
    (or a cash-on-delivery order's return) is then refused (WhatsApp rejects ``canceled`` in
    that case too): that money must be refunded instead.
    """
    if payment_in_flight and (
            (event is OrderEvent.CANCEL and current in CANCELLABLE)
            or event is OrderEvent.RETURN):
        raise InvalidTransition("order", current, event)
    try:
        return ORDER_ALLOWED[(current, event)]
    except KeyError:
        raise InvalidTransition("order", current, event) from None


# ---------------------------------------------------------------------------------------
# Payment request
# ---------------------------------------------------------------------------------------
class PaymentStatus(StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    PAID_AFTER_CLOSE = "paid_after_close"


class PaymentEventKind(StrEnum):
    AUTHORIZED = "authorized"  # informational: money not yet ours
    CAPTURED = "captured"
    FAILED = "failed"  # one attempt failed; the request stays open for a retry
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"


_P = PaymentStatus
_K = PaymentEventKind
# a request that can still take money (the pay page, reminders, expiry, reconcile)
OPEN_REQUEST: frozenset[PaymentStatus] = frozenset({_P.ISSUED, _P.PARTIALLY_PAID})

# (status, event kind, complete?) -> next status. ``complete`` means: for a capture, the
# captured total now covers the amount; for a refund, the refunded total now equals the
# captured total. Other kinds use complete=False.
PAYMENT_ALLOWED: Mapping[tuple[PaymentStatus, PaymentEventKind, bool], PaymentStatus] = {}


def _allow(
    table: dict[tuple[PaymentStatus, PaymentEventKind, bool], PaymentStatus],
    sources: Iterable[PaymentStatus], kind: PaymentEventKind,
    partial: PaymentStatus | None, complete: PaymentStatus | None,
) -> None:
    for src in sources:
        if partial is not None:
            table[(src, kind, False)] = partial
        if complete is not None:
            table[(src, kind, True)] = complete


def _build_payment_table() -> dict[tuple[PaymentStatus, PaymentEventKind, bool], PaymentStatus]:
    t: dict[tuple[PaymentStatus, PaymentEventKind, bool], PaymentStatus] = {}
    _allow(t, [_P.ISSUED, _P.PARTIALLY_PAID], _K.CAPTURED, _P.PARTIALLY_PAID, _P.PAID)
    _allow(t, [_P.PAID], _K.CAPTURED, _P.PAID, _P.PAID)  # overpayment: flagged, kept
    _allow(t, [_P.EXPIRED, _P.CANCELLED, _P.PAID_AFTER_CLOSE], _K.CAPTURED,
           _P.PAID_AFTER_CLOSE, _P.PAID_AFTER_CLOSE)
    # new money after refunds re-opens a refundable balance
    _allow(t, [_P.PARTIALLY_REFUNDED, _P.REFUNDED], _K.CAPTURED,
           _P.PARTIALLY_REFUNDED, _P.PARTIALLY_REFUNDED)
    # attempts that fail or only authorise never move a status (UPI retries, late auth)
    for kind in (_K.FAILED, _K.AUTHORIZED, _K.REFUND_FAILED):
        for status in PaymentStatus:
            t[(status, kind, False)] = status
    _allow(t, [_P.ISSUED, _P.PARTIALLY_PAID], _K.EXPIRED, _P.EXPIRED, None)
    _allow(t, [_P.ISSUED, _P.PARTIALLY_PAID], _K.CANCELLED, _P.CANCELLED, None)
    # closing a request that is already paid or closed is a no-op (the first close wins)
    for status in (_P.PAID, _P.PARTIALLY_REFUNDED, _P.REFUNDED, _P.PAID_AFTER_CLOSE,
                   _P.EXPIRED, _P.CANCELLED):
        t[(status, _K.EXPIRED, False)] = status
        t[(status, _K.CANCELLED, False)] = status
    _allow(t, [_P.PARTIALLY_PAID, _P.PAID, _P.PAID_AFTER_CLOSE, _P.PARTIALLY_REFUNDED,
               _P.EXPIRED, _P.CANCELLED],
           _K.REFUNDED, _P.PARTIALLY_REFUNDED, _P.REFUNDED)
    _allow(t, [_P.REFUNDED], _K.REFUNDED, None, _P.REFUNDED)
    return t


PAYMENT_ALLOWED = _build_payment_table()

# Statuses in which no new payment attempt should be offered.
CLOSED_FOR_PAYMENT: frozenset[PaymentStatus] = frozenset(
    {_P.PAID, _P.PARTIALLY_REFUNDED, _P.REFUNDED, _P.EXPIRED, _P.CANCELLED, _P.PAID_AFTER_CLOSE}
)


def transition(
    current: PaymentStatus, event: PaymentEventKind, *, complete: bool = False
) -> PaymentStatus:
    """Next payment-request status after one event, or InvalidTransition."""
    try:
        return PAYMENT_ALLOWED[(current, event, complete)]
    except KeyError:
        raise InvalidTransition("payment", current, event) from None


class PaymentEvent(Protocol):
    """What the reducer needs of an event (``ProviderEvent`` and stored rows both fit)."""

    @property
    def provider(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def kind(self) -> PaymentEventKind: ...
    @property
    def amount(self) -> Money: ...
    @property
    def occurred_at(self) -> int: ...
    @property
    def payment_id(self) -> str | None: ...
    @property
    def refund_id(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Everything derived from a request's events; equal inputs give equal states."""

    status: PaymentStatus
    amount: Money
    captured: Money
    refunded: Money
    captured_after_close: Money
    closed_at: int | None
    payment_ids: frozenset[str]
    refund_ids: frozenset[str]
    failed_attempts: int
    anomalies: frozenset[str]
    # (payment id, amount, after close?) of every distinct capture, in canonical order
    captures: tuple[tuple[str, int, bool], ...] = ()

    @property
    def outstanding(self) -> Money:
        """What the shopper still owes (never negative)."""
        left = self.amount.minor - self.captured.minor
        return Money(max(left, 0), self.amount.currency)

    @property
    def overpaid(self) -> Money:
        over = self.captured.minor - self.amount.minor
        return Money(max(over, 0), self.amount.currency)

    @property
    def refundable(self) -> Money:
        return self.captured - self.refunded

    @property
    def is_open(self) -> bool:
        """A new attempt (link, QR, collect) may still be offered."""
        return self.status not in CLOSED_FOR_PAYMENT


# Within one second: money first (a capture and an expiry in the same second count as paid
# in time), then failures, refunds, closes.
_KIND_RANK: Mapping[PaymentEventKind, int] = {
    _K.AUTHORIZED: 0, _K.CAPTURED: 1, _K.FAILED: 2, _K.REFUNDED: 3, _K.REFUND_FAILED: 4,
    _K.EXPIRED: 5, _K.CANCELLED: 6,
}


def canonical_key(event: PaymentEvent) -> tuple[int, int, str, str, str, str, int]:
    """The total order events are folded in: time, then kind, then ids."""
    return (event.occurred_at, _KIND_RANK[event.kind], event.provider, event.event_id,
            event.payment_id or "", event.refund_id or "", event.amount.minor)


def _business_key(event: PaymentEvent) -> tuple[str, str, str]:
    """Two events with one key describe one fact (``payment_link.paid`` and
    ``payment.captured`` for the same ``pay_…`` are one capture)."""
    kind = event.kind
    if kind in (_K.CAPTURED, _K.AUTHORIZED, _K.FAILED) and event.payment_id:
        return (kind, event.provider, event.payment_id)
    if kind in (_K.REFUNDED, _K.REFUND_FAILED) and event.refund_id:
        return (kind, event.provider, event.refund_id)
    if kind in (_K.EXPIRED, _K.CANCELLED):
        return (kind, "", "")  # one request closes once, whoever says so
    return (kind, event.provider, event.event_id)


def _pick(events: Sequence[PaymentEvent]) -> PaymentEvent:
    """Deterministic representative of duplicates: the largest amount (never lose money),
    then the earliest, then the smallest id."""
    return min(events, key=lambda e: (-e.amount.minor, e.occurred_at, e.provider, e.event_id))


def _unique_events(events: Iterable[PaymentEvent], currency: str,
                   anomalies: set[str]) -> list[PaymentEvent]:
    """One event per business fact (duplicates folded by :func:`_pick`), in canonical
    order; events in another currency or with a negative amount are anomalies, not facts."""
    groups: dict[tuple[str, str, str], list[PaymentEvent]] = {}
    for event in events:
        if event.amount.currency != currency:
            anomalies.add(f"currency_mismatch:{event.provider}:{event.event_id}")
            continue
        if event.amount.minor < 0:
            anomalies.add(f"negative_amount:{event.provider}:{event.event_id}")
            continue
        groups.setdefault(_business_key(event), []).append(event)
    unique: list[PaymentEvent] = []
    for key, members in groups.items():
        chosen = _pick(members)
        if key[0] in (_K.CAPTURED, _K.REFUNDED) and len(
            {m.amount.minor for m in members}
        ) > 1:
            anomalies.add(f"amount_conflict:{key[1]}:{key[2]}")
        unique.append(chosen)
    unique.sort(key=canonical_key)
    return _refunds_after_their_captures(unique)


def _refunds_after_their_captures(events: list[PaymentEvent]) -> list[PaymentEvent]:
    """A refund never comes before the payment it gives back, whatever the dates say: the
    provider's webhook of a dashboard refund can be dated before the capture we date after
    our close (late money, ``PaymentService._apply_locked``). Such a refund moves to just
    after its payment's capture, so it counts against that capture."""
    captured_at = {e.payment_id: at for at, e in enumerate(events)
                   if e.kind is _K.CAPTURED and e.payment_id}
    held: dict[str, list[PaymentEvent]] = {}
    ordered: list[PaymentEvent] = []
    for at, event in enumerate(events):
        pid = event.payment_id
        if event.kind is _K.REFUNDED and pid in captured_at and captured_at[pid] > at:
            held.setdefault(pid, []).append(event)
            continue
        ordered.append(event)
        if event.kind is _K.CAPTURED and pid in held:
            ordered.extend(held.pop(pid))
    return ordered


def _refund_take(event: PaymentEvent, room: int, left_in: dict[str, int] | None) -> int:
    """What of a refund counts, at most the request's ``room``; with ``left_in`` (captured
    less refunded per payment), at most what its own payment has left, which it takes."""
    pid = event.payment_id
    if left_in is not None and pid:
        room = min(room, left_in.get(pid, 0))
    take = min(event.amount.minor, room)
    if left_in is not None and pid in left_in and take > 0:
        left_in[pid] -= take
    return take


def apply_events(request_amount: Money, events: Iterable[PaymentEvent]) -> PaymentState:
    """Derive a payment request's state from its events, whatever their order or repetition."""
    currency = request_amount.currency
    anomalies: set[str] = set()
    unique = _unique_events(events, currency, anomalies)

    status = PaymentStatus.ISSUED
    captured = refunded = late = 0
    closed_at: int | None = None
    payment_ids: set[str] = set()
    refund_ids: set[str] = set()
    failures = 0
    amount = request_amount.minor
    captures: list[tuple[str, int, bool]] = []
    # a refund that names a payment gives back from that payment only: until its capture
    # is known it counts nothing (the capture books it then), and never more than it took.
    # Only when some capture names no payment is a refund counted against the whole request.
    by_payment = all(e.payment_id for e in unique if e.kind is _K.CAPTURED)
    left_in: dict[str, int] = {}  # payment id → captured less refunded
    for event in unique:
        kind = event.kind
        complete = False
        if kind is _K.CAPTURED:
            # closed before it was paid: late, even once the late money before it went back
            after_close = closed_at is not None
            if after_close:
                late += event.amount.minor
            captures.append((event.payment_id or event.event_id, event.amount.minor,
                             after_close))
            captured += event.amount.minor
            complete = captured >= amount
            if event.payment_id:
                payment_ids.add(event.payment_id)
                left_in[event.payment_id] = event.amount.minor
        elif kind is _K.REFUNDED:
            take = _refund_take(event, captured - refunded, left_in if by_payment else None)
            if take <= 0:
                anomalies.add(f"refund_without_capture:{event.provider}:{event.event_id}")
                continue
            if event.amount.minor > take:
                anomalies.add(f"refund_exceeds_capture:{event.provider}:{event.event_id}")
            refunded += take
            complete = refunded >= captured
            if event.refund_id:
                refund_ids.add(event.refund_id)
        elif kind is _K.FAILED:
            failures += 1
        elif kind is _K.REFUND_FAILED:
            anomalies.add(f"refund_failed:{event.provider}:{event.refund_id or event.event_id}")
        elif kind in (_K.EXPIRED, _K.CANCELLED) and status in (_P.ISSUED, _P.PARTIALLY_PAID):
            closed_at = event.occurred_at
        status = transition(status, kind, complete=complete)
    if captured > amount:
        anomalies.add("overpaid")
    return PaymentState(
        status=status,
        amount=request_amount,
        captured=Money(captured, currency),
        refunded=Money(refunded, currency),
        captured_after_close=Money(late, currency),
        closed_at=closed_at,
        payment_ids=frozenset(payment_ids),
        refund_ids=frozenset(refund_ids),
        failed_attempts=failures,
        anomalies=frozenset(anomalies),
        captures=tuple(captures),
    )


def _reachability() -> dict[PaymentStatus, frozenset[PaymentStatus]]:
    edges: dict[PaymentStatus, set[PaymentStatus]] = {s: set() for s in PaymentStatus}
    for (src, _kind, _complete), dst in PAYMENT_ALLOWED.items():
        edges[src].add(dst)
    result: dict[PaymentStatus, frozenset[PaymentStatus]] = {}
    for start in PaymentStatus:
        seen = {start}
        frontier = [start]
        while frontier:
            for nxt in edges[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        result[start] = frozenset(seen)
    return result


REACHABLE: Mapping[PaymentStatus, frozenset[PaymentStatus]] = _reachability()


def status_moved_forward(old: PaymentStatus, new: PaymentStatus) -> bool:
    """True when ``new`` is reachable from ``old`` through the table (or equal): the check a
    service makes before overwriting a stored status with a re-derived one."""
    return new in REACHABLE[old]


# ---------------------------------------------------------------------------------------
# Refund (one row of ``refunds``): diagram ``status_refund.mmd``
# ---------------------------------------------------------------------------------------
class RefundStatus(StrEnum):
    REQUESTED = "requested"  # reserved in our books; the provider has not accepted it yet
    PENDING = "pending"  # the provider accepted it; the money is not out yet
    PROCESSED = "processed"  # the money went back to the shopper
    FAILED = "failed"  # refused or failed at the provider; a retry is scheduled
    SUPERSEDED = "superseded"  # never sent again: the provider refunded that money itself


class RefundEvent(StrEnum):
    ACCEPTED = "accepted"  # the provider answered pending
    PROCESSED = "processed"  # answered processed, or refund.processed arrived
    FAILED = "failed"  # refused, errored, or refund.failed arrived
    RETRY = "retry"  # the durable retry picked it up again
    SUPERSEDE = "supersede"  # the provider refunded the same money by itself meanwhile


_R = RefundStatus
_RE = RefundEvent

REFUND_ALLOWED: Mapping[tuple[RefundStatus, RefundEvent], RefundStatus] = {
    (_R.REQUESTED, _RE.ACCEPTED): _R.PENDING,
    (_R.REQUESTED, _RE.PROCESSED): _R.PROCESSED,
    (_R.REQUESTED, _RE.FAILED): _R.FAILED,
    (_R.PENDING, _RE.PROCESSED): _R.PROCESSED,
    (_R.PENDING, _RE.FAILED): _R.FAILED,
    (_R.FAILED, _RE.RETRY): _R.REQUESTED,
    # a provider's late "processed" after we saw it fail: the money did go out
    (_R.FAILED, _RE.PROCESSED): _R.PROCESSED,
    (_R.FAILED, _RE.SUPERSEDE): _R.SUPERSEDED,
    (_R.REQUESTED, _RE.SUPERSEDE): _R.SUPERSEDED,
    # repeats (a webhook and the synchronous answer both say so)
    (_R.PENDING, _RE.ACCEPTED): _R.PENDING,
    (_R.PROCESSED, _RE.PROCESSED): _R.PROCESSED,
    (_R.PROCESSED, _RE.ACCEPTED): _R.PROCESSED,
    (_R.FAILED, _RE.FAILED): _R.FAILED,
}

# Refund rows that count against what may be refunded (the money is or will be out).
REFUND_COMMITTED: frozenset[RefundStatus] = frozenset(RefundStatus) - {_R.SUPERSEDED}


def refund_transition(current: RefundStatus, event: RefundEvent) -> RefundStatus:
    """Next refund status, or InvalidTransition."""
    try:
        return REFUND_ALLOWED[(current, event)]
    except KeyError:
        raise InvalidTransition("refund", current, event) from None
