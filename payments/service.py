"""Use cases: place an order, ask for money, apply what the provider reports, refund.

Rules this module keeps (docs/DESIGN.md §3, and "Money invariants" in docs/ARCHITECTURE.md):
* amounts are computed here from integer minor units, never taken from a message;
* a provider call (HTTP) never happens inside a database transaction: the caller commits the
  returned writes afterwards, and work that needs a provider after a commit (a refund, a
  link cancel) is a durable row first;
* every provider event is stored once (unique provider + event id) in the same transaction
  that applies it, and applying derives the request's state from the *set* of its events,
  so duplicates and any delivery order give the same result;
* the *order* is the unit of money: every decision is taken on the whole order's book
  (:mod:`payments.book`) under a per-order lock, and every write set that moves an order's
  money carries a compare-and-set on ``orders.money_version``, so two processes never both
  commit a decision made on the same stale read;
* the ledger gets the difference between the old and new derived state, so it balances to
  zero per currency at every commit and never counts money twice;
* money beyond what an order keeps (paid twice, paid after close) is refunded or held by
  shop policy, never kept silently; refunds (requested, pending, failed or processed) never
  exceed what each payment captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from catalog.money import Money
from payments.book import COD, Allocation, OrderBook
from payments.ledger import (
    CASH_PROVIDER,
    Account,
    Posting,
    check_balanced,
    postings_for_cancel,
    postings_for_capture,
    postings_for_order,
    postings_for_refund,
    postings_for_return,
    postings_for_tip,
)
from payments.providers.base import (
    CollectRequest,
    FetchesRefunds,
    LinkRequest,
    NotCancellable,
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    ProviderRefund,
    TakesTransfers,
    TransferPayee,
    TransferRequest,
    Unsupported,
    UpiPayee,
)
from payments.repository import (
    Order,
    OrderLine,
    PaymentRequest,
    PaymentsRepository,
    Refund,
    order_key,
)
from payments.status import (
    CASH_DUE,
    KEEPS_SALE,
    OPEN_FOR_PAYMENT,
    OPEN_REQUEST,
    REFUND_COMMITTED,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    PaymentState,
    PaymentStatus,
    RefundEvent,
    RefundStatus,
    apply_events,
    order_transition,
    refund_transition,
)
from storage.database import Conflict, Database, WriteSet
from storage.jobs import JobStatus

log = logging.getLogger(__name__)

_K = PaymentEventKind
_ATTEMPTS = 8  # optimistic retries when another process moved the order meanwhile
REFUND_LEASE_MS = 120_000  # a refund being sent is retried after this if we crash meanwhile
_MANUAL_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{3,39}")
REFUND_BACKOFF_MS = (60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000)
# a cash-on-delivery request never expires by itself: the order's own jobs (confirmation
# reminder, auto-cancel) and the merchant's commands close it (year 9999, in ms)
NEVER_EXPIRES_MS = 253_402_300_799_000


class PaymentError(Exception):
    """A payment step that cannot be done; ``code`` is for the bot to pick a reply."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    """How a shop takes money (from shop.yaml ``payments``), as plain values."""

    provider: str
    payee: UpiPayee | None
    link_expiry_minutes: int = 60
    collect_expiry_minutes: int = 15
    # manual-transfer methods (bkash, upi_transfer, …) → the merchant's account; they are
    # served by ``transfer_provider`` whatever ``provider`` is (payments/providers/manual.py)
    transfers: Mapping[str, TransferPayee] = field(default_factory=dict)
    transfer_provider: str = "manual"

    def provider_for(self, method: str) -> str:
        return self.transfer_provider if method in self.transfers else self.provider


@dataclass(frozen=True, slots=True)
class PaymentUpdate:
    """What one applied provider event changed; the bot turns it into messages."""

    request: PaymentRequest
    order: Order
    event: ProviderEvent
    before: PaymentState
    after: PaymentState
    order_status_before: str
    order_status_after: str
    excess_before: Money | None = None
    excess_after: Money | None = None
    excess_policy: str = "refund"  # refund: refunds were reserved; hold: the merchant decides
    closed: tuple[PaymentRequest, ...] = ()  # other requests closed because the order closed
    provider_refund: Money | None = None  # a refund the provider made by itself
    refund: Refund | None = None  # our refund row this event settled or failed
    rejected: str | None = None  # the event was stored but not applied: why (alert only)

    @property
    def newly_paid(self) -> bool:
        return self.order_status_before != self.order_status_after and \
            self.order_status_after == OrderStatus.PAID

    @property
    def late_money(self) -> Money:
        return self.after.captured_after_close - self.before.captured_after_close

    @property
    def new_excess(self) -> Money:
        """Money beyond what the order keeps that this event brought in."""
        if self.excess_before is None or self.excess_after is None:
            return Money.zero(self.order.currency)
        return Money(max(self.excess_after.minor - self.excess_before.minor, 0),
                     self.order.currency)


@dataclass(frozen=True, slots=True)
class RefundUpdate:
    """A refund row moved (provider accepted, failed, retry scheduled)."""

    order: Order
    refund: Refund
    before: RefundStatus
    after: RefundStatus
    retry_at: int = 0  # 0: no automatic retry (the merchant must act)


@dataclass(frozen=True, slots=True)
class RefundResult:
    """What a refund command reserved and what the provider answered for each part."""

    amount: Money
    refunds: tuple[Refund, ...] = field(default=())

    def count(self, status: RefundStatus) -> int:
        return sum(1 for r in self.refunds if r.status == status)


Notify = Callable[[PaymentUpdate, WriteSet], Awaitable[None]]
# (shop id, order status) → "refund" | "hold": what to do with money beyond the total
ExcessPolicy = Callable[[str, str], str]


def _accepted_then_closed(order: Order, before: PaymentState, after: PaymentState,
                          event: ProviderEvent) -> bool:
    return (event.kind in (PaymentEventKind.EXPIRED, PaymentEventKind.CANCELLED)
            and before.status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED,
                                  PaymentStatus.REFUNDED)
            and after.status is PaymentStatus.PAID_AFTER_CLOSE
            and order.status not in OPEN_FOR_PAYMENT)


_AMOUNT_KINDS = (PaymentEventKind.AUTHORIZED, PaymentEventKind.CAPTURED,
                 PaymentEventKind.REFUNDED)


def mismatch(request: PaymentRequest, event: ProviderEvent) -> str | None:
    """Why an event cannot belong to its request: another currency, or an amount it never
    asked for (negative, or one payment larger than the whole request)."""
    if event.amount.currency != request.currency and (
            event.amount.minor or event.kind in _AMOUNT_KINDS):
        return f"currency {event.amount.currency} is not the request's {request.currency}"
    if event.amount.minor < 0:
        return "negative amount"
    if event.kind in _AMOUNT_KINDS and event.amount.minor > request.amount_minor:
        return (f"amount {event.amount.format()} is more than the request's "
                f"{request.amount.format()}")
    return None


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def _money_delta(before: Money, after: Money) -> Money:
    return Money(after.minor - before.minor, after.currency)


def backoff_ms(attempts: int) -> int:
    """Wait before retry number ``attempts`` of a failed refund (1 min … 6 h)."""
    return REFUND_BACKOFF_MS[min(max(attempts, 1), len(REFUND_BACKOFF_MS)) - 1]


def _always_refund(shop_id: str, order_status: str) -> str:
    return "refund"


class PaymentService:
    def __init__(self, db: Database, providers: Mapping[str, PaymentProvider], *,
                 public_url: str, now_ms: Callable[[], int],
                 excess_policy: ExcessPolicy = _always_refund, sweep_page: int = 500) -> None:
        self.db = db
        self.sweep_page = sweep_page  # rows a sweep of a whole table reads at a time
        self.repo = PaymentsRepository(db)
        self.providers = providers
        self.public_url = public_url.rstrip("/")
        self.now_ms = now_ms
        self.excess_policy = excess_policy
        self._numbers: dict[str, int] = {}
        self._number_lock = asyncio.Lock()
        self._locks: dict[str, list[Any]] = {}  # key → [lock, holders and waiters]

    # ---- orders ------------------------------------------------------------------------
    async def _allocate_number(self, shop_id: str) -> int:
        if self.db.dialect == "postgresql":
            # several servers may share the database: the counter row decides, never a
            # number cached here (SQLite has one process, and its memory is the truth)
            return await self.repo.next_order_number(shop_id)
        async with self._number_lock:
            if shop_id not in self._numbers:
                self._numbers[shop_id] = max(await self.repo.max_order_number(shop_id), 1000)
            self._numbers[shop_id] += 1
            return self._numbers[shop_id]

    async def place_order(self, writes: WriteSet, *, shop_id: str, channel: str, customer: str,
                          lines: Sequence[OrderLine], delivery: Money, address: str,
                          language: str, cash_on_delivery: bool = False) -> Order:
        """The order with prices snapshotted from the catalog; total computed here.

        ``cash_on_delivery``: placed ``awaiting_confirmation`` with its cash request
        (method ``cod``, provider ``cash``) open for the whole total; the cash is recorded
        against it at the door (:meth:`collect_cash`)."""
        if not lines:
            raise PaymentError("empty_order")
        currency = delivery.currency
        subtotal = Money.zero(currency)
        for line in lines:
            if line.quantity <= 0 or line.unit_price.currency != currency:
                raise PaymentError("bad_line")
            subtotal = subtotal + line.total
        total = subtotal + delivery
        number = await self._allocate_number(shop_id)
        now = self.now_ms()
        order = Order(id=order_key(shop_id, number), shop_id=shop_id, number=number,
                      channel=channel, customer=customer,
                      status=OrderStatus.AWAITING_CONFIRMATION if cash_on_delivery
                      else OrderStatus.PENDING_PAYMENT,
                      currency=currency, subtotal_minor=subtotal.minor,
                      delivery_minor=delivery.minor, tip_minor=0, total_minor=total.minor,
                      address=address, language=language, created_at=now, updated_at=now)
        self.repo.insert_order(writes, order, lines)
        self._post(writes, shop_id, postings_for_order(order.label, total), now)
        if cash_on_delivery:
            self.repo.insert_request(writes, PaymentRequest(
                id=_new_id("pr"), order_id=order.id, shop_id=shop_id, method=COD,
                provider=CASH_PROVIDER, provider_ref=None, token=secrets.token_urlsafe(24),
                status=PaymentStatus.ISSUED, amount_minor=total.minor, currency=currency,
                captured_minor=0, refunded_minor=0, upi_link="", link_url="", vpa=None,
                expires_at=NEVER_EXPIRES_MS, created_at=now))
        return order

    def _post(self, writes: WriteSet, shop_id: str, postings: list[Posting], now: int) -> None:
        if postings:
            check_balanced(postings)
            self.repo.insert_postings(writes, shop_id, postings, now)

    async def change_order(self, writes: WriteSet, order: Order,
                           event: OrderEvent) -> OrderStatus:
        """A merchant or shopper action on an order (ship, deliver, cancel, confirm, return).

        A cancel (or a COD order's return) closes every open request of the order in the same
        write set (their pages and QRs say so at once, provider links are cancelled by a
        durable job) and carries the order's money-version guard, so a capture committed
        meanwhile makes it conflict. Dispatching a COD order closes its prepaid links: the
        switch to prepaid is offered only before dispatch; the cash request stays open.
        """
        in_flight = False
        book: OrderBook | None = None
        if event in (OrderEvent.CANCEL, OrderEvent.RETURN) or (
                event is OrderEvent.SHIP and order.status is OrderStatus.CONFIRMED):
            # the status is the caller's (a turn may have moved it in its own write set);
            # the money version is read now, so money committed meanwhile makes this conflict
            fresh = await self.repo.order(order.id) or order
            book = await self.book(replace(order, money_version=fresh.money_version))
            in_flight = book.captured_all > 0
        new = order_transition(order.status, event, payment_in_flight=in_flight)
        if new != order.status:
            now = self.now_ms()
            self.repo.set_order_status(writes, order.id, order.status, new, now)
            if new in (OrderStatus.CANCELLED, OrderStatus.RETURNED):
                assert book is not None
                self.repo.bump_money_version(writes, order.id, book.order.money_version)
                build = postings_for_cancel if new is OrderStatus.CANCELLED \
                    else postings_for_return
                self._post(writes, order.shop_id, build(order.label, order.total), now)
                self._close_open_requests(writes, book, skip=None, now=now)
            elif event is OrderEvent.SHIP and book is not None:
                cash = book.cash_request
                self.repo.bump_money_version(writes, order.id, book.order.money_version)
                self._close_open_requests(writes, book, skip=cash.id if cash else None,
                                          now=now)
        return new

    async def collect_cash(self, order: Order, *, deliver: bool,
                           notify: Notify | None = None) -> PaymentUpdate | None:
        """The cash of a cash-on-delivery order was taken (``deliver ORD-…``, or ``paid
        ORD-…`` at the door): one capture on its cash request, for exactly what is due,
        applied like any provider event (stored once, ledger ``cash_in_hand`` against
        ``customer_receivable``, the order moved and the shopper told, in one commit).

        ``deliver``: a confirmed order not yet dispatched is handed over now (shipped and
        delivered); else cash taken before dispatch makes it ``paid``. None when there is no
        cash due (already recorded, not a COD order, paid by a prepaid method)."""
        fresh = await self.repo.order(order.id) or order
        book = await self.book(fresh)
        cash = book.cash_request
        due = book.cash_due
        if cash is None or due <= 0:
            return None
        if fresh.status is OrderStatus.AWAITING_CONFIRMATION:
            raise PaymentError("not_confirmed", f"{fresh.label} is not confirmed yet")
        if fresh.status not in CASH_DUE:
            raise PaymentError("order_closed", f"{fresh.label} is {fresh.status}")
        occurred = self.now_ms() // 1000
        if deliver and fresh.status is OrderStatus.CONFIRMED:
            writes = WriteSet()
            await self.change_order(writes, fresh, OrderEvent.SHIP)
            try:
                await self.db.write(writes)
            except Conflict:  # shipped (or cancelled) meanwhile: decide again on fresh rows
                return await self.collect_cash(order, deliver=False, notify=notify)
        event = ProviderEvent(
            provider=CASH_PROVIDER, event_id=f"cash:{cash.id}", kind=_K.CAPTURED,
            provider_ref=cash.id, amount=Money(due, fresh.currency), occurred_at=occurred,
            payment_id=f"cash:{fresh.label}", reference=cash.id, refs=(cash.id,))
        return await self.apply_event(CASH_PROVIDER, event, notify)

    def _close_open_requests(self, writes: WriteSet, book: OrderBook, *, skip: str | None,
                             now: int) -> tuple[PaymentRequest, ...]:
        """The order is paid or cancelled: no other request may still take money. Each
        gets a ``cancelled`` event (so later money on it is ``paid_after_close`` whatever
        its timestamp), and a link-cancel job when its provider can cancel links."""
        closed: list[PaymentRequest] = []
        for request in book.requests:
            state = book.states[request.id]
            if request.id == skip or request.method == "tip" or state.status not in OPEN_REQUEST:
                continue
            # our own event, stored under the request's id as every event is (insert_event)
            event = ProviderEvent(
                provider=request.provider, event_id=f"close:{request.id}",
                kind=_K.CANCELLED, provider_ref=request.id,
                amount=Money.zero(request.currency), occurred_at=now // 1000)
            self.repo.insert_event(writes, request, event, now)
            self.repo.update_request(writes, request.id, status=PaymentStatus.CANCELLED,
                                     captured=state.captured.minor,
                                     refunded=state.refunded.minor, now_ms=now)
            provider = self.providers.get(request.provider)
            if provider is not None and "cancel" in getattr(provider, "capabilities", ()) \
                    and request.provider_ref:
                self.repo.enqueue_link_cancel(writes, request, now)
            closed.append(replace(request, status=PaymentStatus.CANCELLED))
        return tuple(closed)

    # ---- what the flows read and write (they never reach into the repository) ------------
    async def order(self, order_id: str) -> Order | None:
        return await self.repo.order(order_id)

    async def orders(self, shop_id: str, *, customer: str | None = None,
                     statuses: Sequence[str] | None = None, limit: int = 50) -> list[Order]:
        return await self.repo.orders(shop_id, customer=customer, statuses=statuses,
                                      limit=limit)

    async def lines(self, order_id: str) -> list[OrderLine]:
        return await self.repo.lines(order_id)

    async def requests_for_order(self, order_id: str) -> list[PaymentRequest]:
        return await self.repo.requests_for_order(order_id)

    async def refunds_for_order(self, order_id: str) -> list[Refund]:
        return await self.repo.refunds_for_order(order_id)

    def cancel_unpaid(self, writes: WriteSet, order: Order, now_ms: int) -> None:
        """The order's only way to pay expired: cancelled (compare-and-set on its status),
        and its receivable reversed in the ledger."""
        self.repo.set_order_status(writes, order.id, order.status, OrderStatus.CANCELLED,
                                   now_ms)
        self._post(writes, order.shop_id, postings_for_cancel(order.label, order.total), now_ms)

    # ---- the book of one order ---------------------------------------------------------
    async def book(self, order: Order) -> OrderBook:
        """Everything money-related about one order, read fresh."""
        return (await self._book_and_events(order))[0]

    async def _book_and_events(self, order: Order
                               ) -> tuple[OrderBook, dict[str, list[ProviderEvent]]]:
        requests = await self.repo.requests_for_order(order.id)
        events = {r.id: await self.repo.events_for(r) for r in requests}
        states = {r.id: apply_events(r.amount, events[r.id]) for r in requests}
        refunds = await self.repo.refunds_for_order(order.id) if any(
            s.captured.minor for s in states.values()) else []
        return OrderBook(order, tuple(requests), states, tuple(refunds)), events

    # ---- asking for money --------------------------------------------------------------
    def account_of(self, request: PaymentRequest) -> str:
        """The ledger's clearing account of a request's money (``psp_clearing:<this>``): the
        provider's, or for a manual transfer the merchant's own wallet or bank account
        (``manual:bkash``), so each holds what was sent there."""
        provider = self.providers.get(request.provider)
        if provider is not None and "transfer" in provider.capabilities:
            return f"{request.provider}:{request.method}"
        return request.provider

    def _provider(self, name: str) -> PaymentProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise PaymentError("no_provider", f"payment provider {name!r} is not configured")
        return provider

    async def request_payment(self, writes: WriteSet, order: Order, *, method: str,
                              plan: PaymentPlan, amount: Money | None = None,
                              vpa: str | None = None, description: str = "",
                              customer_phone: str | None = None) -> PaymentRequest:
        """Create a link, UPI intent or collect at the provider, and the row that tracks it.

        ``method`` is ``upi_link``, ``payment_link``, ``collect`` or ``tip``. For the order
        itself the amount is what is still owed (a partial payment leaves the remainder
        only), and a request for an order that no longer waits for money is refused.
        """
        provider = self._provider(plan.provider_for(method))
        capability = "payment_link" if method == "tip" else (
            "transfer" if method in plan.transfers else method)
        if capability not in provider.capabilities and not (
                capability == "payment_link" and "upi_link" in provider.capabilities):
            raise PaymentError("unsupported", f"{plan.provider} cannot do {method}")
        money = await self._amount_to_ask(order, method, amount)
        request_id = _new_id("pr")
        token = secrets.token_urlsafe(24)  # 192 random bits
        now = self.now_ms()
        page = f"{self.public_url}/pay/{token}"
        try:
            if capability == "transfer":
                if not isinstance(provider, TakesTransfers):
                    raise PaymentError("unsupported", f"{provider.name} takes no transfers")
                expires = now + plan.transfers[method].expiry_minutes * 60_000
                transfer = await provider.create_transfer(TransferRequest(
                    request_id=request_id, reference=order.label, amount=money,
                    payee=plan.transfers[method], expire_by=expires // 1000))
                provider_ref, upi_uri, hosted = transfer.provider_ref, "", page
            elif method == "collect":
                if not vpa:
                    raise PaymentError("vpa_required")
                expires = now + plan.collect_expiry_minutes * 60_000
                collect = await provider.create_collect(CollectRequest(
                    reference=request_id, amount=money, vpa=vpa, description=description,
                    expiry_minutes=plan.collect_expiry_minutes, customer_phone=customer_phone))
                provider_ref, upi_uri, hosted = collect.provider_ref, "", page
            else:
                expires = now + plan.link_expiry_minutes * 60_000
                link = await provider.create_payment_link(LinkRequest(
                    reference=request_id, amount=money, description=description,
                    expire_by=expires // 1000, payee=plan.payee, callback_url=page,
                    customer_phone=customer_phone))
                provider_ref, upi_uri = link.provider_ref, link.upi_uri or ""
                # our page shows the QR of the UPI link; a PSP's own page serves card/netbanking
                # (a test PSP's "page" is a placeholder nobody can open). A tip is a link too:
                # with no UPI intent, the PSP's page is the only place it can be paid.
                hosted = link.url if (method in ("payment_link", "tip") and link.url
                                      and not upi_uri
                                      and "simulate" not in provider.capabilities) else page
        except ProviderError as exc:
            raise PaymentError("provider_failed", str(exc)) from exc
        request = PaymentRequest(
            id=request_id, order_id=order.id, shop_id=order.shop_id, method=method,
            provider=plan.provider_for(method), provider_ref=provider_ref, token=token,
            status=PaymentStatus.ISSUED, amount_minor=money.minor, currency=money.currency,
            captured_minor=0, refunded_minor=0, upi_link=upi_uri, link_url=hosted, vpa=vpa,
            expires_at=expires, created_at=now)
        self.repo.insert_request(writes, request)
        return request

    async def _amount_to_ask(self, order: Order, method: str, amount: Money | None) -> Money:
        """A tip's amount (the order total unless given); for the order, what is still
        owed or less, refused once it no longer waits for money."""
        if method != "tip":
            fresh = await self.repo.order(order.id) or order
            if fresh.status not in OPEN_FOR_PAYMENT:
                raise PaymentError("order_closed", f"{fresh.label} is {fresh.status}")
            owed = (await self.book(fresh)).outstanding
            if owed <= 0:
                raise PaymentError("already_paid")
            money = Money(owed, order.currency) if amount is None else amount
            if money.minor > owed:
                raise PaymentError("bad_amount", "more than is still owed")
        else:
            money = amount if amount is not None else order.total
        if money.minor <= 0:
            raise PaymentError("bad_amount")
        return money

    # ---- manual transfers --------------------------------------------------------------
    def _transfers(self, request: PaymentRequest) -> TakesTransfers | None:
        provider = self.providers.get(request.provider)
        if provider is not None and "transfer" in provider.capabilities and isinstance(
                provider, TakesTransfers):
            return provider
        return None

    def is_transfer(self, request: PaymentRequest) -> bool:
        """Whether ``request`` is a manual transfer (the merchant confirms it with ``paid``
        and sends any refund back from the account it reached)."""
        return self._transfers(request) is not None

    async def transfer_claims(self, request: PaymentRequest) -> list[str]:
        """The transaction ids the shopper gave for a manual transfer, first first."""
        if not self.is_transfer(request):
            return []
        return [(e.payment_id or "").removeprefix("claim:")
                for e in await self.repo.events_for(request)
                if e.kind is _K.AUTHORIZED and (e.payment_id or "").startswith("claim:")]

    async def record_transfer_claim(self, writes: WriteSet, request: PaymentRequest,
                                    transaction_id: str) -> bool:
        """Keep the shopper's transaction id against the request (an informational event:
        no money moves until the merchant confirms); False when it was already given."""
        provider = self._transfers(request)
        if provider is None:
            raise PaymentError("unsupported", "not a manual transfer")
        if transaction_id in await self.transfer_claims(request):
            return False
        now = self.now_ms()
        event = provider.claim_event(request.id, request.amount, transaction_id,
                                     occurred_at=now // 1000)
        self.repo.insert_event(writes, request, event, now)
        return True

    def transfer_confirmation(self, request: PaymentRequest, amount: Money,
                              transaction_id: str | None, now_ms: int) -> ProviderEvent | None:
        """The capture event for the merchant's ``paid`` on a manual transfer (None when the
        request is not one): its id is deterministic, so the same command twice is one."""
        provider = self._transfers(request)
        if provider is None:
            return None
        return provider.confirm_event(request.id, amount, transaction_id,
                                      occurred_at=now_ms // 1000)

    # ---- applying provider events ------------------------------------------------------
    @asynccontextmanager
    async def locked(self, key: str) -> AsyncIterator[None]:
        """The in-process half of the per-order guard (the other half is the version CAS).
        The lock is dropped only when nobody holds or waits for it: dropping it while a
        waiter was being woken would let a newcomer take a fresh lock beside it."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0 and self._locks.get(key) is entry:
                del self._locks[key]

    async def apply_event(self, provider_name: str, event: ProviderEvent,
                          notify: Notify | None = None) -> PaymentUpdate | None:
        """Store and apply one event exactly once; None for a duplicate or an orphan."""
        request = await self.repo.request_for_event(provider_name, event)
        if request is None:
            log.warning("payment event %s/%s matches no payment request; kept for reconcile",
                        provider_name, event.kind)
            await self._keep_orphan(provider_name, event)
            return None
        update: PaymentUpdate | None = None
        reserved: list[Refund] = []
        for _attempt in range(_ATTEMPTS):
            async with self.locked(request.order_id):
                if await self.repo.has_event(provider_name, event.event_id):
                    return None
                try:
                    update, reserved = await self._apply_locked(request.order_id, request.id,
                                                                event, notify)
                except Conflict:
                    continue  # a concurrent delivery or another process: read again
                break
        else:
            raise Conflict(f"order {request.order_id} kept moving; event left for a redelivery")
        if update is None:
            return None
        await self._after_commit(update, reserved, notify)
        return update

    async def _after_commit(self, update: PaymentUpdate, reserved: Sequence[Refund],
                            notify: Notify | None) -> None:
        if update.closed:
            await self.run_link_cancels()
        for refund in reserved:
            await self._send_refund(refund, notify)
        after_commit = getattr(notify, "after_commit", None)
        if after_commit is not None:
            await after_commit(update)

    async def _apply_locked(self, order_id: str, request_id: str, event: ProviderEvent,
                            notify: Notify | None) -> tuple[PaymentUpdate | None, list[Refund]]:
        order = await self.repo.order(order_id)
        if order is None:  # pragma: no cover - foreign keys make this impossible
            return None, []
        book, events = await self._book_and_events(order)
        request = next(r for r in book.requests if r.id == request_id)
        history = events[request.id]
        before = book.states[request.id]
        reason = mismatch(request, event)
        if reason is not None:  # another currency or an amount never asked for: alert only
            await self._reject(request, order, event, before, reason, notify)
            return None, []
        if event.kind is _K.CAPTURED and before.closed_at is not None and \
                event.occurred_at <= before.closed_at:
            # it arrived after we closed the request: late whatever its own timestamp says
            event = replace(event, occurred_at=before.closed_at + 1)
        after = apply_events(request.amount, [*history, event])
        if _accepted_then_closed(order, before, after, event):
            # we already took this money as paid in time and told the shopper and the
            # merchant so (the order may have shipped); a close the PSP reports late,
            # dated before the capture, is recorded but does not turn it into late money
            after = replace(after, status=before.status,
                            captured_after_close=before.captured_after_close)
        now = self.now_ms()
        writes = WriteSet()
        self.repo.bump_money_version(writes, order.id, order.money_version)
        self.repo.insert_event(writes, request, event, now)
        self.repo.update_request(writes, request.id, status=after.status,
                                 captured=after.captured.minor,
                                 refunded=after.refunded.minor, now_ms=now)
        self._ledger_for(writes, request, order, before, after, now)
        states = {**book.states, request.id: after}
        refunds, settled, provider_refund = self._refund_rows_for_event(
            writes, book, request, event, before, after, now, history=history)
        mid = replace(book, states=states, refunds=tuple(refunds))
        status = order.status
        new_status = self._order_after(status, request, mid)
        closed: tuple[PaymentRequest, ...] = ()
        if new_status is not status:
            self.repo.set_order_status(writes, order.id, order.status, new_status, now)
        if new_status not in OPEN_FOR_PAYMENT:
            # a shipped cash-on-delivery order still takes its cash at the door: as at the
            # ship step (change_order), its cash request stays open whatever else arrives
            cash = mid.cash_request
            keep = cash.id if cash is not None and new_status in CASH_DUE else None
            closed = self._close_open_requests(writes, mid, skip=keep, now=now)
        final = replace(mid, order=replace(order, status=new_status))
        policy = self.excess_policy(order.shop_id, str(new_status))
        reserved: list[Refund] = []
        if final.excess > book.excess and policy == "refund":
            reserved = self._reserve(writes, final, final.allocate(None, excess_only=True),
                                     reason="excess", now=now)
        update = PaymentUpdate(
            request=replace(request, status=after.status,
                            captured_minor=after.captured.minor,
                            refunded_minor=after.refunded.minor),
            order=order, event=event, before=before, after=after,
            order_status_before=order.status, order_status_after=str(new_status),
            excess_before=book.money(book.excess), excess_after=final.money(final.excess),
            excess_policy=policy, closed=closed, provider_refund=provider_refund,
            refund=settled)
        if notify is not None:
            await notify(update, writes)
        await self.db.write(writes)
        return update, reserved

    def _refund_rows_for_event(self, writes: WriteSet, book: OrderBook,
                               request: PaymentRequest, event: ProviderEvent,
                               before: PaymentState, after: PaymentState, now: int, *,
                               history: Sequence[ProviderEvent]
                               ) -> tuple[list[Refund], Refund | None, Money | None]:
        """Keep ``refunds`` true to a refund event: ours moves to processed or failed; one
        the provider made by itself becomes a processed row (its liability posted too).
        A capture that makes an earlier-delivered provider refund count (its webhook came
        first) books that refund now, as if it had just arrived."""
        if event.kind is _K.CAPTURED:
            return self._refunds_the_capture_counts(writes, book, request, event, before,
                                                    after, now, history)
        refunds = list(book.refunds)
        if event.kind not in (_K.REFUNDED, _K.REFUND_FAILED) or not event.refund_id:
            return refunds, None, None
        ours = next((r for r in refunds if r.provider_ref == event.refund_id), None)
        if ours is None and event.kind is _K.REFUNDED:
            # our own refund whose answer we have not recorded yet (the webhook was faster)
            ours = next((r for r in refunds if r.provider_ref is None
                         and r.payment_request_id == request.id
                         and r.payment_id == (event.payment_id or r.payment_id)
                         and r.amount_minor == event.amount.minor
                         and r.status == RefundStatus.REQUESTED), None)
        if ours is not None:
            target = RefundEvent.PROCESSED if event.kind is _K.REFUNDED else RefundEvent.FAILED
            current = ours.status
            try:
                new = refund_transition(current, target)
            except ValueError:
                return refunds, ours, None
            if new is current:
                return refunds, ours, None
            fields: dict[str, Any] = {"provider_ref": event.refund_id}
            if new is RefundStatus.FAILED:
                fields.update(next_attempt_at=now + backoff_ms(ours.attempts),
                              attempt_key=f"{ours.id}-{ours.attempts + 1}",
                              last_error="refund.failed from the provider")
            self.repo.update_refund(writes, ours.id, expected=current, status=new, now_ms=now,
                                    **fields)
            moved = replace(ours, status=new, provider_ref=event.refund_id,
                            **{k: v for k, v in fields.items() if k != "provider_ref"})
            refunds = [moved if r.id == ours.id else r for r in refunds]
            return refunds, moved, None
        refunded = _money_delta(before.refunded, after.refunded)
        if event.kind is not _K.REFUNDED or refunded.minor <= 0:
            return refunds, None, None
        return self._provider_refund_row(writes, book, request, event, refunded, refunds,
                                         now), None, refunded

    def _refunds_the_capture_counts(self, writes: WriteSet, book: OrderBook,
                                    request: PaymentRequest, event: ProviderEvent,
                                    before: PaymentState, after: PaymentState, now: int,
                                    history: Sequence[ProviderEvent]
                                    ) -> tuple[list[Refund], Refund | None, Money | None]:
        """Provider refunds delivered before their capture, booked once it counts them."""
        refunds = list(book.refunds)
        refunded = _money_delta(before.refunded, after.refunded)
        left = refunded.minor
        known = {r.provider_ref for r in refunds if r.provider_ref}
        # the request's state counts refunds against everything it captured, so a refund of
        # another payment of the same link may count now too: this payment's own first
        for early in sorted(history, key=lambda e: bool(
                e.payment_id and event.payment_id and e.payment_id != event.payment_id)):
            if left <= 0:
                break
            if early.kind is not _K.REFUNDED or not early.refund_id or \
                    early.refund_id in known:
                continue
            take = Money(min(left, early.amount.minor), refunded.currency)
            known.add(early.refund_id)
            refunds = self._provider_refund_row(
                writes, replace(book, states={**book.states, request.id: after},
                                refunds=tuple(refunds)), request,
                replace(early, payment_id=early.payment_id or event.payment_id), take,
                refunds, now)
            left -= take.minor
        if left == refunded.minor:
            return refunds, None, None
        return refunds, None, Money(refunded.minor - left, refunded.currency)

    def _provider_refund_row(self, writes: WriteSet, book: OrderBook,
                             request: PaymentRequest, event: ProviderEvent, refunded: Money,
                             refunds: list[Refund], now: int) -> list[Refund]:
        """The provider refunded by itself (dashboard, dispute): record it as processed,
        one row per account it gives back from, as our own refunds are split (the excess
        first, then the sale: a refund larger than the excess gives back part of the sale)."""
        if request.method == "tip":
            parts = [(refunded.minor, str(Account.TIPS))]
        else:
            allocation = book.allocate(refunded.minor, payment_id=event.payment_id) or \
                book.allocate(refunded.minor)
            parts = [(a.amount, a.against) for a in allocation] or \
                [(refunded.minor, str(Account.MERCHANT_REVENUE))]
            # more than the book lets go of (a capture not counted yet): the rest with the
            # last part, so the rows always add up to what the provider paid out
            last_amount, last_against = parts[-1]
            parts[-1] = (last_amount + refunded.minor - sum(a for a, _ in parts), last_against)
        for amount, against in parts:
            row = Refund(id=_new_id("rf"), payment_request_id=request.id,
                         amount_minor=amount, currency=refunded.currency,
                         status=RefundStatus.PROCESSED, provider_ref=event.refund_id,
                         reason="provider", created_at=now, order_id=book.order.id,
                         payment_id=event.payment_id or "", against=against, attempts=0,
                         attempt_key="", next_attempt_at=0, last_error="", updated_at=now)
            self.repo.insert_refund(writes, row)
            # the requested stage moves revenue (or the shopper's credit) to
            # refunds_payable; the payout from the provider's clearing is the refund
            # event's own posting
            self._post(writes, book.order.shop_id, postings_for_refund(
                book.order.label, Money(amount, refunded.currency), refund_id=row.id,
                stage=RefundStatus.REQUESTED, against=against), now)
            refunds = [*refunds, row]
        # our own unsent refunds of the same payment that no longer fit are superseded:
        # never sent again, their liability reversed (the provider already paid it out)
        captured = next((c.amount for c in book.captures()
                         if c.payment_id == event.payment_id), 0)
        committed = sum(r.amount_minor for r in refunds if r.payment_id == event.payment_id
                        and r.status in REFUND_COMMITTED)
        for other in sorted(refunds, key=lambda r: -r.created_at):
            if committed <= captured:
                break
            state = other.status
            if other.payment_id != event.payment_id or state not in (RefundStatus.FAILED,
                                                                     RefundStatus.REQUESTED):
                continue
            new = refund_transition(state, RefundEvent.SUPERSEDE)
            self.repo.update_refund(writes, other.id, expected=state, status=new, now_ms=now,
                                    next_attempt_at=0)
            self._post(writes, book.order.shop_id, [
                Posting(p.account, p.credit, p.debit, p.currency, p.ref + ":superseded")
                for p in postings_for_refund(book.order.label, other.amount,
                                             refund_id=other.id, stage=RefundStatus.REQUESTED,
                                             against=other.against)], now)
            committed -= other.amount_minor
            refunds = [replace(r, status=new) if r.id == other.id else r
                       for r in refunds]
        return refunds

    @staticmethod
    def _order_after(status: OrderStatus, request: PaymentRequest, book: OrderBook
                     ) -> OrderStatus:
        if status is OrderStatus.SHIPPED and request.method == COD and \
                book.captured > 0 and book.held >= book.keep:
            # the cash of a cash-on-delivery order, taken at the door
            return order_transition(status, OrderEvent.CASH_COLLECTED)
        if status in OPEN_FOR_PAYMENT and request.method != "tip" and \
                book.captured > 0 and book.held >= book.keep:
            # money in time, or late but the order is still waiting for it: accept it, then
            # what the provider already gave back of it (its refund's webhook came first)
            # moves it on as it would have after the payment: partly or wholly refunded
            status = order_transition(status, OrderEvent.PAYMENT_RECEIVED)
        if (status in KEEPS_SALE or status is OrderStatus.REFUND_PENDING) and \
                book.money_out and not any(
                    r.status != RefundStatus.PROCESSED for r in book.live_refunds):
            return order_transition(status, OrderEvent.REFUND_COMPLETED)
        if status is OrderStatus.PAID and book.sale_refunded > 0:
            # the provider gave back part of the sale by itself: shown, still shippable
            return order_transition(status, OrderEvent.PARTIAL_REFUND)
        return status

    async def _reject(self, request: PaymentRequest, order: Order, event: ProviderEvent,
                      state: PaymentState, reason: str, notify: Notify | None) -> None:
        """Store the event as rejected and alert the merchant, in one transaction."""
        log.warning("payment event %s/%s rejected for %s: %s", event.provider,
                    event.kind.value, order.label, reason)
        writes = WriteSet()
        self.repo.insert_rejected_event(writes, request, event, reason, self.now_ms())
        if notify is not None:
            await notify(PaymentUpdate(
                request=request, order=order, event=event, before=state, after=state,
                order_status_before=order.status, order_status_after=order.status,
                rejected=reason), writes)
        # a Conflict: a concurrent delivery of the same event stored (and alerted) it
        with contextlib.suppress(Conflict):
            await self.db.write(writes)

    async def _keep_orphan(self, provider_name: str, event: ProviderEvent) -> None:
        writes = WriteSet()
        self.repo.insert_orphan_event(writes, provider_name, event, self.now_ms())
        await self.db.write(writes)

    def _ledger_for(self, writes: WriteSet, request: PaymentRequest, order: Order,
                    before: PaymentState, after: PaymentState, now: int) -> None:
        postings: list[Posting] = []
        captured = _money_delta(before.captured, after.captured)
        if captured.minor > 0:
            build = postings_for_tip if request.method == "tip" else postings_for_capture
            postings += build(order.label, captured, provider=self.account_of(request),
                              payment_id=request.id)
        elif captured.minor < 0:  # a reclassification between two event sets: reverse it
            build = postings_for_tip if request.method == "tip" else postings_for_capture
            postings += [Posting(p.account, p.credit, p.debit, p.currency, p.ref + ":rev")
                         for p in build(order.label, -captured, provider=self.account_of(request),
                                        payment_id=request.id)]
        refunded = _money_delta(before.refunded, after.refunded)
        if refunded.minor > 0:
            postings += postings_for_refund(order.label, refunded,
                                            provider=self.account_of(request),
                                            refund_id=request.id, stage=RefundStatus.PROCESSED)
        self._post(writes, order.shop_id, postings, now)

    # ---- expiry ------------------------------------------------------------------------
    async def expire_due(self, notify: Notify | None = None) -> list[PaymentUpdate]:
        """Close every open request past its expiry (one synthetic, idempotent event each)."""
        updates = []
        for request in await self.repo.open_requests(before_ms=self.now_ms()):
            if await self.transfer_claims(request):
                continue  # the shopper says they sent it: the merchant confirms or cancels
            event = ProviderEvent(
                provider=request.provider, event_id=f"expiry:{request.id}",
                kind=PaymentEventKind.EXPIRED, provider_ref=request.provider_ref or request.id,
                amount=Money.zero(request.currency), occurred_at=request.expires_at // 1000,
                reference=request.id, refs=(request.id,))
            update = await self.apply_event(request.provider, event, notify)
            if update is not None:
                updates.append(update)
        return updates

    # ---- refunds -----------------------------------------------------------------------
    def _reserve(self, writes: WriteSet, book: OrderBook, allocations: Sequence[Allocation],
                 *, reason: str, now: int, manual: str | None = None,
                 first: int = 0) -> list[Refund]:
        """Refund rows (``requested``) and their liability, in the caller's write set: the
        reservation counts against every later refund before any provider is asked.
        ``manual``: the merchant already paid it back by hand; the rows carry that
        reference (``manual:REF:n``, n from ``first``) and are never sent to a provider."""
        rows: list[Refund] = []
        for n, part in enumerate(allocations, start=first):
            capture = part.capture
            amount = Money(part.amount, capture.request.currency)
            row = Refund(id=_new_id("rf"), payment_request_id=capture.request.id,
                         amount_minor=amount.minor, currency=amount.currency,
                         status=RefundStatus.REQUESTED,
                         provider_ref=None if manual is None else f"{manual}:{n}",
                         reason=reason, created_at=now, order_id=book.order.id,
                         payment_id=capture.payment_id, against=part.against, attempts=0,
                         attempt_key="", next_attempt_at=0 if manual else now + REFUND_LEASE_MS,
                         last_error="", updated_at=now)
            self.repo.insert_refund(writes, row)
            self._post(writes, book.order.shop_id, postings_for_refund(
                book.order.label, amount, refund_id=row.id, stage=RefundStatus.REQUESTED,
                against=part.against), now)
            rows.append(row)
        return rows

    def _order_after_refund(self, writes: WriteSet, book: OrderBook,
                            reserved: Sequence[Refund], *, full: bool, now: int) -> None:
        """Moves the order once ``reserved`` counts: a full refund closes it
        (refund_pending → refunded); one that gives back part of the sale makes a paid order
        ``partially_refunded``, still shippable; refunds of excess money move nothing."""
        status = book.order.status
        after = replace(book, refunds=(*book.refunds, *reserved))
        new = status
        if full and status in KEEPS_SALE:
            new = order_transition(status, OrderEvent.REFUND_REQUESTED)
        elif after.sale_refunded > 0 and status in KEEPS_SALE:
            new = order_transition(status, OrderEvent.PARTIAL_REFUND)
        if new is not status:
            self.repo.set_order_status(writes, book.order.id, book.order.status, new, now)

    async def refundable(self, order: Order) -> int:
        """What may still be refunded, in minor units (reserved refunds counted)."""
        return (await self.book(order)).refundable_total()

    async def refund(self, order: Order, amount: Money | None = None, *, reason: str = "",
                     notify: Notify | None = None, excess_only: bool = False,
                     payment_id: str | None = None) -> Money:
        """Refund up to what was captured; returns the amount reserved and sent."""
        return (await self.refund_order(order, amount, reason=reason, notify=notify,
                                        excess_only=excess_only, payment_id=payment_id)).amount

    async def refund_order(self, order: Order, amount: Money | None = None, *,
                           reason: str = "", notify: Notify | None = None,
                           excess_only: bool = False, payment_id: str | None = None
                           ) -> RefundResult:
        """Reserve under the order's guard, then ask the provider for each part.

        ``excess_only``: exactly what the order holds beyond its total (late money, a second
        payment). ``payment_id``: only that payment. A full refund (everything the order
        may give back, tips too) moves the order to ``refund_pending``.
        """
        reserved: list[Refund] = []
        wanted = 0
        for _attempt in range(_ATTEMPTS):
            async with self.locked(order.id):
                fresh = await self.repo.order(order.id) or order
                book = await self.book(fresh)
                if payment_id is not None and not any(
                        c.payment_id == payment_id for c in book.captures()):
                    raise PaymentError("unknown_payment", f"no payment {payment_id} on "
                                                          f"{fresh.label}")
                everything = book.allocate(None, excess_only=excess_only,
                                           payment_id=payment_id)
                available = sum(a.amount for a in everything)
                if available <= 0:
                    raise PaymentError("nothing_to_refund")
                wanted = available if amount is None else amount.minor
                if wanted <= 0 or wanted > available:
                    raise PaymentError("refund_too_large",
                                       f"at most {book.money(available).format()}")
                parts = everything if wanted == available else book.allocate(
                    wanted, excess_only=excess_only, payment_id=payment_id)
                now = self.now_ms()
                writes = WriteSet()
                self.repo.bump_money_version(writes, fresh.id, fresh.money_version)
                reserved = self._reserve(writes, book, parts, reason=reason or "merchant",
                                         now=now)
                self._order_after_refund(writes, book, reserved, full=(
                    not excess_only and wanted == book.refundable_total()), now=now)
                try:
                    await self.db.write(writes)
                except Conflict:
                    continue
                break
        else:
            raise PaymentError("busy", "the order kept changing; try again")
        sent = [await self._send_refund(row, notify) for row in reserved]
        return RefundResult(Money(wanted, order.currency), tuple(sent))

    async def _send_refund(self, row: Refund, notify: Notify | None) -> Refund:
        """One provider call for one refund row, and its outcome recorded. Claims the row
        first (attempts is the compare-and-set), so two workers never both send it."""
        now = self.now_ms()
        current = row.status
        claim = WriteSet()
        key = row.attempt_key or row.id
        manual = False
        attempts = row.attempts + 1
        status = refund_transition(current, RefundEvent.RETRY) \
            if current is RefundStatus.FAILED else current
        if status is not RefundStatus.REQUESTED:
            return row
        self.repo.claim_refund(claim, row, status=status, attempt_key=key,
                               lease_until=now + REFUND_LEASE_MS, now_ms=now)
        try:
            await self.db.write(claim)
        except Conflict:
            return await self.repo.refund(row.id) or row
        row = replace(row, status=status, attempts=attempts, attempt_key=key)
        request = await self.repo.request(row.payment_request_id)
        assert request is not None
        try:
            if request.provider == CASH_PROVIDER:
                raise Unsupported("cash on delivery is refunded by hand")
            provider = self._provider(request.provider)
            result: ProviderRefund | None = await provider.refund(
                row.payment_id, row.amount, idempotency_key=key)
            error = ""
        except Unsupported as exc:
            result, error, manual = None, str(exc)[:200], True
        except (ProviderError, PaymentError) as exc:
            result, error, manual = None, str(exc)[:200], False
        if result is None or result.status == RefundStatus.FAILED:
            definitive = result is not None
            retry_at = 0 if (result is None and manual) else now + backoff_ms(attempts)
            return await self._refund_failed(
                row, error or "the provider answered failed", retry_at=retry_at,
                next_key=f"{row.id}-{attempts}" if definitive else key, notify=notify)
        accepted = await self._refund_move(row, RefundEvent.ACCEPTED, notify,
                                           provider_ref=result.refund_id,
                                           quiet=result.status == RefundStatus.PROCESSED)
        if result.status == RefundStatus.PROCESSED and accepted.status == RefundStatus.PENDING:
            # the provider answered synchronously: apply it as the event it is
            await self._refund_event(request, row, result.refund_id, _K.REFUNDED,
                                     f"refund:{result.refund_id}", notify)
        return await self.repo.refund(row.id) or accepted

    async def _refund_event(self, request: PaymentRequest, row: Refund, refund_id: str,
                            kind: PaymentEventKind, event_id: str, notify: Notify | None
                            ) -> PaymentUpdate | None:
        """Apply what we learnt about one refund row (an answer, a poll, the merchant's
        word) as the provider event it is, so its request, row, ledger and order move in
        one commit. A refund comes after the capture it returns, even when the PSP dated
        that capture ahead of our clock (a late capture is dated after the expiry)."""
        history = await self.repo.events_for(request)
        occurred = max([self.now_ms() // 1000, *(e.occurred_at + 1 for e in history)])
        return await self.apply_event(request.provider, ProviderEvent(
            provider=request.provider, event_id=event_id, kind=kind,
            provider_ref=request.provider_ref or request.id, amount=row.amount,
            occurred_at=occurred, payment_id=row.payment_id, refund_id=refund_id,
            reference=request.id, refs=(request.id,)), notify)

    # ---- refunds made by hand (no provider can refund: upi_intent) ---------------------
    def can_refund(self, provider_name: str) -> bool:
        """The provider has a refund API (else the merchant refunds by hand)."""
        provider = self.providers.get(provider_name)
        return provider is not None and "refund" in provider.capabilities

    async def record_manual_refund(self, order: Order, amount: Money, reference: str, *,
                                   notify: Notify | None = None) -> RefundResult:
        """The merchant paid ``amount`` back by hand (their UPI app) under ``reference``
        (the UPI transaction id): book it, so refunds, ledger and order say so.

        Refunds already owed and never sendable (late money, a ``refund`` on a shop whose
        provider cannot refund) are settled first, whole; the rest is reserved like any
        refund, under the order's guard, so it never exceeds what was captured. Only
        payments whose provider has no refund API can be refunded this way. The same
        reference again is the same refund (a repeat, or finishing one cut short).
        """
        if not _MANUAL_REF.fullmatch(reference):
            raise PaymentError("bad_reference", "a UPI reference is 4-40 letters or digits")
        if amount.minor <= 0 or amount.currency != order.currency:
            raise PaymentError("bad_amount")
        key = f"manual:{reference}"
        rows: list[Refund] = []
        for _attempt in range(_ATTEMPTS):
            async with self.locked(order.id):
                fresh = await self.repo.order(order.id) or order
                book = await self.book(fresh)
                known = [r for r in book.refunds
                         if (r.provider_ref or "").startswith(key + ":")]
                if known:
                    if sum(r.amount_minor for r in known) != amount.minor:
                        raise PaymentError("reference_used",
                                           f"{reference} is already booked for another amount")
                    rows = known
                    break
                settle, parts, left = self._manual_split(book, amount)
                now = self.now_ms()
                writes = WriteSet()
                self.repo.bump_money_version(writes, fresh.id, fresh.money_version)
                for n, row in enumerate(settle):
                    self.repo.update_refund(writes, row.id, expected=row.status,
                                            status=row.status, now_ms=now,
                                            provider_ref=f"{key}:{n}", next_attempt_at=0)
                settled = [replace(r, provider_ref=f"{key}:{n}", next_attempt_at=0)
                           for n, r in enumerate(settle)]
                reserved = self._reserve(writes, book, parts, reason="manual", now=now,
                                         manual=key, first=len(settle))
                self._order_after_refund(writes, book, reserved, full=(
                    bool(parts) and left == book.refundable_total()), now=now)
                try:
                    await self.db.write(writes)
                except Conflict:
                    continue
                rows = [*settled, *reserved]
                break
        else:
            raise PaymentError("busy", "the order kept changing; try again")
        done: list[Refund] = []
        for row in rows:
            if row.status != RefundStatus.PROCESSED:
                request = await self.repo.request(row.payment_request_id)
                assert request is not None
                await self._refund_event(request, row, str(row.provider_ref), _K.REFUNDED,
                                         f"refund:{row.id}", notify)
            done.append(await self.repo.refund(row.id) or row)
        return RefundResult(amount, tuple(done))

    def _manual_split(self, book: OrderBook, amount: Money
                      ) -> tuple[list[Refund], list[Allocation], int]:
        """A refund by hand: the owed rows it settles whole (oldest first), the payments
        the rest is taken from, and that rest; refused when it is too large, nothing, or
        money a provider would refund by itself."""
        provider_of = {r.id: r.provider for r in book.requests}
        owed = [r for r in book.live_refunds
                if r.status in (RefundStatus.REQUESTED, RefundStatus.FAILED)
                and not self.can_refund(provider_of[r.payment_request_id])
                and not (r.provider_ref or "").startswith("manual:")]
        settle: list[Refund] = []
        left = amount.minor
        for row in owed:
            if row.amount_minor <= left:
                settle.append(row)
                left -= row.amount_minor
        parts = book.allocate(left) if left else []
        if sum(a.amount for a in parts) != left:
            room = book.refundable_total() + amount.minor - left
            raise PaymentError("refund_too_large",
                               f"at most {book.money(room).format()} can be refunded")
        if not settle and not parts:
            raise PaymentError("nothing_to_refund")
        if any(self.can_refund(a.capture.request.provider) for a in parts):
            raise PaymentError("provider_refunds", "this order was paid through a "
                               "provider that refunds by itself: use refund")
        return settle, parts, left

    # ---- refunds still pending at the provider -----------------------------------------
    async def poll_refunds(self, notify: Notify | None = None) -> dict[str, int]:
        """Ask the provider about every refund it accepted but has not finished, and settle
        those it now calls processed or failed (a failed one is retried with backoff), in
        case its webhook never came. Counts: asked, settled, unreachable."""
        report = {"refunds_polled": 0, "refunds_settled": 0, "refunds_unreachable": 0}
        async for row in self._pending_refunds():
            request = await self.repo.request(row.payment_request_id)
            provider = self.providers.get(request.provider) if request else None
            if request is None or not isinstance(provider, FetchesRefunds) or \
                    not row.provider_ref:
                continue
            report["refunds_polled"] += 1
            try:
                answer = await provider.fetch_refund(row.payment_id, row.provider_ref)
            except ProviderError:
                report["refunds_unreachable"] += 1
                continue
            kind = {"processed": _K.REFUNDED, "failed": _K.REFUND_FAILED}.get(answer.status)
            if kind is None:
                continue  # still pending: it keeps counting against the cap
            update = await self._refund_event(request, row, row.provider_ref, kind,
                                              f"fetch:{row.provider_ref}:{answer.status}",
                                              notify)
            if update is not None:
                report["refunds_settled"] += 1
        return report

    async def _pending_refunds(self) -> AsyncIterator[Refund]:
        """Every pending refund, a page at a time: those the provider keeps pending (or cannot
        be reached about) stay first by age, and a single page would ask only them forever."""
        after: tuple[int, str] | None = None
        while page := await self.repo.pending_refunds(limit=self.sweep_page, after=after):
            for row in page:
                yield row
            if len(page) < self.sweep_page:
                return
            after = (page[-1].updated_at, page[-1].id)

    async def _refund_move(self, row: Refund, event: RefundEvent, notify: Notify | None, *,
                           provider_ref: str | None = None, quiet: bool = False,
                           retry_at: int | None = None, next_key: str | None = None,
                           error: str | None = None) -> Refund:
        """Move one refund row (compare-and-set) and tell whoever must know, in one commit."""
        for _attempt in range(_ATTEMPTS):
            fresh = await self.repo.refund(row.id) or row
            current = fresh.status
            try:
                new = refund_transition(current, event)
            except ValueError:
                return fresh  # it moved further meanwhile (a webhook got there first)
            order = await self.repo.order(fresh.order_id)
            if order is None:  # pragma: no cover - foreign key
                return fresh
            now = self.now_ms()
            writes = WriteSet()
            next_at = (retry_at if retry_at is not None else
                       0 if new is not RefundStatus.REQUESTED else None)
            self.repo.update_refund(writes, fresh.id, expected=current, status=new, now_ms=now,
                                    provider_ref=provider_ref, next_attempt_at=next_at,
                                    attempt_key=next_key, last_error=error)
            moved = replace(fresh, status=new,
                            provider_ref=provider_ref or fresh.provider_ref,
                            next_attempt_at=fresh.next_attempt_at if next_at is None
                            else next_at, last_error=error or fresh.last_error,
                            attempt_key=next_key or fresh.attempt_key, updated_at=now)
            refund_changed = getattr(notify, "refund_changed", None)
            if refund_changed is not None and not quiet and new is not current:
                await refund_changed(RefundUpdate(order, moved, current, new,
                                                  retry_at=retry_at or 0), writes)
            try:
                await self.db.write(writes)
            except Conflict:
                continue
            return moved
        return await self.repo.refund(row.id) or row

    async def _refund_failed(self, row: Refund, error: str, *, retry_at: int, next_key: str,
                             notify: Notify | None) -> Refund:
        log.warning("refund %s failed at the provider (attempt %d); retry %s", row.id,
                    row.attempts, "scheduled" if retry_at else "needs the merchant")
        return await self._refund_move(row, RefundEvent.FAILED, notify, retry_at=retry_at,
                                       next_key=next_key, error=error)

    async def retry_refunds(self, notify: Notify | None = None) -> int:
        """The durable retry: every refund never sent (a crash) or failed with its backoff
        elapsed is sent again. Returns how many were tried."""
        due = await self.repo.due_refunds(self.now_ms())
        for row in due:
            await self._send_refund(row, notify)
        return len(due)

    # ---- provider links ----------------------------------------------------------------
    async def run_link_cancels(self, notify: Notify | None = None) -> int:
        """Cancel, at their provider, the links of requests we closed (durable jobs)."""
        done = 0
        for key, request_id in await self.repo.due_link_cancels(self.now_ms()):
            request = await self.repo.request(request_id)
            provider = self.providers.get(request.provider) if request else None
            writes = WriteSet()
            cancel = getattr(provider, "cancel_link", None)
            if request is None or cancel is None or not request.provider_ref:
                self.repo.finish_job(writes, key, JobStatus.CANCELLED)
            else:
                try:
                    await cancel(request.provider_ref)
                    self.repo.finish_job(writes, key)
                    done += 1
                except NotCancellable:
                    # paid, partially paid or expired at the PSP: nothing more to cancel.
                    # Money it took is booked now (paid after close, handed back), not
                    # left to a webhook that may be lost: reconcile never looks again at
                    # a closed request with nothing captured. Unreachable: try again.
                    assert provider is not None  # it has cancel_link
                    if await self._book_what_the_link_took(request, provider, notify):
                        self.repo.finish_job(writes, key, JobStatus.CANCELLED)
                    else:
                        self.repo.postpone_job(writes, key, self.now_ms() + 60_000)
                except ProviderError:
                    self.repo.postpone_job(writes, key, self.now_ms() + 60_000)
            try:
                await self.db.write(writes)
            except Conflict:
                continue
        return done

    async def _book_what_the_link_took(self, request: PaymentRequest,
                                       provider: PaymentProvider, notify: Notify | None
                                       ) -> bool:
        """Apply what the provider reports for a link past cancelling; False when it
        cannot be asked now."""
        if "fetch" not in provider.capabilities or not request.provider_ref:
            return True
        try:
            events = await provider.fetch(request.provider_ref)
        except ProviderError:
            return False
        for event in events:
            await self.apply_event(request.provider, event, notify)
        return True

    # ---- reconcile ---------------------------------------------------------------------
    async def reconcile(self, notify: Notify | None = None) -> dict[str, int]:
        """Re-fetch requests from their providers (open ones, and paid ones whose money a
        provider may have refunded by itself) and apply whatever we missed."""
        report = {"checked": 0, "applied": 0, "unreachable": 0}
        for request in await self.repo.reconcilable_requests():
            provider = self.providers.get(request.provider)
            if provider is None or "fetch" not in provider.capabilities or \
                    not request.provider_ref:
                continue
            report["checked"] += 1
            try:
                events = await provider.fetch(request.provider_ref)
            except ProviderError:
                report["unreachable"] += 1
                continue
            for event in events:
                if await self.apply_event(request.provider, event, notify) is not None:
                    report["applied"] += 1
        report.update(await self.poll_refunds(notify))
        return report

    async def ledger_balanced(self, shop_id: str | None = None) -> bool:
        return all(total == 0 for total in (await self.repo.ledger_totals(shop_id)).values())
