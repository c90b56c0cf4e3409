"""Manual transfers end to end (issue 19): a Dhaka shop on BDT paid by bKash and Nagad, a
Kolkata shop on INR paid by UPI to a personal VPA and by bank transfer, through the
simulator, the Cloud API and Twilio, with the shopper's transaction id recorded, the
merchant's ``paid ORD-…`` (checked against that id), the shopper told only then, and the
ledger per account and ``haat reconcile``'s audit agreeing."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from payments.audit import audit
from tests.conftest import ROOT, SIM_TOKEN, AiohttpClient
from tests.e2e.conftest import account, ledger_by_currency, outbox, receipt_of
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

DHAKA = "+8801700000000"
DHAKA_OWNER = "+8801711111111"
KOLKATA = "+919800000055"
KOLKATA_OWNER = "+919811111155"
TWILIO_URL = "https://shop.example.test/webhooks/twilio"
SIM = {"Authorization": f"Bearer {SIM_TOKEN}"}
# Kolkata: rupees, a personal UPI ID (no merchant QR) and a bank account, Bengali first
KOLKATA_SHOP = """\
name: {en: Das Sweets, bn: দাস মিষ্টান্ন ভাণ্ডার}
phone: "+919800000055"
currency: INR
timezone: Asia/Kolkata
languages: [bn, en, hi]
hours: {daily: "00:00-23:59"}
owners: ["+919811111155"]
payments:
  methods: [upi_transfer, bank_transfer]
  upi_transfer: {vpa: rina.das@okicici, name: Rina Das}
  bank_transfer:
    account_number: "50100123456789"
    account_name: Das Sweets
    bank: HDFC Bank
    branch: Gariahat
    ifsc: HDFC0001234
"""
KOLKATA_CATALOG = """\
categories:
  - {id: sweets, name: {en: Sweets, bn: মিষ্টি, hi: मिठाई}}
products:
  - {sku: ROSOGOLLA, category: sweets, name: {en: Rosogolla, bn: রসগোল্লা, hi: रसगुल्ला},
     price: "15.00", unit: piece}
  - {sku: SANDESH, category: sweets, name: {en: Sandesh, bn: সন্দেশ, hi: संदेश},
     price: "20.00", unit: piece}
"""


@pytest.fixture
def shops(tmp_path: Path) -> Path:
    root = tmp_path / "shops"
    shutil.copytree(ROOT / "examples" / "dhaka-grocer", root / "dhaka-grocer")
    (root / "kolkata-sweets").mkdir()
    (root / "kolkata-sweets" / "shop.yaml").write_text(KOLKATA_SHOP, encoding="utf-8")
    (root / "kolkata-sweets" / "catalog.yaml").write_text(KOLKATA_CATALOG, encoding="utf-8")
    return root


@pytest.fixture
def shop_settings(settings: Settings, shops: Path) -> Settings:
    return settings.with_(shop_dir=shops, simulator_owner=True)


class Phone:
    """One person on the simulator, writing to one shop."""

    def __init__(self, client: TestClient[Any, Any], phone: str, shop: str) -> None:
        self.client, self.phone, self.shop, self.count = client, phone, shop, 0

    async def send(self, text: str | None = None, *,
                   button: str | None = None) -> list[dict[str, Any]]:
        self.count += 1
        body: dict[str, Any] = {"from": self.phone, "to": self.shop,
                                "id": f"{self.phone}-{self.count}"}
        if text is not None:
            body["text"] = text
        if button is not None:
            body["button"] = button
        response = await self.client.post("/webhooks/simulator", json=body, headers=SIM)
        assert response.status == 200, await response.text()
        replies: list[dict[str, Any]] = (await response.json())["replies"]
        return replies

    async def text(self, text: str | None = None, **kw: Any) -> str:
        return "\n".join(r.get("text", "") for r in await self.send(text, **kw))

    async def outbox(self) -> str:
        return "\n".join(m.get("text", "") for m in await outbox(self.client, self.phone))


async def _books_agree(client: TestClient[Any, Any]) -> None:
    assert set((await ledger_by_currency(client)).values()) <= {0}
    assert [str(a) for a in await audit(client.app[k.PAYMENTS].repo)] == []


async def _haat_reconcile(settings: Settings) -> None:
    """``haat reconcile`` itself, on the database the app wrote: no anomaly, balanced."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "webhooks", "reconcile"], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "HAAT_DATABASE_URL": settings.database_url,
             "HAAT_SHOP_DIR": str(settings.shop_dir)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ledger_balanced=True" in done.stdout and "ANOMALY" not in done.stdout


async def _status(client: TestClient[Any, Any], order_id: str) -> str:
    order = await client.app[k.PAYMENTS].order(order_id)
    assert order is not None
    return str(order.status)


async def test_dhaka_bkash_on_the_simulator(aiohttp_client: AiohttpClient,
                                           shop_settings: Settings, clock: Clock,
                                           database_url: str) -> None:
    """On SQLite and on PostgreSQL: the claim, the check and the books are the same."""
    from webhooks.app import create_app

    shop_settings = shop_settings.with_(database_url=database_url)
    client = await aiohttp_client(create_app(shop_settings, clock=clock))
    shopper = Phone(client, "+8801900000001", DHAKA)
    owner = Phone(client, DHAKA_OWNER, DHAKA)
    assert "No orders yet" in await owner.text("orders")  # opens the owner's 24-hour window
    await shopper.send("২ কেজি আলু")
    await shopper.send("চেকআউট")
    replies = await shopper.send("বাড়ি ১২, রোড ৫, Dhanmondi")
    assert "confirm" in [b["payload"] for r in replies for b in r.get("buttons", [])]
    placed = await shopper.send(button="confirm")
    text = "\n".join(r["text"] for r in placed)
    # in Bengali, the amount in Bengali digits and whole taka; number and reference as typed
    assert "বিকাশ" in text and "সেন্ড মানি" in text and "01711111111" in text
    assert "৳১৫০" in text and "ORD-1001" in text and "TrxID" in text
    buttons = [b["payload"] for r in placed for b in r.get("buttons", [])]
    assert "pay:nagad" in buttons and "pay:payment_link" in buttons
    assert "New order ORD-1001" in await owner.outbox()

    # the shopper pastes bKash's confirmation SMS: the id is recorded, nothing is paid
    sms = ("You have sent Tk 150.00 to 01711111111 successfully. Ref ORD-1001. Fee Tk 0.00. "
           "Balance Tk 2,350.50. TrxID 8N7A6D5EE7 at 02/12/2026 10:15")
    noted = await shopper.text(sms)
    assert "8N7A6D5EE7" in noted and "ORD-1001" in noted and "পেয়েছি" not in noted
    assert await _status(client, "dhaka-grocer/ORD-1001") == "pending_payment"
    assert await account(client, "psp_clearing:manual:bkash") == 0
    alert = await owner.outbox()
    assert "8N7A6D5EE7" in alert and "paid ORD-1001 8N7A6D5EE7" in alert
    assert "8N7A6D5EE7" in await shopper.text("trx 8N7A6D5EE7")  # again: already noted

    # the merchant checks the id: a different one is refused, the shopper's is confirmed
    refused = await owner.text("paid ORD-1001 9X9X9X9X9X")
    assert "8N7A6D5EE7" in refused and "not 9X9X9X9X9X" in refused
    assert await _status(client, "dhaka-grocer/ORD-1001") == "pending_payment"
    assert await shopper.outbox() == ""  # nobody is told money moved before it did
    confirmed = await owner.text("paid ORD-1001 8n7a6d5ee7")
    assert "ORD-1001 marked paid (৳150.00, transaction 8N7A6D5EE7)" in confirmed
    assert await _status(client, "dhaka-grocer/ORD-1001") == "paid"
    told = await shopper.outbox()
    assert "ORD-1001" in told and "পেমেন্ট পেয়েছি" in told
    # with its receipt: the taka, by bKash, under the shopper's own transaction id
    receipt = await receipt_of(client, told)
    assert receipt["invoice-number"] == "RG/2627/000001", receipt
    assert receipt["total"] == "৳150" and receipt["reference"] == "8N7A6D5EE7", receipt
    assert "nothing to confirm" in await owner.text("paid ORD-1001")

    # the books: the taka sit in the merchant's bKash wallet, nothing owed, audit clean
    assert await account(client, "psp_clearing:manual:bkash") == 15000
    assert await account(client, "customer_receivable") == 0
    assert await account(client, "merchant_revenue") == -15000
    await _books_agree(client)

    # money back goes from the merchant's own bKash too: haat books what they say they sent
    refund = await owner.text("refund ORD-1001")
    assert "NOT refunded" in refund and "your own account" in refund
    assert "`refunded ORD-1001 150.00 <reference>`" in refund
    booked = await owner.text("refunded ORD-1001 150 9B8C7D6E5F")
    assert "you refunded ৳150.00 on ORD-1001 (ref 9B8C7D6E5F)" in booked
    assert "9B8C7D6E5F" in await shopper.outbox()
    assert await _status(client, "dhaka-grocer/ORD-1001") == "refunded"
    assert await account(client, "psp_clearing:manual:bkash") == 0
    assert await account(client, "refunds_payable") == 0
    await _books_agree(client)
    await _haat_reconcile(shop_settings)


async def test_kolkata_upi_transfer_on_the_simulator_in_bengali(
        aiohttp_client: AiohttpClient, shop_settings: Settings, clock: Clock) -> None:
    from webhooks.app import create_app

    client = await aiohttp_client(create_app(shop_settings, clock=clock))
    shopper = Phone(client, "+919000000088", KOLKATA)
    owner = Phone(client, KOLKATA_OWNER, KOLKATA)
    await owner.text("orders")
    await shopper.send("৩টা রসগোল্লা")
    summary = await shopper.send("চেকআউট")
    assert "confirm" in [b["payload"] for r in summary for b in r.get("buttons", [])]
    placed = await shopper.text(button="confirm")
    assert "rina.das@okicici" in placed and "₹৪৫" in placed and "UTR" in placed
    assert "ব্যাংক ট্রান্সফার" in [b["title"] for r in await shopper.send("pay")
                                   for b in r.get("buttons", [])]
    noted = await shopper.text("UTR ৪১২৩৪৫৬৭৮৯০১")  # Bengali digits, recorded as ASCII
    assert "412345678901" in noted and "পেয়েছি" not in noted
    assert "paid ORD-1001 412345678901" in await owner.outbox()
    assert "marked paid (₹45.00, transaction 412345678901)" in await owner.text(
        "paid ORD-1001")
    told = await shopper.outbox()
    assert "পেমেন্ট পেয়েছি" in told
    receipt = await receipt_of(client, told)  # a rupee shop without GSTIN: a bill of supply
    assert receipt["total"] == "₹45.00" and receipt["reference"] == "412345678901", receipt
    assert receipt["method"] == "UPI ট্রান্সফার", receipt
    assert await account(client, "psp_clearing:manual:upi_transfer") == 4500
    assert await account(client, "customer_receivable") == 0
    await _books_agree(client)


# ---- the Cloud API: real signed envelopes, replies at the fake Graph API ---------------


class CloudPhone:
    """One WhatsApp user writing to ``business`` through signed Cloud API envelopes; what
    the shop sends them is read back from the fake Graph API."""

    def __init__(self, client: TestClient[Any, Any], settings: Settings, graph: FakeGraphApi,
                 phone: str, business: str) -> None:
        self.client, self.settings, self.graph = client, settings, graph
        self.phone, self.business, self.seen = phone.removeprefix("+"), business, 0

    async def post(self, envelope: dict[str, Any]) -> list[dict[str, Any]]:
        body, headers = signed_cloud_request(
            self.settings.env.get("WHATSAPP_APP_SECRET") or "", envelope)
        response = await self.client.post("/webhooks/whatsapp", data=body, headers=headers)
        assert response.status == 200, await response.text()
        return await self.received()

    async def received(self) -> list[dict[str, Any]]:
        await self.client.app[k.OUTBOX].run_due()
        await self.client.app[k.OUTBOX].drain()
        mine = [r.json for r in self.graph.received
                if r.json is not None and r.json.get("to") == self.phone]
        fresh, self.seen = mine[self.seen:], len(mine)
        return fresh

    async def text(self, text: str) -> list[dict[str, Any]]:
        return await self.post(cloud_text(text, from_=self.phone, business=self.business))

    async def tap(self, sent: list[dict[str, Any]], payload: str) -> list[dict[str, Any]]:
        """Tap the button the shop rendered: its id and its title, as WhatsApp sends them."""
        for message in reversed(sent):
            for button in message.get("interactive", {}).get("action", {}).get("buttons", []):
                if button["reply"]["id"] == payload:
                    return await self.post(cloud_button(
                        payload, button["reply"]["title"], from_=self.phone,
                        business=self.business))
        raise AssertionError(f"no button {payload!r} in {sent}")


def body_of(messages: list[dict[str, Any]]) -> str:
    out = []
    for message in messages:
        if message.get("type") == "text":
            out.append(message["text"]["body"])
        elif message.get("type") == "interactive":
            out.append(message["interactive"]["body"]["text"])
        else:
            out.append(str(message))
    return "\n".join(out)


@pytest.fixture
async def cloud(aiohttp_client: AiohttpClient, shop_settings: Settings, clock: Clock,
                graph: FakeGraphApi) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(shop_settings.with_env(
        WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN), clock=clock))


async def test_dhaka_switches_to_nagad_on_the_cloud_api(
        cloud: TestClient[Any, Any], shop_settings: Settings, graph: FakeGraphApi) -> None:
    shopper = CloudPhone(cloud, shop_settings, graph, "8801900000002", DHAKA)
    owner = CloudPhone(cloud, shop_settings, graph, DHAKA_OWNER, DHAKA)
    await owner.text("orders")
    await shopper.text("২ কেজি আলু")
    await shopper.text("চেকআউট")
    summary = await shopper.text("বাড়ি ১২, রোড ৫, Dhanmondi")
    placed = await shopper.tap(summary, "confirm")
    assert "বিকাশ" in body_of(placed) and "01711111111" in body_of(placed)
    nagad = await shopper.tap(placed, "pay:nagad")
    text = body_of(nagad)
    assert "নগদ" in text and "01811111111" in text and "৳১৫০" in text
    assert "01711111111" not in text

    noted = body_of(await shopper.text("TxnID: 7a6b5c4d"))
    assert "7A6B5C4D" in noted and "পেয়েছি" not in noted
    assert "paid ORD-1001 7A6B5C4D" in body_of(await owner.received())
    assert await _status(cloud, "dhaka-grocer/ORD-1001") == "pending_payment"

    # `paid ORD-1001` alone takes the id the shopper gave
    confirmed = body_of(await owner.text("paid ORD-1001"))
    assert "marked paid (৳150.00, transaction 7A6B5C4D)" in confirmed
    told = body_of(await shopper.received())
    assert "ORD-1001" in told and "পেমেন্ট পেয়েছি" in told
    # the money is in the Nagad wallet; the bKash request closed without money
    assert await account(cloud, "psp_clearing:manual:nagad") == 15000
    assert await account(cloud, "psp_clearing:manual:bkash") == 0
    assert await account(cloud, "customer_receivable") == 0
    await _books_agree(cloud)


async def test_kolkata_bank_transfer_on_the_cloud_api(
        cloud: TestClient[Any, Any], shop_settings: Settings, graph: FakeGraphApi) -> None:
    shopper = CloudPhone(cloud, shop_settings, graph, "919000000066", KOLKATA)
    owner = CloudPhone(cloud, shop_settings, graph, KOLKATA_OWNER, KOLKATA)
    await owner.text("orders")
    await shopper.text("hi")
    await shopper.text("English")
    await shopper.text("2 sandesh")
    summary = await shopper.text("checkout")
    placed = await shopper.tap(summary, "confirm")
    upi = body_of(placed)
    assert "rina.das@okicici" in upi and "send *₹40* from any UPI app" in upi and "UTR" in upi
    bank = body_of(await shopper.tap(placed, "pay:bank_transfer"))
    assert "50100123456789" in bank and "HDFC Bank, Gariahat" in bank
    assert "IFSC HDFC0001234" in bank and "ORD-1001" in bank

    noted = body_of(await shopper.text("Done, NEFT ref HDFCN52026120212345678"))
    assert "HDFCN52026120212345678" in noted and "received" not in noted
    assert "paid ORD-1001 HDFCN52026120212345678" in body_of(await owner.received())
    confirmed = body_of(await owner.text("paid ORD-1001 HDFCN52026120212345678"))
    assert "ORD-1001 marked paid (₹40.00" in confirmed
    assert "Payment of ₹40.00 received for *ORD-1001*" in body_of(await shopper.received())
    assert await account(cloud, "psp_clearing:manual:bank_transfer") == 4000
    assert await account(cloud, "psp_clearing:manual:upi_transfer") == 0
    await _books_agree(cloud)


# ---- Twilio: signed form posts, replies in TwiML, proactive sends over the REST API ------


@pytest.fixture
async def twilio_fake() -> AsyncIterator[FakeTwilioApi]:
    async with run_fake_twilio_api() as fake:
        yield fake


class TwilioPhone:
    """One WhatsApp user writing to ``business`` through signed Twilio form posts; direct
    answers are the TwiML, what the shop sends later is read back from the fake REST API."""

    count = 0

    def __init__(self, client: TestClient[Any, Any], fake: FakeTwilioApi, phone: str,
                 business: str) -> None:
        self.client, self.fake, self.phone, self.business = client, fake, phone, business

    async def say(self, text: str) -> str:
        TwilioPhone.count += 1
        form = twilio_text(text, sid=f"SM{TwilioPhone.count:032d}", from_=self.phone,
                           to=self.business)
        body, headers = signed_twilio_request(TWILIO_URL, AUTH_TOKEN, form)
        response = await self.client.post("/webhooks/twilio", data=body, headers=headers)
        assert response.status == 200
        return await response.text()

    async def sent(self) -> str:
        await self.client.app[k.OUTBOX].run_due()
        await self.client.app[k.OUTBOX].drain()
        return "\n".join(r.form["Body"][0] for r in self.fake.received
                         if r.form.get("To") == [f"whatsapp:{self.phone}"])


@pytest.fixture
async def twilio_client(aiohttp_client: AiohttpClient, shop_settings: Settings, clock: Clock,
                        twilio_fake: FakeTwilioApi) -> TestClient[Any, Any]:
    from webhooks.app import create_app

    return await aiohttp_client(create_app(shop_settings.with_env(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=twilio_fake.url), clock=clock))


async def test_kolkata_upi_transfer_on_twilio_in_hindi(
        twilio_client: TestClient[Any, Any], shop_settings: Settings,
        twilio_fake: FakeTwilioApi) -> None:
    shopper = TwilioPhone(twilio_client, twilio_fake, "+919000000077", KOLKATA)
    owner = TwilioPhone(twilio_client, twilio_fake, KOLKATA_OWNER, KOLKATA)
    await owner.say("orders")
    await shopper.say("नमस्ते")
    await shopper.say("2 रसगुल्ला")
    assert "रसगुल्ला" in await shopper.say("ऑर्डर कर दो")
    placed = await shopper.say("हाँ")
    assert "ORD-1001" in placed and "rina.das@okicici" in placed and "₹30" in placed
    assert "UTR" in placed and "UPI" in placed and "भेजें" in placed

    noted = await shopper.say("UTR 412345678901 भेज दिया")
    assert "412345678901" in noted and "धन्यवाद" in noted and "मिल गया" not in noted
    assert "paid ORD-1001 412345678901" in await owner.sent()
    assert "मिल गया" not in await shopper.sent()

    answer = await owner.say("paid ORD-1001 412345678901")
    assert "ORD-1001 marked paid (₹30.00, transaction 412345678901)" in answer
    told = await shopper.sent()
    assert "ORD-1001" in told and "भुगतान मिल गया" in told
    assert await account(twilio_client, "psp_clearing:manual:upi_transfer") == 3000
    assert await account(twilio_client, "merchant_revenue") == -3000
    await _books_agree(twilio_client)
    await _haat_reconcile(shop_settings)


async def test_dhaka_bkash_on_twilio(twilio_client: TestClient[Any, Any],
                                     twilio_fake: FakeTwilioApi) -> None:
    shopper = TwilioPhone(twilio_client, twilio_fake, "+8801900000004", DHAKA)
    owner = TwilioPhone(twilio_client, twilio_fake, DHAKA_OWNER, DHAKA)
    await owner.say("orders")
    await shopper.say("২ কেজি আলু")
    await shopper.say("চেকআউট")
    summary = await shopper.say("বাড়ি ১২, রোড ৫, Dhanmondi")
    assert "1." in summary  # Twilio has no buttons here: numbered choices, the first confirms
    placed = await shopper.say("1")
    assert "বিকাশ" in placed and "01711111111" in placed and "৳১৫০" in placed
    noted = await shopper.say("৮এন৭এ৬ডি  TrxID: 8N7A6D5EE7")
    assert "8N7A6D5EE7" in noted and "পেমেন্ট পেয়েছি" not in noted
    assert "paid ORD-1001 8N7A6D5EE7" in await owner.sent()
    assert "marked paid" in await owner.say("paid ORD-1001 8N7A6D5EE7")
    assert "পেমেন্ট পেয়েছি" in await shopper.sent()
    assert await account(twilio_client, "psp_clearing:manual:bkash") == 15000
    await _books_agree(twilio_client)
