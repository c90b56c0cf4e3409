"""The simulator is a test tool: an owner's number on it is a shopper unless explicitly enabled.

Issue 15: with only the simulator token, ``{"from": OWNER, "text": "ship ORD-1010"}`` shipped
a real channel's order. Now merchant powers on the simulator need HAAT_SIMULATOR_OWNER=1,
and ``haat serve`` warns when the simulator runs beside a live channel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from config.clock import Clock
from config.settings import Settings
from tests.conftest import ADMIN_TOKEN, ROOT, AiohttpClient, Shopper
from tests.e2e.conftest import (
    OWNER,
    SANDBOX_AUTH,
    payment_reply,
    place_order,
    start_live,
    token_of,
    until_ready,
)
from tests.localhost import free_port
from webhooks.cli import simulator_warning

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _paid_order(live: TestClient[Any, Any]) -> None:
    token = token_of(payment_reply(await place_order(Shopper(live, "+919000000401")))["link"])
    response = await live.post(f"/pay/{token}/sandbox", json={"outcome": "success"},
                               headers=SANDBOX_AUTH)
    assert response.status == 200


async def _status(live: TestClient[Any, Any]) -> str:
    response = await live.get("/api/orders", headers=ADMIN)
    return str((await response.json())["orders"][0]["status"])


@pytest.mark.parametrize("enabled", [False, True], ids=["default", "HAAT_SIMULATOR_OWNER"])
async def test_an_owner_number_on_the_simulator_has_no_merchant_powers_by_default(
        aiohttp_client: AiohttpClient, settings: Settings, clock: Clock,
        enabled: bool) -> None:
    live = await start_live(aiohttp_client, settings.with_(simulator_owner=enabled), clock)
    await _paid_order(live)
    assert await _status(live) == "paid"
    reply = await Shopper(live, OWNER).text_of("ship ORD-1001")
    assert await _status(live) == ("shipped" if enabled else "paid")
    assert ("ORD-1001" in reply) is enabled


def test_settings_read_the_switch() -> None:
    assert Settings.from_env({}).simulator_owner is False
    assert Settings.from_env({"HAAT_SIMULATOR_OWNER": "1"}).simulator_owner is True
    assert Settings.from_env({"HAAT_SIMULATOR_OWNER": "0"}).simulator_owner is False


def test_the_warning_names_the_live_channels() -> None:
    quiet = Settings().with_env(HAAT_SIMULATOR_TOKEN="t")
    assert simulator_warning(quiet) is None
    assert simulator_warning(Settings().with_env(TWILIO_AUTH_TOKEN="x")) is None
    warning = simulator_warning(Settings(simulator_owner=True).with_env(
        HAAT_SIMULATOR_TOKEN="t", WHATSAPP_APP_SECRET="s", TWILIO_AUTH_TOKEN="x"))
    assert warning is not None
    assert "Twilio" in warning and "Cloud API" in warning and "merchant" in warning


async def test_haat_serve_warns_when_the_simulator_runs_beside_a_live_channel(
        tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'warn.db'}",
               HAAT_SIMULATOR_TOKEN="sim-token-for-warning", TWILIO_AUTH_TOKEN="live-token",
               TWILIO_ACCOUNT_SID="AC" + "1" * 32, HAAT_OUTBOX_SENDER="inline",
               HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1")
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220, S603 - a real separate server process
            [sys.executable, "-m", "webhooks", "serve", "--port", str(port)], env=env,
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            await until_ready(f"http://127.0.0.1:{port}", proc, log)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    text = log.read_text(errors="replace")
    assert "the simulator (HAAT_SIMULATOR_TOKEN) is enabled beside a live channel (Twilio" in text
    assert "sim-token-for-warning" not in text and "live-token" not in text
