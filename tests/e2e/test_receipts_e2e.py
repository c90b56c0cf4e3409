"""Receipts end to end: a shopper orders through the simulator, pays at the sandbox PSP
(a signed callback over real HTTP), gets a receipt link, and the page it opens shows the
invoice; then in real headless Chromium, screenshot included, in English and in Arabic."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser

from bot.receipts import number_of
from config.clock import Clock
from config.settings import Settings
from tests.browser import PHONE, chromium, decode_qr, phone_page
from tests.conftest import AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADMIN,
    OWNER,
    SANDBOX_AUTH,
    outbox,
    payment_reply,
    place_order,
    start_live,
    token_of,
)
from webhooks import keys as k
from webhooks.receipt_routes import RECEIPTS

DHAKA = Path(__file__).resolve().parents[2] / "examples" / "dhaka-grocer"
APRIL_1_2027_10AM_IST_MS = 1_806_553_800_000
RECEIPT_LINK = re.compile(r"https?://\S+/receipt/([A-Za-z0-9_-]+)")


async def _pay_and_get_receipt(live: TestClient[Any, Any], shopper: Shopper,
                               items: str = "2 samosa") -> tuple[str, str, str]:
    """Order, pay at the sandbox PSP, and return (the receipt link, its path, the
    message)."""
    pay = payment_reply(await place_order(shopper, items))
    paid = await live.post(f"/pay/{token_of(pay['link'])}/sandbox",
                           json={"outcome": "success"}, headers=SANDBOX_AUTH)
    assert paid.status == 200
    texts = [m["text"] for m in await outbox(live, shopper.phone)]
    links = [match for text in texts if (match := RECEIPT_LINK.search(text))]
    assert len(links) == 1, texts
    link = links[0].group(0)
    assert link.startswith(live.app[k.SETTINGS].public_base + "/receipt/")
    return link, f"/receipt/{links[0].group(1)}", links[0].string


async def test_paying_sends_a_link_to_a_tax_invoice_numbered_per_shop_and_year(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    link, path, message = await _pay_and_get_receipt(live, buyer)
    # one message: "received" and the receipt can never arrive in the wrong order
    assert message == ("✅ Payment of ₹54.00 received for *ORD-1001*. Thank you! We're "
                       f"preparing your order.\n🧾 Receipt: {link}")
    page = await live.get(path)
    assert page.status == 200 and page.headers["Cache-Control"] == "private, no-store"
    html = await page.text()
    assert '<html lang="en" dir="ltr">' in html
    assert 'id="title">Tax invoice<' in html
    assert 'id="invoice-number">MTH/2627/000001<' in html
    assert 'id="date">23/11/2026<' in html  # the movable clock: 23 November 2026, Kolkata
    assert "Mitra Tea House Private Limited" in html and "19AAPCM1234F1ZG" in html
    assert "West Bengal (19)" in html  # place of supply: the shop's state, so CGST + SGST
    assert 'id="total-cgst">₹1.28<' in html and 'id="total-sgst">₹1.28<' in html
    assert 'id="total-taxable">₹51.44<' in html and 'id="total">₹54.00<' in html
    assert "HSN 996331" in html and "Prices include GST." in html
    assert 'id="method">UPI<' in html and 'id="reference">' in html
    qr = await live.get(f"{path}/qr.png")
    assert qr.status == 200 and qr.content_type == "image/png"
    assert decode_qr(await qr.read()) == [
        "Mitra Tea House Private Limited\nGSTIN: 19AAPCM1234F1ZG\nInvoice: MTH/2627/000001\n"
        "Date: 23/11/2026\nTotal: INR 54.00\nGST: INR 2.56"]

    # the same shopper again: the next number; the page of the first stays as it was
    second = Shopper(live, "+919000000102")
    _, path2, _ = await _pay_and_get_receipt(live, second, "3 samosa")
    assert 'id="invoice-number">MTH/2627/000002<' in await (await live.get(path2)).text()
    assert 'id="invoice-number">MTH/2627/000001<' in await (await live.get(path)).text()

    # the merchant's sales register for the GST return
    assert (await live.get("/api/invoices")).status == 403
    register = await (await live.get("/api/invoices", headers=ADMIN)).json()
    assert register["fy"] == 2026 and [i["number"] for i in register["invoices"]] == [
        "MTH/2627/000001", "MTH/2627/000002"]
    first = register["invoices"][0]
    assert (first["order"], first["kind"], first["date"], first["place_of_supply"]) == (
        "ORD-1001", "tax_invoice", "2026-11-23", "19")
    assert (first["taxable_minor"], first["cgst_minor"], first["sgst_minor"],
            first["igst_minor"], first["total_minor"]) == (5144, 128, 128, 0, 5400)
    assert first["url"] == link
    older = await (await live.get("/api/invoices", params={"fy": "2025"},
                                  headers=ADMIN)).json()
    assert older["invoices"] == []
    for bad in ({"fy": "26"}, {"fy": "２０２６"}, {"shop": "nope"}):
        assert (await live.get("/api/invoices", params=bad, headers=ADMIN)).status == 400


async def test_issuing_again_gives_the_same_invoice_and_sends_nothing(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    _, path, _ = await _pay_and_get_receipt(live, buyer)
    order = (await live.app[k.PAYMENTS].repo.orders("config"))[0]
    from storage.database import WriteSet

    writes = WriteSet()
    # what the notifier calls on every capture (bot/flows/payment_updates.py)
    again = await live.app[RECEIPTS].issue(writes, order, method="upi", reference=None,
                                           now_ms=live.app[k.CLOCK].now_ms())
    assert again is not None and again.existing is not None
    assert path.endswith(again.token) and not writes  # nothing to write, nothing sent
    stored = await live.app[RECEIPTS].for_order(order.id)
    assert stored is not None and number_of(stored) == "MTH/2627/000001"
    assert await outbox(live, buyer.phone) == []


async def test_the_page_in_each_language_and_bad_tokens(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    _, path, _ = await _pay_and_get_receipt(live, buyer)
    hindi = await (await live.get(path, params={"lang": "hi"})).text()
    assert 'lang="hi"' in hindi and "टैक्स इनवॉइस" in hindi and "कुल" in hindi
    bengali = await (await live.get(path, params={"lang": "bn"})).text()
    assert "ট্যাক্স ইনভয়েস" in bengali and "₹54.00" in bengali
    arabic = await (await live.get(path, params={"lang": "ar"})).text()
    assert '<html lang="ar" dir="rtl">' in arabic and "فاتورة ضريبية" in arabic
    assert (await live.get(path, params={"lang": "fr"})).status == 400
    for bad in ("short", "x" * 65, "A" * 32, "../../etc/passwd"):
        assert (await live.get(f"/receipt/{bad}")).status == 404, bad
        assert (await live.get(f"/receipt/{bad}/qr.png")).status == 404, bad


# ---- real headless Chromium --------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def test_the_receipt_in_chromium_on_a_phone_and_in_print(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser) -> None:
    link, _, _ = await _pay_and_get_receipt(live, buyer)
    async with phone_page(browser) as phone:
        page = phone.page
        response = await page.goto(link)
        assert response is not None and response.status == 200
        assert await page.inner_text("#invoice-number") == "MTH/2627/000001"
        assert await page.inner_text("#total") == "₹54.00"
        assert await page.inner_text("#legal-name") == "Mitra Tea House Private Limited"
        rows = (await page.inner_text("#lines")).splitlines()
        assert any(r.startswith("Samosa") for r in rows), rows
        await page.wait_for_function("document.getElementById('qr').complete && "
                                     "document.getElementById('qr').naturalWidth > 0")
        # the screenshot, as the shopper sees it, carries the number and the total
        shot = await page.screenshot(full_page=True)
        (read,) = decode_qr(shot)
        assert "Invoice: MTH/2627/000001" in read and "Total: INR 54.00" in read
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        box = await page.locator("#print").bounding_box()
        assert box is not None and box["height"] >= 44
        # printed: the button goes, the invoice stays
        await page.emulate_media(media="print")
        assert await page.is_hidden("#print")
        assert await page.is_visible("#invoice-number") and await page.is_visible("#total")
        pdf = await page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000
        assert phone.errors == [] and phone.failed == []


async def test_an_arabic_receipt_is_laid_out_right_to_left(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser) -> None:
    link, _, _ = await _pay_and_get_receipt(live, buyer)
    async with phone_page(browser) as phone:
        page = phone.page
        response = await page.goto(f"{link}?lang=ar")
        assert response is not None and response.status == 200
        assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        assert await page.inner_text("#title") == "فاتورة ضريبية"
        # the number and the amounts keep their own left-to-right order inside the RTL page
        assert await page.inner_text("#invoice-number") == "MTH/2627/000001"
        assert await page.inner_text("#total") == "₹54.00"
        # right to left: the title starts at the right edge, the total's label at the right
        title = await page.locator("#title").bounding_box()
        assert title is not None and title["x"] + title["width"] > PHONE["width"] * 0.6
        shot = await page.screenshot(full_page=True)
        (read,) = decode_qr(shot)
        assert "Invoice: MTH/2627/000001" in read and "Total: INR 54.00" in read
        assert phone.errors == [] and phone.failed == []


# ---- a Dhaka shop: whole taka, Bengali, a plain receipt ------------------------------------


async def test_a_dhaka_shopper_gets_a_bengali_receipt_in_whole_taka(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        browser: Browser) -> None:
    live = await start_live(aiohttp_client, settings.with_(shop_dir=DHAKA), clock)
    shopper = Shopper(live, "+8801900000101")
    await shopper.send("৩ কেজি মসুর ডাল")
    await shopper.send("checkout")
    replies = await shopper.send("বাড়ি ১২, রোড ৫, Dhanmondi, Dhaka")
    assert any(b["payload"] == "confirm" for r in replies for b in r.get("buttons", [])), \
        replies
    offered = await shopper.send(button="confirm")  # bKash first, a link among the others
    assert any(b["payload"] == "pay:payment_link" for r in offered
               for b in r.get("buttons", [])), offered
    pay = payment_reply(await shopper.send(button="pay:payment_link"))
    paid = await live.post(f"/pay/{token_of(pay['link'])}/sandbox",
                           json={"outcome": "success"}, headers=SANDBOX_AUTH)
    assert paid.status == 200
    texts = [m["text"] for m in await outbox(live, shopper.phone)]
    (message,) = [t for t in texts if "/receipt/" in t]
    assert message.startswith("✅ *ORD-1001*-এর ৳445.00 পেমেন্ট পেয়েছি।")  # chat: Money.format
    assert "\n🧾 রসিদ: http" in message
    link = message.rsplit(" ", 1)[1]
    async with phone_page(browser) as phone:
        page = phone.page
        response = await page.goto(link)
        assert response is not None and response.status == 200
        assert await page.evaluate("document.documentElement.lang") == "bn"
        assert await page.inner_text("#title") == "রসিদ"  # no GST outside India
        # 3 × ৳135 + ৳40 delivery, whole taka as the shop asks; Bangladesh's year is July-June
        assert await page.inner_text("#total") == "৳445"
        assert await page.inner_text("#invoice-number") == "RG/2627/000001"
        assert await page.inner_text("#legal-name") == "Rahman Grocery"
        assert await page.locator("#unregistered").count() == 0  # India's bill of supply
        (read,) = decode_qr(await page.screenshot(full_page=True))
        assert "Invoice: RG/2627/000001" in read and "Total: BDT 445.00" in read
        assert phone.errors == [] and phone.failed == []


def test_receipt_tokens_never_reach_a_log_line() -> None:
    from webhooks.redaction import Redactor

    assert Redactor().redact("GET /receipt/AbC_123-xyzxyzxyzxyzxyz/qr.png 200") == \
        "GET /receipt/<token>/qr.png 200"


async def test_a_number_that_would_not_fit_alerts_the_merchant_and_the_payment_stands(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    # ten million invoices this year already: MTH/2627/10000000 is 17 characters
    await live.app[k.DB].write(_counter_at(9_999_999))
    pay = payment_reply(await place_order(buyer))
    paid = await live.post(f"/pay/{token_of(pay['link'])}/sandbox",
                           json={"outcome": "success"}, headers=SANDBOX_AUTH)
    assert paid.status == 200
    texts = [m["text"] for m in await outbox(live, buyer.phone)]
    assert any("received" in t for t in texts) and not any("/receipt/" in t for t in texts)
    order = (await live.app[k.PAYMENTS].repo.orders("config"))[0]
    assert order.status == "paid"
    assert await live.app[RECEIPTS].for_order(order.id) is None
    alerts = [m["text"] for m in await outbox(live, OWNER)]
    assert any("No receipt could be issued for ORD-1001" in a and "shorter invoice.prefix"
               in a for a in alerts), alerts


def _counter_at(last: int) -> Any:
    from storage.database import WriteSet

    writes = WriteSet()
    writes.add("INSERT INTO invoice_counters (shop_id, fy, last) VALUES (?, ?, ?)",
               ("config", 2026, last))
    return writes


async def test_on_postgresql_the_series_restarts_on_the_first_of_april(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        fresh_postgres: str) -> None:
    """The whole path on PostgreSQL, with the movable clock carried past 31 March."""
    live = await start_live(aiohttp_client, settings.with_(database_url=fresh_postgres),
                            clock)
    _, path, _ = await _pay_and_get_receipt(live, Shopper(live, "+919000000201"))
    assert 'id="invoice-number">MTH/2627/000001<' in await (await live.get(path)).text()
    _, path, _ = await _pay_and_get_receipt(live, Shopper(live, "+919000000202"))
    assert 'id="invoice-number">MTH/2627/000002<' in await (await live.get(path)).text()
    clock.offset_ms += APRIL_1_2027_10AM_IST_MS - clock.now_ms()  # Thursday, open
    _, path, _ = await _pay_and_get_receipt(live, Shopper(live, "+919000000203"))
    html = await (await live.get(path)).text()
    assert 'id="invoice-number">MTH/2728/000001<' in html and 'id="date">01/04/2027<' in html
    register = await (await live.get("/api/invoices", headers=ADMIN)).json()
    assert register["fy"] == 2027 and [i["number"] for i in register["invoices"]] == [
        "MTH/2728/000001"]


async def test_a_shop_not_registered_for_gst_gives_a_bill_of_supply(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    for name in ("shop.yaml", "catalog.yaml", "nlu.yml"):
        text = (settings.shop_dir / name).read_text(encoding="utf-8")
        kept = [line for line in text.splitlines(keepends=True)
                if not line.lstrip().startswith(("gstin:", "gst_rate:", "delivery_gst_rate:"))]
        (shop / name).write_text("".join(kept), encoding="utf-8")
    live = await start_live(aiohttp_client, settings.with_(shop_dir=shop), clock)
    _, path, _ = await _pay_and_get_receipt(live, Shopper(live, "+919000000301"))
    html = await (await live.get(path)).text()
    assert 'id="title">Bill of supply<' in html
    assert "Supplier not registered for GST: no tax charged." in html
    assert "GSTIN" not in html and "CGST" not in html and "Place of supply" not in html
    assert 'id="total">₹54.00<' in html and 'id="invoice-number">MTH/2627/000001<' in html
