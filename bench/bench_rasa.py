"""Real Rasa 3.6 vs the built-in intent engine: parse latency and held-out accuracy.

Both backends see the same sentences (tests/nlu/test_set.yml, 429 in en, romanised Hindi,
hi, bn, ar) in the demo shop. Rasa is measured through haat's ``RasaHttpBackend`` over
loopback HTTP (what a chat reply waits for), plus the bare ``POST /model/parse``; the
built-in backend in-process. Accuracy and macro-F1 come from the same ``evaluate`` that
``haat nlu eval`` prints.

Run: ``.venv/bin/python -m bench.bench_rasa`` (starts ``scripts/rasa-serve.sh`` on a free
port, training only if the cached model is stale) or ``--url http://127.0.0.1:5005`` to
measure a server that is already running.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.nlu.base import IntentBackend, ParseContext
from bot.nlu.builtin import build_builtin
from bot.nlu.evaluate import EvalReport, evaluate
from bot.nlu.rasa_http import RasaHttpBackend
from bot.nlu.training import load_rasa_nlu
from catalog.models import Shop
from tests.localhost import free_port
from webhooks.plugins import load_shop

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT / "tests" / "nlu" / "test_set.yml"
START_TIMEOUT = 300.0


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]




async def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"rasa-serve.sh exited {process.returncode}")
            try:
                async with session.get(url + "/status",
                                       timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"rasa did not answer {url}/status in {START_TIMEOUT:.0f}s")


@contextmanager
def _rasa_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """scripts/rasa-serve.sh PORT in its own process group, stopped on exit."""
    process = subprocess.Popen(["bash", "scripts/rasa-serve.sh", str(port)], cwd=ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def _latencies(call: Callable[[str], Awaitable[object]], texts: Sequence[str],
                     rounds: int) -> list[float]:
    for text in texts:  # warm-up: caches, connections, TensorFlow's first graph run
        await call(text)
    gc.collect()
    out: list[float] = []
    for _ in range(rounds):
        for text in texts:
            began = time.perf_counter()
            await call(text)
            out.append(time.perf_counter() - began)
    return out


def _row(label: str, samples: Sequence[float], report: EvalReport | None) -> str:
    p50 = _percentile(samples, 0.5) * 1e3
    p99 = _percentile(samples, 0.99) * 1e3
    scores = (f"{report.accuracy:>9.4f} {report.macro_f1:>9.4f}" if report else
              f"{'':>9} {'':>9}")
    return f"{label:<34} {p50:>9.3f} {p99:>9.3f} {scores} {len(samples):>6d}"


async def run(url: str, shop: Shop, rounds: int) -> str:
    texts = [ex.text for ex in load_rasa_nlu(TEST_SET)]
    examples = load_rasa_nlu(TEST_SET)
    context = ParseContext(shop=shop)
    builtin: IntentBackend = build_builtin(shop)
    async with aiohttp.ClientSession() as session:
        rasa = RasaHttpBackend(url, session, timeout=10.0)  # no fallback: errors must show

        async def raw(text: str) -> object:
            async with session.post(url + "/model/parse", json={"text": text}) as resp:
                return await resp.json(content_type=None)

        async def via_builtin(text: str) -> object:
            return await builtin.parse(text, context)

        async def via_rasa(text: str) -> object:
            return await rasa.parse(text, context)

        builtin_report = await evaluate(builtin, examples, shop)
        rasa_report = await evaluate(rasa, examples, shop)
        builtin_lat = await _latencies(via_builtin, texts, rounds)
        rasa_lat = await _latencies(via_rasa, texts, rounds)
        raw_lat = await _latencies(raw, texts, rounds)
    header = (f"{'backend':<34} {'p50 ms':>9} {'p99 ms':>9} {'accuracy':>9} {'macro_f1':>9} "
              f"{'n':>6}")
    lines = [
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}; {len(texts)} sentences x {rounds} rounds",
        header,
        "-" * len(header),
        _row("builtin (in-process)", builtin_lat, builtin_report),
        _row("rasa 3.6 via RasaHttpBackend", rasa_lat, rasa_report),
        _row("rasa 3.6 bare POST /model/parse", raw_lat, None),
    ]
    return "\n".join(lines)


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_rasa", description=__doc__)
    parser.add_argument("--url", help="a running Rasa server (default: start one)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the test set")
    args = parser.parse_args(argv)
    shop = load_shop(ROOT / "config")
    if args.url:
        print(await run(args.url.rstrip("/"), shop, args.rounds))
        return 0
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"starting Rasa on {url} (scripts/rasa-serve.sh) ...", file=sys.stderr)
    with _rasa_server(port) as process:
        await _wait_for(url, process)
        print(await run(url, shop, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
