"""Load generators: wrk (Debian's package, C, a Lua script cycling pre-signed requests) or, when
wrk cannot be had, a closed-loop asyncio generator over raw sockets (less efficient: it takes
CPU from the 2-core box that the server needs, so its numbers are lower bounds)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

WRK_LUA = Path(__file__).resolve().parent / "wrk.lua"


@dataclass
class LoadResult:
    generator: str
    connections: int
    duration_s: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    loaded: int = 0  # distinct requests available; more sent than this means repeats
    generator_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_json(self) -> dict[str, object]:
        return asdict(self) | {"rps": round(self.rps, 1)}


def ensure_wrk(install: bool = True) -> str | None:
    """The wrk binary, installing Debian's package when we are root; None if unavailable."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("bench: installing wrk (apt-get install wrk)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False,
                   capture_output=True)
    return shutil.which("wrk")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, url: str, stem: Path, *, threads: int, connections: int,
            duration_s: float, timeout_s: float = 5.0, start: float = 0.0) -> LoadResult:
    """``start``: where in each request file to begin, as a fraction of its length."""
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
           f"--timeout={timeout_s:g}s", "-s", str(WRK_LUA), url, "--", str(stem), f"{start:g}"]
    before = _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cpu = _children_cpu() - before
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = {name.removeprefix("errors_"): int(data[name]) for name in data
              if name.startswith("errors_") and data[name]}
    return LoadResult(
        generator="wrk", connections=connections, duration_s=data["duration_us"] / 1e6,
        requests=int(data["requests"]), p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000, errors=errors, loaded=int(data["loaded"]),
        generator_cpu_s=cpu)


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _python_load(host: str, port: int, requests: list[bytes], connections: int,
                       duration_s: float) -> tuple[list[float], dict[str, int], float]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    position = 0
    deadline = time.perf_counter() + duration_s

    def take() -> bytes:
        nonlocal position
        raw = requests[position % len(requests)]
        position += 1
        return raw

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                raw = take()
                t0 = time.perf_counter()
                writer.write(raw)
                try:
                    status = await asyncio.wait_for(_read_response(reader), 5.0)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    errors["read"] = errors.get("read", 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                latencies.append(time.perf_counter() - t0)
                if status >= 400:
                    errors["status"] = errors.get("status", 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, errors, time.perf_counter() - started


def run_python(url: str, requests: list[bytes], *, connections: int,
               duration_s: float) -> LoadResult:
    """The fallback generator: closed loop, ``connections`` keep-alive sockets."""
    host, _, port = url.removeprefix("http://").partition(":")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    latencies, errors, elapsed = asyncio.run(
        _python_load(host, int(port), requests, connections, duration_s))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    ordered = sorted(latencies) or [0.0]

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    return LoadResult(generator="python", connections=connections, duration_s=elapsed,
                      requests=len(latencies), p50_ms=pct(0.5), p90_ms=pct(0.9),
                      p99_ms=pct(0.99), max_ms=ordered[-1] * 1000, errors=errors,
                      loaded=len(requests),
                      generator_cpu_s=usage.ru_utime + usage.ru_stime - cpu0)
