"""Razorpay: Payment Links, UPI collect (S2S), refunds, fetch, webhooks.

Contracts from docs/DESIGN.md §5.2 (Razorpay's own docs and SDK):
basic auth ``key_id:key_secret``; amounts are integer paise in and out; webhooks are signed
with ``X-Razorpay-Signature`` = hex HMAC-SHA256(webhook secret, raw body) and identified by
the ``X-Razorpay-Event-Id`` header (the body has no id). Webhooks are snapshots delivered at
least once in any order, so every payload becomes events keyed by ``payment_id``/``refund_id``
and the reducer does the rest.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from catalog.money import Money, MoneyError
from config import wire
from config.plugins import Option, load, option, options
from payments.providers.base import (
    MAX_EPOCH_SECONDS,
    CollectRequest,
    LinkRequest,
    NotCancellable,
    ProviderCollect,
    ProviderDeps,
    ProviderError,
    ProviderEvent,
    ProviderLink,
    ProviderRefund,
    ProviderRoute,
    int_minor,
    json_answer,
    opt_str,
    reaching,
    unique_refs,
)
from payments.status import PaymentEventKind
from security.signatures import header, verify_hex

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"
DEFAULT_BASE_URL = "https://api.razorpay.com/v1"
_TIMEOUT = aiohttp.ClientTimeout(total=15)
_K = PaymentEventKind

Json = dict[str, Any]


def _entity(payload: Mapping[str, Any], name: str) -> Json | None:
    block = payload.get(name)
    if isinstance(block, dict):
        entity = block.get("entity")
        if isinstance(entity, dict):
            return entity
    return None


def _money(entity: Mapping[str, Any], key: str = "amount") -> Money:
    try:
        return Money(int_minor(entity.get(key), key),
                     str(entity.get("currency") or "INR")[:8])
    except MoneyError as exc:
        raise ProviderError(str(exc)) from exc


def _haat_ref(entity: Mapping[str, Any] | None) -> str | None:
    """Our reference: ``notes.haat_ref`` (set at creation) or a link's ``reference_id``."""
    if not entity:
        return None
    notes = entity.get("notes")
    if isinstance(notes, dict) and opt_str(notes.get("haat_ref")):
        return str(notes["haat_ref"])
    return opt_str(entity.get("reference_id")) or opt_str(entity.get("receipt"))


_PAYMENT_STATUS_KIND: Mapping[str, PaymentEventKind] = {
    "captured": _K.CAPTURED, "failed": _K.FAILED, "authorized": _K.AUTHORIZED,
    "refunded": _K.CAPTURED,  # a refunded payment was captured first; refunds come separately
}


@dataclass(frozen=True, slots=True)
class RazorpayConfig:
    key_id: str | None = option("RAZORPAY_KEY_ID", doc="API key id (basic auth user)")
    key_secret: str | None = option("RAZORPAY_KEY_SECRET", secret=True,
                                    doc="API key secret (basic auth password)")
    webhook_secret: str | None = option("RAZORPAY_WEBHOOK_SECRET", secret=True,
                                        doc="verifies X-Razorpay-Signature")
    api_base_url: str = option("RAZORPAY_API_BASE_URL", DEFAULT_BASE_URL,
                               doc="tests point it at tests/fakes/razorpay.py")


class RazorpayProvider:
    name: ClassVar[str] = "razorpay"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"payment_link", "collect", "refund", "fetch", "cancel"}
    )
    options: ClassVar[tuple[Option, ...]] = options(RazorpayConfig)
    needs_payee: ClassVar[bool] = False
    # its webhooks book what shoppers pay in the WhatsApp order card
    card_gateway: ClassVar[str | None] = "razorpay"
    currencies: ClassVar[frozenset[str] | None] = None
    routes: ClassVar[tuple[ProviderRoute, ...]] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], deps: ProviderDeps) -> RazorpayProvider:
        config = load(RazorpayConfig, env)
        return cls(deps.session, key_id=config.key_id, key_secret=config.key_secret,
                   webhook_secret=config.webhook_secret, base_url=config.api_base_url)

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        key_id: str | None,
        key_secret: str | None,
        webhook_secret: str | Iterable[str] | None,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        self._session = session
        self._authorization: str | None = None
        if key_id and key_secret:
            token = base64.b64encode(f"{key_id}:{key_secret}".encode()).decode("ascii")
            self._authorization = f"Basic {token}"
        if webhook_secret is None or isinstance(webhook_secret, str):
            self._webhook_secrets = [webhook_secret] if webhook_secret else []
        else:
            self._webhook_secrets = [s for s in webhook_secret if s]
        self._base = base_url.rstrip("/")

    # HTTP -------------------------------------------------------------------------------
    async def _call(
        self, method: str, path: str, body: Json | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        if self._session is None:
            raise ProviderError("razorpay needs an HTTP session")
        if self._authorization is None:
            raise ProviderError("RAZORPAY_KEY_ID / RAZORPAY_KEY_SECRET are not set")
        sent = {**(headers or {}), "Authorization": self._authorization}
        async with reaching("razorpay", method, path), self._session.request(
            method, f"{self._base}{path}", json=body, headers=sent, timeout=_TIMEOUT,
        ) as resp:
            return await json_answer(resp, "razorpay", method, path, "description",
                                     detail_limit=2000)

    # creating ---------------------------------------------------------------------------
    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        """``POST /payment_links`` (a UPI link when ``upi_only``; Razorpay: live mode only)."""
        body: Json = {
            "amount": request.amount.minor,
            "currency": request.amount.currency,
            "accept_partial": False,
            "reference_id": request.reference,
            "description": request.description[:2048],
            "notify": {"sms": False, "email": False},
            "reminder_enable": False,
            "notes": {"haat_ref": request.reference},
        }
        if request.upi_only:
            body["upi_link"] = True
        if request.expire_by is not None:
            body["expire_by"] = request.expire_by
        if request.callback_url:
            body["callback_url"] = request.callback_url
            body["callback_method"] = "get"
        customer = {
            k: v for k, v in (("name", request.customer_name),
                              ("contact", request.customer_phone),
                              ("email", request.customer_email)) if v
        }
        if customer:
            body["customer"] = customer
        data = await self._call("POST", "/payment_links", body)
        link_id = opt_str(data.get("id"))
        if link_id is None:
            raise ProviderError("razorpay returned a payment link without an id")
        expire_by = data.get("expire_by")
        return ProviderLink(
            provider=self.name, provider_ref=link_id, reference=request.reference,
            amount=_money(data) if "amount" in data else request.amount,
            url=opt_str(data.get("short_url")),
            expires_at=expire_by if type(expire_by) is int and expire_by else None,
            raw=data,
        )

    async def create_collect(self, request: CollectRequest) -> ProviderCollect:
        """S2S UPI collect: ``POST /orders`` then ``POST /payments/create/upi`` with
        ``upi.flow = collect`` (expiry in minutes, 5..5760). One order per request also
        stops a second payment once the order is paid."""
        order = await self._call("POST", "/orders", {
            "amount": request.amount.minor, "currency": request.amount.currency,
            "receipt": request.reference, "notes": {"haat_ref": request.reference},
        })
        order_id = opt_str(order.get("id"))
        if order_id is None:
            raise ProviderError("razorpay returned an order without an id")
        body: Json = {
            "amount": request.amount.minor, "currency": request.amount.currency,
            "order_id": order_id, "method": "upi", "description": request.description,
            "email": request.customer_email or "", "contact": request.customer_phone or "",
            "ip": request.customer_ip or "", "referer": request.referer or "",
            "user_agent": request.user_agent or "",
            "notes": {"haat_ref": request.reference},
            "upi": {"flow": "collect", "vpa": request.vpa.strip(),
                    "expiry_time": max(5, min(request.expiry_minutes, 5760))},
        }
        data = await self._call("POST", "/payments/create/upi", body)
        payment_id = opt_str(data.get("razorpay_payment_id")) or opt_str(data.get("id"))
        return ProviderCollect(
            provider=self.name, provider_ref=order_id, reference=request.reference,
            amount=request.amount, vpa=request.vpa.strip(), payment_id=payment_id,
            raw={"order": order, "payment": data},
        )

    async def refund(
        self, payment_id: str, amount: Money, *, idempotency_key: str
    ) -> ProviderRefund:
        """``POST /payments/{id}/refund`` with ``X-Refund-Idempotency`` (same key, same
        refund)."""
        data = await self._call(
            "POST", f"/payments/{payment_id}/refund",
            {"amount": amount.minor, "speed": "normal",
             "notes": {"haat_idempotency_key": idempotency_key[:255]}},
            headers={"X-Refund-Idempotency": idempotency_key},
        )
        refund_id = opt_str(data.get("id"))
        if refund_id is None:
            raise ProviderError("razorpay returned a refund without an id")
        return self._refund_of(data, refund_id, payment_id)

    async def fetch_refund(self, payment_id: str, refund_id: str) -> ProviderRefund:
        """``GET /payments/{payment_id}/refunds/{refund_id}``: a refund's status now
        (``pending`` until the bank settles it, then ``processed`` or ``failed``)."""
        data = await self._call("GET", f"/payments/{payment_id}/refunds/{refund_id}")
        if opt_str(data.get("id")) != refund_id:
            raise ProviderError("razorpay returned another refund")
        return self._refund_of(data, refund_id, payment_id)

    def _refund_of(self, data: Json, refund_id: str, payment_id: str) -> ProviderRefund:
        """A refund entity as created or fetched (both answer the same shape)."""
        return ProviderRefund(
            provider=self.name, refund_id=refund_id,
            payment_id=opt_str(data.get("payment_id")) or payment_id,
            amount=_money(data), status=str(data.get("status") or "pending"), raw=data,
        )

    async def cancel_link(self, provider_ref: str) -> None:
        """``POST /payment_links/{id}/cancel``: Razorpay cancels only a link in the
        ``created`` state (not partially paid, paid or expired): those answer 400, which is
        final (:class:`NotCancellable`); money that still arrives is paid after close."""
        if not provider_ref.startswith("plink_"):
            raise NotCancellable("only payment links can be cancelled")
        try:
            data = await self._call("POST", f"/payment_links/{provider_ref}/cancel")
        except ProviderError as exc:
            if "HTTP 400" in str(exc):
                raise NotCancellable(str(exc)) from exc
            raise
        if data.get("status") != "cancelled":
            raise NotCancellable(f"razorpay left the link {data.get('status')!r}")

    # fetching ---------------------------------------------------------------------------
    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        """Reconciliation: the PSP's current view as events (ids ``fetch:…`` are stable, and
        captures dedupe with webhook events on ``payment_id``)."""
        if provider_ref.startswith("plink_"):
            link = await self._call("GET", f"/payment_links/{provider_ref}")
            return self._link_snapshot(link)
        if provider_ref.startswith("order_"):
            data = await self._call("GET", f"/orders/{provider_ref}/payments")
            items = data.get("items")
            return [e for p in (items if isinstance(items, list) else [])
                    if isinstance(p, dict) for e in self._payment_snapshot(p, provider_ref)]
        if provider_ref.startswith("pay_"):
            payment = await self._call("GET", f"/payments/{provider_ref}")
            return self._payment_snapshot(payment, opt_str(payment.get("order_id"))
                                          or provider_ref)
        raise ProviderError(f"cannot fetch razorpay reference {provider_ref[:12]!r}")

    def _link_snapshot(self, link: Json) -> list[ProviderEvent]:
        link_id = str(link.get("id"))
        currency = str(link.get("currency") or "INR")
        ours = _haat_ref(link)
        refs = unique_refs(link_id, link.get("order_id"), ours)
        events: list[ProviderEvent] = []
        payments = link.get("payments")
        for p in payments if isinstance(payments, list) else []:
            if not isinstance(p, dict) or p.get("status") != "captured":
                continue
            payment_id = str(p.get("payment_id"))
            at = p.get("created_at")
            events.append(ProviderEvent(
                provider=self.name, event_id=f"fetch:{payment_id}:captured",
                kind=_K.CAPTURED, provider_ref=link_id,
                amount=_money({"amount": p.get("amount"), "currency": currency}),
                occurred_at=at if type(at) is int else 0, payment_id=payment_id,
                reference=ours, refs=refs, raw=p,
            ))
        status = link.get("status")
        for state, kind, stamp in (("expired", _K.EXPIRED, "expired_at"),
                                   ("cancelled", _K.CANCELLED, "cancelled_at")):
            if status == state:
                at = link.get(stamp)
                events.append(ProviderEvent(
                    provider=self.name, event_id=f"fetch:{link_id}:{state}", kind=kind,
                    provider_ref=link_id, amount=Money.zero(currency),
                    occurred_at=at if type(at) is int else 0, reference=ours, refs=refs,
                    raw=link,
                ))
        return events

    def _payment_snapshot(self, payment: Json, provider_ref: str) -> list[ProviderEvent]:
        kind = _PAYMENT_STATUS_KIND.get(str(payment.get("status")))
        if kind is None:
            return []
        payment_id = str(payment.get("id"))
        at = payment.get("created_at")
        ours = _haat_ref(payment)
        return [ProviderEvent(
            provider=self.name, event_id=f"fetch:{payment_id}:{kind}", kind=kind,
            provider_ref=provider_ref, amount=_money(payment),
            occurred_at=at if type(at) is int else 0, payment_id=payment_id, reference=ours,
            refs=unique_refs(provider_ref, payment.get("order_id"), ours), raw=payment,
        )]

    # webhooks ---------------------------------------------------------------------------
    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Hex HMAC of the raw body with any configured webhook secret (rotation-safe)."""
        return verify_hex(self._webhook_secrets, body, header(headers, SIGNATURE_HEADER))

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        """Events from one webhook; unknown or informational events give ``[]``."""
        try:
            envelope = wire.loads(body)  # bounded depth and numbers, storable strings
        except wire.WireError as exc:
            raise ProviderError("webhook body is not JSON") from exc
        if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
            raise ProviderError("not a Razorpay webhook envelope")
        name = str(envelope.get("event") or "")
        payload: Mapping[str, Any] = envelope["payload"]
        event_id = opt_str(wire.clean(header(headers, EVENT_ID_HEADER) or "")) or (
            "body:" + hashlib.sha256(body).hexdigest()[:32]
        )
        created = envelope.get("created_at")
        at = created if type(created) is int and 0 <= created <= MAX_EPOCH_SECONDS else 0
        payment = _entity(payload, "payment")
        link = _entity(payload, "payment_link")
        order = _entity(payload, "order")
        qr = _entity(payload, "qr_code")
        refund = _entity(payload, "refund")
        ours = _haat_ref(link) or _haat_ref(payment) or _haat_ref(order)
        primary = opt_str((link or qr or {}).get("id")) or opt_str(
            (payment or {}).get("order_id")) or opt_str((order or {}).get("id"))
        refs = unique_refs(primary, (link or {}).get("order_id"),
                           (payment or {}).get("order_id"), (order or {}).get("id"),
                           (qr or {}).get("id"), ours)

        def make(kind: PaymentEventKind, amount: Money, **extra: Any) -> ProviderEvent:
            return ProviderEvent(
                provider=self.name, event_id=event_id, kind=kind,
                provider_ref=primary or str(extra.get("payment_id") or ""), amount=amount,
                occurred_at=at, reference=ours, refs=refs, raw=envelope, **extra,
            )

        if name in ("payment_link.paid", "payment_link.partially_paid", "payment.captured",
                    "order.paid", "qr_code.credited"):
            if payment is None:
                raise ProviderError(f"{name} without a payment entity")
            return [make(_K.CAPTURED, _money(payment), payment_id=opt_str(payment.get("id")))]
        if name in ("payment.failed", "payment.authorized"):
            if payment is None:
                raise ProviderError(f"{name} without a payment entity")
            kind = _K.FAILED if name == "payment.failed" else _K.AUTHORIZED
            return [make(kind, _money(payment), payment_id=opt_str(payment.get("id")))]
        if name in ("payment_link.expired", "payment_link.cancelled", "qr_code.closed"):
            source = link or qr
            if source is None:
                raise ProviderError(f"{name} without its entity")
            kind = _K.CANCELLED if name.endswith("cancelled") or (
                name == "qr_code.closed" and source.get("close_reason") == "on_demand"
            ) else _K.EXPIRED
            currency = str(source.get("currency") or "INR")[:8]
            try:
                zero = Money.zero(currency)
            except MoneyError as exc:
                raise ProviderError(str(exc)) from exc
            return [make(kind, zero)]
        if name in ("refund.processed", "refund.failed"):
            if refund is None:
                raise ProviderError(f"{name} without a refund entity")
            kind = _K.REFUNDED if name == "refund.processed" else _K.REFUND_FAILED
            return [make(kind, _money(refund), payment_id=opt_str(refund.get("payment_id")),
                         refund_id=opt_str(refund.get("id")))]
        return []
