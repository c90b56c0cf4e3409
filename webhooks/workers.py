"""``haat serve --workers N`` on PostgreSQL: N full servers on one port.

Each worker is a complete ``haat serve`` process (its own event loop, engine, connection
pool, outbox and scheduler) that binds the same address with ``SO_REUSEPORT``; the kernel
spreads new connections over them. Nothing is shared but the database, exactly as between
servers on different hosts, so everything that keeps one truth across hosts (bot/state.py
shared mode, the order counter, conditional stock holds, the outbox's SKIP LOCKED claims)
is what keeps it here. This supervisor only starts, replaces and stops them:

* a worker that dies is started again (not in a tight loop); what it held was never
  answered, so the channel delivers it again and dedupe makes that safe;
* SIGTERM or SIGINT (also when sent to the whole process group) is passed to every worker,
  which stops accepting, finishes the requests in flight (aiohttp's graceful shutdown) and
  exits; the supervisor exits 0 when all have;
* a worker gets SIGTERM if the supervisor dies (``PR_SET_PDEATHSIG``).

SQLite has one writer and is refused with more than one process (webhooks/cli.py).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("haat")

RESTART_DELAY = 1.0  # a worker that dies within this of its start waits this long


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM this worker when the supervisor dies, so none is left orphaned."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run(shop_dir: Path, host: str, port: int, count: int) -> int:
    """Start ``count`` workers and supervise them until told to stop; the exit status."""
    # "--workers 1": a worker inherits HAAT_WORKERS, and must not become a supervisor itself
    command = [sys.executable, "-m", "webhooks", "serve", "--shop", str(shop_dir),
               "--host", host, "--port", str(port), "--workers", "1", "--reuse-port"]
    started: dict[int, tuple[subprocess.Popen[bytes], float]] = {}
    stopping = False

    def spawn() -> None:
        proc = subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: S603, PLW1509
        started[proc.pid] = (proc, time.monotonic())

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc, _ in started.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        spawn()
    log.info("supervising %d worker processes on %s:%d (SO_REUSEPORT)", count, host, port)
    while started:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries waitpid
            continue
        entry = started.pop(pid, None)
        if entry is None:
            continue
        proc, began = entry
        proc.returncode = os.waitstatus_to_exitcode(status)
        if stopping:
            continue
        log.warning("worker %d exited (%s); starting another", pid, proc.returncode)
        if time.monotonic() - began < RESTART_DELAY:
            time.sleep(RESTART_DELAY)
        if not stopping:
            spawn()
    return 0
