"""What the server's own time was, apart from the time the machine did not run it.

On a shared machine an answer can be slow because the server was (its own work, a lock it
waited for, the GIL held by its writer thread) or because the kernel did not give it a CPU.
Linux counts the second exactly: ``/proc/thread-self/schedstat``'s second field is the time
the thread was runnable but waiting on a run queue (``run_delay``, in ns). Two measures use
it; both are conservative, so they can only charge the machine's delay to the server, never
the other way round:

- **per loop tick** (always; two reads a tick): the loop's lateness, split into the part
  the run-queue wait explains (*starved*) and the rest (*own*; ``/metrics``:
  ``haat_loop_own_lag_max_seconds``), by :class:`LoopWatch`.
- **per answer** (``HAAT_SERVER_TIMING=1``, set by ``haat fuzz``; off by default): the
  ``server_timing`` middleware adds ``Server-Timing: app;dur=A, wait;dur=W, lag;dur=L`` to
  every answer: ``A`` the handler's wall time, ``W`` the loop's starved lateness during it
  (how long a ready callback, such as this request's next step, was kept waiting for a
  CPU), ``L`` the worst own lateness over the last ticks, which bounds the time a request
  sat in its socket behind the server's other work.

webhooks/fuzz.py reads both: an answer counts as slow only when ``A - W`` plus ``L`` (at most
what was left of the answer's time outside the handler) is over the limit. One thing this
can get wrong: a request idle on a timer or another thread through a starvation has ``W``
discounted though it was not delayed by it; the server's own waits are bounded (1 s busy
timeout, 1 s writer queue deadline, 0.5 s simulator drain), and a starvation is also
in every other answer's ``W``, so it shows in the report.
docs/RELIABILITY.md ("Telling the server from the machine") says how this was checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

TICK_SECONDS = 0.1
RECENT_TICKS = 30  # the per-answer lag looks back ~3 s: past any request's wait in its socket
HEADER = "Server-Timing"


class RunDelay:
    """The calling thread's cumulative run-queue wait, in seconds (0.0 where unknown).

    The file is opened once by the thread that will read it (``/proc/thread-self`` names
    the opener); ``pread`` at offset 0 makes the kernel write the line afresh.
    """

    def __init__(self) -> None:
        self._fd: int | None = None
        with contextlib.suppress(OSError):
            self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)

    def seconds(self) -> float:
        if self._fd is None:
            return 0.0
        try:
            fields = os.pread(self._fd, 128, 0).split()
            return int(fields[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LoopWatch:
    """The event loop's lateness per 0.1 s tick: in all, and not explained by starvation.

    A tick that ends ``late`` seconds after its deadline, during which the loop's thread
    waited ``waited`` seconds for a CPU: at most ``TICK_SECONDS`` of that wait can lie
    before the deadline (the thread sleeps, so it is not runnable, until then, except for
    the callbacks run in that tick), so at least ``starved = min(late, waited - TICK_SECONDS)``
    of the lateness is the machine's, and ``late - starved`` is the most the server's own
    work (its callbacks, the GIL held by its threads) can have caused.
    """

    def __init__(self) -> None:
        self.delay = RunDelay()
        self.lag_max = 0.0  # lateness, whoever caused it
        self.busy_max = 0.0  # the most CPU the process used in one tick
        self.own_lag_max = 0.0
        self.recent: deque[float] = deque([0.0], maxlen=RECENT_TICKS)
        self.starved_total = 0.0  # the sum of every closed tick's starved lateness
        self._deadline = float("inf")
        self._delay_at_start = 0.0

    @staticmethod
    def starved_part(late: float, waited: float) -> float:
        return max(0.0, min(late, waited - TICK_SECONDS))

    def record(self, late: float, busy: float, waited: float) -> None:
        starved = self.starved_part(late, waited)
        own = max(0.0, late - starved)
        self.lag_max = max(self.lag_max, late)
        self.busy_max = max(self.busy_max, busy)
        self.own_lag_max = max(self.own_lag_max, own)
        self.recent.append(own)
        self.starved_total += starved

    async def run(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.process_time()
            self._delay_at_start = self.delay.seconds()
            self._deadline = wall + TICK_SECONDS
            await asyncio.sleep(TICK_SECONDS)
            self._deadline = float("inf")  # closed: counted in starved_total from here
            self.record(time.perf_counter() - wall - TICK_SECONDS,
                        time.process_time() - cpu, self.delay.seconds() - self._delay_at_start)

    def starved(self) -> float:
        """Starved lateness so far, the open tick's included (read only once it is overdue).

        It never decreases, so the difference between two readings is how long, between
        them, the loop was kept from a ready callback by the machine.
        """
        late = time.perf_counter() - self._deadline
        if late <= 0:
            return self.starved_total
        return self.starved_total + self.starved_part(
            late, self.delay.seconds() - self._delay_at_start)

    def recent_own_lag(self) -> float:
        """The worst own lateness of the last ticks, the open one included once overdue
        (a request read right after a long callback is answered before its tick closes)."""
        worst = max(self.recent)
        late = time.perf_counter() - self._deadline
        if late > 0:
            starved = self.starved_part(late, self.delay.seconds() - self._delay_at_start)
            worst = max(worst, late - starved)
        return worst


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def server_timing(watch: Callable[[], LoopWatch | None]) -> Middleware:
    """Adds ``Server-Timing`` to every answer, errors included (outermost middleware)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        loop_watch = watch()
        if loop_watch is None:  # before start-up finished
            return await handler(request)
        started, starved = time.perf_counter(), loop_watch.starved()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers[HEADER] = _value(loop_watch, started, starved)
            raise
        if not response.prepared:  # a streamed answer has sent its headers already
            response.headers[HEADER] = _value(loop_watch, started, starved)
        return response

    return middleware


def _value(watch: LoopWatch, started: float, starved: float) -> str:
    app = time.perf_counter() - started
    wait = min(app, watch.starved() - starved)
    return (f"app;dur={app * 1000:.3f}, wait;dur={wait * 1000:.3f}, "
            f"lag;dur={watch.recent_own_lag() * 1000:.3f}")


def parse(value: str | None) -> dict[str, float]:
    """``{"app": s, "wait": s, "lag": s}`` from a Server-Timing header (seconds); {} if none."""
    found: dict[str, float] = {}
    for metric in (value or "").split(","):
        name, _, params = metric.strip().partition(";")
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur":
                with contextlib.suppress(ValueError):
                    found[name] = float(number) / 1000
    return found


def server_seconds(total: float, timing: dict[str, float]) -> float:
    """The part of an answer's ``total`` seconds that was the server's own, at most.

    The handler's wall time less the loop's starved lateness in it, plus the loop's recent own
    lateness (the most a request can have waited in its socket behind the server's own
    work), capped by what is left of ``total``. Without a header, all of ``total``.
    """
    if "app" not in timing:
        return total
    handler = max(0.0, timing["app"] - timing.get("wait", 0.0))
    outside = max(0.0, total - timing["app"])
    return min(total, handler + min(outside, timing.get("lag", outside)))
