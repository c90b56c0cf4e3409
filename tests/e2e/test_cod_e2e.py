"""Cash on delivery end to end (issue 19): a Dhaka shop on BDT and a Kolkata shop on INR
(examples/dhaka-grocer, examples/kolkata-sweets) each take a COD order through the Cloud
API, Twilio and the simulator, signed as the platforms sign. Every tap is taken from what
that channel rendered (a Cloud ``button_reply`` with the id and title the Graph API got,
the number of Twilio's numbered text, a simulator tap with its payload). The merchant ships
and records the cash from the owner's phone; then the ledger is checked account by account,
``payments/audit.py`` and ``haat reconcile`` agree, and ``GET /api/cod`` counts it.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.receipts import METHODS
from bot.replies import TEXTS, transfer_amount
from catalog.money import Money
from config.settings import Settings
from payments.audit import audit
from storage.amounts import minor
from tests.conftest import ADMIN_TOKEN, ROOT, SIM_TOKEN, AiohttpClient
from tests.e2e.conftest import receipt_of
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, run_fake_twilio_api
from tests.sim import (
    cloud_button,
    cloud_text,
    signed_cloud_request,
    signed_twilio_request,
    twilio_text,
)
from webhooks import keys as k

EXAMPLES = ROOT / "examples"
TWILIO_URL = "https://shop.example.test/webhooks/twilio"


@dataclass(frozen=True)
class ShopCase:
    folder: str
    owner: str
    items: str
    address: str
    language: str
    total: Money


DHAKA = ShopCase("dhaka-grocer", "+8801711111111", "২ কেজি আলু",
                 "বাড়ি ৪, রোড ৭, Dhanmondi", "bn", Money.parse("150", "BDT"))
KOLKATA = ShopCase("kolkata-sweets", "+919830011111", "4 rosogolla",
                   "12 Salt Lake, Sector 1", "bn", Money.parse("100.00", "INR"))


def _cod_pick(client: TestClient[Any, Any], case: ShopCase) -> str:
    """The summary button that places a COD order: Confirm when ``cod`` is the shop's first
    method, else the "Cash on delivery" button beside it (read from the shop, so the test
    follows the example's shop.yaml)."""
    shop = client.app[k.SHOPS].runtimes[case.folder].shop
    return _title("confirm_button" if shop.payments.methods[0] == "cod" else "cod_button",
                  case)


def _title(key: str, case: ShopCase) -> str:
    return TEXTS[key][case.language]


@dataclass
class Channel:
    """One phone talking to the app through one channel route."""

    name: str
    client: TestClient[Any, Any]
    settings: Settings
    phone: str
    graph: FakeGraphApi | None = None
    twilio: FakeTwilioApi | None = None
    seen: int = 0
    last_twiml: str = ""
    last_replies: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    _cloud_new: list[dict[str, Any]] = field(default_factory=list)
    # every message this phone got, so a button of an earlier message can be tapped too
    _history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def digits(self) -> str:
        return self.phone.removeprefix("+")

    async def _proactive(self) -> list[str]:
        """What reached this phone outside a direct answer (the outbox: rows written by the
        payment service's own commits are sent by its poll, as under `haat serve`)."""
        await self.client.app[k.OUTBOX].run_due()
        await self.client.app[k.OUTBOX].drain()
        if self.name == "cloud":
            assert self.graph is not None
            new = self.graph.received[self.seen:]
            self.seen = len(self.graph.received)
            self._cloud_new = [r.json for r in new if r.json and r.json.get("to") == self.digits]
            self._history += self._cloud_new
            return [_cloud_text(m) for m in self._cloud_new]
        if self.name == "twilio":
            assert self.twilio is not None
            new = self.twilio.received[self.seen:]
            self.seen = len(self.twilio.received)
            return [r.form["Body"][0] for r in new
                    if r.form.get("To") == [f"whatsapp:+{self.digits}"]]
        response = await self.client.get("/webhooks/simulator/outbox", params={"to": self.phone},
                                         headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        messages = (await response.json())["messages"]
        self.last_replies = self.last_replies + messages
        self._history += messages
        return [str(m.get("text", "")) for m in messages]

    async def say(self, text: str) -> str:
        self.count += 1
        if self.name == "cloud":
            body, headers = signed_cloud_request(
                self.settings.env["WHATSAPP_APP_SECRET"],
                cloud_text(text, message_id=f"wamid.{self.digits}.{self.count}",
                           from_=self.digits))
            response = await self.client.post("/webhooks/whatsapp", data=body, headers=headers)
            assert response.status == 200, await response.text()
            return "\n".join(await self._proactive())
        if self.name == "twilio":
            body, headers = signed_twilio_request(TWILIO_URL, AUTH_TOKEN, twilio_text(
                text, sid=f"SM{self.count:016d}{self.digits[-16:]:0>16}", from_=self.digits))
            response = await self.client.post("/webhooks/twilio", data=body, headers=headers)
            assert response.status == 200, await response.text()
            self.last_twiml = html.unescape(await response.text())
            return "\n".join([self.last_twiml, *await self._proactive()])
        return await self._simulator({"text": text})

    async def _simulator(self, body: dict[str, str]) -> str:
        response = await self.client.post(
            "/webhooks/simulator",
            json={"from": self.phone, "id": f"sim-{self.digits}-{self.count}", **body},
            headers={"Authorization": f"Bearer {SIM_TOKEN}"})
        assert response.status == 200, await response.text()
        self.last_replies = (await response.json())["replies"]
        self._history += self.last_replies
        texts = [str(r.get("text", "")) for r in self.last_replies]
        return "\n".join([*texts, *await self._proactive()])

    async def tap(self, title: str) -> str:
        """Tap the option titled ``title`` of the latest message that offers it, the way this
        channel's platform sends a tap."""
        self.count += 1
        if self.name == "cloud":
            for message in reversed(self._history):
                buttons = (message.get("interactive") or {}).get("action", {}).get("buttons", [])
                hit = [b["reply"] for b in buttons if b["reply"]["title"] == title]
                if hit:
                    body, headers = signed_cloud_request(
                        self.settings.env["WHATSAPP_APP_SECRET"],
                        cloud_button(hit[0]["id"], hit[0]["title"],
                                     message_id=f"wamid.{self.digits}.{self.count}",
                                     from_=self.digits))
                    response = await self.client.post("/webhooks/whatsapp", data=body,
                                                      headers=headers)
                    assert response.status == 200
                    return "\n".join(await self._proactive())
            raise AssertionError(f"no button {title!r} was sent on cloud")
        if self.name == "twilio":
            numbers = re.findall(rf"^(\d+)\. {re.escape(title)}$", self.last_twiml, re.M)
            assert numbers, f"no numbered option {title!r} in {self.last_twiml}"
            self.count -= 1
            return await self.say(numbers[-1])
        offered = [b for r in self._history for b in (r.get("buttons") or [])
                   if b.get("title") == title]
        assert offered, f"no button {title!r} in {self.last_replies}"
        return await self._simulator({"button": str(offered[-1]["payload"])})


def _cloud_text(message: dict[str, Any]) -> str:
    if message.get("type") == "text":
        return str(message["text"]["body"])
    if message.get("type") == "interactive":
        return str(message["interactive"]["body"]["text"])
    return str(message)


@pytest.fixture
async def twilio_fake() -> AsyncIterator[FakeTwilioApi]:
    async with run_fake_twilio_api() as fake:
        yield fake


async def _app(aiohttp_client: AiohttpClient, settings: Settings, case: ShopCase,
               graph: FakeGraphApi, twilio: FakeTwilioApi) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(settings.with_(
        shop_dir=EXAMPLES / case.folder, simulator_owner=True).with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=twilio.url)))


async def order_accounts(client: TestClient[Any, Any], shop: str, label: str
                         ) -> dict[str, int]:
    """The ledger's balance per account for one order (debit positive), zeros left out."""
    rows = await client.app[k.DB].fetchall(
        "SELECT account, amount_minor, ref FROM ledger_entries WHERE shop_id = ?", (shop,))
    out: dict[str, int] = {}
    for account, amount, ref in rows:
        if ref.split(":")[1:2] == [label]:
            out[account] = out.get(account, 0) + minor(amount)
    return {a: v for a, v in out.items() if v}


async def _api_cod(client: TestClient[Any, Any], shop: str) -> dict[str, Any]:
    response = await client.get("/api/cod", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status == 200
    figures: dict[str, Any] = (await response.json())["cod"][shop]
    return figures


@pytest.mark.parametrize("channel", ["cloud", "twilio", "simulator"])
@pytest.mark.parametrize("case", [DHAKA, KOLKATA], ids=["dhaka-bdt", "kolkata-inr"])
async def test_a_cod_order_is_confirmed_shipped_and_paid_in_cash(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        twilio_fake: FakeTwilioApi, case: ShopCase, channel: str) -> None:
    client = await _app(aiohttp_client, settings, case, graph, twilio_fake)
    phone = "+8801900000042" if case is DHAKA else "+919000000042"
    shopper = Channel(channel, client, settings, phone, graph, twilio_fake)
    owner = Channel(channel, client, settings, case.owner, graph, twilio_fake)
    total = case.total.format()

    await shopper.say(case.items)
    await shopper.say("checkout")
    summary = await shopper.say(case.address)
    assert total in summary
    # Confirm, or the second choice beside it (tap fails unless the channel rendered it)
    placed = await shopper.tap(_cod_pick(client, case))
    assert "ORD-1001" in placed and total in placed
    assert "/pay/" not in placed
    order = await client.app[k.PAYMENTS].order(f"{case.folder}/ORD-1001")
    assert order is not None and order.status == "awaiting_confirmation"

    confirmed = await shopper.tap(_title("cod_confirm_button", case))
    assert "ORD-1001" in confirmed
    assert TEXTS["paid_receipt"][case.language].split("{")[0] not in confirmed

    shipped = await owner.say("ship ORD-1001")
    assert "ORD-1001 is now shipped" in shipped
    on_the_way = "\n".join(await shopper._proactive())
    received = TEXTS["cod_cash_received"][case.language].format(order="ORD-1001",
                                                                 amount=total)
    assert received not in on_the_way  # nobody is told of cash before it is recorded
    assert await order_accounts(client, case.folder, "ORD-1001") == {
        "customer_receivable": case.total.minor, "merchant_revenue": -case.total.minor}

    delivered = await owner.say("deliver ORD-1001")
    assert f"{total} cash recorded for ORD-1001" in delivered and "delivered" in delivered
    told = "\n".join(await shopper._proactive())
    assert received in told
    # the shopper's receipt, once the cash is in: the order's total, paid in cash
    receipt = await receipt_of(client, told)
    assert re.fullmatch(r"[A-Z]+/\d{4}/\d{6}", receipt["invoice-number"]), receipt
    assert receipt["total"].replace(",", "") in (total, total.removesuffix(".00")), receipt
    assert receipt["method"] == METHODS["cod"][case.language], receipt
    assert "reference" not in receipt, receipt  # cash has no payment reference
    again = await owner.say("deliver ORD-1001")
    assert "cash recorded" not in again  # typed twice: recorded once

    assert await order_accounts(client, case.folder, "ORD-1001") == {
        "cash_in_hand": case.total.minor, "merchant_revenue": -case.total.minor}
    found = await audit(client.app[k.PAYMENTS].repo)
    assert not found, [str(a) for a in found]
    figures = await _api_cod(client, case.folder)
    assert figures["delivered"] == 1 and figures["orders"] == 1
    assert figures["cash_collected_minor"] == case.total.minor
    assert figures["currency"] == case.total.currency


@pytest.mark.parametrize("case", [DHAKA, KOLKATA], ids=["dhaka-bdt", "kolkata-inr"])
async def test_unconfirmed_and_refused_cod_orders_go_back_and_count_as_returned(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        twilio_fake: FakeTwilioApi, case: ShopCase, database_url: str) -> None:
    """On SQLite and on PostgreSQL, and `haat reconcile` against that database."""
    settings = settings.with_(database_url=database_url)
    client = await _app(aiohttp_client, settings, case, graph, twilio_fake)
    first = Channel("simulator", client, settings, "+8801900000051")
    second = Channel("simulator", client, settings, "+8801900000052")
    owner = Channel("simulator", client, settings, case.owner)
    pick = _cod_pick(client, case)
    for shopper in (first, second):
        await shopper.say(case.items)
        await shopper.say("checkout")
        await shopper.say(case.address)
        await shopper.tap(pick)
    await second.tap(_title("cod_confirm_button", case))
    await owner.say("ship ORD-1002")
    assert "ORD-1002 is now returned" in await owner.say("returned ORD-1002")

    # the first one is never confirmed: the durable job cancels it when its time is up
    shop = client.app[k.SHOPS].runtimes[case.folder].shop
    client.app[k.CLOCK].offset_ms += shop.payments.cod.confirm_minutes * 60_000 + 1000
    await client.app[k.SCHEDULER].run_due()
    told = "\n".join(await first._proactive())
    assert "ORD-1001" in told
    for label, status in (("ORD-1001", "cancelled"), ("ORD-1002", "returned")):
        order = await client.app[k.PAYMENTS].order(f"{case.folder}/{label}")
        assert order is not None and order.status == status
        assert await order_accounts(client, case.folder, label) == {}  # sale reversed
    figures = await _api_cod(client, case.folder)
    assert (figures["cancelled"], figures["returned"], figures["returned_to_origin"]) == \
        (1, 1, 2)
    assert figures["returned_to_origin_minor"] == 2 * case.total.minor
    assert figures["cash_collected_minor"] == 0
    found = await audit(client.app[k.PAYMENTS].repo)
    assert not found, [str(a) for a in found]

    # `haat reconcile` on the same database agrees
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webhooks", "reconcile", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "HAAT_DATABASE_URL": settings.database_url,
             "HAAT_SHOP_DIR": str(EXAMPLES / case.folder)})
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "ledger_balanced=True" in text and "anomalies=0" in text, text


async def test_the_cod_figures_need_the_admin_token_and_refuse_bad_queries(
        client: TestClient[Any, Any]) -> None:
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert (await client.get("/api/cod")).status == 403
    assert (await client.get("/api/cod", headers={"Authorization": "Bearer nope"})).status == 403
    assert (await client.get("/api/cod?shop=nowhere", headers=auth)).status == 404
    assert (await client.get("/api/cod?amounts=float", headers=auth)).status == 400
    response = await client.get("/api/cod?amounts=string", headers=auth)
    assert response.status == 200
    (figures,) = (await response.json())["cod"].values()  # the demo shop: no COD orders
    assert figures["orders"] == 0 and figures["returned_to_origin"] == 0
    assert figures["cash_collected_minor"] == "0" and figures["currency"] == "INR"


async def test_cash_given_back_by_hand_is_booked_out_of_cash_in_hand(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        twilio_fake: FakeTwilioApi) -> None:
    case = DHAKA
    client = await _app(aiohttp_client, settings, case, graph, twilio_fake)
    shopper = Channel("simulator", client, settings, "+8801900000061")
    owner = Channel("simulator", client, settings, case.owner)
    await owner.say("orders")  # the owner's 24-hour window is open: alerts are free-form
    await shopper.say(case.items)
    await shopper.say("checkout")
    await shopper.say(case.address)
    await shopper.tap(_cod_pick(client, case))
    alerts = "\n".join(await owner._proactive())
    assert "New COD order ORD-1001" in alerts and "waiting for the shopper" in alerts
    await shopper.tap(_title("cod_confirm_button", case))
    assert "ORD-1001 confirmed by the shopper" in "\n".join(await owner._proactive())
    await owner.say("deliver ORD-1001")
    refused = await owner.say("refund ORD-1001")
    assert "NOT refunded" in refused  # nobody can send cash back but the shop
    booked = await owner.say("refunded ORD-1001 150 CASH-0001")
    assert "Recorded: you refunded ৳150.00 on ORD-1001" in booked, booked
    order = await client.app[k.PAYMENTS].order(f"{case.folder}/ORD-1001")
    assert order is not None and order.status == "refunded"
    assert await order_accounts(client, case.folder, "ORD-1001") == {}
    found = await audit(client.app[k.PAYMENTS].repo)
    assert not found, [str(a) for a in found]


@pytest.mark.parametrize("channel", ["cloud", "twilio", "simulator"])
async def test_pay_now_instead_and_cancel_are_tapped_as_each_channel_renders_them(
        aiohttp_client: AiohttpClient, settings: Settings, graph: FakeGraphApi,
        twilio_fake: FakeTwilioApi, channel: str) -> None:
    """The other two COD buttons, each taken from what this channel rendered: the switch to
    prepaid (a payment link for the total, the order still waiting for its confirmation),
    then the cancel (stock released, the link closed with the order)."""
    case = DHAKA
    client = await _app(aiohttp_client, settings, case, graph, twilio_fake)
    shopper = Channel(channel, client, settings, "+8801900000071", graph, twilio_fake)
    await shopper.say(case.items)
    await shopper.say("checkout")
    await shopper.say(case.address)
    await shopper.tap(_cod_pick(client, case))
    switched = await shopper.tap(_title("cod_prepaid_button", case))
    payments = client.app[k.SHOPS].runtimes[case.folder].shop.payments
    first = payments.prepaid_methods[0]
    # the example's first prepaid method is a transfer to the shop's bKash wallet: the
    # reply says which number, how much (as typed into the wallet app) and for which order
    wallet = payments.transfers[first]
    assert first == "bkash" and wallet.number == "01711111111"
    assert "*ORD-1001*" in switched and f"*{wallet.number}*" in switched, switched
    assert f"*{transfer_amount(case.total, case.language)}*" in switched, switched
    assert "/pay/" not in switched  # a wallet transfer, no payment link
    requests = await client.app[k.PAYMENTS].requests_for_order(f"{case.folder}/ORD-1001")
    assert sorted(r.method for r in requests) == sorted(["cod", first])
    order = await client.app[k.PAYMENTS].order(f"{case.folder}/ORD-1001")
    assert order is not None and order.status == "awaiting_confirmation"
    if channel == "twilio":
        # numbered text: only the last message's numbers mean something, so it is typed
        cancelled = await shopper.say("cancel my order")
    else:
        cancelled = await shopper.tap(_title("cod_cancel_button", case))
    assert "ORD-1001" in cancelled
    order = await client.app[k.PAYMENTS].order(f"{case.folder}/ORD-1001")
    assert order is not None and order.status == "cancelled"
    requests = await client.app[k.PAYMENTS].requests_for_order(f"{case.folder}/ORD-1001")
    assert {r.status for r in requests} == {"cancelled"}  # the link and the cash request
    assert await order_accounts(client, case.folder, "ORD-1001") == {}
