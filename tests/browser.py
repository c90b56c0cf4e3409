"""Drive the system's headless Chromium (Debian's ``chromium``) from tests, downloading nothing.

Playwright's Python package talks to the browser; ``playwright install`` is never run: we
point it at the Chromium that scripts/system-deps.sh installs. QR codes on screen are read
back with zxing-cpp so a test proves what a phone camera would see.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import zxingcpp
from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    async_playwright,
)

# the real binary first: Debian's /usr/bin/chromium is a shell wrapper around it
CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
PHONE: ViewportSize = {"width": 390, "height": 844}  # an iPhone 12-14 class screen, in CSS pixels


def chromium_path() -> str:
    """The installed Chromium, or a clear failure that says how to get it."""
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise RuntimeError("Chromium is not installed: run scripts/system-deps.sh "
                       "(apt-get install -y chromium)")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for the duration of the block."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   headless=True, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PhonePage:
    """A page on a phone-sized screen that remembers every script error and every failed
    request (``failed``: "STATUS URL"; the browser's own favicon probe is not counted)."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.failed.append(f"{response.status} {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        # a failed load is reported with its URL by _response
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)


@asynccontextmanager
async def phone_page(browser: Browser, *, scale: float = 2) -> AsyncIterator[PhonePage]:
    context = await browser.new_context(viewport=PHONE, device_scale_factor=scale,
                                        is_mobile=True, has_touch=True)
    page = await context.new_page()
    holder = PhonePage(page, context)
    page.on("pageerror", lambda exc: holder.errors.append(str(exc)))
    page.on("console", holder._console)
    page.on("response", holder._response)
    try:
        yield holder
    finally:
        await context.close()


def decode_qr(png: bytes) -> list[str]:
    """Every QR code's text in a PNG (a screenshot or the served image)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    return [r.text for r in zxingcpp.read_barcodes(image)
            if r.format == zxingcpp.BarcodeFormat.QRCode]
