"""A built-in PSP simulator that behaves like a real one: ids, server-side state, signed
callbacks over real HTTP, and the awkward deliveries real PSPs make (duplicates, reversed
order, a failed attempt before the success, money after expiry).

Callback wire format (one event per POST, ``Content-Type: application/json``)::

    POST <callback_url>
    X-Sandbox-Signature: sha256=<hex HMAC-SHA256(HAAT_SANDBOX_SECRET, raw body)>
    X-Sandbox-Event-Id: sevt_…

    {"id": "sevt_…",                 # unique per event; redeliveries reuse it
     "type": "payment.captured",     # payment.authorized | payment.captured | payment.failed |
                                     # request.expired | request.cancelled |
                                     # refund.processed | refund.failed
     "created_at": 1767225600,       # unix seconds when it happened
     "ref": "slink_…",               # the link (slink_) or collect (scol_) it belongs to
     "reference": "ORD-7-1",         # our reference (tr) given at creation
     "payment_id": "spay_…",         # null for request.* events
     "refund_id": "srfnd_…",         # refund.* only, else null
     "amount": 14950,                # integer minor units (0 for request.* events)
     "currency": "INR"}

The body is compact JSON with sorted keys; verification is over the raw bytes as sent.

State: with a database (``haat serve``), the simulator keeps its links, events and refunds in
its own tables (payments/providers/sandbox_tables.py), as a real PSP keeps them on its side:
``fetch`` and ``haat reconcile`` work after a restart. Without one (unit tests, benchmarks of
the simulator alone) it keeps them in memory.

It is a test: it must never look payable. Its UPI link (the page's QR and button) pays the
reserved test VPA ``sandbox.test@invalid`` (not a UPI handle any app can reach), never
the merchant's, to the payee name ``SANDBOX TEST`` (no note: the QR of a longer link is a
larger QR version, slower to render on the request path; the page says TEST instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, get_args

import aiohttp
from aiohttp import web

from catalog.money import Money, MoneyError
from config import wire
from config.plugins import Option, load, option, options
from payments.providers.base import (
    CollectRequest,
    Handler,
    LinkRequest,
    ProviderCollect,
    ProviderDeps,
    ProviderError,
    ProviderEvent,
    ProviderLink,
    ProviderRefund,
    ProviderRoute,
    RouteHost,
    epoch_seconds,
    int_minor,
)
from payments.status import PaymentEventKind
from payments.upi import UpiError, UpiLink, is_valid_vpa
from security.signatures import header, hmac_sha256_hex, verify_hex
from storage.amounts import minor
from storage.database import Database, WriteSet

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Sandbox-Signature"
TEST_VPA = "sandbox.test@invalid"  # what the sandbox's UPI links pay: nobody
TEST_PAYEE = "SANDBOX TEST"
EVENT_ID_HEADER = "X-Sandbox-Event-Id"
Outcome = Literal["success", "failure", "expire", "cancel"]

_K = PaymentEventKind
TYPE_TO_KIND: Mapping[str, PaymentEventKind] = {
    "payment.authorized": _K.AUTHORIZED,
    "payment.captured": _K.CAPTURED,
    "payment.failed": _K.FAILED,
    "request.expired": _K.EXPIRED,
    "request.cancelled": _K.CANCELLED,
    "refund.processed": _K.REFUNDED,
    "refund.failed": _K.REFUND_FAILED,
}
KIND_TO_TYPE: Mapping[PaymentEventKind, str] = {v: k for k, v in TYPE_TO_KIND.items()}


@dataclass
class _Request:
    ref: str
    reference: str
    amount: Money
    expires_at: int | None
    events: list[ProviderEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SandboxDelivery:
    """One POST the simulator made: which event, and the receiver's HTTP status."""

    event: ProviderEvent
    status: int


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class _Store(Protocol):
    async def add_request(self, req: _Request, now: int) -> None: ...

    async def request(self, ref: str) -> _Request | None: ...

    async def add_event(self, event: ProviderEvent) -> None: ...

    async def owner_of(self, payment_id: str) -> _Request | None: ...

    async def refund_for_key(self, key: str) -> tuple[str, Money, ProviderRefund] | None: ...

    async def add_refund(self, key: str, payment_id: str, result: ProviderRefund) -> None: ...


class _MemoryStore:
    """The simulator's state in this process only (no database given)."""

    def __init__(self) -> None:
        self._requests: dict[str, _Request] = {}
        self._refund_keys: dict[str, tuple[str, Money, ProviderRefund]] = {}

    async def add_request(self, req: _Request, now: int) -> None:
        self._requests[req.ref] = req

    async def request(self, ref: str) -> _Request | None:
        return self._requests.get(ref)

    async def add_event(self, event: ProviderEvent) -> None:
        self._requests[event.provider_ref].events.append(event)

    async def owner_of(self, payment_id: str) -> _Request | None:
        return next((r for r in self._requests.values()
                     if any(e.payment_id == payment_id for e in r.events)), None)

    async def refund_for_key(self, key: str) -> tuple[str, Money, ProviderRefund] | None:
        return self._refund_keys.get(key)

    async def add_refund(self, key: str, payment_id: str, result: ProviderRefund) -> None:
        self._refund_keys[key] = (payment_id, result.amount, result)


class _SqlStore:
    """The simulator's state in haat's database: its own three tables, lean statements.

    A new link is written *behind*: its row joins the group commit of the payment request
    that asked for it (creating a link must not cost a commit of its own: bench/payments.py
    measured +3 ms p50 on a busy machine), and every later use of that ref waits for it.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._behind: dict[str, asyncio.Future[None]] = {}

    async def add_request(self, req: _Request, now: int) -> None:
        writes = WriteSet()
        writes.add("INSERT INTO sandbox_requests (ref, reference, amount_minor, currency, "
                   "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                   (req.ref, req.reference, req.amount.minor, req.amount.currency,
                    req.expires_at, now))
        task = asyncio.ensure_future(self.db.write(writes))
        self._behind[req.ref] = task
        task.add_done_callback(functools.partial(self._written, req.ref))

    def _written(self, ref: str, task: asyncio.Future[None]) -> None:
        if self._behind.get(ref) is task:
            del self._behind[ref]
        if not task.cancelled() and task.exception() is not None:
            log.error("sandbox: storing link %s failed: %s", ref,
                      type(task.exception()).__name__)

    async def request(self, ref: str) -> _Request | None:
        if (pending := self._behind.get(ref)) is not None:
            with contextlib.suppress(Exception):  # logged by _written; the row is missing
                await asyncio.shield(pending)
        row = await self.db.fetchone(
            "SELECT ref, reference, amount_minor, currency, expires_at FROM sandbox_requests "
            "WHERE ref = ?", (ref,))
        if row is None:
            return None
        bodies = await self.db.fetchall(
            "SELECT body FROM sandbox_events WHERE ref = ? ORDER BY id", (ref,))
        events = [_to_event(json.loads(body)) for (body,) in bodies]
        return _Request(str(row[0]), str(row[1]), Money(minor(row[2]), str(row[3])),
                        None if row[4] is None else int(row[4]), events)

    async def add_event(self, event: ProviderEvent) -> None:
        writes = WriteSet()
        writes.add("INSERT INTO sandbox_events (event_id, ref, payment_id, body) "
                   "VALUES (?, ?, ?, ?)", (event.event_id, event.provider_ref,
                                          event.payment_id, encode_event(event).decode()))
        await self.db.write(writes)

    async def owner_of(self, payment_id: str) -> _Request | None:
        row = await self.db.fetchone(
            "SELECT ref FROM sandbox_events WHERE payment_id = ? LIMIT 1", (payment_id,))
        return None if row is None else await self.request(str(row[0]))

    async def refund_for_key(self, key: str) -> tuple[str, Money, ProviderRefund] | None:
        row = await self.db.fetchone(
            "SELECT payment_id, amount_minor, currency, refund_id FROM sandbox_refunds "
            "WHERE idempotency_key = ?", (key,))
        if row is None:
            return None
        amount = Money(minor(row[1]), str(row[2]))
        return str(row[0]), amount, ProviderRefund(SandboxProvider.name, str(row[3]),
                                                   str(row[0]), amount, "processed")

    async def add_refund(self, key: str, payment_id: str, result: ProviderRefund) -> None:
        writes = WriteSet()
        writes.add("INSERT INTO sandbox_refunds (idempotency_key, payment_id, amount_minor, "
                   "currency, refund_id) VALUES (?, ?, ?, ?, ?)",
                   (key, payment_id, result.amount.minor, result.amount.currency,
                    result.refund_id))
        await self.db.write(writes)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    secret: str | None = option("HAAT_SANDBOX_SECRET", secret=True,
                                doc="signs the sandbox's callbacks and its /sandbox routes")


_OUTCOMES = ("success", "failure", "expire")


def _simulate_route(host: RouteHost) -> Handler:
    """``POST /pay/{token}/sandbox``, the sandbox PSP's test button: it then calls our
    webhook, signed, as a real PSP.

    It marks an order paid, so the link alone (which every shopper holds) is not enough:
    the caller shows the sandbox secret or the admin token as a bearer token. The page asks
    the person for it (``make serve`` prints and uses ``demo``)."""
    name = SandboxProvider.name

    async def simulate(request: web.Request) -> web.StreamResponse:
        payment = await host.payment(request)
        provider = host.provider(request, name)
        if payment.provider != name or not isinstance(provider, SandboxProvider):
            raise web.HTTPNotFound(text="only sandbox payments can be settled here")
        if not host.authorized(request, provider.secret):
            return web.json_response(
                {"error": "simulating a payment needs the sandbox secret (HAAT_SANDBOX_SECRET) "
                          "or the admin token: Authorization: Bearer …"}, status=403)
        try:
            data = wire.loads(await request.read())
        except wire.WireError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        outcome = data.get("outcome") if isinstance(data, dict) else None
        if outcome not in _OUTCOMES:
            return web.json_response({"error": "outcome must be success, failure or expire"},
                                     status=400)
        try:
            deliveries = await provider.settle(payment.provider_ref, outcome,
                                               host.callback_url(request, name))
        except ProviderError as exc:
            raise web.HTTPConflict(text=str(exc)) from exc
        return web.json_response({"delivered": len(deliveries)})

    return simulate


class SandboxProvider:
    name: ClassVar[str] = "sandbox"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"upi_link", "payment_link", "collect", "qr", "refund", "fetch", "cancel", "simulate"}
    )
    options: ClassVar[tuple[Option, ...]] = options(SandboxConfig)
    needs_payee: ClassVar[bool] = False
    card_gateway: ClassVar[str | None] = None
    currencies: ClassVar[frozenset[str] | None] = None
    simulate_path: ClassVar[str] = "/sandbox"  # the pay page's test button (SimulatesPayments)
    routes: ClassVar[tuple[ProviderRoute, ...]] = (
        ProviderRoute("POST", "/pay/{token}" + simulate_path, _simulate_route),)

    @classmethod
    def from_env(cls, env: Mapping[str, str], deps: ProviderDeps) -> SandboxProvider:
        return cls(deps.session, load(SandboxConfig, env).secret, clock=deps.clock, db=deps.db)

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        secret: str | None,
        *,
        hosted_base_url: str = "https://sandbox.haat.invalid/pay",
        clock: Callable[[], float] = time.time,
        db: Database | None = None,
    ) -> None:
        self._session = session
        self._secret = secret or None
        self._hosted = hosted_base_url.rstrip("/")
        self._clock = clock
        self._store: _Store = _MemoryStore() if db is None else _SqlStore(db)

    @property
    def secret(self) -> str | None:
        """HAAT_SANDBOX_SECRET: it also opens the sandbox's "simulate a payment" route."""
        return self._secret

    def _now(self) -> int:
        return int(self._clock())

    # creating ---------------------------------------------------------------------------
    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        if request.amount.minor <= 0:
            raise ProviderError("amount must be positive")
        ref = _new_id("slink")
        upi_uri = None
        if request.payee is not None and request.amount.currency == "INR":
            # a test link: it pays the reserved test VPA, never the merchant's (module doc)
            try:
                upi_uri = UpiLink.build(
                    pa=TEST_VPA, pn=TEST_PAYEE, amount=request.amount,
                    tr=request.reference,
                ).to_uri()
            except UpiError as exc:
                raise ProviderError(str(exc)) from exc
        await self._store.add_request(
            _Request(ref, request.reference, request.amount, request.expire_by), self._now())
        return ProviderLink(
            provider=self.name, provider_ref=ref, reference=request.reference,
            amount=request.amount, url=f"{self._hosted}/{ref}", upi_uri=upi_uri,
            expires_at=request.expire_by,
        )

    async def create_collect(self, request: CollectRequest) -> ProviderCollect:
        if not is_valid_vpa(request.vpa):
            raise ProviderError("invalid_vpa")
        if request.amount.minor <= 0:
            raise ProviderError("amount must be positive")
        ref = _new_id("scol")
        expires = self._now() + request.expiry_minutes * 60
        await self._store.add_request(_Request(ref, request.reference, request.amount, expires),
                                      self._now())
        return ProviderCollect(
            provider=self.name, provider_ref=ref, reference=request.reference,
            amount=request.amount, vpa=request.vpa.strip(), expires_at=expires,
        )

    # server-side state ------------------------------------------------------------------
    async def _get(self, provider_ref: str) -> _Request:
        found = await self._store.request(provider_ref)
        if found is None:
            raise ProviderError(f"unknown sandbox reference {provider_ref!r}")
        return found

    async def _event(
        self, req: _Request, kind: PaymentEventKind, at: int, *, amount: int = 0,
        payment_id: str | None = None, refund_id: str | None = None,
    ) -> ProviderEvent:
        payload: dict[str, Any] = {
            "id": _new_id("sevt"), "type": KIND_TO_TYPE[kind], "created_at": at,
            "ref": req.ref, "reference": req.reference, "payment_id": payment_id,
            "refund_id": refund_id, "amount": amount, "currency": req.amount.currency,
        }
        event = _to_event(payload)
        await self._store.add_event(event)
        if isinstance(self._store, _SqlStore):
            req.events.append(event)  # the memory store appends to this same object
        return event

    def _captured(self, req: _Request) -> dict[str, int]:
        paid: dict[str, int] = {}
        for e in req.events:
            if e.kind is _K.CAPTURED and e.payment_id:
                paid[e.payment_id] = e.amount.minor
            elif e.kind is _K.REFUNDED and e.payment_id:
                paid[e.payment_id] = paid.get(e.payment_id, 0) - e.amount.minor
        return paid

    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        """Everything the simulator knows about the request, with the callback event ids."""
        return list((await self._get(provider_ref)).events)

    async def cancel_link(self, provider_ref: str) -> None:
        """Close a link or collect as a PSP would (a ``request.cancelled`` fact, kept for
        fetch); the first close wins, so cancelling twice is one event."""
        req = await self._get(provider_ref)
        if not any(e.kind in (_K.CANCELLED, _K.EXPIRED) for e in req.events):
            await self._event(req, _K.CANCELLED, self._now())

    async def refund(
        self, payment_id: str, amount: Money, *, idempotency_key: str
    ) -> ProviderRefund:
        """Refund at once (status processed); the event is kept for fetch/redeliver."""
        known = await self._store.refund_for_key(idempotency_key)
        if known is not None:
            if known[:2] != (payment_id, amount):
                raise ProviderError("idempotency key reused with different parameters")
            return known[2]
        owner = await self._store.owner_of(payment_id)
        if owner is None or payment_id not in self._captured(owner):
            raise ProviderError("no captured payment with that id")
        if amount.currency != owner.amount.currency or amount.minor <= 0:
            raise ProviderError("refund amount must be positive and in the payment's currency")
        if amount.minor > self._captured(owner)[payment_id]:
            raise ProviderError("The refund amount provided is greater than amount captured.")
        refund_id = _new_id("srfnd")
        await self._event(owner, _K.REFUNDED, self._now(), amount=amount.minor,
                          payment_id=payment_id, refund_id=refund_id)
        result = ProviderRefund(self.name, refund_id, payment_id, amount, "processed")
        await self._store.add_refund(idempotency_key, payment_id, result)
        return result

    # settling ---------------------------------------------------------------------------
    async def _plan(
        self, req: _Request, outcome: Outcome, *, prior_failure: bool, late: bool
    ) -> list[ProviderEvent]:
        now = self._now()
        if outcome == "expire":
            return [await self._event(req, _K.EXPIRED, now)]
        if outcome == "cancel":
            return [await self._event(req, _K.CANCELLED, now)]
        if outcome == "failure":
            return [await self._event(req, _K.FAILED, now, amount=req.amount.minor,
                                payment_id=_new_id("spay"))]
        if outcome != "success":
            raise ProviderError(f"unknown outcome {outcome!r}")
        events: list[ProviderEvent] = []
        pay_at = now
        if late:
            closed_at = min(now, req.expires_at) if req.expires_at else now
            events.append(await self._event(req, _K.EXPIRED, closed_at))
            pay_at = max(now, closed_at + 1)
        payment_id = _new_id("spay")
        due = req.amount.minor - sum(self._captured(req).values())
        amount = due if due > 0 else req.amount.minor
        if prior_failure:  # UPI retry: payment.failed, then payment.captured, same payment
            events.append(await self._event(req, _K.FAILED, pay_at, amount=amount,
                                      payment_id=payment_id))
            pay_at += 1
        events.append(await self._event(req, _K.CAPTURED, pay_at, amount=amount,
                                  payment_id=payment_id))
        return events

    async def simulate(self, provider_ref: str, outcome: str, callback_url: str) -> int:
        """``SimulatesPayments``: :meth:`settle` once, as the pay page's button does."""
        if outcome not in get_args(Outcome):
            raise ProviderError(f"outcome must be one of {', '.join(get_args(Outcome))}")
        return len(await self.settle(provider_ref, outcome,  # type: ignore[arg-type]
                                     callback_url))

    async def settle(
        self,
        provider_ref: str,
        outcome: Outcome,
        callback_url: str,
        *,
        duplicates: int = 0,
        prior_failure: bool = False,
        reverse: bool = False,
        late: bool = False,
    ) -> list[SandboxDelivery]:
        """Decide the request's fate and POST the signed callback(s) to ``callback_url``.

        ``duplicates`` re-sends each callback that many extra times; ``prior_failure`` sends
        a failed attempt before the capture; ``reverse`` delivers newest first;
        ``late`` expires the request first and captures after it (paid after close).
        """
        req = await self._get(provider_ref)
        self._require_delivery()
        events = await self._plan(req, outcome, prior_failure=prior_failure, late=late)
        if reverse:
            events.reverse()
        return await self._deliver(events, callback_url, copies=1 + max(duplicates, 0))

    async def redeliver(self, provider_ref: str, callback_url: str) -> list[SandboxDelivery]:
        """Send every stored event of a request again (a PSP retrying its webhooks)."""
        req = await self._get(provider_ref)
        self._require_delivery()
        return await self._deliver(list(req.events), callback_url, copies=1)

    def _require_delivery(self) -> None:
        if self._secret is None:
            raise ProviderError("HAAT_SANDBOX_SECRET is not set: cannot sign callbacks")
        if self._session is None:
            raise ProviderError("the sandbox needs an HTTP session to deliver callbacks")

    async def _deliver(
        self, events: list[ProviderEvent], callback_url: str, *, copies: int
    ) -> list[SandboxDelivery]:
        assert self._session is not None and self._secret is not None
        deliveries: list[SandboxDelivery] = []
        for event in events:
            body = encode_event(event)
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: f"sha256={hmac_sha256_hex(self._secret, body)}",
                EVENT_ID_HEADER: event.event_id,
            }
            for _ in range(copies):
                async with self._session.post(callback_url, data=body, headers=headers) as resp:
                    await resp.read()
                    deliveries.append(SandboxDelivery(event, resp.status))
        return deliveries

    # callbacks --------------------------------------------------------------------------
    def sign(self, body: bytes) -> str:
        """The signature header value for ``body`` (tests and the simulator use it)."""
        if self._secret is None:
            raise ProviderError("HAAT_SANDBOX_SECRET is not set")
        return f"sha256={hmac_sha256_hex(self._secret, body)}"

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        value = header(headers, SIGNATURE_HEADER)
        if self._secret is None or not value or not value.startswith("sha256="):
            return False
        return verify_hex(self._secret, body, value.removeprefix("sha256="))

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        try:
            payload = wire.loads(body)  # bounded depth and numbers, storable strings
        except wire.WireError as exc:
            raise ProviderError("callback body is not JSON") from exc
        if not isinstance(payload, dict):
            raise ProviderError("callback body must be a JSON object")
        return [_to_event(payload)]


def encode_event(event: ProviderEvent) -> bytes:
    """The wire bytes of one sandbox event (compact, sorted keys)."""
    payload = {
        "id": event.event_id, "type": KIND_TO_TYPE[event.kind],
        "created_at": event.occurred_at, "ref": event.provider_ref,
        "reference": event.reference, "payment_id": event.payment_id,
        "refund_id": event.refund_id, "amount": event.amount.minor,
        "currency": event.amount.currency,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _str(payload: Mapping[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = payload.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_FIELD:
        raise ProviderError(f"sandbox event field {key!r} must be a non-empty string")
    return value


_MAX_FIELD = 128  # provider_events ids are 128 (payments/models.py)


def _to_event(payload: Mapping[str, Any]) -> ProviderEvent:
    kind = TYPE_TO_KIND.get(str(payload.get("type")))
    if kind is None:
        raise ProviderError("unknown sandbox event type")
    created = epoch_seconds(payload.get("created_at"), "sandbox created_at")
    currency = _str(payload, "currency")
    assert currency is not None
    try:
        amount = Money(int_minor(payload.get("amount"), "amount"), currency)
    except MoneyError as exc:
        raise ProviderError(str(exc)) from exc
    event_id = _str(payload, "id")
    ref = _str(payload, "ref")
    assert event_id is not None and ref is not None
    return ProviderEvent(
        provider=SandboxProvider.name, event_id=event_id, kind=kind, provider_ref=ref,
        amount=amount, occurred_at=created,
        payment_id=_str(payload, "payment_id", optional=True),
        refund_id=_str(payload, "refund_id", optional=True),
        reference=_str(payload, "reference", optional=True),
        refs=(ref,), raw=dict(payload),
    )
