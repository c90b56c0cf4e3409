"""Orders, payment requests, provider events, refunds and ledger rows: the only SQL here.

Reads go straight to the database; writes are appended to a WriteSet so that the caller
commits them together with whatever else the same turn changed (the inbound message, the
conversation, the outbox), in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalog.money import Money
from payments.ledger import Posting
from payments.providers.base import ProviderEvent
from payments.status import (
    OPEN_REQUEST,
    OrderStatus,
    PaymentEventKind,
    PaymentStatus,
    RefundStatus,
)
from storage import jobs
from storage.amounts import minor
from storage.database import Database, WriteSet
from storage.jobs import JobStatus


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price: Money

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Order:
    id: str  # internal key: "{shop_id}/ORD-1042"
    shop_id: str
    number: int
    channel: str
    customer: str
    status: OrderStatus
    currency: str
    subtotal_minor: int
    delivery_minor: int
    tip_minor: int
    total_minor: int
    address: str
    language: str
    created_at: int
    updated_at: int
    money_version: int = 0

    @property
    def label(self) -> str:
        return f"ORD-{self.number}"

    @property
    def total(self) -> Money:
        return Money(self.total_minor, self.currency)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    id: str
    order_id: str
    shop_id: str
    method: str
    provider: str
    provider_ref: str | None
    token: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    captured_minor: int
    refunded_minor: int
    upi_link: str
    link_url: str
    vpa: str | None
    expires_at: int
    created_at: int

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of (part of) one provider payment; see ``RefundStatus``."""

    id: str
    payment_request_id: str
    amount_minor: int
    currency: str
    status: RefundStatus
    provider_ref: str | None
    reason: str
    created_at: int
    order_id: str
    payment_id: str
    against: str
    attempts: int
    attempt_key: str
    next_attempt_at: int
    last_error: str
    updated_at: int

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)


_REFUND_COLUMNS = ("id, payment_request_id, amount_minor, currency, status, provider_ref, "
                   "reason, created_at, order_id, payment_id, against, attempts, attempt_key, "
                   "next_attempt_at, last_error, updated_at")


def order_key(shop_id: str, number: int) -> str:
    return f"{shop_id}/ORD-{number}"


_ORDER_COLUMNS = ("id, shop_id, number, channel, customer, status, currency, subtotal_minor, "
                  "delivery_minor, tip_minor, total_minor, address, language, created_at, "
                  "updated_at, money_version")
_REQUEST_COLUMNS = ("id, order_id, shop_id, method, provider, provider_ref, token, status, "
                    "amount_minor, currency, captured_minor, refunded_minor, upi_link, "
                    "link_url, vpa, expires_at, created_at")


# amounts are read with minor(): an SQLite amount beyond 64 bits comes back as wide text
# (config/amounts.py); the columns' positions in _ORDER_COLUMNS, _REQUEST_COLUMNS and
# _REFUND_COLUMNS
_ORDER_AMOUNTS = (7, 8, 9, 10)
_REQUEST_AMOUNTS = (8, 10, 11)
_REFUND_AMOUNT = _REFUND_COLUMNS.split(", ").index("amount_minor")


def _amounts(row: Sequence[Any], positions: tuple[int, ...]) -> list[Any]:
    values = list(row)
    for i in positions:
        values[i] = minor(values[i])
    return values


# the status columns' positions: read back as their enums
_ORDER_STATUS = _ORDER_COLUMNS.split(", ").index("status")
_REQUEST_STATUS = _REQUEST_COLUMNS.split(", ").index("status")
_REFUND_STATUS = _REFUND_COLUMNS.split(", ").index("status")


def _order(row: Sequence[Any]) -> Order:
    values = _amounts(row, _ORDER_AMOUNTS)
    values[_ORDER_STATUS] = OrderStatus(values[_ORDER_STATUS])
    return Order(*values)


def _request(row: Sequence[Any]) -> PaymentRequest:
    values = _amounts(row, _REQUEST_AMOUNTS)
    values[_REQUEST_STATUS] = PaymentStatus(values[_REQUEST_STATUS])
    return PaymentRequest(*values)


# the open statuses as SQL (enum values, never user input)
_OPEN_SQL = ", ".join(f"'{status}'" for status in sorted(OPEN_REQUEST))


def _prefixed(columns: str, table: str) -> str:
    return ", ".join(f"{table}.{column}" for column in columns.split(", "))


def _for_shop(sql: str, column: str, shop_id: str | None) -> tuple[str, list[Any]]:
    """``sql`` narrowed to one shop when one is named (the audit reads every shop's rows)."""
    if shop_id is None:
        return sql, []
    return f"{sql} WHERE {column} = ?", [shop_id]


def _refund(row: Sequence[Any]) -> Refund:
    values = _amounts(row, (_REFUND_AMOUNT,))
    values[_REFUND_STATUS] = RefundStatus(values[_REFUND_STATUS])
    return Refund(*values)


# the kind of scheduled_jobs row (storage/jobs.py) that cancels a provider's link
CANCEL_LINK = "cancel_link"


class PaymentsRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # orders -----------------------------------------------------------------------------
    async def max_order_number(self, shop_id: str) -> int:
        row = await self.db.fetchone("SELECT MAX(number) FROM orders WHERE shop_id = ?",
                                     (shop_id,))
        return int(row[0]) if row and row[0] is not None else 0

    async def next_order_number(self, shop_id: str) -> int:
        """The next number from the shop's counter row, in a transaction of its own (a gap
        when the order is then not stored, as a sequence gives): for servers that share
        one PostgreSQL. The first call seeds the row from the orders already there."""
        row = await self.db.fetchone(
            "INSERT INTO order_counters (shop_id, last) "
            "SELECT ?, GREATEST(COALESCE(MAX(number), 0), 1000) + 1 FROM orders "
            "WHERE shop_id = ? ON CONFLICT (shop_id) DO UPDATE "
            "SET last = order_counters.last + 1 RETURNING last", (shop_id, shop_id))
        assert row is not None
        return int(row[0])

    async def order(self, order_id: str) -> Order | None:
        row = await self.db.fetchone(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = ?",
                                     (order_id,))
        return None if row is None else _order(row)

    async def orders(self, shop_id: str, *, customer: str | None = None,
                     statuses: Sequence[str] | None = None, limit: int = 50) -> list[Order]:
        sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE shop_id = ?"
        params: list[Any] = [shop_id]
        if customer is not None:
            sql += " AND customer = ?"
            params.append(customer)
        if statuses:
            sql += " AND status IN (" + ", ".join("?" for _ in statuses) + ")"
            params.extend(statuses)
        sql += " ORDER BY number DESC LIMIT ?"
        params.append(limit)
        return [_order(r) for r in await self.db.fetchall(sql, params)]

    async def buyers(self, shop_id: str, *, since_ms: int | None = None,
                     sku: str | None = None) -> list[tuple[str, str]]:
        """``(channel, customer)`` of everyone with an order that was not cancelled: since
        ``since_ms``, or with a line of ``sku`` (a broadcast's segment, bot/broadcasts.py)."""
        sql = "SELECT DISTINCT o.channel, o.customer FROM orders o"
        params: list[Any] = []
        if sku is not None:
            sql += " JOIN order_lines l ON l.order_id = o.id AND l.sku = ?"
            params.append(sku)
        sql += " WHERE o.shop_id = ? AND o.status <> ?"
        params += [shop_id, OrderStatus.CANCELLED.value]
        if since_ms is not None:
            sql += " AND o.created_at >= ?"
            params.append(since_ms)
        return [(str(r[0]), str(r[1])) for r in await self.db.fetchall(sql, params)]

    async def latest_order(self, customer: str) -> Order | None:
        """The shopper's newest order in any shop (``haat test``'s ``order:`` step)."""
        row = await self.db.fetchone(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE customer = ? "
            "ORDER BY created_at DESC, number DESC LIMIT 1", (customer,))
        return None if row is None else _order(row)

    async def lines(self, order_id: str) -> list[OrderLine]:
        rows = await self.db.fetchall(
            "SELECT o.currency, l.sku, l.name, l.quantity, l.unit_price_minor FROM order_lines l "
            "JOIN orders o ON o.id = l.order_id WHERE l.order_id = ? ORDER BY l.id", (order_id,))
        return [OrderLine(sku, name, qty, Money(minor(unit), currency))
                for currency, sku, name, qty, unit in rows]

    @staticmethod
    def insert_order(writes: WriteSet, order: Order, lines: Sequence[OrderLine]) -> None:
        writes.add(f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                       order.id, order.shop_id, order.number, order.channel, order.customer,
                       order.status, order.currency, order.subtotal_minor,
                       order.delivery_minor, order.tip_minor, order.total_minor,
                       order.address, order.language, order.created_at, order.updated_at,
                       order.money_version))
        for line in lines:
            writes.add("INSERT INTO order_lines (order_id, sku, name, quantity, unit_price_minor, "
                       "line_total_minor) VALUES (?, ?, ?, ?, ?, ?)",
                       (order.id, line.sku, line.name, line.quantity, line.unit_price.minor,
                        line.total.minor))

    @staticmethod
    def set_order_status(writes: WriteSet, order_id: str, expected: str, status: str,
                         now_ms: int) -> None:
        """Compare-and-set: a status that moved meanwhile makes the write set conflict."""
        writes.add("UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                   (status, now_ms, order_id, expected), must_change=True)

    @staticmethod
    def bump_money_version(writes: WriteSet, order_id: str, expected: int) -> None:
        """The order-level guard: every write set that moves an order's money carries this
        compare-and-set, so two processes deciding on stale reads conflict instead of both
        committing (the loser re-reads and decides again)."""
        writes.add("UPDATE orders SET money_version = money_version + 1 "
                   "WHERE id = ? AND money_version = ?", (order_id, expected), must_change=True)

    # payment requests -------------------------------------------------------------------
    @staticmethod
    def insert_request(writes: WriteSet, request: PaymentRequest) -> None:
        writes.add(f"INSERT INTO payment_requests ({_REQUEST_COLUMNS}, updated_at) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                       request.id, request.order_id, request.shop_id, request.method,
                       request.provider, request.provider_ref, request.token, request.status,
                       request.amount_minor, request.currency, request.captured_minor,
                       request.refunded_minor, request.upi_link, request.link_url,
                       request.vpa, request.expires_at, request.created_at,
                       request.created_at))

    async def request_by_token(self, token: str) -> PaymentRequest | None:
        row = await self.db.fetchone(
            f"SELECT {_REQUEST_COLUMNS} FROM payment_requests WHERE token = ?", (token,))
        return None if row is None else _request(row)

    async def request(self, request_id: str) -> PaymentRequest | None:
        row = await self.db.fetchone(
            f"SELECT {_REQUEST_COLUMNS} FROM payment_requests WHERE id = ?", (request_id,))
        return None if row is None else _request(row)

    async def request_for_event(self, provider: str, event: ProviderEvent
                                ) -> PaymentRequest | None:
        """Resolve an event to our request by provider ref, our reference or any other key."""
        candidates = [event.provider_ref, *(event.refs or ())]
        for ref in candidates:
            if not ref:
                continue
            row = await self.db.fetchone(
                f"SELECT {_REQUEST_COLUMNS} FROM payment_requests "
                "WHERE provider = ? AND provider_ref = ?", (provider, ref))
            if row is not None:
                return _request(row)
        for our_ref in (event.reference, *(event.refs or ())):
            if our_ref:
                found = await self.request(our_ref)
                if found is not None and found.provider == provider:
                    return found
        if event.payment_id:  # a refund names the payment it refunds, not our link
            # an orphan row (an event that came before its request) names no request
            found_row = await self.db.fetchone(
                "SELECT provider_ref FROM provider_events WHERE provider = ? AND payment_id = ? "
                "AND provider_ref NOT LIKE 'orphan:%' LIMIT 1", (provider, event.payment_id))
            if found_row is not None:
                return await self.request(str(found_row[0]))
        return None

    async def latest_open_request(self, customer: str) -> PaymentRequest | None:
        """The shopper's newest request that can still take money, in any shop."""
        row = await self.db.fetchone(
            f"SELECT {_prefixed(_REQUEST_COLUMNS, 'p')} FROM payment_requests p "
            "JOIN orders o ON o.id = p.order_id WHERE o.customer = ? AND p.status IN "
            f"({_OPEN_SQL}) ORDER BY p.created_at DESC LIMIT 1", (customer,))
        return None if row is None else _request(row)

    async def requests_for_order(self, order_id: str) -> list[PaymentRequest]:
        rows = await self.db.fetchall(
            f"SELECT {_REQUEST_COLUMNS} FROM payment_requests WHERE order_id = ? "
            "ORDER BY created_at", (order_id,))
        return [_request(r) for r in rows]

    async def open_requests(self, *, before_ms: int | None = None,
                            limit: int = 500) -> list[PaymentRequest]:
        sql = (f"SELECT {_REQUEST_COLUMNS} FROM payment_requests "
               f"WHERE status IN ({_OPEN_SQL})")
        params: list[Any] = []
        if before_ms is not None:
            sql += " AND expires_at <= ?"
            params.append(before_ms)
        sql += " ORDER BY created_at LIMIT ?"
        params.append(limit)
        return [_request(r) for r in await self.db.fetchall(sql, params)]

    async def reconcilable_requests(self, limit: int = 500) -> list[PaymentRequest]:
        """Open requests, and captured ones whose money a provider could still refund."""
        rows = await self.db.fetchall(
            f"SELECT {_REQUEST_COLUMNS} FROM payment_requests WHERE status IN "
            f"({_OPEN_SQL}) OR (captured_minor > refunded_minor) "
            "ORDER BY created_at DESC LIMIT ?", (limit,))
        return [_request(r) for r in rows]

    @staticmethod
    def update_request(writes: WriteSet, request_id: str, *, status: str, captured: int,
                       refunded: int, now_ms: int) -> None:
        writes.add("UPDATE payment_requests SET status = ?, captured_minor = ?, "
                   "refunded_minor = ?, updated_at = ? WHERE id = ?",
                   (status, captured, refunded, now_ms, request_id))

    # provider events --------------------------------------------------------------------
    async def events_for(self, request: PaymentRequest) -> list[ProviderEvent]:
        rows = await self.db.fetchall(
            "SELECT event_id, kind, provider_ref, amount_minor, currency, payment_id, "
            "occurred_at, payload FROM provider_events WHERE provider = ? AND provider_ref = ? "
            "AND rejected = '' ORDER BY id", (request.provider, request.id))
        return [ProviderEvent(provider=request.provider, event_id=event_id,
                              kind=PaymentEventKind(kind), provider_ref=ref,
                              amount=Money(minor(amount), currency), occurred_at=occurred,
                              payment_id=payment_id, refund_id=refund or None)
                for event_id, kind, ref, amount, currency, payment_id, occurred, refund in rows]

    @staticmethod
    def insert_event(writes: WriteSet, request: PaymentRequest, event: ProviderEvent,
                     now_ms: int) -> None:
        """Stored once per (provider, event id): a redelivery conflicts and applies nothing.

        ``provider_ref`` is normalised to our request id so every event of a request is
        found with one indexed read, whatever key the provider used.
        """
        writes.add("INSERT INTO provider_events (provider, event_id, provider_ref, kind, "
                   "amount_minor, currency, payment_id, occurred_at, received_at, payload) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (provider, event_id) DO NOTHING",
                   (event.provider, event.event_id, request.id, event.kind.value,
                    event.amount.minor, event.amount.currency, event.payment_id,
                    event.occurred_at, now_ms, event.refund_id or ""), must_change=True)

    @staticmethod
    def insert_rejected_event(writes: WriteSet, request: PaymentRequest, event: ProviderEvent,
                              reason: str, now_ms: int) -> None:
        """Kept (a redelivery is a duplicate, reconcile can see it) but never applied."""
        writes.add("INSERT INTO provider_events (provider, event_id, provider_ref, kind, "
                   "amount_minor, currency, payment_id, occurred_at, received_at, payload, "
                   "rejected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (provider, event_id) DO NOTHING",
                   (event.provider, event.event_id, request.id, event.kind.value,
                    event.amount.minor, event.amount.currency, event.payment_id,
                    event.occurred_at, now_ms, event.refund_id or "", reason[:64]),
                   must_change=True)

    @staticmethod
    def insert_orphan_event(writes: WriteSet, provider: str, event: ProviderEvent,
                            now_ms: int) -> None:
        """An event for no known request, kept (``orphan:`` ref) for reconcile to show."""
        writes.add("INSERT INTO provider_events (provider, event_id, provider_ref, kind, "
                   "amount_minor, currency, payment_id, occurred_at, received_at, payload) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                   "ON CONFLICT (provider, event_id) DO NOTHING",
                   (provider, event.event_id, f"orphan:{event.provider_ref}",
                    event.kind.value, event.amount.minor, event.amount.currency,
                    event.payment_id, event.occurred_at, now_ms, event.refund_id or ""))

    async def event_rejection(self, provider: str, event_id: str) -> str | None:
        """Why a stored event was rejected ("" when applied; None when never stored)."""
        row = await self.db.fetchone(
            "SELECT rejected FROM provider_events WHERE provider = ? AND event_id = ?",
            (provider, event_id))
        return None if row is None else str(row[0])

    async def has_event(self, provider: str, event_id: str) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM provider_events WHERE provider = ? AND event_id = ?",
            (provider, event_id))
        return row is not None

    # refunds ----------------------------------------------------------------------------
    @staticmethod
    def insert_refund(writes: WriteSet, refund: Refund) -> None:
        writes.add(f"INSERT INTO refunds ({_REFUND_COLUMNS}) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                       refund.id, refund.payment_request_id, refund.amount_minor,
                       refund.currency, refund.status, refund.provider_ref, refund.reason,
                       refund.created_at, refund.order_id, refund.payment_id, refund.against,
                       refund.attempts, refund.attempt_key, refund.next_attempt_at,
                       refund.last_error, refund.updated_at))

    @staticmethod
    def update_refund(writes: WriteSet, refund_id: str, *, expected: str, status: str,
                      now_ms: int, provider_ref: str | None = None,
                      attempts: int | None = None, attempt_key: str | None = None,
                      next_attempt_at: int | None = None, last_error: str | None = None
                      ) -> None:
        """Compare-and-set on the status: a refund moved by someone else conflicts."""
        sets = ["status = ?", "updated_at = ?"]
        params: list[Any] = [status, now_ms]
        for column, value in (("provider_ref", provider_ref), ("attempts", attempts),
                              ("attempt_key", attempt_key),
                              ("next_attempt_at", next_attempt_at),
                              ("last_error", last_error)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        params += [refund_id, expected]
        writes.add(f"UPDATE refunds SET {', '.join(sets)} WHERE id = ? AND status = ?",
                   params, must_change=True)

    @staticmethod
    def claim_refund(writes: WriteSet, refund: Refund, *, status: RefundStatus,
                     attempt_key: str, lease_until: int, now_ms: int) -> None:
        """Compare-and-set on status and attempts: one sender per attempt, leased."""
        writes.add("UPDATE refunds SET status = ?, attempts = ?, attempt_key = ?, "
                   "next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = ? AND "
                   "attempts = ?", (status, refund.attempts + 1, attempt_key, lease_until,
                                    now_ms, refund.id, refund.status, refund.attempts),
                   must_change=True)

    async def refunds_for_order(self, order_id: str) -> list[Refund]:
        rows = await self.db.fetchall(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE order_id = ? ORDER BY created_at, id",
            (order_id,))
        return [_refund(r) for r in rows]

    async def refund(self, refund_id: str) -> Refund | None:
        row = await self.db.fetchone(f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE id = ?",
                                     (refund_id,))
        return None if row is None else _refund(row)

    async def refund_by_provider_ref(self, provider_ref: str) -> Refund | None:
        row = await self.db.fetchone(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE provider_ref = ?", (provider_ref,))
        return None if row is None else _refund(row)

    async def due_refunds(self, now_ms: int, limit: int = 100) -> list[Refund]:
        """Refunds waiting for a (re)try: never sent, or failed with a retry now due."""
        rows = await self.db.fetchall(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE status IN "
            f"('{RefundStatus.REQUESTED}', '{RefundStatus.FAILED}') "
            "AND next_attempt_at > 0 AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (now_ms, limit))
        return [_refund(r) for r in rows]

    async def pending_refunds(self, limit: int = 500,
                              after: tuple[int, str] | None = None) -> list[Refund]:
        """Refunds a provider accepted and has not finished (``pending``): reconcile asks.
        One page, oldest first; ``after`` (the last row's update time and id) gives the next,
        so refunds that stay pending at the head never hide the ones behind them."""
        sql = f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE status = 'pending'"
        params: list[Any] = []
        if after is not None:
            sql += " AND (updated_at > ? OR (updated_at = ? AND id > ?))"
            params += [after[0], after[0], after[1]]
        rows = await self.db.fetchall(sql + " ORDER BY updated_at, id LIMIT ?", [*params, limit])
        return [_refund(r) for r in rows]

    async def all_refunds(self, shop_id: str | None = None) -> list[Refund]:
        sql = (f"SELECT {_prefixed(_REFUND_COLUMNS, 'r')} "
               "FROM refunds r JOIN orders o ON o.id = r.order_id")
        sql, params = _for_shop(sql, "o.shop_id", shop_id)
        return [_refund(r) for r in await self.db.fetchall(sql, params)]

    # jobs -------------------------------------------------------------------------------
    @staticmethod
    def enqueue_link_cancel(writes: WriteSet, request: PaymentRequest, now_ms: int) -> None:
        """A durable job (storage/jobs.py): cancel the provider's link after this commit
        (the provider call never runs inside the transaction; a crash retries it)."""
        jobs.schedule(writes, f"{CANCEL_LINK}:{request.id}", shop_id=request.shop_id,
                      kind=CANCEL_LINK, due_at=now_ms, payload=request.id, now_ms=now_ms,
                      rearm=False)

    async def due_link_cancels(self, now_ms: int, limit: int = 100) -> list[tuple[str, str]]:
        rows = await jobs.due(self.db, (CANCEL_LINK,), now_ms, limit)
        return [(str(row[0]), str(row[5])) for row in rows]

    @staticmethod
    def finish_job(writes: WriteSet, key: str,
                   status: JobStatus = JobStatus.FIRED) -> None:
        jobs.finish(writes, key, status)

    @staticmethod
    def postpone_job(writes: WriteSet, key: str, due_at: int) -> None:
        jobs.postpone(writes, key, due_at)

    async def orphan_events(self) -> list[tuple[str, str, str]]:
        rows = await self.db.fetchall(
            "SELECT provider, event_id, provider_ref FROM provider_events "
            "WHERE provider_ref LIKE 'orphan:%' ORDER BY id LIMIT 200")
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    async def ledger_rows(self, shop_id: str | None = None
                          ) -> list[tuple[str, str, str, int, str]]:
        """(shop, ref, account, signed amount, currency) of every posting."""
        sql = "SELECT shop_id, ref, account, amount_minor, currency FROM ledger_entries"
        sql, params = _for_shop(sql, "shop_id", shop_id)
        return [(str(a), str(b), str(c), minor(d), str(e))
                for a, b, c, d, e in await self.db.fetchall(sql, params)]

    async def cod_rows(self, shop_id: str) -> list[tuple[str, str, int, int]]:
        """``(status, currency, total_minor, cash collected)`` of every order placed as cash
        on delivery (it has a ``cod`` request) in one shop: the admin API's COD figures."""
        rows = await self.db.fetchall(
            "SELECT o.status, o.currency, o.total_minor, r.captured_minor FROM orders o "
            "JOIN payment_requests r ON r.order_id = o.id "
            "WHERE r.method = 'cod' AND o.shop_id = ?", (shop_id,))
        return [(str(r[0]), str(r[1]), minor(r[2]), minor(r[3])) for r in rows]

    async def all_orders(self, shop_id: str | None = None) -> list[Order]:
        sql = f"SELECT {_ORDER_COLUMNS} FROM orders"
        sql, params = _for_shop(sql, "shop_id", shop_id)
        return [_order(r) for r in await self.db.fetchall(sql + " ORDER BY id", params)]

    async def all_requests(self, shop_id: str | None = None) -> list[PaymentRequest]:
        sql = f"SELECT {_REQUEST_COLUMNS} FROM payment_requests"
        sql, params = _for_shop(sql, "shop_id", shop_id)
        return [_request(r) for r in await self.db.fetchall(sql, params)]

    # ledger -----------------------------------------------------------------------------
    @staticmethod
    def insert_postings(writes: WriteSet, shop_id: str, postings: Sequence[Posting],
                        now_ms: int) -> None:
        for posting in postings:
            writes.add("INSERT INTO ledger_entries (shop_id, ref, account, amount_minor, "
                       "currency, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (shop_id, posting.ref, posting.account, posting.signed,
                        posting.currency, now_ms))

    async def ledger_totals(self, shop_id: str | None = None) -> dict[str, int]:
        sql = "SELECT currency, SUM(amount_minor) FROM ledger_entries"
        sql, params = _for_shop(sql, "shop_id", shop_id)
        sql += " GROUP BY currency"
        return {currency: minor(total) for currency, total in await self.db.fetchall(sql, params)}

    async def account_balance(self, shop_id: str, account: str) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT currency, SUM(amount_minor) FROM ledger_entries WHERE shop_id = ? AND "
            "account = ? GROUP BY currency", (shop_id, account))
        return {currency: minor(total) for currency, total in rows}
