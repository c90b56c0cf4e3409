"""``haat serve --workers N``: N full servers on one port over PostgreSQL; SQLite refuses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from config.settings import Settings
from tests.conftest import ROOT
from tests.e2e.cluster import empty_database, ready, start_server
from tests.e2e.conftest import open_shop
from tests.localhost import free_port

SIM_TOKEN = "workers16-sim"


def _workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and "--reuse-port" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _listeners(port: int) -> int:
    """Sockets listening on 127.0.0.1:port (each worker binds its own: SO_REUSEPORT)."""
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == wanted and line.split()[3] == "0A")


def _alive(pid: int) -> bool:
    """Running or sleeping; an exited process waiting to be reaped (Z) does not count."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith(name + " "))


async def _until(predicate: object, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_two_full_servers_share_the_port_survive_a_kill_and_stop_gracefully(
        tmp_path: Path, postgres_url: str, settings: Settings) -> None:
    async with empty_database(postgres_url, f"w{os.getpid()}_{free_port()}") as url:
        env = {"HAAT_DATABASE_URL": url, "HAAT_SHOP_DIR": str(open_shop(tmp_path, settings)),
               "HAAT_MODEL_CACHE": str(tmp_path / "models"), "HAAT_OUTBOX_SENDER": "inline",
               "HAAT_SIMULATOR_TOKEN": SIM_TOKEN, "HAAT_WORKERS": "2"}
        # HAAT_WORKERS, as a deployment sets it: each worker inherits it and must still
        # serve, not supervise workers of its own (webhooks/workers.py passes --workers 1)
        server = start_server(tmp_path, "workers", env)
        try:
            await ready(server.url, server.proc, server.log)
            await _until(lambda: len(_workers_of(server.proc.pid)) == 2)
            await _until(lambda: _listeners(server.port) == 2)  # both started up
            first = _workers_of(server.proc.pid)
            auth = {"Authorization": f"Bearer {SIM_TOKEN}"}
            # one shopper, a new connection per message: the kernel spreads them over both
            # processes (by source port), and the cart still adds up: one truth in PostgreSQL.
            # An odd count, so the two processes' counts always differ (a set of two)
            for n in range(15):
                async with aiohttp.ClientSession() as session, session.post(
                        f"{server.url}/webhooks/simulator", headers=auth,
                        json={"from": "+919000001901", "text": "1 samosa",
                              "id": f"w-{n}"}) as response:
                    assert response.status == 200
            counts: set[float] = set()
            for _ in range(24):  # each process counts its own messages
                async with aiohttp.ClientSession() as session, session.get(
                        f"{server.url}/metrics") as metrics:
                    counts.add(_metric(await metrics.text(), "haat_inbound_messages_total"))
            assert len(counts) == 2 and sum(counts) == 15, counts
            async with aiohttp.ClientSession() as session, session.post(
                    f"{server.url}/webhooks/simulator", headers=auth,
                    json={"from": "+919000001901", "text": "cart", "id": "w-cart"}) as cart:
                assert "15 × Samosa" in str(await cart.json())
            os.kill(first[0], signal.SIGKILL)  # a worker dies: another takes its place
            await _until(lambda: len(_workers_of(server.proc.pid)) == 2
                         and first[0] not in _workers_of(server.proc.pid))
            await _until(lambda: _listeners(server.port) == 2)
            workers = _workers_of(server.proc.pid)
            server.proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(server.proc.wait, 60) == 0
            assert not [pid for pid in workers if _alive(pid)]
            log = server.log.read_text(errors="replace")
            assert "Traceback" not in log, log[-3000:]
        finally:
            server.kill()


async def test_more_than_one_process_on_sqlite_is_refused_with_a_clear_message(
        tmp_path: Path) -> None:
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "webhooks", "serve", "--workers", "2"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'never.db'}"))
    assert result.returncode == 2
    assert "--workers N > 1 needs PostgreSQL" in result.stderr
    assert not (tmp_path / "never.db").exists()
