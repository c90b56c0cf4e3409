"""The payment-provider protocol and the value types that cross it.

A provider is one module with one class (see ``registry.py``); it takes an
``aiohttp.ClientSession`` and its own configuration as constructor parameters and does the
only payment I/O in the code base. Callbacks are verified over raw bytes and fail closed;
parsing turns a callback or a fetch into :class:`ProviderEvent` values that the pure reducer
(:func:`payments.status.apply_events`) folds into a payment state.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import aiohttp

from catalog.money import Money
from config.plugins import Option
from payments.status import PaymentEventKind

if TYPE_CHECKING:
    from aiohttp import web

    from storage.database import Database

# upi_link: create_payment_link returns a ``upi://pay`` intent (ProviderLink.upi_uri);
# payment_link: it returns a hosted https page (ProviderLink.url); qr: the upi_uri may be shown
# as a QR; collect: create_collect works; refund / fetch: those methods work; cancel: the
# provider has ``cancel_link`` (see :class:`CancelsLinks`); transfer: the shopper sends the
# money to the merchant's own account by hand, and ``create_transfer`` gives the instructions
# (see :class:`TakesTransfers`); simulate: a test PSP, no real money moves and its links pay
# nobody; it settles its own requests on demand (see :class:`SimulatesPayments`: the pay
# page's test button, ``haat test``'s ``pay:`` step, ``haat serve``'s refusal beside a live
# channel).
Capability = Literal["upi_link", "payment_link", "collect", "qr", "refund", "fetch", "cancel",
                     "transfer", "simulate"]
CAPABILITIES: frozenset[str] = frozenset(
    {"upi_link", "payment_link", "collect", "qr", "refund", "fetch", "cancel", "transfer",
     "simulate"}
)


class ProviderError(Exception):
    """The provider refused or failed a request (message safe to log: no secrets)."""


async def json_answer(resp: aiohttp.ClientResponse, provider: str, method: str, path: str,
                      detail_key: str, detail_limit: int = 200) -> dict[str, Any]:
    """A provider API's JSON object answer, or :class:`ProviderError` with its own error
    text (``error.<detail_key>``): an HTTP error, or a body that is not a JSON object."""
    text = await resp.text()
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if resp.status >= 400 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        detail = error.get(detail_key) if isinstance(error, dict) else None
        raise ProviderError(f"{provider} {method} {path.split('/')[1]}: "
                            f"HTTP {resp.status} {str(detail or '')[:detail_limit]}".rstrip())
    return data


@contextlib.asynccontextmanager
async def reaching(provider: str, method: str, path: str) -> AsyncIterator[None]:
    """A provider that cannot be reached (refused, reset, timed out) is a
    :class:`ProviderError` like an answer it refuses: whoever retries, retries (a refund
    under the same key), and nothing escapes as a crash of the caller."""
    try:
        yield
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise ProviderError(f"{provider} {method} {path.split('/')[1]}: unreachable "
                            f"({type(exc).__name__})") from exc


class Unsupported(ProviderError):
    """The provider lacks the capability (or is not configured for it)."""


class NotCancellable(ProviderError):
    """The link is past cancelling at the provider (paid, partially paid, expired)."""


@dataclass(frozen=True, slots=True)
class UpiPayee:
    """The merchant's UPI identity from shop.yaml ``payments.upi``."""

    vpa: str
    name: str
    mcc: str | None = None


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """Ask for a payment link / UPI intent for one payment attempt.

    ``reference`` is our per-attempt id: UPI ``tr``, Razorpay and WhatsApp ``reference_id``
    (≤ 35 chars ``[A-Za-z0-9_.-]``).
    """

    reference: str
    amount: Money
    description: str = ""
    expire_by: int | None = None  # unix seconds
    payee: UpiPayee | None = None  # needed for upi:// links
    callback_url: str | None = None  # shopper redirect after paying (hosted links)
    customer_name: str | None = None
    customer_phone: str | None = None
    customer_email: str | None = None
    upi_only: bool = False  # Razorpay: a UPI payment link (live mode only)


@dataclass(frozen=True, slots=True)
class ProviderLink:
    provider: str
    provider_ref: str  # plink_…, slink_…, or our reference for upi_intent
    reference: str
    amount: Money
    url: str | None = None  # hosted https page, when the provider has one
    upi_uri: str | None = None  # upi://pay… when the provider issues one
    expires_at: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """A UPI collect (payee-initiated pull). Deprecated by NPCI for most P2M since 2026."""

    reference: str
    amount: Money
    vpa: str
    description: str = ""
    expiry_minutes: int = 15
    customer_phone: str | None = None
    customer_email: str | None = None
    customer_ip: str | None = None
    user_agent: str | None = None
    referer: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderCollect:
    provider: str
    provider_ref: str
    reference: str
    amount: Money
    vpa: str
    payment_id: str | None = None
    expires_at: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TransferPayee:
    """The merchant's own account for one manual-transfer method (shop.yaml
    ``payments.<method>``): a wallet number, a UPI ID, or a bank account and its codes."""

    method: str  # bkash | nagad | rocket | upi_transfer | bank_transfer
    number: str
    name: str
    kind: str = "personal"  # wallet account type: personal | merchant | agent
    bank: str | None = None
    branch: str | None = None
    ifsc: str | None = None
    routing: str | None = None
    swift: str | None = None
    expiry_minutes: int = 24 * 60  # the order waits this long for the money


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """Ask the shopper to send ``amount`` to ``payee`` quoting ``reference`` (the order
    label the shopper types into the wallet's reference field, ``ORD-1001``)."""

    request_id: str  # our per-attempt id
    reference: str
    amount: Money
    payee: TransferPayee
    expire_by: int | None = None  # unix seconds


@dataclass(frozen=True, slots=True)
class ProviderTransfer:
    provider: str
    provider_ref: str
    reference: str
    amount: Money
    payee: TransferPayee
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class ProviderRefund:
    provider: str
    refund_id: str
    payment_id: str
    amount: Money
    status: str  # pending | processed | failed (provider words, normalised)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One fact reported by a provider (webhook or fetch).

    ``event_id`` is unique per provider (store it with a unique constraint before applying);
    ``provider_ref`` names the link/collect/QR it belongs to; ``refs`` lists every other key
    found in the payload (order id, our reference, QR id…) so the service can resolve the
    payment request from any of them; ``amount`` is integer minor units.
    """

    provider: str
    event_id: str
    kind: PaymentEventKind
    provider_ref: str
    amount: Money
    occurred_at: int
    payment_id: str | None = None
    refund_id: str | None = None
    reference: str | None = None  # our tr/reference_id when the payload carries it
    refs: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ProviderDeps:
    """What the composition root hands every provider besides its own settings."""

    session: aiohttp.ClientSession | None = None
    clock: Callable[[], float] = time.time  # the sandbox's event times (tests move it)
    db: Database | None = None  # where the sandbox keeps its state (memory without one)


@runtime_checkable
class PaymentProvider(Protocol):
    """What every provider module implements. Methods outside ``capabilities`` raise
    :class:`Unsupported`; ``verify_callback`` returns False rather than raising."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]

    async def create_payment_link(self, request: LinkRequest) -> ProviderLink: ...

    async def create_collect(self, request: CollectRequest) -> ProviderCollect: ...

    async def refund(
        self, payment_id: str, amount: Money, *, idempotency_key: str
    ) -> ProviderRefund: ...

    async def fetch(self, provider_ref: str) -> list[ProviderEvent]: ...

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool: ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]: ...


@dataclass(frozen=True, slots=True)
class PagePayment:
    """What a provider's own route learns of the payment its ``/pay/{token}`` path names."""

    provider: str
    provider_ref: str


class RouteHost(Protocol):
    """What the app lends a provider's own routes (``webhooks/payment_routes.py:AppHost``):
    they stay in the provider's module and still never import the app."""

    def provider(self, request: web.Request, name: str) -> PaymentProvider | None: ...

    async def payment(self, request: web.Request) -> PagePayment:
        """The payment of ``{token}``; raises 404 for a token we never issued."""
        ...

    def authorized(self, request: web.Request, secret: str | None) -> bool:
        """The bearer token is ``secret`` or the admin token."""
        ...

    def callback_url(self, request: web.Request, name: str) -> str:
        """The public URL of provider ``name``'s webhooks (:func:`callback_path`)."""
        ...


Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


@dataclass(frozen=True, slots=True)
class ProviderRoute:
    """A route a provider adds besides the shared webhook: the app mounts
    ``handler(host)`` at ``method path`` for every registered provider."""

    method: str
    path: str
    handler: Callable[[RouteHost], Handler]


class ProviderPlugin(Protocol):
    """What a provider *class* declares, so that the registry, the app, ``haat check``,
    the shop loader and the contract suite learn everything from one registry line.

    - ``name``: the shop.yaml ``payments.provider`` value;
    - ``capabilities``: what it can do (``Capability``);
    - ``options``: the environment keys it reads (``config.plugins.options`` of its config);
    - ``needs_payee``: a shop using it must declare ``payments.upi`` (its links pay the
      merchant's own UPI ID);
    - ``card_gateway``: the WhatsApp card gateway (``whatsapp_commerce.gateway``) whose
      payments its webhooks book, or None;
    - ``currencies``: the only currencies it takes whatever the method, or None for any
      (the shop loader checks both, and ``collect`` against ``capabilities``, from
      ``webhooks/plugins.py:plugin_rules``);
    - ``routes``: the routes it adds (:class:`ProviderRoute`; a test provider's settle
      button, :class:`SimulatesPayments`);
      its webhooks arrive on the shared ``/webhooks/payments/{provider}``
      (:func:`callback_path`, answered by ``webhooks/payment_routes.py``);
    - ``from_env``: build it from its own keys and the shared dependencies.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    options: ClassVar[tuple[Option, ...]]
    needs_payee: ClassVar[bool]
    card_gateway: ClassVar[str | None]
    currencies: ClassVar[frozenset[str] | None]
    routes: ClassVar[tuple[ProviderRoute, ...]]

    @classmethod
    def from_env(cls, env: Mapping[str, str], deps: ProviderDeps) -> PaymentProvider: ...


@runtime_checkable
class TakesTransfers(Protocol):
    """Providers with the ``transfer`` capability: the money goes straight to the merchant's
    own account, so nobody calls back. The provider gives the instructions; the shopper's
    "I sent it, TrxID …" becomes an informational ``authorized`` event (no money moves in
    the books), and only the merchant's confirmation (``paid ORD-…``) is a ``captured``
    event. ``methods`` names the shop.yaml methods it serves."""

    methods: ClassVar[frozenset[str]]

    async def create_transfer(self, request: TransferRequest) -> ProviderTransfer: ...

    def claim_event(self, request_id: str, amount: Money, transaction_id: str, *,
                    occurred_at: int) -> ProviderEvent: ...

    def confirm_event(self, request_id: str, amount: Money, transaction_id: str | None, *,
                      occurred_at: int) -> ProviderEvent: ...


def callback_path(name: str) -> str:
    """Where provider ``name``'s webhooks arrive (one route serves every provider)."""
    return f"/webhooks/payments/{name}"


@runtime_checkable
class CancelsLinks(Protocol):
    """Providers with the ``cancel`` capability: once an order is paid or cancelled, its
    other links are cancelled at the provider so nobody can pay them."""

    async def cancel_link(self, provider_ref: str) -> None: ...


@runtime_checkable
class SimulatesPayments(Protocol):
    """Providers with the ``simulate`` capability (a test PSP): the pay page offers a test
    button that posts ``{"outcome": …}`` to ``/pay/{token}`` + ``simulate_path`` (a route
    the provider adds itself), and ``haat test``'s ``pay:`` step calls :meth:`simulate`."""

    simulate_path: ClassVar[str]

    async def simulate(self, provider_ref: str, outcome: str, callback_url: str) -> int:
        """Settle request ``provider_ref`` as ``outcome`` (success, failure or expire) by
        calling ``callback_url`` back as a real PSP would; returns the callbacks sent."""
        ...


def simulates(provider: PaymentProvider | None) -> SimulatesPayments | None:
    """``provider`` when it declares ``simulate`` (and so settles on demand), else None."""
    if provider is not None and "simulate" in provider.capabilities and \
            isinstance(provider, SimulatesPayments):
        return provider
    return None


@runtime_checkable
class FetchesRefunds(Protocol):
    """Providers whose refunds can stay ``pending`` and can be asked about later (Razorpay):
    reconcile polls every pending refund (``PaymentService.poll_refunds``) in case its
    webhook never comes."""

    async def fetch_refund(self, payment_id: str, refund_id: str) -> ProviderRefund: ...


def require(provider: PaymentProvider, capability: Capability) -> None:
    """Raise Unsupported unless ``provider`` declares ``capability``."""
    if capability not in provider.capabilities:
        raise Unsupported(f"{provider.name} does not support {capability}")


MAX_AMOUNT_MINOR = 10**30  # what every money column holds exactly (config/sqltypes.py)
MAX_EPOCH_SECONDS = 10**11  # the year 5138: later is not a time, and +1 must still fit


def int_minor(value: object, what: str) -> int:
    """An amount from provider JSON: a JSON integer (never a float or a string), in range."""
    if type(value) is not int:
        raise ProviderError(f"{what} must be an integer amount in minor units")
    if not 0 <= value <= MAX_AMOUNT_MINOR:
        raise ProviderError(f"{what} is out of range")
    return value


def epoch_seconds(value: object, what: str) -> int:
    """A unix time in seconds from provider JSON: a JSON integer, in range."""
    if type(value) is not int or not 0 <= value <= MAX_EPOCH_SECONDS:
        raise ProviderError(f"{what} must be unix seconds")
    return value


def opt_str(value: object) -> str | None:
    """A non-empty id-like string of sane length (strings are storable: config/wire.py)."""
    return value if isinstance(value, str) and value and len(value) <= 128 else None


def unique_refs(*values: object) -> tuple[str, ...]:
    """The non-empty strings among ``values``, first occurrence first."""
    seen: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in seen:
            seen.append(value)
    return tuple(seen)
