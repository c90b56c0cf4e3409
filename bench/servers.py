"""Processes the benchmark runs: haat, the bare ceiling, the fake Graph API, a throwaway
PostgreSQL; and what /proc says about them (CPU seconds, resident memory)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.localhost import free_port, throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcSample:
    """CPU seconds (user + system, all threads) and memory of one process at one moment."""

    cpu_s: float
    rss_kb: int
    hwm_kb: int


def sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return ProcSample((utime + stime) / CLK_TCK, rss, hwm)


def descendants(pid: int) -> list[int]:
    """Every process started by ``pid``, recursively (haat's outbox sender child)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in children.read_text().split():
                found.append(int(child))
                found.extend(descendants(int(child)))
    return found


def sample_tree(pid: int) -> ProcSample:
    """CPU and memory of a process and all its children, summed (RSS sums are an upper
    bound: pages shared between them count once per process)."""
    total = sample(pid)
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            part = sample(child)
            total = ProcSample(total.cpu_s + part.cpu_s, total.rss_kb + part.rss_kb,
                               total.hwm_kb + part.hwm_kb)
    return total


def postgres_cpu_s(database_url: str) -> float:
    """CPU seconds of the PostgreSQL server that ``database_url`` names and of all its
    backends (the postmaster listening on its port and its children), so that another
    engineer's PostgreSQL on the same box is not counted; 0 when none is found."""
    port = database_url.rsplit("@", 1)[-1].split("/", 1)[0].rpartition(":")[2]
    mark = f"\0-p\0{port}\0".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if mark in (proc / "cmdline").read_bytes():
                return sample_tree(int(proc.name)).cpu_s
    return 0.0


def box_cpu_s() -> float:
    """CPU seconds every process on the box has used since boot (all cores, /proc/stat:
    user, nice, system, irq, softirq, steal), to tell the share of other engineers' runs."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError):
            status, _ = http_get(url, timeout=1.0)
            if status == 200:
                return
        time.sleep(0.01)
    raise RuntimeError(f"{url} not ready after {timeout:.0f} s")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sample(self) -> ProcSample:
        """The server with its child processes: what it costs the machine."""
        return sample_tree(self.proc.pid)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def run_server(cmd: list[str], env: Mapping[str, str], ready_path: str, log: Path,
               port: int) -> Iterator[Server]:
    """Start ``cmd``, time it to a 200 on ``ready_path``, stop it (SIGINT) on exit."""
    # a PYTHONPATH in ``env`` runs another tree's code with this venv (a scale variant's
    # ``PYTHONPATH=…``: two commits side by side in one run, bench/README.md)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    with log.open("ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    server = Server(proc, port, log)
    try:
        wait_ready(f"{server.url}{ready_path}", proc)
        server.ready_s = time.perf_counter() - started
        yield server
    finally:
        _stop(proc)


def haat_command(shop: Path, port: int, workers: int = 1) -> list[str]:
    haat = VENV_BIN / "haat"
    args = ["serve", "--shop", str(shop), "--port", str(port), "--workers", str(workers)]
    if haat.exists():
        return [str(haat), *args]
    return [sys.executable, "-m", "webhooks", *args]


@contextlib.contextmanager
def haat(shop: Path, database_url: str, env: Mapping[str, str], log: Path,
         fake_api_url: str, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    # bench/fake_graph.py answers the Graph API under /v21.0 and Twilio's REST API at its root
    server_env = {**env, "HAAT_DATABASE_URL": database_url,
                  "WHATSAPP_API_BASE_URL": f"{fake_api_url}/v21.0",
                  "TWILIO_API_BASE_URL": fake_api_url,
                  "HAAT_LOG_LEVEL": "WARNING", "HAAT_PUBLIC_URL": env["HAAT_PUBLIC_URL"]}
    with run_server(haat_command(shop, port, workers), server_env, "/readyz", log,
                    port) as server:
        yield server


@contextlib.contextmanager
def bare(log: Path) -> Iterator[Server]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.bare", "--port", str(port)]
    with run_server(cmd, {}, "/readyz", log, port) as server:
        yield server


@contextlib.contextmanager
def fake_graph(token: str, log: Path, twilio: str = "") -> Iterator[Server]:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.fake_graph", "--port", str(port), "--token", token,
           "--twilio", twilio]
    with run_server(cmd, {}, "/readyz", log, port) as server:
        yield server


def graph_stats(server: Server) -> dict[str, int]:
    _, body = http_get(f"{server.url}/stats")
    stats: dict[str, int] = json.loads(body)
    return stats


def metrics(server: Server) -> dict[str, float]:
    """haat's /metrics as name → value."""
    _, body = http_get(f"{server.url}/metrics", timeout=10.0)
    out: dict[str, float] = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (tests/pgcluster.py): yields an asyncpg URL. Commits
    do not wait for the WAL flush (``synchronous_commit=off``), the nearest match to
    SQLite's default NORMAL mode: a server crash keeps the data consistent."""
    with throwaway_cluster("synchronous_commit=off", "max_connections=200",
                           prefix="haat-bench-pg-") as url:
        yield url


def log_problems(log: Path) -> int:
    """Tracebacks and ERROR lines the server wrote (each one is counted as an error)."""
    if not log.exists():
        return 0
    text = log.read_text(errors="replace")
    return text.count("Traceback (most recent call last)") + sum(
        1 for line in text.splitlines() if " ERROR " in line)
