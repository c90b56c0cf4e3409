"""``haat serve --workers 2``: a real server process and its HTTP worker, end to end.

The worker verifies and parses every webhook and the server runs the turn; everything else
is passed through to the server. These tests drive the real command over loopback, sign
requests as the channels do, and kill processes to check what survives.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from config.settings import Settings
from tests.conftest import ROOT
from tests.e2e.conftest import open_shop, until_ready
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi
from tests.localhost import free_port
from tests.sim import (
    cloud_text,
    new_wamid,
    signed_cloud_request,
    signed_twilio_request,
    twilio_text,
)

APP_SECRET = "workers-app-secret"
TWILIO_TOKEN = "workers-twilio-token"
VERIFY_TOKEN = "workers-verify"
SIM_TOKEN = "workers-sim"
SHOPPER = "919000000077"


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    stderr: Path

    def workers(self) -> list[int]:
        return _children(self.proc.pid, "webhooks.http_worker")


def _children(pid: int, marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and marker in cmdline:
            found.append(int(entry.name))
    return found


async def _start(tmp_path: Path, graph: FakeGraphApi, settings: Settings,
                 *extra: str) -> Served:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'workers.db'}",
               HAAT_SHOP_DIR=str(open_shop(tmp_path, settings)), HAAT_MODEL_CACHE="",
               HAAT_PUBLIC_URL=url, HAAT_SIMULATOR_TOKEN=SIM_TOKEN,
               WHATSAPP_APP_SECRET=APP_SECRET, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
               WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN, WHATSAPP_API_BASE_URL=graph.url,
               TWILIO_AUTH_TOKEN=TWILIO_TOKEN, HAAT_LOG_LEVEL="INFO",
               HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1")
    stderr = tmp_path / "server.log"
    with stderr.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220, S603 - a real separate server process
            [sys.executable, "-m", "webhooks", "serve", "--port", str(port), *extra],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    await until_ready(url, proc, stderr)
    return Served(proc, url, stderr)


@pytest.fixture
async def served(tmp_path: Path, graph: FakeGraphApi,
                 settings: Settings) -> AsyncIterator[Served]:
    server = await _start(tmp_path, graph, settings, "--workers", "2")
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()


async def _metrics(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {name: float(value) for name, value in
            (line.split() for line in text.splitlines() if not line.startswith("#"))}


async def _simulate(session: aiohttp.ClientSession, url: str, text: str,
                    message_id: str) -> aiohttp.ClientResponse:
    return await session.post(
        f"{url}/webhooks/simulator", headers={"Authorization": f"Bearer {SIM_TOKEN}"},
        json={"from": "+" + SHOPPER, "to": "+919800000000", "text": text, "id": message_id})


async def test_every_channel_and_route_works_through_a_worker(served: Served,
                                                              graph: FakeGraphApi) -> None:
    [worker] = served.workers()
    assert worker != served.proc.pid
    url = served.url
    async with aiohttp.ClientSession() as session:
        # simulator: JSON answer with the replies, straight from the turn
        response = await _simulate(session, url, "hello", "sim-1")
        assert response.status == 200
        assert "Mitra Tea House" in str((await response.json())["replies"])

        # Twilio: signed form post, TwiML answer; the same delivery again is a duplicate
        body, headers = signed_twilio_request(f"{url}/webhooks/twilio", TWILIO_TOKEN,
                                              twilio_text("menu", from_="+" + SHOPPER))
        first = await session.post(f"{url}/webhooks/twilio", data=body, headers=headers)
        assert first.status == 200
        assert first.content_type == "application/xml"
        twiml = await first.text()
        assert "<Message>" in twiml and "Pick a category" in twiml
        again = await session.post(f"{url}/webhooks/twilio", data=body, headers=headers)
        assert again.status == 200 and await again.text() == twiml

        # Cloud API: signed envelope, empty 200, the reply leaves through the outbox
        body, headers = signed_cloud_request(APP_SECRET, cloud_text(
            "hello", from_=SHOPPER, message_id=new_wamid()))
        response = await session.post(f"{url}/webhooks/whatsapp", data=body, headers=headers)
        assert response.status == 200
        for _ in range(100):
            if any(r.json for r in graph.received):
                break
            await asyncio.sleep(0.05)
        sent = [r.json for r in graph.received if r.json]
        assert sent and sent[0]["to"] == SHOPPER

        # refused at the worker's edge, counted by the server
        bad = await session.post(f"{url}/webhooks/twilio", data=body,
                                 headers={"X-Twilio-Signature": "forged",
                                          "Content-Type": "application/x-www-form-urlencoded"})
        assert bad.status == 403
        assert (await bad.json()) == {"error": "signature check failed"}
        body, headers = signed_cloud_request(APP_SECRET, b"{not json")
        malformed = await session.post(f"{url}/webhooks/whatsapp", data=body, headers=headers)
        assert malformed.status == 400
        huge = await session.post(f"{url}/webhooks/whatsapp",
                                  data=io.BytesIO(b"x" * (1024 * 1024 + 1)), headers=headers)
        assert huge.status == 413

        # every other route is the server's own, passed through
        async with session.get(f"{url}/webhooks/whatsapp", params={
                "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "4711"}) as challenge:
            assert challenge.status == 200 and await challenge.text() == "4711"
        async with session.get(f"{url}/healthz") as health:
            assert health.status == 200 and (await health.json()) == {"status": "ok"}
        async with session.get(f"{url}/no/such/page") as missing:
            assert missing.status == 404
        metrics = await _metrics(session, url)
    assert metrics["haat_inbound_messages_total"] == 4  # sim, twilio twice, cloud
    assert metrics["haat_duplicate_messages_total"] == 1
    assert metrics["haat_rejected_requests_total"] == 2  # forged signature, malformed body
    assert metrics["haat_errors_total"] == 0


async def test_a_killed_worker_is_replaced(served: Served) -> None:
    [worker] = served.workers()
    os.kill(worker, signal.SIGKILL)
    replacement: list[int] = []
    for _ in range(100):
        replacement = [pid for pid in served.workers() if pid != worker]
        if replacement:
            break
        await asyncio.sleep(0.05)
    assert replacement, "no new HTTP worker after the old one was killed"
    async with aiohttp.ClientSession() as session:
        response = None
        for _ in range(100):
            try:
                response = await _simulate(session, served.url, "hello", "sim-after-kill")
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        assert response is not None and response.status == 200
        assert (await response.json())["replies"]


async def test_sigterm_to_the_group_stops_everything_cleanly(served: Served) -> None:
    [worker] = served.workers()
    async with aiohttp.ClientSession() as session:
        assert (await _simulate(session, served.url, "hello", "sim-before-stop")).status == 200
    os.killpg(served.proc.pid, signal.SIGTERM)  # what a service manager sends
    assert served.proc.wait(timeout=30) == 0
    for _ in range(100):
        if not _alive(worker):
            break
        await asyncio.sleep(0.05)
    assert not _alive(worker)
    log = served.stderr.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log


async def test_workers_exit_when_the_server_dies(served: Served) -> None:
    [worker] = served.workers()
    served.proc.send_signal(signal.SIGKILL)
    served.proc.wait()
    for _ in range(200):
        if not _alive(worker):
            break
        await asyncio.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    """Running or sleeping; an exited child waiting to be reaped (Z) does not count."""
    try:
        state = (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def test_zero_workers_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: ASYNC221
        [sys.executable, "-m", "webhooks", "serve", "--workers", "0"], check=False, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'never.db'}"))
    assert result.returncode == 2
    assert "--workers must be 1 or more" in result.stderr
    assert not (tmp_path / "never.db").exists()


async def test_a_malformed_haat_workers_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: ASYNC221
        [sys.executable, "-m", "webhooks", "serve"], check=False, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, HAAT_WORKERS="two",
                 HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'never.db'}"))
    assert result.returncode == 2
    assert "argument --workers: invalid int value: 'two'" in result.stderr
    assert not (tmp_path / "never.db").exists()
