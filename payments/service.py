"""Use cases: place an order, ask for money, apply what the provider reports, refund.

Rules this module keeps (DESIGN 3):
* amounts are computed here from integer minor units, never taken from a message;
* a provider call (HTTP) never happens inside a database transaction: the caller commits the
  returned writes afterwards;
* every provider event is stored once (unique provider + event id) in the same transaction
  that applies it, and applying derives the request's state from the *set* of its events,
  so duplicates and any delivery order give the same result;
* the ledger gets the difference between the old and new derived state, so it balances to
  zero per currency at every commit and never counts money twice;
* money after expiry or cancellation is kept as ``paid_after_close`` and reported, never
  dropped; refunds never exceed what was captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from catalog.money import Money
from config.database import Conflict, Database, WriteSet
from payments.ledger import (
    Posting,
    check_balanced,
    postings_for_cancel,
    postings_for_capture,
    postings_for_order,
    postings_for_refund,
    postings_for_tip,
)
from payments.providers.base import (
    CollectRequest,
    LinkRequest,
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    UpiPayee,
)
from payments.repository import Order, OrderLine, PaymentRequest, PaymentsRepository, order_key
from payments.status import (
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    PaymentState,
    PaymentStatus,
    apply_events,
    order_transition,
)

log = logging.getLogger(__name__)


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
    rejected: str | None = None  # the event was stored but not applied: why (alert only)

    @property
    def newly_paid(self) -> bool:
        return self.order_status_before != self.order_status_after and \
            self.order_status_after == OrderStatus.PAID

    @property
    def late_money(self) -> Money:
        return self.after.captured_after_close - self.before.captured_after_close


Notify = Callable[[PaymentUpdate, WriteSet], Awaitable[None]]


def _accepted_then_closed(request: PaymentRequest, order: Order, before: PaymentState,
                          after: PaymentState, event: ProviderEvent) -> bool:
    return (event.kind in (PaymentEventKind.EXPIRED, PaymentEventKind.CANCELLED)
            and before.status in (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED,
                                  PaymentStatus.REFUNDED)
            and after.status is PaymentStatus.PAID_AFTER_CLOSE
            and order.status != OrderStatus.PENDING_PAYMENT)


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


class PaymentService:
    def __init__(self, db: Database, providers: Mapping[str, PaymentProvider], *,
                 public_url: str, now_ms: Callable[[], int]) -> None:
        self.db = db
        self.repo = PaymentsRepository(db)
        self.providers = providers
        self.public_url = public_url.rstrip("/")
        self.now_ms = now_ms
        self._numbers: dict[str, int] = {}
        self._number_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}

    # ---- orders ------------------------------------------------------------------------
    async def _allocate_number(self, shop_id: str) -> int:
        async with self._number_lock:
            if shop_id not in self._numbers:
                self._numbers[shop_id] = max(await self.repo.max_order_number(shop_id), 1000)
            self._numbers[shop_id] += 1
            return self._numbers[shop_id]

    async def place_order(self, writes: WriteSet, *, shop_id: str, channel: str, customer: str,
                          lines: Sequence[OrderLine], delivery: Money, address: str,
                          language: str) -> Order:
        """The order with prices snapshotted from the catalog; total computed here."""
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
                      channel=channel, customer=customer, status=OrderStatus.PENDING_PAYMENT,
                      currency=currency, subtotal_minor=subtotal.minor,
                      delivery_minor=delivery.minor, tip_minor=0, total_minor=total.minor,
                      address=address, language=language, created_at=now, updated_at=now)
        self.repo.insert_order(writes, order, lines)
        self._post(writes, shop_id, postings_for_order(order.label, total), now)
        return order

    def _post(self, writes: WriteSet, shop_id: str, postings: list[Posting], now: int) -> None:
        if postings:
            check_balanced(postings)
            self.repo.insert_postings(writes, shop_id, postings, now)

    async def change_order(self, writes: WriteSet, order: Order, event: OrderEvent) -> str:
        """A merchant or shopper action on an order (ship, deliver, cancel)."""
        in_flight = False
        if event is OrderEvent.CANCEL:
            requests = await self.repo.requests_for_order(order.id)
            in_flight = any(r.captured_minor > 0 for r in requests)
        new = order_transition(OrderStatus(order.status), event, payment_in_flight=in_flight)
        if new != order.status:
            now = self.now_ms()
            self.repo.set_order_status(writes, order.id, order.status, new, now)
            if new is OrderStatus.CANCELLED:
                self._post(writes, order.shop_id, postings_for_cancel(order.label, order.total),
                           now)
        return str(new)

    # ---- asking for money --------------------------------------------------------------
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

        ``method`` is ``upi_link``, ``payment_link``, ``collect`` or ``tip``.
        """
        provider = self._provider(plan.provider)
        capability = "payment_link" if method == "tip" else method
        if capability not in provider.capabilities and not (
                capability == "payment_link" and "upi_link" in provider.capabilities):
            raise PaymentError("unsupported", f"{plan.provider} cannot do {method}")
        money = amount if amount is not None else order.total
        if money.minor <= 0:
            raise PaymentError("bad_amount")
        request_id = _new_id("pr")
        token = secrets.token_urlsafe(24)  # 192 random bits
        now = self.now_ms()
        page = f"{self.public_url}/pay/{token}"
        try:
            if method == "collect":
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
                hosted = link.url if (method == "payment_link" and link.url and not upi_uri
                                      and not link.url.startswith("https://sandbox.")) else page
        except ProviderError as exc:
            raise PaymentError("provider_failed", str(exc)) from exc
        request = PaymentRequest(
            id=request_id, order_id=order.id, shop_id=order.shop_id, method=method,
            provider=plan.provider, provider_ref=provider_ref, token=token,
            status=PaymentStatus.ISSUED, amount_minor=money.minor, currency=money.currency,
            captured_minor=0, refunded_minor=0, upi_link=upi_uri, link_url=hosted, vpa=vpa,
            expires_at=expires, created_at=now)
        self.repo.insert_request(writes, request)
        return request

    # ---- applying provider events ------------------------------------------------------
    @asynccontextmanager
    async def locked(self, request_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(request_id, asyncio.Lock())
        async with lock:
            yield
        if not lock.locked() and self._locks.get(request_id) is lock:
            self._locks.pop(request_id, None)

    async def apply_event(self, provider_name: str, event: ProviderEvent,
                          notify: Notify | None = None) -> PaymentUpdate | None:
        """Store and apply one event exactly once; None for a duplicate or an orphan."""
        request = await self.repo.request_for_event(provider_name, event)
        if request is None:
            log.warning("payment event %s/%s matches no payment request; kept for reconcile",
                        provider_name, event.kind)
            await self._keep_orphan(provider_name, event)
            return None
        async with self.locked(request.id):
            if await self.repo.has_event(provider_name, event.event_id):
                return None
            request = await self.repo.request(request.id) or request
            order = await self.repo.order(request.order_id)
            if order is None:  # pragma: no cover - foreign keys make this impossible
                return None
            history = await self.repo.events_for(request)
            before = apply_events(request.amount, history)
            reason = mismatch(request, event)
            if reason is not None:
                await self._reject(request, order, event, before, reason, notify)
                return None
            after = apply_events(request.amount, [*history, event])
            if _accepted_then_closed(request, order, before, after, event):
                # we already took this money as paid in time and told the shopper and the
                # merchant so (the order may have shipped); a close the PSP reports late,
                # dated before the capture, is recorded but does not turn it into late money
                after = replace(after, status=before.status,
                                captured_after_close=before.captured_after_close)
            now = self.now_ms()
            writes = WriteSet()
            self.repo.insert_event(writes, request, event, now)
            self.repo.update_request(writes, request.id, status=after.status,
                                     captured=after.captured.minor,
                                     refunded=after.refunded.minor, now_ms=now)
            self._ledger_for(writes, request, order, before, after, now)
            new_order_status = self._order_after_payment(order, request, after)
            if new_order_status != order.status:
                self.repo.set_order_status(writes, order.id, order.status, new_order_status, now)
            update = PaymentUpdate(
                request=replace(request, status=str(after.status),
                                captured_minor=after.captured.minor,
                                refunded_minor=after.refunded.minor),
                order=order, event=event, before=before, after=after,
                order_status_before=order.status, order_status_after=new_order_status)
            if notify is not None:
                await notify(update, writes)
            try:
                await self.db.write(writes)
            except Conflict:
                return None  # stored by a concurrent delivery of the same event
        after_commit = getattr(notify, "after_commit", None)
        if after_commit is not None:
            await after_commit(update)  # work that needs the event stored (a refund call)
        return update

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
        writes.add("INSERT INTO provider_events (provider, event_id, provider_ref, kind, "
                   "amount_minor, currency, payment_id, occurred_at, received_at, payload) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (provider, event_id) DO NOTHING",
                   (provider_name, event.event_id, f"orphan:{event.provider_ref}",
                    event.kind.value, event.amount.minor, event.amount.currency,
                    event.payment_id, event.occurred_at, self.now_ms(), event.refund_id or ""))
        await self.db.write(writes)

    def _order_after_payment(self, order: Order, request: PaymentRequest,
                             after: PaymentState) -> str:
        status = OrderStatus(order.status)
        if request.method == "tip":
            return status
        settled = after.captured.minor >= request.amount_minor
        if settled and status is OrderStatus.PENDING_PAYMENT:
            # money in time, or late but the order is still waiting for it: accept it
            return order_transition(status, OrderEvent.PAYMENT_RECEIVED)
        if status is OrderStatus.REFUND_PENDING and after.captured.minor > 0 and \
                after.refunded.minor >= after.captured.minor:
            return order_transition(status, OrderEvent.REFUND_COMPLETED)
        return status

    def _ledger_for(self, writes: WriteSet, request: PaymentRequest, order: Order,
                    before: PaymentState, after: PaymentState, now: int) -> None:
        postings: list[Posting] = []
        captured = _money_delta(before.captured, after.captured)
        if captured.minor > 0:
            build = postings_for_tip if request.method == "tip" else postings_for_capture
            postings += build(order.label, captured, provider=request.provider,
                              payment_id=request.id)
        elif captured.minor < 0:  # a reclassification between two event sets: reverse it
            postings += [Posting(p.account, p.credit, p.debit, p.currency, p.ref + ":rev")
                         for p in postings_for_capture(order.label, -captured,
                                                       provider=request.provider,
                                                       payment_id=request.id)]
        refunded = _money_delta(before.refunded, after.refunded)
        if refunded.minor > 0:
            postings += postings_for_refund(order.label, refunded, provider=request.provider,
                                            refund_id=request.id, stage="processed")
        self._post(writes, order.shop_id, postings, now)

    # ---- expiry, refunds, reconcile ----------------------------------------------------
    async def expire_due(self, notify: Notify | None = None) -> list[PaymentUpdate]:
        """Close every open request past its expiry (one synthetic, idempotent event each)."""
        updates = []
        for request in await self.repo.open_requests(before_ms=self.now_ms()):
            event = ProviderEvent(
                provider=request.provider, event_id=f"expiry:{request.id}",
                kind=PaymentEventKind.EXPIRED, provider_ref=request.provider_ref or request.id,
                amount=Money.zero(request.currency), occurred_at=request.expires_at // 1000,
                reference=request.id, refs=(request.id,))
            update = await self.apply_event(request.provider, event, notify)
            if update is not None:
                updates.append(update)
        return updates

    async def refundable(self, order: Order) -> list[tuple[PaymentRequest, PaymentState, int]]:
        """Each captured request with what may still be refunded (pending refunds counted)."""
        found = []
        for request in await self.repo.requests_for_order(order.id):
            state = apply_events(request.amount, await self.repo.events_for(request))
            pending = await self.repo.pending_refunds_minor(request.id)
            left = state.refundable.minor - pending
            if left > 0:
                found.append((request, state, left))
        return found

    async def refund(self, order: Order, amount: Money | None = None, *, reason: str = "",
                     notify: Notify | None = None) -> Money:
        """Refund up to what was captured; returns the amount asked of the provider."""
        candidates = await self.refundable(order)
        available = sum(left for _, _, left in candidates)
        if available <= 0:
            raise PaymentError("nothing_to_refund")
        wanted = available if amount is None else amount.minor
        if wanted <= 0 or wanted > available:
            raise PaymentError("refund_too_large", f"at most {available} minor units")
        remaining = wanted
        # a full refund closes the order (refund_pending → refunded); a partial one (a
        # missing item, a goodwill gesture) leaves it where it is, so it can still ship
        closes_order = wanted == available
        for request, state, left in candidates:
            if remaining <= 0:
                break
            part = Money(min(left, remaining), request.currency)
            remaining -= part.minor
            await self._refund_one(order, request, state, part, reason, notify,
                                   closes_order=closes_order)
        return Money(wanted, order.currency)

    async def _refund_one(self, order: Order, request: PaymentRequest, state: PaymentState,
                          amount: Money, reason: str, notify: Notify | None, *,
                          closes_order: bool = True) -> None:
        provider = self._provider(request.provider)
        payment_id = sorted(state.payment_ids)[0] if state.payment_ids else request.id
        refund_key = _new_id("rf")
        try:
            result = await provider.refund(payment_id, amount, idempotency_key=refund_key)
        except ProviderError as exc:
            raise PaymentError("provider_failed", str(exc)) from exc
        now = self.now_ms()
        writes = WriteSet()
        self.repo.insert_refund(writes, refund_id=refund_key, request_id=request.id,
                                amount=amount, status="pending",
                                provider_ref=result.refund_id, reason=reason, now_ms=now)
        against = "customer_receivable" if order.status == OrderStatus.CANCELLED \
            else "merchant_revenue"
        self._post(writes, order.shop_id, postings_for_refund(
            order.label, amount, provider=request.provider, refund_id=request.id,
            stage="requested", against=against), now)
        status = OrderStatus((await self.repo.order(order.id) or order).status)
        if closes_order and status is not OrderStatus.REFUND_PENDING:
            new = order_transition(status, OrderEvent.REFUND_REQUESTED)
            self.repo.set_order_status(writes, order.id, status, new, now)
        await self.db.write(writes)
        if result.status == "processed":
            # the provider answered synchronously: apply it as the event it is. A refund
            # comes after the capture it returns, even when the PSP dated that capture
            # ahead of our clock (a late capture is dated after the request's expiry)
            history = await self.repo.events_for(request)
            occurred = max([now // 1000, *(e.occurred_at + 1 for e in history)])
            await self.apply_event(request.provider, ProviderEvent(
                provider=request.provider, event_id=f"refund:{result.refund_id}",
                kind=PaymentEventKind.REFUNDED, provider_ref=request.provider_ref or request.id,
                amount=amount, occurred_at=occurred, payment_id=payment_id,
                refund_id=result.refund_id, reference=request.id, refs=(request.id,)), notify)
        await self._settle_refund_rows(request.id)

    async def _settle_refund_rows(self, request_id: str) -> None:
        """Mark pending refund rows processed once the derived state shows the money out."""
        request = await self.repo.request(request_id)
        if request is None:
            return
        if request.refunded_minor > 0:
            writes = WriteSet()
            writes.add("UPDATE refunds SET status = 'processed' WHERE payment_request_id = ? "
                       "AND status = 'pending' AND (SELECT COALESCE(SUM(amount_minor), 0) FROM "
                       "refunds r WHERE r.payment_request_id = ? AND r.status = 'processed') + "
                       "amount_minor <= ?", (request_id, request_id, request.refunded_minor))
            await self.db.write(writes)

    async def reconcile(self, notify: Notify | None = None) -> dict[str, int]:
        """Re-fetch open requests from their providers and apply whatever we missed."""
        report = {"checked": 0, "applied": 0, "unreachable": 0}
        for request in await self.repo.open_requests():
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
        return report

    async def ledger_balanced(self, shop_id: str | None = None) -> bool:
        return all(total == 0 for total in (await self.repo.ledger_totals(shop_id)).values())
