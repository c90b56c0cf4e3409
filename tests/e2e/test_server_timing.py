"""Telling the server's own time from the machine's (webhooks/timing.py, haat fuzz's verdict).

A real ``haat serve`` is starved for real (pinned to one CPU under ``SCHED_IDLE``, beside a
process that keeps that CPU busy for a second at a time): its answers are slow on the
client's clock, and the server's own share is small. The starvations are long on purpose:
the measure keeps up to one 0.1 s tick of every wait as the server's own (webhooks/timing.py,
``LoopWatch``), so short ones, which nice levels give on some kernels, are mostly charged to
the server, rightly conservative but no test of the discount.

The same server stopped with SIGSTOP is not starved in the kernel's eyes (a stopped process
is not waiting for a CPU): that time is charged to the server, so a stall the machine cannot
explain is never excused.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

from config.settings import Settings
from tests.conftest import ROOT, SIM_TOKEN, AiohttpClient
from tests.e2e.conftest import until_ready
from tests.localhost import free_port
from webhooks import timing
from webhooks.fuzz import Case, Secrets, Shot, fire

CPU = min(os.sched_getaffinity(0))  # one CPU: the server and the hogs share it


def _pin_low(pid: int) -> None:
    """Pin every thread of a running server to CPU under SCHED_IDLE.

    Done once it is ready, not at its start: under SCHED_IDLE it starts only if its CPU
    falls idle, and beside the suite's other worker (scripts/test.sh runs two) it may not
    within until_ready's 15 s.
    """
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        os.sched_setaffinity(tid, {CPU})
        # runs only when nothing else on its CPU wants to: whatever the kernel's scheduler
        # (a nice level's share depends on it, and on sleeper credit, and may starve nothing)
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))


@asynccontextmanager
async def _server(tmp_path: Path, *, starved: bool) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = dict(os.environ, HAAT_DATABASE_URL=f"sqlite:///{tmp_path / 'timing.db'}",
               HAAT_PUBLIC_URL=f"http://127.0.0.1:{port}", HAAT_SIMULATOR_TOKEN=SIM_TOKEN,
               HAAT_SERVER_TIMING="1", HAAT_LOG_LEVEL="WARNING",
               HAAT_MODEL_CACHE=str(tmp_path / "models"))
    proc = subprocess.Popen(  # noqa: S603, ASYNC220 - a real separate server process
        [sys.executable, "-m", "webhooks", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await until_ready(f"http://127.0.0.1:{port}", proc)
        if starved:
            _pin_low(proc.pid)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=30)


# busy for a second, idle for a fifth: the starved server runs in the gaps
HOG = """
import time
while True:
    until = time.monotonic() + 1.0
    while time.monotonic() < until:
        pass
    time.sleep(0.2)
"""


@contextmanager
def _hogs(count: int) -> Iterator[None]:
    """Processes on the server's CPU at normal priority, busy most of the time."""
    hogs = [subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", HOG],
        preexec_fn=lambda: os.sched_setaffinity(0, {CPU})) for _ in range(count)]  # noqa: PLW1509
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _turn(n: int) -> Case:
    body = f'{{"from": "+9190000{n:05d}", "text": "2 samosa"}}'.encode()
    return Case("POST /webhooks/simulator", "POST", "/webhooks/simulator", body, "simulator",
                "application/json")


async def _shots(base: str, count: int, *, concurrency: int = 4) -> list[Shot]:
    keys = Secrets(simulator=SIM_TOKEN)
    rng = random.Random(0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def one(n: int) -> Shot:
            return await fire(session, base, _turn(n), keys, [], rng)

        shots: list[Shot] = []
        for start in range(0, count, concurrency):
            shots += await asyncio.gather(*(one(n) for n in range(start, start + concurrency)))
        return shots


async def test_a_starved_server_is_slow_on_the_clients_clock_but_not_by_its_own_doing(
        tmp_path: Path) -> None:
    async with _server(tmp_path, starved=True) as (base, _):
        with _hogs(1):
            shots = await _shots(base, 24)
    # a starved writer thread refuses some (its 1 s queue deadline): clean and retryable
    assert all(shot.status in (200, 503) for shot in shots), shots
    total = sum(shot.seconds for shot in shots)
    own = sum(shot.server_seconds for shot in shots)
    slowest = max(shots, key=lambda shot: shot.seconds)
    # the starvation was real: answers took long on the client's clock
    assert slowest.seconds > 0.3, shots
    # and most of it was the machine's; without the starved part every answer is the
    # server's in full (own == total)
    assert own < 0.5 * total, (own, total, shots)


async def test_a_stopped_server_is_charged_with_the_stop(tmp_path: Path) -> None:
    """SIGSTOP is not starvation (no run-queue wait): the server's own time keeps it."""
    async with _server(tmp_path, starved=False) as (base, pid):
        resumed = asyncio.Event()

        async def stop_a_while() -> None:
            await asyncio.sleep(0.05)
            os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(1.2)
            os.kill(pid, signal.SIGCONT)
            resumed.set()

        async def shots_until_resumed() -> list[Shot]:
            # batches keep going until after the stop, however fast the machine answers
            shots: list[Shot] = []
            while not resumed.is_set():
                shots += await _shots(base, 8, concurrency=8)
            return shots

        shots, _ = await asyncio.gather(shots_until_resumed(), stop_a_while())
    stalled = [shot for shot in shots if shot.seconds > 1.0]
    assert stalled, shots
    assert all(shot.server_seconds > 1.0 for shot in stalled), stalled


async def test_the_header_is_on_every_answer_only_when_asked_for(
        aiohttp_client: AiohttpClient, settings: Settings) -> None:
    from webhooks.app import create_app

    timed = await aiohttp_client(create_app(settings.with_(server_timing=True)))
    plain = await aiohttp_client(create_app(settings))
    for path, method, status in [("/healthz", "GET", 200), ("/nowhere", "GET", 404),
                                 ("/webhooks/whatsapp", "POST", 403),
                                 ("/webhooks/simulator", "POST", 413)]:
        def data(status: int = status) -> Any:  # a stream is read once: a new one each
            return io.BytesIO(b"x" * (2 * 1024 * 1024)) if status == 413 else b"{}"

        headers = {"Authorization": f"Bearer {SIM_TOKEN}"} if "simulator" in path else {}
        async with timed.request(method, path, data=data(), headers=headers) as response:
            assert response.status == status
            measured = timing.parse(response.headers.get(timing.HEADER))
            assert set(measured) == {"app", "wait", "lag"}, (path, response.headers)
            assert 0 <= measured["wait"] <= measured["app"] < 5
        async with plain.request(method, path, data=data(), headers=headers) as response:
            assert response.status == status
            assert timing.HEADER not in response.headers


def test_the_verdicts_arithmetic() -> None:
    watch = timing.LoopWatch()
    try:
        # 2 s late, 2.05 s of it waiting for a CPU: 1.95 s starved at least, 0.05 s own
        watch.record(late=2.0, busy=0.01, waited=2.05)
        assert abs(watch.own_lag_max - 0.05) < 1e-9
        assert abs(watch.starved_total - 1.95) < 1e-9
        # 1 s late with no run-queue wait (its own work, the GIL, a stop): all own
        watch.record(late=1.0, busy=0.9, waited=0.0)
        assert watch.own_lag_max == 1.0
        assert abs(watch.starved_total - 1.95) < 1e-9
        # a tick still open 0.5 s past its deadline (this thread was not starved meanwhile)
        # counts already: a request answered before it closes still sees it
        watch.recent.clear()
        watch.recent.append(0.0)
        watch._deadline = time.perf_counter() - 0.5
        watch._delay_at_start = watch.delay.seconds()
        assert watch.recent_own_lag() >= 0.5
        assert watch.starved() >= watch.starved_total
    finally:
        watch.delay.close()
    # 3 s answer, 2.9 s in the handler of which 2.5 s starved, 0.1 s outside, own lag 0.02
    assert abs(timing.server_seconds(3.0, {"app": 2.9, "wait": 2.5, "lag": 0.02})
               - 0.42) < 1e-9
    # the outside part counts only up to the server's own lag; no header: all of it
    assert timing.server_seconds(3.0, {"app": 0.1, "wait": 0.0, "lag": 5.0}) == 3.0
    assert timing.server_seconds(3.0, {}) == 3.0
    assert timing.parse("app;dur=12.5, wait;dur=2, lag;dur=0.5") == {
        "app": 0.0125, "wait": 0.002, "lag": 0.0005}
