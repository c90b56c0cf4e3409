"""End-to-end fixtures: the real app listening on a loopback port that is also its public URL.

The sandbox PSP delivers its signed callbacks over real HTTP to ``HAAT_PUBLIC_URL``, and a
browser loads ``/pay/{token}`` from the same address, so these tests run the app on a port
chosen up front instead of the in-process client the unit tests use.
"""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from config.clock import Clock
from config.settings import Settings
from storage.amounts import minor
from tests.conftest import ADMIN_TOKEN, DEMO_SHOP, SIM_TOKEN, AiohttpClient, Shopper
from tests.fakes.graph_api import FakeGraphApi, run_fake_graph_api
from tests.fakes.razorpay import FakeRazorpay
from tests.localhost import free_port

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SIM = {"Authorization": f"Bearer {SIM_TOKEN}"}
SANDBOX_SECRET = "sandbox-secret"  # tests/conftest.py's settings
SANDBOX_AUTH = {"Authorization": f"Bearer {SANDBOX_SECRET}"}  # the simulate action needs it
OWNER = "+919811111111"  # the demo shop's owner (config/shop.yaml)
ADDRESS = "12 Salt Lake, Sector 1, Kolkata"




async def start_live(aiohttp_client: AiohttpClient, settings: Settings,
                     clock: Clock | None = None) -> TestClient[Any, Any]:
    """The app on 127.0.0.1:PORT with ``public_url`` = that address (callbacks reach it)."""
    from webhooks.app import create_app

    port = free_port()
    live = settings.with_(public_url=f"http://127.0.0.1:{port}")
    server = TestServer(create_app(live, clock=clock or Clock()), host="127.0.0.1", port=port)
    client: TestClient[Any, Any] = await aiohttp_client(server)  # type: ignore[arg-type]
    return client


@pytest.fixture
async def live(aiohttp_client: AiohttpClient, settings: Settings,
               clock: Clock) -> TestClient[Any, Any]:
    return await start_live(aiohttp_client, settings, clock)


@pytest.fixture
def buyer(live: TestClient[Any, Any]) -> Shopper:
    return Shopper(live, "+919000000101")


def shop_copy(tmp_path: Path, **payments: Any) -> Path:
    """A copy of the demo shop folder with ``payments`` keys replaced."""
    target = tmp_path / "shop"
    target.mkdir(exist_ok=True)
    for name in ("shop.yaml", "catalog.yaml", "nlu.yml"):
        source = DEMO_SHOP / name
        if source.exists():
            (target / name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load((target / "shop.yaml").read_text(encoding="utf-8"))
    data["payments"].update(payments)
    (target / "shop.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    return target


async def place_order(shopper: Shopper, items: str = "2 samosa") -> list[dict[str, Any]]:
    """Cart → checkout → address → confirm; the replies to the confirmation."""
    await shopper.send(items)
    await shopper.send("checkout")
    replies = await shopper.send(ADDRESS)
    payloads = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert "confirm" in payloads, replies
    return await shopper.send(button="confirm")


def payment_reply(replies: list[dict[str, Any]]) -> dict[str, Any]:
    found = [r for r in replies if r.get("type") == "payment" or r.get("link")]
    assert found, replies
    return found[-1]


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/pay/", 1)[1].split("/")[0]


async def outbox(client: TestClient[Any, Any], phone: str) -> list[dict[str, Any]]:
    """The proactive messages sent to ``phone`` since the last call.

    Rows already due are sent first, as the outbox's one-second poller would: a merchant
    command's receipts are committed by the payment service and wait for that poller.
    """
    from webhooks.keys import OUTBOX

    await client.app[OUTBOX].run_due()
    response = await client.get("/webhooks/simulator/outbox", params={"to": phone},
                                headers=SIM)
    assert response.status == 200
    messages: list[dict[str, Any]] = (await response.json())["messages"]
    return messages


@asynccontextmanager
async def api_base_of(app: web.Application) -> AsyncIterator[str]:
    """A fake provider's app on loopback: its API base URL, ending in /v1."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_fake_razorpay() -> AsyncIterator[tuple[FakeRazorpay, str]]:
    """tests/fakes/razorpay.py on loopback: (the fake, its API base URL ending in /v1)."""
    fake = FakeRazorpay()
    async with api_base_of(fake.build_app()) as base:
        yield fake, base


async def ledger_by_currency(client: TestClient[Any, Any]) -> dict[str, int]:
    """Σ ledger_entries.amount_minor per currency: 0 everywhere when the books balance."""
    from webhooks.keys import DB

    rows = await client.app[DB].fetchall(
        "SELECT currency, SUM(amount_minor) FROM ledger_entries GROUP BY currency", ())
    return {str(currency): minor(total) for currency, total in rows}


async def account(client: TestClient[Any, Any], name: str) -> int:
    """The signed balance (debit − credit) of one ledger account, INR, demo shop."""
    from webhooks.keys import DB

    row = await client.app[DB].fetchone(
        "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE account = ?", (name,))
    return minor(row[0]) if row else 0


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    """A local server speaking the Graph API's messages endpoint (tests/fakes/graph_api.py)."""
    async with run_fake_graph_api() as fake:
        yield fake


def open_shop(tmp_path: Path, settings: Settings) -> Path:
    """A copy of the demo shop that is open around the clock."""
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "catalog.yaml").write_bytes((settings.shop_dir / "catalog.yaml").read_bytes())
    text = (settings.shop_dir / "shop.yaml").read_text(encoding="utf-8")
    (shop / "shop.yaml").write_text(re.sub(r"(?m)^hours:.*\n(?:  .*\n)*",
                                           'hours: {daily: "00:00-23:59"}\n', text),
                                    encoding="utf-8")
    return shop


async def until_ready(url: str, proc: subprocess.Popen[bytes], log: Path | None = None) -> None:
    """Poll ``url``/readyz until a real ``haat serve`` process answers 200 (15 s at most)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError(f"haat serve did not become ready {_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None else ""


_RECEIPT_LINK = re.compile(r"https?://\S+?(/receipt/[A-Za-z0-9_-]+)")
_RECEIPT_FIELD = re.compile(r'id="(invoice-number|total|method|reference|title)"[^>]*>([^<]*)<')


async def receipt_of(client: TestClient[Any, Any], told: str) -> dict[str, str]:
    """The receipt a shopper was sent: its link found in ``told`` (what reached the shopper)
    and the page fetched as their phone would, read by the page's own element ids."""
    found = _RECEIPT_LINK.search(told)
    assert found is not None, told
    response = await client.get(found.group(1))
    assert response.status == 200, await response.text()
    page = await response.text()
    return {name: html.unescape(value).strip() for name, value in _RECEIPT_FIELD.findall(page)}
