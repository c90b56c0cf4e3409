"""Stripe: Payment Links (cards, for shops that take AED, USD …), refunds, fetch, webhooks.

The contract, from Stripe's API reference (the ``search`` corpus "docs"):

- REST at ``https://api.stripe.com/v1``, ``Authorization: Bearer <secret key>``, request
  bodies **form-encoded** with bracketed keys (``line_items[0][price_data][currency]=aed``),
  JSON answers, errors as ``{"error": {"type", "code", "message"}}``; a retried POST with the
  same ``Idempotency-Key`` gets the first answer. Amounts are integers in the currency's
  smallest unit (our minor units), currencies lowercase ISO codes.
- ``POST /payment_links`` with an ad-hoc ``price_data`` line (API version 2025-07-30.basil
  and later), one completed session at most, our reference in ``metadata`` and in the
  payment intent's metadata; ``POST /payment_links/{id}`` with ``active=false``
  deactivates it once the order is paid or cancelled.
- ``POST /refunds`` with ``payment_intent`` and ``amount``; a refund is ``pending``,
  ``requires_action``, ``succeeded``, ``failed`` or ``canceled``.
- Webhooks carry ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]``: hex HMAC-SHA256 with the
  endpoint's signing secret over ``"<t>." + raw body``; any ``v1`` may match (secret
  rotation), other schemes are ignored, and ``t`` must be within the tolerance (300 s, as
  Stripe's libraries default to) of our clock, which stops replays of old deliveries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

import aiohttp

from catalog.money import Money, MoneyError
from config import wire
from config.plugins import Option, load, option, options
from payments.providers.base import (
    MAX_EPOCH_SECONDS,
    CollectRequest,
    LinkRequest,
    ProviderCollect,
    ProviderDeps,
    ProviderError,
    ProviderEvent,
    ProviderLink,
    ProviderRefund,
    ProviderRoute,
    Unsupported,
    int_minor,
    json_answer,
    opt_str,
    reaching,
    unique_refs,
)
from payments.status import PaymentEventKind
from security.signatures import header, hmac_sha256_hex, verify_hex

SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_BASE_URL = "https://api.stripe.com/v1"
API_VERSION = "2025-07-30.basil"  # the first with price_data on payment links
DEFAULT_TOLERANCE_SECONDS = 300
_TIMEOUT = aiohttp.ClientTimeout(total=15)
_K = PaymentEventKind

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StripeConfig:
    secret_key: str | None = option("STRIPE_SECRET_KEY", secret=True,
                                    doc="API secret key (sk_live_… / sk_test_…)")
    webhook_secret: str | None = option(
        "STRIPE_WEBHOOK_SECRET", secret=True,
        doc="the endpoint's signing secret (whsec_…); several, comma-separated, while "
            "rotating")
    api_base_url: str = option("STRIPE_API_BASE_URL", DEFAULT_BASE_URL,
                               doc="tests point it at tests/fakes/stripe.py")
    tolerance_seconds: str = option("STRIPE_WEBHOOK_TOLERANCE",
                                    str(DEFAULT_TOLERANCE_SECONDS),
                                    doc="how old a signed delivery may be, in seconds")


def form_encode(data: Mapping[str, Any]) -> str:
    """Stripe's form encoding: nested mappings and lists as bracketed keys."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), inner)
        elif isinstance(value, list | tuple):
            for i, inner in enumerate(value):
                walk(f"{prefix}[{i}]", inner)
        elif isinstance(value, bool):
            pairs.append((prefix, "true" if value else "false"))
        elif value is not None:
            pairs.append((prefix, str(value)))

    walk("", data)
    return urlencode(pairs)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` Stripe would send for ``body`` at ``timestamp``."""
    return f"t={timestamp},v1={_sign(secret, timestamp, body)}"


def _sign(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac_sha256_hex(secret, _signed_payload(timestamp, body))


def _signed_payload(timestamp: int | str, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def verify_signature(secrets: Iterable[str], body: bytes, value: str | None, *,
                     now: float, tolerance: int) -> bool:
    """Stripe's scheme, fail closed: a well-formed header, a timestamp within
    ``tolerance`` of ``now`` and some ``v1`` that matches some secret."""
    keys = [s for s in secrets if s]
    if not keys or not value or len(value) > 4096:
        return False
    timestamp: str | None = None
    given: list[str] = []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            timestamp = val
        elif key == "v1":
            given.append(val)
    if timestamp is None or not timestamp.isascii() or not timestamp.isdigit() \
            or len(timestamp) > 12 or not given:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    message = _signed_payload(timestamp, body)
    ok = False
    for signature in given:  # no early exit: timing does not reveal which v1 matched
        ok |= verify_hex(keys, message, signature)
    return ok


def _money(amount: object, currency: object, what: str) -> Money:
    try:
        return Money(int_minor(amount, what), str(currency or "").upper()[:8])
    except MoneyError as exc:
        raise ProviderError(str(exc)) from exc


def _haat_ref(entity: Mapping[str, Any]) -> str | None:
    metadata = entity.get("metadata")
    if isinstance(metadata, dict):
        return opt_str(metadata.get("haat_ref"))
    return None


_REFUND_STATUS = {"succeeded": "processed", "failed": "failed", "canceled": "failed"}


class StripeProvider:
    name: ClassVar[str] = "stripe"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"payment_link", "refund", "fetch", "cancel"})
    options: ClassVar[tuple[Option, ...]] = options(StripeConfig)
    needs_payee: ClassVar[bool] = False
    card_gateway: ClassVar[str | None] = None
    currencies: ClassVar[frozenset[str] | None] = None
    routes: ClassVar[tuple[ProviderRoute, ...]] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], deps: ProviderDeps) -> StripeProvider:
        config = load(StripeConfig, env)
        try:
            tolerance = int(config.tolerance_seconds)
        except ValueError as exc:
            raise ValueError("STRIPE_WEBHOOK_TOLERANCE must be a number of seconds") from exc
        return cls(deps.session, secret_key=config.secret_key,
                   webhook_secret=(config.webhook_secret or "").split(","),
                   base_url=config.api_base_url, tolerance=tolerance, clock=deps.clock)

    def __init__(self, session: aiohttp.ClientSession | None, *, secret_key: str | None,
                 webhook_secret: str | Iterable[str] | None,
                 base_url: str = DEFAULT_BASE_URL,
                 tolerance: int = DEFAULT_TOLERANCE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._session = session
        self._authorization = f"Bearer {secret_key}" if secret_key else None
        if webhook_secret is None or isinstance(webhook_secret, str):
            self._webhook_secrets = [webhook_secret] if webhook_secret else []
        else:
            self._webhook_secrets = [s.strip() for s in webhook_secret if s.strip()]
        self._base = base_url.rstrip("/")
        self._tolerance = tolerance
        self._clock = clock

    # HTTP -------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, form: Mapping[str, Any] | None = None, *,
                    idempotency_key: str | None = None,
                    query: Mapping[str, str] | None = None) -> Json:
        if self._session is None:
            raise ProviderError("stripe needs an HTTP session")
        if self._authorization is None:
            raise ProviderError("STRIPE_SECRET_KEY is not set")
        headers = {"Authorization": self._authorization, "Stripe-Version": API_VERSION}
        data: str | None = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = form_encode(form)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key[:255]
        async with reaching("stripe", method, path), self._session.request(
                method, f"{self._base}{path}", data=data, params=query, headers=headers,
                timeout=_TIMEOUT) as resp:
            return await json_answer(resp, "stripe", method, path, "message")

    # creating ---------------------------------------------------------------------------
    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        """``POST /payment_links``: one line for the amount, payable once."""
        currency = request.amount.currency
        if "/" in currency or len(currency) != 3:
            raise ProviderError(f"stripe takes ISO 4217 currencies, not {currency!r}")
        if request.amount.minor <= 0:
            raise ProviderError("amount must be positive")
        form: Json = {
            "line_items": [{
                "price_data": {"currency": currency.lower(),
                               "unit_amount": request.amount.minor,
                               "product_data": {"name": (request.description
                                                         or request.reference)[:250]}},
                "quantity": 1,
            }],
            "metadata": {"haat_ref": request.reference},
            "payment_intent_data": {"metadata": {"haat_ref": request.reference}},
            "restrictions": {"completed_sessions": {"limit": 1}},
        }
        if request.callback_url:
            form["after_completion"] = {"type": "redirect",
                                        "redirect": {"url": request.callback_url}}
        data = await self._call("POST", "/payment_links", form,
                                idempotency_key=f"haat-link-{request.reference}")
        link_id = opt_str(data.get("id"))
        url = opt_str(data.get("url"))
        if link_id is None or url is None:
            raise ProviderError("stripe returned a payment link without an id or url")
        return ProviderLink(provider=self.name, provider_ref=link_id,
                            reference=request.reference, amount=request.amount, url=url,
                            expires_at=request.expire_by, raw=data)

    async def create_collect(self, request: CollectRequest) -> ProviderCollect:
        raise Unsupported("stripe has no UPI collect")

    async def cancel_link(self, provider_ref: str) -> None:
        """``POST /payment_links/{id}`` with ``active=false``: nobody can open it again."""
        if not provider_ref.startswith("plink_"):
            raise ProviderError("only payment links can be deactivated")
        data = await self._call("POST", f"/payment_links/{provider_ref}", {"active": False},
                                idempotency_key=f"haat-close-{provider_ref}")
        if data.get("active") is not False:
            raise ProviderError("stripe left the payment link active")

    async def refund(self, payment_id: str, amount: Money, *,
                     idempotency_key: str) -> ProviderRefund:
        """``POST /refunds`` (same ``Idempotency-Key``, same refund)."""
        data = await self._call("POST", "/refunds", {
            "payment_intent": payment_id, "amount": amount.minor,
            "metadata": {"haat_idempotency_key": idempotency_key[:500]},
        }, idempotency_key=idempotency_key)
        refund_id = opt_str(data.get("id"))
        if refund_id is None:
            raise ProviderError("stripe returned a refund without an id")
        return ProviderRefund(
            provider=self.name, refund_id=refund_id,
            payment_id=opt_str(data.get("payment_intent")) or payment_id,
            amount=_money(data.get("amount"), data.get("currency"), "amount"),
            status=_REFUND_STATUS.get(str(data.get("status")), "pending"), raw=data)

    # fetching ---------------------------------------------------------------------------
    async def fetch(self, provider_ref: str) -> list[ProviderEvent]:
        """Reconciliation: the link's paid checkout sessions (and whether it is still
        active) as events whose ids are stable across fetches."""
        if not provider_ref.startswith("plink_"):
            raise ProviderError(f"cannot fetch stripe reference {provider_ref[:12]!r}")
        link = await self._call("GET", f"/payment_links/{provider_ref}")
        listing = await self._call("GET", "/checkout/sessions",
                                   query={"payment_link": provider_ref, "limit": "100"})
        ours = _haat_ref(link)
        events: list[ProviderEvent] = []
        sessions = listing.get("data")
        for session in sessions if isinstance(sessions, list) else []:
            if isinstance(session, dict) and session.get("payment_status") == "paid":
                events.append(self._session_event(f"fetch:{session.get('id')}:captured",
                                                  _K.CAPTURED, session, 0))
        if link.get("active") is False:
            currency = str(link.get("currency") or "usd").upper()
            events.append(ProviderEvent(
                provider=self.name, event_id=f"fetch:{provider_ref}:inactive",
                kind=_K.CANCELLED, provider_ref=provider_ref,
                amount=_money(0, currency, "amount"), occurred_at=0, reference=ours,
                refs=unique_refs(provider_ref, ours), raw=link))
        return events

    def _session_event(self, event_id: str, kind: PaymentEventKind, session: Mapping[str, Any],
                       at: int) -> ProviderEvent:
        link_id = opt_str(session.get("payment_link"))
        intent = opt_str(session.get("payment_intent"))
        if link_id is None or intent is None:
            raise ProviderError("a checkout session without its payment link or intent")
        ours = _haat_ref(session)
        return ProviderEvent(
            provider=self.name, event_id=event_id, kind=kind, provider_ref=link_id,
            amount=_money(session.get("amount_total"), session.get("currency"),
                          "amount_total"),
            occurred_at=at, payment_id=intent, reference=ours,
            refs=unique_refs(link_id, opt_str(session.get("id")), ours), raw=dict(session))

    # webhooks ---------------------------------------------------------------------------
    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_signature(self._webhook_secrets, body, header(headers, SIGNATURE_HEADER),
                                now=self._clock(), tolerance=self._tolerance)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        """Events from one Stripe event; kinds haat does not act on give ``[]``."""
        try:
            envelope = wire.loads(body)
        except wire.WireError as exc:
            raise ProviderError("webhook body is not JSON") from exc
        if not isinstance(envelope, dict) or envelope.get("object") != "event":
            raise ProviderError("not a Stripe event")
        data = envelope.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        event_id = opt_str(envelope.get("id"))
        if not isinstance(obj, dict) or event_id is None:
            raise ProviderError("a Stripe event without its id or data.object")
        kind_name = str(envelope.get("type") or "")
        created = envelope.get("created")
        at = created if type(created) is int and 0 <= created <= MAX_EPOCH_SECONDS else 0
        if kind_name in ("checkout.session.completed",
                         "checkout.session.async_payment_succeeded"):
            if obj.get("payment_status") != "paid" or not obj.get("payment_link"):
                return []  # an async method still pending, or not one of our links
            return [self._session_event(event_id, _K.CAPTURED, obj, at)]
        if kind_name == "checkout.session.async_payment_failed":
            if not obj.get("payment_link"):
                return []
            return [self._session_event(event_id, _K.FAILED, obj, at)]
        if kind_name in ("refund.created", "refund.updated", "refund.failed"):
            status = _REFUND_STATUS.get(str(obj.get("status")))
            intent = opt_str(obj.get("payment_intent"))
            if status is None or intent is None:
                return []  # pending: the final state follows in refund.updated
            return [ProviderEvent(
                provider=self.name, event_id=event_id,
                kind=_K.REFUNDED if status == "processed" else _K.REFUND_FAILED,
                provider_ref=intent,
                amount=_money(obj.get("amount"), obj.get("currency"), "amount"),
                occurred_at=at, payment_id=intent, refund_id=opt_str(obj.get("id")),
                refs=unique_refs(intent), raw=envelope)]
        return []
