"""A broadcast killed mid-send (SIGKILL) resumes on the next start and sends no one twice.

Counted from outside: what the fake Graph API accepted, per shopper. A real ``haat serve``
runs in its own process group of two (the server and its sender child), as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from config.settings import Settings
from tests.conftest import ROOT
from tests.e2e.conftest import open_shop
from tests.fakes.graph_api import ACCESS_TOKEN, FakeGraphApi, slow
from tests.localhost import free_port
from tests.sim import cloud_text, signed_cloud_request

SECRET = "broadcast-secret"
ADMIN = "broadcast-admin-token"
SHOPPERS = 40


async def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """A real ``haat serve``, given up to 60 s to be ready (the machine may be busy)."""
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - a real separate server process
        [sys.executable, "-m", "webhooks", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return proc
            await asyncio.sleep(0.1)
    proc.kill()
    proc.wait()
    raise AssertionError("haat serve did not become ready in 60 s")


async def _cli(env: dict[str, str], *args: str) -> tuple[int | None, str, str]:
    """``haat ARGS`` in a child, without blocking this loop (the fake Graph API runs in it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webhooks", *args, env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 300)
    return proc.returncode, out.decode(), err.decode()


async def _until(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return bool(predicate())


def _templates(graph: FakeGraphApi) -> Counter[str]:
    return Counter(r.json["to"] for r in graph.received
                   if r.json and r.json.get("type") == "template")


async def test_a_broadcast_killed_mid_send_resumes_and_sends_no_one_twice(
        tmp_path: Path, graph: FakeGraphApi, settings: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'broadcast.db'}",
               HAAT_SHOP_DIR=str(open_shop(tmp_path, settings)),
               HAAT_MODEL_CACHE=str(tmp_path / "models"), HAAT_PUBLIC_URL=base,
               WHATSAPP_APP_SECRET=SECRET, WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
               WHATSAPP_API_BASE_URL=graph.url, WHATSAPP_THROUGHPUT="8",
               HAAT_ADMIN_TOKEN=ADMIN, HAAT_LOG_LEVEL="WARNING",
               HAAT_ALLOW_SANDBOX_WITH_LIVE_CHANNEL="1")  # the fake Graph API is no live user
    phones = [f"9195000{i:05d}" for i in range(SHOPPERS)]
    headers = {"Authorization": f"Bearer {ADMIN}"}
    server = await _start(env, port)
    try:
        async with aiohttp.ClientSession() as session:
            for phone in phones:
                body, signed = signed_cloud_request(SECRET, cloud_text("START", from_=phone))
                async with session.post(f"{base}/webhooks/whatsapp", data=body,
                                        headers=signed) as response:
                    assert response.status == 200
            assert await _until(lambda: len(graph.received) >= SHOPPERS, 30)  # confirmations
            graph.pattern(lambda n: slow(0.05))  # sends take a while: some in flight at the kill
            async with session.post(f"{base}/api/broadcasts", headers=headers, data=json.dumps(
                    {"template": "crash_offer", "params": ["10%"]})) as response:
                assert response.status == 201, await response.text()
                broadcast_id = (await response.json())["id"]
            assert await _until(lambda: sum(_templates(graph).values()) >= 12, 30)
    finally:
        server.send_signal(signal.SIGKILL)  # mid-broadcast: batches queued, sends in flight
        server.wait()
    before = _templates(graph)
    assert 12 <= sum(before.values()) < SHOPPERS  # the kill came mid-way
    graph.pattern(None)
    server = await _start(env, port)  # resumes the broadcast by itself
    try:
        assert await _until(lambda: len(_templates(graph)) == SHOPPERS, 60)
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                async with session.get(f"{base}/api/broadcasts/{broadcast_id}",
                                       headers=headers) as response:
                    report = await response.json()
                if report["status"] == "queued" and not report["pending"]:
                    break
                await asyncio.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    received = _templates(graph)
    assert set(received) == set(phones) and set(received.values()) == {1}  # none twice
    assert (report["recipients"], report["sent"], report["failed"]) == (SHOPPERS, SHOPPERS, 0)
    # the CLI reads the same counts from the database the server left
    code, out, err = await _cli(env, "broadcast", "status", broadcast_id)
    assert code == 0, err
    assert f"id={broadcast_id} status=queued" in out
    assert f"recipients={SHOPPERS}" in out and f"sent={SHOPPERS}" in out
    # with the server stopped, `haat broadcast send` runs the app itself and waits for it
    code, out, err = await _cli(env, "broadcast", "send", "--template", "x", "--segment",
                                "product:NOPE")
    assert code == 2 and "no such sku" in err
    code, out, err = await _cli(env, "broadcast", "send", "--template", "second_offer",
                                "--language", "shopper")
    assert code == 0, err
    assert f"sent={SHOPPERS}" in out and "pending=0" in out
    second = Counter(r.json["to"] for r in graph.received if r.json and r.json.get(
        "type") == "template" and r.json["template"]["name"] == "second_offer")
    assert set(second) == set(phones) and set(second.values()) == {1}
