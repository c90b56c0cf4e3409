"""Issue 14: the sandbox PSP is a test that behaves like a real PSP, and says so.

* its state survives a restart of haat (a real PSP keeps it on its side), so ``haat
  reconcile`` finds a payment whose callback never arrived;
* simulating a payment needs the sandbox secret or the admin token, never the link alone;
* its page and QR say plainly that they are a test, and the QR pays nobody;
* ``haat serve`` refuses it while a live WhatsApp channel is configured, unless allowed,
  and ``haat check`` warns about it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from config.clock import Clock
from config.settings import Settings
from payments.providers.sandbox import SandboxProvider
from payments.upi import UpiLink
from tests.browser import decode_qr
from tests.conftest import ADMIN_TOKEN, DEMO_SHOP, ROOT, AiohttpClient, Shopper
from tests.e2e.conftest import (
    ADMIN,
    SANDBOX_AUTH,
    payment_reply,
    place_order,
    start_live,
    token_of,
)
from tests.localhost import free_port
from webhooks import keys as k


@asynccontextmanager
async def unavailable_receiver() -> AsyncIterator[str]:
    """A callback URL that answers 503, as haat does while it is down or restarting."""
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/{tail:.*}", down)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/webhooks/payments/sandbox"
    finally:
        await runner.cleanup()


async def test_reconcile_finds_a_missed_payment_after_a_restart(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        database_url: str) -> None:
    from webhooks.cli import _reconcile

    settings = settings.with_(database_url=database_url)
    first = await start_live(aiohttp_client, settings, clock)
    token = token_of(payment_reply(await place_order(Shopper(first, "+919000000301")))["link"])
    request = await first.app[k.PAYMENTS].repo.request_by_token(token)
    assert request is not None and request.provider_ref
    provider = first.app[k.PROVIDERS]["sandbox"]
    assert isinstance(provider, SandboxProvider)
    async with unavailable_receiver() as url:
        # the shopper pays; the PSP's callback meets a haat that is down
        deliveries = await provider.settle(request.provider_ref, "success", url)
    assert [d.status for d in deliveries] == [503]
    await first.close()  # the restart: this process and its memory are gone

    # what `haat reconcile` runs, on the same database
    report, anomalies = await _reconcile(settings)
    assert anomalies == []
    assert report == {"checked": 1, "applied": 1, "unreachable": 0, "refunds_polled": 0,
                      "refunds_settled": 0, "refunds_unreachable": 0,
                      "ledger_balanced": True, "anomalies": 0}

    second = await start_live(aiohttp_client, settings, clock)
    (order,) = (await (await second.get("/api/orders", headers=ADMIN)).json())["orders"]
    assert order["status"] == "paid" and order["payments"][0]["captured_minor"] == 5400
    # and a second reconcile has nothing left to apply
    assert (await second.app[k.SCHEDULER].reconcile())["applied"] == 0


async def test_simulating_a_payment_needs_the_secret_or_the_admin_token(
        live: Any, buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    success = {"outcome": "success"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token},
                    {"Authorization": f"Bearer {token}"}, {"Authorization": "sandbox-secret"}):
        response = await live.post(f"/pay/{token}/sandbox", json=success, headers=headers)
        assert response.status == 403, headers
        assert "sandbox secret" in (await response.json())["error"]
    state = await (await live.get(f"/pay/{token}/status")).json()
    assert state["status"] == "issued"  # the link alone moved nothing
    assert (await live.post(f"/pay/{token}/sandbox", json={"outcome": "failure"},
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})).status == 200
    assert (await live.post(f"/pay/{token}/sandbox", json=success,
                            headers=SANDBOX_AUTH)).status == 200
    state = await (await live.get(f"/pay/{token}/status")).json()
    assert state["status"] == "paid"


async def test_the_page_and_the_qr_say_it_is_a_test_and_pay_nobody(
        live: Any, buyer: Shopper) -> None:
    token = token_of(payment_reply(await place_order(buyer))["link"])
    page = await (await live.get(f"/pay/{token}")).text()
    assert "TEST PAYMENT (sandbox): no real money moves" in page
    assert "TEST QR · pays nobody" in page
    (payload,) = decode_qr(await (await live.get(f"/pay/{token}/qr.png")).read())
    link = UpiLink.parse(payload)
    assert link.pa == "sandbox.test@invalid" and "mitratea" not in payload  # not the merchant
    assert link.pn == "SANDBOX TEST" and link.mc is None


def _haat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webhooks", *args],  # noqa: S603 - ours
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "WHATSAPP_", "HAAT_"))}
    env.update(HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", HAAT_MODEL_CACHE="",
               **extra)
    return env


async def test_serve_refuses_the_sandbox_with_a_live_channel_and_check_warns(
        tmp_path: Path) -> None:
    twilio = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "live-token"}
    cloud = {"WHATSAPP_ACCESS_TOKEN": "live-access", "WHATSAPP_APP_SECRET": "live-secret"}
    for live_channel in (twilio, cloud):
        env = _clean_env(tmp_path, **live_channel)
        done = await asyncio.to_thread(_haat, "serve", "--shop", str(DEMO_SHOP), "--port",
                                       str(free_port()), env=env)
        assert done.returncode == 2, done.stderr
        assert "refusing to start" in done.stderr and "sandbox" in done.stderr
        assert "HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL=1" in done.stderr
        assert "live-token" not in done.stderr + done.stdout  # never a secret
        checked = await asyncio.to_thread(_haat, "check", str(DEMO_SHOP), env=env)
        assert checked.returncode == 0  # a warning, not an error
        assert "warning:" in checked.stdout and "sandbox" in checked.stdout
    # without a live channel there is nothing to warn about
    quiet = await asyncio.to_thread(_haat, "check", str(DEMO_SHOP), env=_clean_env(tmp_path))
    assert quiet.returncode == 0 and "sandbox provider" not in quiet.stdout


async def test_serve_starts_with_the_sandbox_and_a_live_channel_when_allowed(
        tmp_path: Path) -> None:
    from tests.e2e.conftest import until_ready

    port = free_port()
    env = _clean_env(tmp_path, TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                     TWILIO_AUTH_TOKEN="staging-token",
                     HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1", HAAT_OUTBOX_SENDER="inline")
    server = subprocess.Popen(  # noqa: ASYNC220, S603 - a real separate server process
        [sys.executable, "-m", "webhooks", "serve", "--shop", str(DEMO_SHOP), "--port",
         str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await until_ready(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        server.wait(timeout=30)
