"""The hosted payment page in real headless Chromium on a phone-sized screen.

The app runs on loopback with its public URL pointing at itself, so the page, its QR, its
status polling and the sandbox PSP's signed callback all travel over real HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from markupsafe import escape
from playwright.async_api import Browser, Page

from bot.replies import TEXTS, shop_name
from config.clock import Clock
from tests.browser import PHONE, chromium, decode_qr, phone_page
from tests.conftest import Shopper
from tests.e2e.conftest import (
    SANDBOX_AUTH,
    SANDBOX_SECRET,
    outbox,
    payment_reply,
    place_order,
    token_of,
)
from webhooks import keys as k

COUNTDOWN = re.compile(r"Expires in (\d+):(\d\d)")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def _status(page: Page) -> str:
    return str(await page.get_attribute("#status", "data-status"))


async def _wait_status(page: Page, status: str, timeout_ms: int = 10_000) -> None:
    await page.wait_for_function(
        "s => document.getElementById('status').dataset.status === s", arg=status,
        timeout=timeout_ms)


async def _seconds_left(page: Page) -> int:
    text = await page.inner_text("#expiry")
    match = COUNTDOWN.search(text)
    assert match, text
    return int(match.group(1)) * 60 + int(match.group(2))


async def _open(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 200
    await page.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads


async def test_page_shows_the_order_the_exact_upi_link_and_a_scannable_qr(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser) -> None:
    pay = payment_reply(await place_order(buyer, "2 samosa"))
    upi = pay["extra"]["upi_link"]
    async with phone_page(browser) as phone:
        page = phone.page
        await _open(page, pay["link"])
        assert await page.inner_text("#shop") == "Mitra Tea House"
        assert "ORD-1001" in await page.inner_text(".order")
        rows = [r.split("\t") for r in (await page.inner_text("table")).splitlines() if r]
        assert ["2 × Samosa", "₹24.00"] in rows and ["Delivery", "₹30.00"] in rows
        assert await page.inner_text("#amount") == "₹54.00"
        assert await page.get_attribute("#upi-button", "href") == upi
        assert await page.inner_text("#upi-button") == "Pay with UPI app"
        assert "Waiting for payment" in await page.inner_text("#status")

        # the countdown is there and runs
        first = await _seconds_left(page)
        assert 59 * 60 <= first <= 60 * 60
        await page.wait_for_function(
            f"!/Expires in {first // 60}:{first % 60:02d}$/.test("
            "document.getElementById('expiry').textContent)", timeout=3000)
        assert await _seconds_left(page) < first

        # the QR loaded and a camera reading the screen gets back the exact link
        await page.wait_for_function(
            "document.getElementById('qr').complete && "
            "document.getElementById('qr').naturalWidth > 0")
        assert await page.is_visible("#qr")
        assert decode_qr(await page.locator("#qr").screenshot()) == [upi]
        assert upi in decode_qr(await page.screenshot(full_page=True))

        # made for a phone: nothing wider than the screen, a thumb-sized pay button
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        box = await page.locator("#upi-button").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 44
        assert phone.errors == [] and phone.failed == []


async def test_clicking_simulate_success_turns_the_page_paid_without_a_reload(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser) -> None:
    pay = payment_reply(await place_order(buyer, "1 samosa"))
    async with phone_page(browser) as phone:
        page = phone.page
        await _open(page, pay["link"])
        assert await _status(page) == "issued"
        # the page says it is a test, and simulating needs the secret, never the link alone
        assert "TEST PAYMENT" in await page.inner_text("#test-banner")
        assert await page.is_visible("#qr-test")
        await page.get_by_role("button", name="Simulate success").click()
        assert "secret" in await page.inner_text("#sandbox-error")
        await page.get_by_label("Sandbox secret").fill("not-the-secret")
        await page.get_by_role("button", name="Simulate success").click()
        await page.wait_for_selector("#sandbox-error:text('Wrong sandbox secret')")
        assert await _status(page) == "issued"
        await page.get_by_label("Sandbox secret").fill(SANDBOX_SECRET)
        await page.get_by_role("button", name="Simulate success").click()
        await _wait_status(page, "paid")
        assert "Paid" in await page.inner_text("#status")
        assert await page.evaluate("window.__sameDocument") == "yes"
        assert await page.is_hidden("#pay-area") and await page.is_hidden("#qr")
        assert await page.is_hidden("#sandbox")
        assert await page.inner_text("#expiry") == ""
        # the only failed request is the wrong secret's 403
        assert phone.errors == [] and [f.split()[0] for f in phone.failed] == ["403"]
    state = await (await live.get(f"/pay/{token_of(pay['link'])}/status")).json()
    assert state["status"] == "paid" and state["order_status"] == "paid"
    receipts = [m["text"] for m in await outbox(live, buyer.phone)]
    assert sum("received" in text for text in receipts) == 1, receipts


async def test_a_payment_landing_elsewhere_updates_the_open_page_live(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser) -> None:
    pay = payment_reply(await place_order(buyer, "3 samosa"))
    token = token_of(pay["link"])
    async with phone_page(browser) as phone:
        page = phone.page
        await _open(page, pay["link"])
        # a failed attempt leaves the request open: the page keeps waiting
        failed = await live.post(f"/pay/{token}/sandbox", json={"outcome": "failure"},
                                 headers=SANDBOX_AUTH)
        assert failed.status == 200 and (await failed.json())["delivered"] == 1
        await page.wait_for_timeout(1800)  # longer than one poll
        assert await _status(page) == "issued" and await page.is_visible("#qr")
        # the PSP's success callback lands (the shopper paid from another phone)
        paid = await live.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                                 headers=SANDBOX_AUTH)
        assert paid.status == 200
        await _wait_status(page, "paid")
        assert await page.evaluate("window.__sameDocument") == "yes"
        assert "Paid" in await page.inner_text("#status")
        assert phone.errors == [] and phone.failed == []


async def test_an_expired_payment_shows_expired_and_no_qr(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser, clock: Clock) -> None:
    pay = payment_reply(await place_order(buyer, "2 samosa"))
    upi = pay["extra"]["upi_link"]
    async with phone_page(browser) as phone:
        page = phone.page
        await _open(page, pay["link"])
        assert decode_qr(await page.screenshot(full_page=True)) == [upi]
        clock.advance(minutes=61)  # the server's time moves past the expiry
        await _wait_status(page, "expired")  # the open page learns it by polling
        assert "expired" in (await page.inner_text("#status")).lower()
        assert await page.is_hidden("#pay-area") and await page.is_hidden("#upi-button")
        assert decode_qr(await page.screenshot(full_page=True)) == []

        # and a fresh visit shows the same, with no way to pay
        await page.reload()
        assert await _status(page) == "expired"
        assert await page.is_hidden("#qr") and await page.is_hidden("#upi-button")
        assert await page.is_hidden("#sandbox")
        assert await page.inner_text("#expiry") == ""
        assert decode_qr(await page.screenshot(full_page=True)) == []
        assert phone.errors == []
    assert (await live.get(f"/pay/{token_of(pay['link'])}/qr.png")).status == 410


# ---- the order's language --------------------------------------------------------------

_WORDS = re.compile(r'<script id="words" type="application/json">(.*?)</script>', re.S)
SPOKEN = [("en", "hello", "2 samosa"), ("hi", "नमस्ते", "2 समोसा"),
          ("bn", "নমস্কার", "২টা সিঙাড়া"), ("ar", "مرحبا", "أريد ٢ سمبوسة")]


@pytest.mark.parametrize(("language", "hello", "items"), SPOKEN, ids=[s[0] for s in SPOKEN])
async def test_the_page_speaks_the_order_s_language(
        live: TestClient[Any, Any], buyer: Shopper, language: str, hello: str,
        items: str) -> None:
    await buyer.send(hello)
    token = token_of(payment_reply(await place_order(buyer, items))["link"])
    page = await (await live.get(f"/pay/{token}")).text()
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in page
    for key in ("pay_page_total", "pay_page_upi_button", "pay_page_hint_upi",
                "pay_page_delivery", "pay_page_test_banner_qr", "pay_page_sandbox_note"):
        assert str(escape(TEXTS[key][language])) in page, key
    assert str(escape(TEXTS["pay_page_order"][language].format(order="ORD-1001"))) in page
    shop = live.app[k.SHOPS].get("config")
    assert shop is not None and str(escape(shop_name(shop.shop, language))) in page
    found = _WORDS.search(page)
    assert found is not None
    words = json.loads(found.group(1))  # what the page's script shows as it polls
    assert words["paid"] == TEXTS["pay_page_status_paid"][language]
    assert words["expires_in"] == TEXTS["pay_page_expires_in"][language]
    if language != "en":
        assert "Waiting for payment" not in page and "Pay with UPI app" not in page


async def test_lang_asks_for_another_language_and_refuses_an_unknown_one(
        live: TestClient[Any, Any], buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    arabic = await (await live.get(f"/pay/{token}", params={"lang": "ar"})).text()
    assert '<html lang="ar" dir="rtl">' in arabic
    assert str(escape(TEXTS["pay_page_total"]["ar"])) in arabic
    for bad in ("xx", "", "AR"):
        response = await live.get(f"/pay/{token}", params={"lang": bad})
        assert response.status == 400, bad


async def test_an_arabic_page_counts_down_and_turns_paid_in_arabic(
        live: TestClient[Any, Any], buyer: Shopper, browser: Browser) -> None:
    await buyer.send("مرحبا")
    pay = payment_reply(await place_order(buyer, "أريد ٢ سمبوسة"))
    async with phone_page(browser) as phone:
        page = phone.page
        await _open(page, pay["link"])
        assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        assert await page.inner_text("#status") == TEXTS["pay_page_status_issued"]["ar"]
        before, _, _ = TEXTS["pay_page_expires_in"]["ar"].partition("{time}")
        assert (await page.inner_text("#expiry")).startswith(before)
        await page.get_by_label(TEXTS["pay_page_sandbox_secret"]["ar"]).fill(SANDBOX_SECRET)
        await page.get_by_role("button", name=TEXTS["pay_page_simulate_success"]["ar"]).click()
        await _wait_status(page, "paid")
        assert await page.inner_text("#status") == TEXTS["pay_page_status_paid"]["ar"]
        assert phone.errors == []
