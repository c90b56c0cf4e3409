"""``haat serve --workers N``: N processes share one port, one of them owns every turn.

With ``--workers N`` the server starts N−1 HTTP worker processes
(:mod:`webhooks.http_worker`) that accept on the listening socket and do the edge of each
webhook; they send the parsed :class:`Delivery` here in a frame, and this process runs the
turn exactly as it does for its own requests (:func:`webhooks.routes.handle_delivery`) and
frames back the answer. So conversation state,
stock holds, order numbers and the SQLite writer stay owned by one process and nothing about
their serialisation changes, while the edge work runs on other cores. On two cores it
buys no throughput (docs/ARCHITECTURE.md, "HTTP workers", has the measurements).

Every other route reaches this process's full app over a Unix socket in a private (0700)
directory. A worker that dies is replaced; what it held was never answered, so the channel
delivers it again and dedupe makes that safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from config.settings import Settings
from webhooks import keys as k
from webhooks.channels.base import Delivery
from webhooks.frames import FrameBatch, frame, read_frame, spawn_child
from webhooks.inbound import error_answer
from webhooks.routes import handle_delivery

log = logging.getLogger(__name__)


@dataclass
class _Worker:
    """One worker process and the answers on their way to it."""

    proc: asyncio.subprocess.Process
    answers: FrameBatch


class WorkerPool:
    """Starts, feeds, replaces and stops the HTTP worker processes."""

    restart_delay = 1.0  # a worker that dies young is not restarted in a tight loop
    start_timeout = 30.0
    stop_timeout = 30.0

    def __init__(self, app: web.Application, listener: socket.socket, server_path: str,
                 count: int) -> None:
        self.app = app
        self.listener = listener
        self.server_path = server_path
        self.count = count
        self.workers: list[_Worker | None] = [None] * count
        self.stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(slot) for slot in range(self.count)))

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn(self, slot: int) -> None:
        fd = self.listener.fileno()
        proc = await spawn_child("webhooks.http_worker", (self.app[k.SETTINGS], self.server_path),
                                 str(fd), ready_within=self.start_timeout, pass_fds=(fd,))
        if proc is None:
            raise RuntimeError("an HTTP worker process did not start")
        assert proc.stdin is not None
        worker = _Worker(proc, FrameBatch(proc.stdin))
        self.workers[slot] = worker
        self._keep(asyncio.create_task(self._serve(slot, worker, time.monotonic())))
        log.info("HTTP worker started (pid %d)", proc.pid)

    async def _serve(self, slot: int, worker: _Worker, started: float) -> None:
        proc = worker.proc
        assert proc.stdout is not None
        metrics = self.app[k.METRICS]
        while True:
            items: list[tuple[Any, ...]] | None = await read_frame(proc.stdout)
            if items is None:
                break
            for item in items:
                if item[0] == "turn":
                    _, request_id, channel_name, delivery = item
                    self._keep(asyncio.create_task(
                        self._turn(worker, request_id, channel_name, delivery)))
                elif item[0] == "rejected":
                    metrics.rejected += 1
        returncode = await proc.wait()
        if self.workers[slot] is worker:
            self.workers[slot] = None
        if self.stopping:
            return
        log.warning("HTTP worker %d exited (%s); starting another", proc.pid, returncode)
        await asyncio.sleep(max(0.0, started + self.restart_delay - time.monotonic()))
        while not self.stopping:
            try:
                await self._spawn(slot)
                return
            except (RuntimeError, OSError) as exc:
                log.error("%s; trying again", exc)
                await asyncio.sleep(self.restart_delay)

    async def _turn(self, worker: _Worker, request_id: int, channel_name: str,
                    delivery: Delivery) -> None:
        channel = self.app[k.CHANNEL_ADAPTERS].get(channel_name)
        try:
            if channel is None:
                answer = error_answer(404, "no such channel")
            else:
                answer = await handle_delivery(self.app, channel, delivery)
        except Exception:
            self.app[k.METRICS].errors += 1
            log.exception("unhandled error on a %s delivery from an HTTP worker", channel_name)
            answer = error_answer(500, "internal error")
        worker.answers.add((request_id, answer))

    async def stop(self) -> None:
        """Workers stop accepting and finish what they hold (answered from here), then exit."""
        self.stopping = True
        workers = [worker for worker in self.workers if worker is not None]
        for worker in workers:
            if worker.proc.stdin is not None and not worker.proc.stdin.is_closing():
                worker.proc.stdin.write(frame("stop"))
        for worker in workers:
            try:
                await asyncio.wait_for(worker.proc.wait(), self.stop_timeout)
            except TimeoutError:
                log.warning("HTTP worker %d did not stop; killing it", worker.proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.kill()
                await worker.proc.wait()
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def serve(app: web.Application, host: str, port: int, processes: int) -> None:
    """Run ``app`` behind ``processes − 1`` HTTP workers until SIGINT or SIGTERM."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # database, shops, engine: ready before any worker accepts
    private = tempfile.mkdtemp(prefix="haat-")  # 0700: only this user reaches the socket
    server_path = os.path.join(private, "server.sock")
    try:
        await web.UnixSite(runner, server_path).start()
        with socket.create_server((host, port), backlog=1024) as listener:
            pool = WorkerPool(app, listener, server_path, processes - 1)
            await pool.start()
            log.info("%d HTTP worker processes accept on %s:%d", pool.count, host, port)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            log.info("stopping: the workers finish the requests they hold")
            await pool.stop()
    finally:
        await runner.cleanup()
        shutil.rmtree(private, ignore_errors=True)


def run(settings: Settings, host: str, port: int, processes: int) -> None:
    from webhooks.app import create_app

    app = create_app(settings, run_migrations=False)
    if settings.event_loop == "uvloop":
        import uvloop

        uvloop.run(serve(app, host, port, processes))
    else:
        asyncio.run(serve(app, host, port, processes))
