"""One suite over every registered payment provider, plus each provider's own vectors.

Razorpay runs against tests/fakes/razorpay.py; the sandbox delivers its callbacks over real
HTTP to a local aiohttp receiver that checks them with ``verify_callback`` like the real route.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from catalog.money import Money
from payments.providers.base import (
    CAPABILITIES,
    CollectRequest,
    LinkRequest,
    PaymentProvider,
    ProviderDeps,
    ProviderError,
    ProviderEvent,
    Unsupported,
    UpiPayee,
    callback_path,
    simulates,
)
from payments.providers.razorpay import RazorpayProvider
from payments.providers.registry import PROVIDER_CLASSES, PROVIDERS, create_provider
from payments.providers.sandbox import SandboxProvider, encode_event
from payments.providers.upi_intent import UpiIntentProvider
from payments.status import PaymentEventKind, PaymentStatus, apply_events
from payments.upi import UpiLink
from security.signatures import hmac_sha256_hex
from tests.fakes.razorpay import FakeRazorpay
from tests.localhost import free_port
from webhooks.plugins import plugin_rules

FIXTURES = Path(__file__).parents[1] / "fixtures" / "payments" / "razorpay"
SANDBOX_SECRET = "sandbox-test-secret"
RZP_WEBHOOK_SECRET = "key_secret"  # the secret of the official SDK vector TV-RZP-1
TV_RZP_1 = "d60e67fd884556c045e9be7dad57903e33efc7172c17c6e3ef77db42d2b366e9"
PAYEE = UpiPayee(vpa="mitratea@okaxis", name="Mitra Tea House", mcc="5814")
AMOUNT = Money(14950, "INR")
K = PaymentEventKind

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


class Driver(Protocol):
    """What each provider's test module (``tests/fakes/<name>.py``, ``DRIVER``) offers.

    Optionally ``upi_pays``: (pa, pn, mc) its UPI links pay, when that is not the shop's
    payee (the sandbox's test VPA)."""

    async def start(self, serve: ServerFactory) -> dict[str, str]: ...
    async def pay(self, provider: PaymentProvider, provider_ref: str,
                  callback_url: str) -> str: ...
    def sign(self, body: bytes) -> Mapping[str, str]: ...
    def forge(self, body: bytes) -> Mapping[str, str]: ...
    async def sample_callbacks(self, provider: PaymentProvider, callback_url: str,
                               received: list[tuple[dict[str, str], bytes, bool]]
                               ) -> tuple[list[tuple[Mapping[str, str], bytes]], int]: ...


def driver_for(name: str) -> Driver:
    """A registered provider's driver, found by its name: adding a provider adds its
    fake module and nothing here."""
    driver: Driver = importlib.import_module(f"tests.fakes.{name}").DRIVER()
    return driver


@dataclass
class Harness:
    name: str
    provider: PaymentProvider
    unconfigured: PaymentProvider  # same provider with no secrets at all
    callback_url: str
    driver: Driver
    received: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)

    async def pay(self, provider_ref: str) -> str:
        """Make the shopper pay the link in full; returns the provider's payment id."""
        return await self.driver.pay(self.provider, provider_ref, self.callback_url)


def request(reference: str = "ORD-7-1") -> LinkRequest:
    return LinkRequest(reference=reference, amount=AMOUNT, description="Order ORD-7",
                       expire_by=1_767_229_200, payee=PAYEE,
                       callback_url="https://haat.example/pay/tok")


@pytest.fixture(params=sorted(PROVIDERS))
async def harness(
    request: pytest.FixtureRequest, aiohttp_server: ServerFactory
) -> AsyncIterator[Harness]:
    name: str = request.param
    session = aiohttp.ClientSession()
    received: list[tuple[dict[str, str], bytes, bool]] = []
    holder: dict[str, PaymentProvider] = {}

    async def receive(req: web.Request) -> web.Response:
        body = await req.read()
        ok = holder["p"].verify_callback(req.headers, body)
        received.append((dict(req.headers), body, ok))
        return web.Response(status=200 if ok else 403)

    receiver = web.Application()
    receiver.router.add_post(callback_path("{provider}"), receive)
    recv_server = await aiohttp_server(receiver)
    callback_url = str(recv_server.make_url(callback_path(name)))
    driver = driver_for(name)
    env = await driver.start(aiohttp_server)
    secrets = {o.env for o in PROVIDERS[name].options if o.secret}
    deps = ProviderDeps(session=session)
    provider = create_provider(name, env, deps)
    unconfigured = create_provider(name, {k: v for k, v in env.items() if k not in secrets},
                                   deps)
    holder["p"] = provider
    yield Harness(name, provider, unconfigured, callback_url, driver, received)
    await session.close()


# --- the shared contract ----------------------------------------------------------------
def test_every_route_a_provider_declares_is_mounted_beside_the_shared_webhook() -> None:
    from config.settings import Settings
    from webhooks.app import create_app

    app = create_app(Settings(database_url="sqlite:///:memory:"), run_migrations=False)
    mounted = {(r.method, r.resource.canonical) for r in app.router.routes()
               if r.resource is not None}
    assert ("POST", callback_path("{provider}")) in mounted
    declared = [(route.method, route.path) for cls in PROVIDER_CLASSES for route in cls.routes]
    for cls in PROVIDER_CLASSES:  # a test PSP's button posts to a route it declares
        if "simulate" in cls.capabilities:
            assert ("POST", "/pay/{token}" + getattr(cls, "simulate_path", "?")) in declared
    assert set(declared) <= mounted


def test_every_registered_provider_is_covered() -> None:
    assert [cls.name for cls in PROVIDER_CLASSES] == list(PROVIDERS)
    assert plugin_rules().provider_names == tuple(PROVIDERS)  # what the shop loader is given
    for name, cls in PROVIDERS.items():
        assert cls.name == name
        built = create_provider(name, {o.env: "x" for o in cls.options if o.secret})
        assert type(built) is cast(type, cls)
        assert isinstance(built, PaymentProvider)
        assert cls.capabilities <= CAPABILITIES
        assert all(o.env.isupper() and o.env == o.env.strip() for o in cls.options)
        driver_for(name)  # every provider has its test driver (and fake, if external)
    with pytest.raises(KeyError, match="sandbox"):
        create_provider("paypal")


async def test_protocol_and_capabilities(harness: Harness) -> None:
    assert isinstance(harness.provider, PaymentProvider)
    assert harness.provider.name == harness.name
    assert harness.provider.capabilities <= CAPABILITIES
    assert harness.provider.capabilities  # every provider can take money somehow


async def test_create_payment_link_honours_capabilities(harness: Harness) -> None:
    caps = harness.provider.capabilities
    if not caps & {"upi_link", "payment_link"}:
        with pytest.raises(Unsupported):
            await harness.provider.create_payment_link(request())
        return
    link = await harness.provider.create_payment_link(request())
    assert link.provider == harness.name
    assert link.provider_ref and link.reference == "ORD-7-1"
    assert link.amount == AMOUNT
    if "payment_link" in caps:
        assert link.url is not None and link.url.startswith("https://")
    if "upi_link" in caps:
        assert link.upi_uri is not None
        upi = UpiLink.parse(link.upi_uri)
        pa, pn, mc = getattr(harness.driver, "upi_pays", (PAYEE.vpa, PAYEE.name, PAYEE.mcc))
        assert (upi.pa, upi.pn, upi.tr, upi.amount, upi.mc) == (pa, pn, "ORD-7-1", AMOUNT, mc)
    else:
        assert link.upi_uri is None


async def test_collect_honours_capabilities(harness: Harness) -> None:
    collect = CollectRequest(reference="ORD-7-2", amount=AMOUNT, vpa="success@razorpay",
                             expiry_minutes=10, customer_phone="+919000090000")
    if "collect" not in harness.provider.capabilities:
        with pytest.raises(Unsupported):
            await harness.provider.create_collect(collect)
        return
    result = await harness.provider.create_collect(collect)
    assert result.provider == harness.name
    assert result.provider_ref and result.vpa == "success@razorpay"
    assert result.amount == AMOUNT


async def test_refund_honours_capabilities(harness: Harness) -> None:
    if "refund" not in harness.provider.capabilities:
        with pytest.raises(Unsupported):
            await harness.provider.refund("pay_x", AMOUNT, idempotency_key="refund-ORD-7-1")
        return
    link = await harness.provider.create_payment_link(request())
    payment_id = await harness.pay(link.provider_ref)
    half = Money(AMOUNT.minor // 2, "INR")
    first = await harness.provider.refund(payment_id, half, idempotency_key="refund-ORD-7-a")
    assert first.payment_id == payment_id and first.amount == half
    assert first.status in {"pending", "processed"}
    again = await harness.provider.refund(payment_id, half, idempotency_key="refund-ORD-7-a")
    assert again.refund_id == first.refund_id  # same key: same refund, not a second one
    with pytest.raises(ProviderError):
        await harness.provider.refund(payment_id, AMOUNT, idempotency_key="refund-ORD-7-b")


async def test_fetch_honours_capabilities(harness: Harness) -> None:
    if "fetch" not in harness.provider.capabilities:
        with pytest.raises(Unsupported):
            await harness.provider.fetch("anything")
        return
    link = await harness.provider.create_payment_link(request())
    assert await harness.provider.fetch(link.provider_ref) == []
    payment_id = await harness.pay(link.provider_ref)
    events = await harness.provider.fetch(link.provider_ref)
    assert_well_formed(harness.name, events)
    captured = [e for e in events if e.kind is K.CAPTURED]
    assert [e.payment_id for e in captured] == [payment_id]
    assert apply_events(AMOUNT, events).status is PaymentStatus.PAID


async def test_simulate_honours_capabilities(harness: Harness) -> None:
    """A test PSP (``simulate``) settles a request on demand through its signed callback
    (the pay page's button, ``haat test``'s ``pay:``); no other provider is taken for one."""
    simulated = simulates(harness.provider)
    if "simulate" not in harness.provider.capabilities:
        assert simulated is None
        return
    assert simulated is not None
    link = await harness.provider.create_payment_link(request())
    before = len(harness.received)
    sent = await simulated.simulate(link.provider_ref, "success", harness.callback_url)
    assert sent >= 1
    assert [ok for _, _, ok in harness.received[before:]] == [True] * sent
    with pytest.raises(ProviderError):
        await simulated.simulate(link.provider_ref, "bogus", harness.callback_url)


async def test_verify_fails_closed(harness: Harness) -> None:
    body = b'{"id":"x","amount":100}'
    assert not harness.provider.verify_callback(harness.driver.forge(body), body)
    assert not harness.provider.verify_callback({}, body)
    assert not harness.provider.verify_callback({}, b"")
    # correctly signed with the real secrets, but the provider has none configured
    signed = harness.driver.sign(body)
    assert not harness.unconfigured.verify_callback(signed, body)
    assert not harness.unconfigured.verify_callback(harness.driver.sign(b""), b"")
    if signed:
        assert harness.provider.verify_callback(signed, body)
        assert not harness.provider.verify_callback(signed, body + b" ")


async def test_parse_returns_well_formed_events(harness: Harness) -> None:
    samples, expected_informational = await harness.driver.sample_callbacks(
        harness.provider, harness.callback_url, harness.received)
    if not samples:  # a provider nobody calls back
        assert "fetch" not in harness.provider.capabilities
        with pytest.raises(Unsupported):
            harness.provider.parse_callback({}, b"{}")
        return
    assert samples
    seen: set[str] = set()
    informational = 0
    for headers, body in samples:
        assert harness.provider.verify_callback(headers, body)
        events = harness.provider.parse_callback(headers, body)
        assert_well_formed(harness.name, events)
        assert len(events) <= 1
        informational += not events
        seen.update(e.event_id for e in events)
    assert len(seen) == len(samples) - informational  # one event per callback, ids unique
    assert informational == expected_informational
    with pytest.raises(ProviderError):
        harness.provider.parse_callback({}, b"not json")
    with pytest.raises(ProviderError):
        harness.provider.parse_callback({}, b"[1, 2]")


def assert_well_formed(name: str, events: list[ProviderEvent]) -> None:
    for event in events:
        assert event.provider == name
        assert isinstance(event.kind, PaymentEventKind)
        assert event.event_id and event.provider_ref
        assert type(event.amount.minor) is int and event.amount.minor >= 0
        assert type(event.occurred_at) is int
        if event.kind in (K.CAPTURED, K.FAILED, K.AUTHORIZED):
            assert event.payment_id and event.amount.minor > 0
        if event.kind in (K.REFUNDED, K.REFUND_FAILED):
            assert event.refund_id and event.payment_id


# --- sandbox ----------------------------------------------------------------------------
@pytest.fixture
async def sandbox(aiohttp_server: ServerFactory) -> AsyncIterator[tuple[SandboxProvider, str,
                                                                      list[bytes]]]:
    session = aiohttp.ClientSession()
    provider = SandboxProvider(session, SANDBOX_SECRET, clock=lambda: 1_767_225_600)
    bodies: list[bytes] = []

    async def receive(req: web.Request) -> web.Response:
        body = await req.read()
        if not provider.verify_callback(req.headers, body):
            return web.Response(status=403)
        bodies.append(body)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/cb", receive)
    server = await aiohttp_server(app)
    yield provider, str(server.make_url("/cb")), bodies
    await session.close()


def _events(provider: SandboxProvider, bodies: list[bytes]) -> list[ProviderEvent]:
    return [e for body in bodies for e in provider.parse_callback({}, body)]


async def test_sandbox_duplicates_out_of_order_and_retry(
    sandbox: tuple[SandboxProvider, str, list[bytes]]
) -> None:
    provider, url, bodies = sandbox
    link = await provider.create_payment_link(request())
    deliveries = await provider.settle(link.provider_ref, "success", url, duplicates=2,
                                       prior_failure=True, reverse=True)
    assert [d.status for d in deliveries] == [200] * 6
    kinds = [d.event.kind for d in deliveries]
    assert kinds == [K.CAPTURED] * 3 + [K.FAILED] * 3  # newest first
    state = apply_events(AMOUNT, _events(provider, bodies))
    assert state.status is PaymentStatus.PAID
    assert state.captured == AMOUNT and state.failed_attempts == 1
    assert _events(provider, bodies)[0].reference == "ORD-7-1"
    # fetch returns the same facts with the same event ids
    fetched = await provider.fetch(link.provider_ref)
    assert {e.event_id for e in fetched} == {e.event_id for e in _events(provider, bodies)}


async def test_sandbox_late_capture_after_expiry(
    sandbox: tuple[SandboxProvider, str, list[bytes]]
) -> None:
    provider, url, bodies = sandbox
    link = await provider.create_payment_link(request())
    await provider.settle(link.provider_ref, "success", url, late=True, reverse=True)
    state = apply_events(AMOUNT, _events(provider, bodies))
    assert state.status is PaymentStatus.PAID_AFTER_CLOSE
    assert state.captured_after_close == AMOUNT


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("failure", PaymentStatus.ISSUED), ("expire", PaymentStatus.EXPIRED),
     ("cancel", PaymentStatus.CANCELLED)],
)
async def test_sandbox_outcomes(
    sandbox: tuple[SandboxProvider, str, list[bytes]], outcome: str, status: PaymentStatus
) -> None:
    provider, url, bodies = sandbox
    collect = await provider.create_collect(
        CollectRequest(reference="ORD-9-1", amount=AMOUNT, vpa="shopper@okhdfcbank"))
    await provider.settle(collect.provider_ref, outcome, url)  # type: ignore[arg-type]
    assert apply_events(AMOUNT, _events(provider, bodies)).status is status


async def test_sandbox_refund_redelivery_and_errors(
    sandbox: tuple[SandboxProvider, str, list[bytes]]
) -> None:
    provider, url, bodies = sandbox
    link = await provider.create_payment_link(request())
    [delivery] = await provider.settle(link.provider_ref, "success", url)
    assert delivery.event.payment_id is not None
    await provider.refund(delivery.event.payment_id, AMOUNT, idempotency_key="rf-1")
    with pytest.raises(ProviderError, match="different parameters"):
        await provider.refund(delivery.event.payment_id, Money(1, "INR"),
                              idempotency_key="rf-1")
    with pytest.raises(ProviderError, match="greater"):
        await provider.refund(delivery.event.payment_id, Money(1, "INR"),
                              idempotency_key="rf-2")
    await provider.redeliver(link.provider_ref, url)
    state = apply_events(AMOUNT, _events(provider, bodies))
    assert state.status is PaymentStatus.REFUNDED
    with pytest.raises(ProviderError):
        await provider.settle("slink_unknown", "success", url)
    with pytest.raises(ProviderError):
        await provider.create_collect(CollectRequest("R", AMOUNT, vpa="not a vpa"))
    unsigned = SandboxProvider(None, None)
    other = await unsigned.create_payment_link(request())
    with pytest.raises(ProviderError, match="SECRET"):
        await unsigned.settle(other.provider_ref, "success", url)


async def test_sandbox_rejects_forged_and_malformed_events(
    sandbox: tuple[SandboxProvider, str, list[bytes]]
) -> None:
    provider, _, _ = sandbox
    good = ProviderEvent(provider="sandbox", event_id="sevt_1", kind=K.CAPTURED,
                         provider_ref="slink_1", amount=AMOUNT, occurred_at=1, payment_id="p",
                         refs=("slink_1",))
    body = encode_event(good)
    assert provider.verify_callback({"x-sandbox-signature": provider.sign(body)}, body)
    assert provider.parse_callback({}, body) == [good]
    tampered = body.replace(b"14950", b"99999")
    assert not provider.verify_callback({"X-Sandbox-Signature": provider.sign(body)}, tampered)
    for patch in ({"amount": 149.5}, {"amount": "14950"}, {"type": "payment.teleported"},
                  {"created_at": "now"}, {"currency": "XXX"}, {"id": ""}):
        payload = {**json.loads(body), **patch}
        with pytest.raises(ProviderError):
            provider.parse_callback({}, json.dumps(payload).encode())


# --- razorpay ---------------------------------------------------------------------------
def _rzp(webhook_secret: str | list[str] | None = RZP_WEBHOOK_SECRET) -> RazorpayProvider:
    return RazorpayProvider(None, key_id="k", key_secret="s", webhook_secret=webhook_secret)


def test_razorpay_official_webhook_vector() -> None:
    body = (FIXTURES / "sdk_test__fake_payment_authorized_webhook.json").read_bytes()
    assert len(body) == 971
    assert _rzp().verify_callback({"X-Razorpay-Signature": TV_RZP_1}, body)
    assert _rzp().verify_callback({"x-razorpay-signature": TV_RZP_1.upper()}, body)
    assert _rzp(["rotated-new", RZP_WEBHOOK_SECRET]).verify_callback(
        {"X-Razorpay-Signature": TV_RZP_1}, body)
    # TV-RZP-1n: the same body without its final newline, or re-serialised, does not verify
    assert not _rzp().verify_callback({"X-Razorpay-Signature": TV_RZP_1}, body[:-1])
    assert not _rzp().verify_callback({"X-Razorpay-Signature": TV_RZP_1},
                                      json.dumps(json.loads(body)).encode())
    assert hmac_sha256_hex(RZP_WEBHOOK_SECRET, body[:-1]) == (
        "0971cde1d9216765d9aa72c766aef4a913fedfd2d36cc05cbca5de1ef90c12e4")
    # TV-RZP-5: empty body with a junk signature
    assert not _rzp().verify_callback({"X-Razorpay-Signature": "test_signature"}, b"")
    assert not _rzp(None).verify_callback({"X-Razorpay-Signature": TV_RZP_1}, body)
    assert not _rzp("").verify_callback({"X-Razorpay-Signature": TV_RZP_1}, body)
    [event] = _rzp().parse_callback({"X-Razorpay-Event-Id": "evt_1"}, body)
    assert (event.kind, event.amount, event.payment_id) == (
        K.AUTHORIZED, Money(1_000_000, "INR"), "pay_6koWN7bvxujzxM")


def test_razorpay_other_signature_vectors() -> None:
    """Razorpay's checkout (``order|payment``) and payment-link redirect
    (``plink|reference|status|payment``) vectors: the same HMAC over its own message."""
    assert hmac_sha256_hex("key_secret", "fake_order_id|fake_payment_id") == (
        "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89")
    assert hmac_sha256_hex(
        "EnLs21M47BllR3X8PSFtjtbd", "plink_IH3cNucfVEgV68|TSsd1989|paid|pay_IH3d0ara9bSsjQ",
    ) == "07ae18789e35093e51d0a491eb9922646f3f82773547e5b0f67ee3f2d3bf7d5b"


EXPECTED = {
    "order.paid__UPI": (K.CAPTURED, 100, "pay_DESyzxuld02Zul", None),
    "payment.authorized__UPI": (K.AUTHORIZED, 100, "pay_DESyzxuld02Zul", None),
    "payment.captured__UPI": (K.CAPTURED, 100, "pay_DESyzxuld02Zul", None),
    "payment.failed__UPI": (K.FAILED, 100, "pay_DESyzxuld02Zul", None),
    "payment_link.cancelled__Standard": (K.CANCELLED, 0, None, None),
    "payment_link.cancelled__UPI": (K.CANCELLED, 0, None, None),
    "payment_link.expired__Standard": (K.EXPIRED, 0, None, None),
    "payment_link.expired__UPI": (K.EXPIRED, 0, None, None),
    "payment_link.paid__Standard": (K.CAPTURED, 1000, "pay_Qfldmt5StKZFCB", None),
    "payment_link.paid__UPI": (K.CAPTURED, 100, "pay_Qb2gYRc7dxedX8", None),
    "qr_code.closed": (K.CANCELLED, 0, None, None),
    "qr_code.credited": (K.CAPTURED, 200, "pay_HO2fEpc9JeOQU5", None),
    "refund.processed__normal": (K.REFUNDED, 50000, "pay_FPoJKWQQ8lK13n", "rfnd_FS8TWyPrCsa0OB"),
    "refund.failed__normal": (K.REFUND_FAILED, 50000, "pay_FPoJKWQQ8lK13n",
                              "rfnd_FS8TWyPrCsa0OB"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_razorpay_doc_webhooks_parse(name: str) -> None:
    body = (FIXTURES / f"docs__{name}.json").read_bytes()
    [event] = _rzp().parse_callback({"X-Razorpay-Event-Id": "evt_abc"}, body)
    kind, minor, payment_id, refund_id = EXPECTED[name]
    assert (event.kind, event.amount.minor, event.payment_id, event.refund_id) == (
        kind, minor, payment_id, refund_id)
    assert type(event.amount.minor) is int and event.event_id == "evt_abc"
    assert event.occurred_at == json.loads(body)["created_at"]


def test_razorpay_link_events_carry_every_join_key() -> None:
    body = (FIXTURES / "docs__payment_link.paid__UPI.json").read_bytes()
    [paid] = _rzp().parse_callback({}, body)
    assert paid.provider_ref == "plink_Qb2gHrKr01Maky"
    assert paid.reference == "UPItest2"
    assert {"plink_Qb2gHrKr01Maky", "order_Qb2gOAUzSm5zpv", "UPItest2"} <= set(paid.refs)
    assert paid.event_id.startswith("body:")  # no header: stable id from the raw bytes
    assert _rzp().parse_callback({}, body)[0].event_id == paid.event_id
    # payment_link.paid and payment.captured of one payment are one capture
    captured_body = (FIXTURES / "docs__payment.captured__UPI.json").read_bytes()
    order_paid = (FIXTURES / "docs__order.paid__UPI.json").read_bytes()
    events = [*_rzp().parse_callback({"X-Razorpay-Event-Id": "e1"}, captured_body),
              *_rzp().parse_callback({"X-Razorpay-Event-Id": "e2"}, order_paid)]
    assert apply_events(Money(100, "INR"), events).captured == Money(100, "INR")


def test_razorpay_ignores_informational_events_and_rejects_floats() -> None:
    created = (FIXTURES / "docs__refund.created__normal.json").read_bytes()
    assert _rzp().parse_callback({}, created) == []
    floaty = json.loads((FIXTURES / "docs__payment.captured__UPI.json").read_bytes())
    floaty["payload"]["payment"]["entity"]["amount"] = 1.0
    with pytest.raises(ProviderError, match="integer"):
        _rzp().parse_callback({}, json.dumps(floaty).encode())
    with pytest.raises(ProviderError):
        _rzp().parse_callback({}, b'{"event": "payment.captured", "payload": {}}')


async def test_razorpay_requests_on_the_wire(aiohttp_server: ServerFactory) -> None:
    fake = FakeRazorpay()
    server = await aiohttp_server(fake.build_app())
    async with aiohttp.ClientSession() as session:
        provider = RazorpayProvider(session, key_id=fake.key_id, key_secret=fake.key_secret,
                                    webhook_secret="w", base_url=str(server.make_url("/v1")))
        link = await provider.create_payment_link(request())
        create = fake.requests[-1]
        assert (create.method, create.path) == ("POST", "/v1/payment_links")
        assert create.body is not None
        assert create.body["amount"] == 14950 and type(create.body["amount"]) is int
        assert create.body["reference_id"] == "ORD-7-1"
        assert create.body["notes"] == {"haat_ref": "ORD-7-1"}
        assert create.body["callback_method"] == "get"
        assert link.expires_at == 1_767_229_200
        with pytest.raises(ProviderError, match="reference ID already attempted"):
            await provider.create_payment_link(request())
        payment_id = fake.pay_link(link.provider_ref)
        await provider.refund(payment_id, Money(5000, "INR"), idempotency_key="rf-ORD-7-1")
        assert fake.requests[-1].headers["X-Refund-Idempotency"] == "rf-ORD-7-1"
        collect = await provider.create_collect(
            CollectRequest(reference="ORD-8-1", amount=AMOUNT, vpa="success@razorpay",
                           expiry_minutes=2))
        upi = fake.requests[-1]
        assert upi.path == "/v1/payments/create/upi" and upi.body is not None
        assert upi.body["upi"] == {"flow": "collect", "vpa": "success@razorpay",
                                   "expiry_time": 5}
        assert upi.body["order_id"] == collect.provider_ref
        assert collect.payment_id is not None
        pending = await provider.fetch(collect.payment_id)
        assert pending == []  # created, not yet paid: nothing to apply
        fake.expire_link(link.provider_ref)
        events = await provider.fetch(link.provider_ref)
        assert {e.kind for e in events} == {K.CAPTURED, K.EXPIRED}
        assert apply_events(AMOUNT, events).status is PaymentStatus.PAID
        with pytest.raises(ProviderError):
            await provider.fetch("qr_unknown")

        wrong = RazorpayProvider(session, key_id="rzp_test_other", key_secret="wrong-secret",
                                 webhook_secret=None, base_url=str(server.make_url("/v1")))
        with pytest.raises(ProviderError, match="401") as info:
            await wrong.create_payment_link(request("ORD-7-9"))
        assert "wrong-secret" not in str(info.value)
        with pytest.raises(ProviderError, match="KEY"):
            await RazorpayProvider(session, key_id=None, key_secret=None, webhook_secret=None
                                   ).create_payment_link(request())


async def test_a_provider_that_cannot_be_reached_is_a_provider_error_never_a_crash() -> None:
    """Refused connections (and timeouts, caught alike) are ProviderErrors the service
    books as a failed attempt and retries (a refund under the same key): an aiohttp error
    escaping would end the merchant's command and the scheduler's tick instead."""
    from payments.providers.stripe import StripeProvider

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with aiohttp.ClientSession() as session:
        razorpay = RazorpayProvider(session, key_id="k", key_secret="s", webhook_secret="w",
                                    base_url=f"{closed}/v1")
        stripe = StripeProvider(session, secret_key="sk_test_x", webhook_secret="w",
                                base_url=f"{closed}/v1")
        calls = [
            ("razorpay POST payment_links", razorpay.create_payment_link(request())),
            ("razorpay POST payments", razorpay.refund("pay_x", AMOUNT, idempotency_key="k")),
            ("razorpay GET payment_links", razorpay.fetch("plink_x")),
            ("stripe POST payment_links", stripe.create_payment_link(request())),
            ("stripe POST refunds", stripe.refund("pi_x", Money(1000, "AED"),
                                                  idempotency_key="k")),
        ]
        for said, call in calls:
            with pytest.raises(ProviderError) as info:
                await call
            assert str(info.value) == f"{said}: unreachable (ClientConnectorError)"
            assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)


# --- upi_intent -------------------------------------------------------------------------
async def test_upi_intent_manual_confirmation_is_idempotent() -> None:
    provider = UpiIntentProvider()
    link = await provider.create_payment_link(request())
    assert link.provider_ref == "ORD-7-1"
    first = provider.manual_capture_event(link.provider_ref, AMOUNT, occurred_at=10)
    second = provider.manual_capture_event(link.provider_ref, AMOUNT, occurred_at=99)
    assert first.event_id == second.event_id
    state = apply_events(AMOUNT, [first, second])
    assert state.status is PaymentStatus.PAID and state.captured == AMOUNT
    with_utr = provider.manual_capture_event(link.provider_ref, AMOUNT, utr="412345678901")
    assert with_utr.payment_id != first.payment_id
    with pytest.raises(ProviderError):
        await provider.create_payment_link(LinkRequest(reference="R", amount=AMOUNT))
    with pytest.raises(ProviderError):
        await provider.create_payment_link(LinkRequest(reference="R", amount=Money(5, "USD"),
                                                       payee=PAYEE))
