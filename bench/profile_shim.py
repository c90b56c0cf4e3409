"""Run a module with cProfile switched on and off by signals (bench/instructions.py --cprofile).

    python bench/profile_shim.py OUT.prof -m webhooks serve ...

SIGUSR1 starts profiling the main thread (the event loop), SIGUSR2 stops it and writes the
stats to OUT.prof, so a profile covers exactly the measured window, not start-up. Times are
the thread's CPU time. It imports
nothing of haat's, so it runs on any commit's checkout.
"""

from __future__ import annotations

import sys

# run as a file, this folder is sys.path[0], and its profile.py would shadow the standard
# library's (cProfile imports it)
if sys.path and sys.path[0].rstrip("/").endswith("bench"):
    del sys.path[0]

import cProfile
import runpy
import signal
import time
from types import FrameType


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: profile_shim.py OUT.prof -m MODULE [ARGS...]")
    # the main thread's own CPU time, not wall time: on a shared machine wall time charges
    # whatever function was running when the process was preempted (and the SQLite writer
    # thread's CPU would land in the event loop's functions with process time)
    profiler = cProfile.Profile(time.thread_time)

    def start(_signum: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
