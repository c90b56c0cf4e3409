"""Instructions per message: the hot path's cost counted by valgrind, not timed.

The box is shared, so wall-clock and CPU-time figures drift by 20 % from minute to minute;
the number of machine instructions a message costs does not. For each commit this starts
that commit's own ``haat serve`` (one process, SQLite, its own venv, as
bench/compare_commits.sh builds them) under ``valgrind --tool=callgrind`` (the outbox
sender child runs natively) and a fake Graph/Twilio API (bench/fake_graph.py, not traced).
It sends a warm-up of signed Twilio form posts, Cloud API envelopes and simulator calls
(bench/traffic.py: the 8-step shopping scripts in five languages), waits for the outbox to
drain, zeroes the counters (``callgrind_control -z``), sends the measured messages from other
shoppers, waits for the drain again and dumps (``callgrind_control -d``); then counts 20 s
of no traffic, whose rate times the window's length is taken out (see
:attr:`Count.per_message`). The same requests (same ids, same signatures, fixed
``PYTHONHASHSEED``) go to every commit. Repeated runs of one commit agree to ~0.6 %.

    .venv/bin/python -m bench.instructions dde3bc6 HEAD        # base, head (commits)
    .venv/bin/python -m bench.instructions dde3bc6 .           # "." = this working tree
    .venv/bin/python -m bench.instructions . --channel twilio  # one channel only
    .venv/bin/python -m bench.instructions dde3bc6 . --cprofile   # per function, no valgrind
    .venv/bin/python -m bench.instructions dde3bc6 . --postgres   # on a throwaway PostgreSQL

Each run takes 5-15 minutes (Python runs ~50x slower under callgrind). ``--keep`` keeps the
callgrind files, the profiles and the server logs. bench/README.md has the details.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import servers, traffic
from tests.localhost import free_port

ROOT = Path(__file__).resolve().parent.parent
STEPS = len(next(iter(traffic.SCRIPTS.values())))
PUBLIC_URL = "http://127.0.0.1:8080"  # what the requests are signed for, whatever the port


@dataclass
class Count:
    """One commit's measured window (the server process only)."""

    rev: str
    messages: int
    instructions: int = 0
    errors: int = 0
    window_s: float = 0.0
    profile: Path | None = None
    idle_per_s: float = 0.0  # instructions a second with no traffic (timers, pollers)
    refused: int = 0  # 503s in the window, each sent again (their cost is counted)

    @property
    def raw_per_message(self) -> float:
        return self.instructions / self.messages

    @property
    def per_message(self) -> float:
        """The window's count less what the idle server spends in the same wall time:
        under callgrind a message takes ~100x longer, so the periodic tasks (the loop-lag
        watch wakes 10 times a second, the outbox poller once) would otherwise be charged
        ~100x more per message than at the benchmark's ~1,000 messages a second."""
        return (self.instructions - self.idle_per_s * self.window_s) / self.messages


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def checkout(rev: str) -> tuple[str, Path]:
    """(label, directory with a built .venv) for ``rev``; "." is this working tree."""
    if rev == ".":
        return "working tree", ROOT
    sha = _git("rev-parse", "--short", rev)
    where = Path(f"/tmp/haat-commit-{sha}")
    if not where.exists():
        _git("worktree", "add", "--detach", "--quiet", str(where), sha)
    if not (where / ".venv" / "bin" / "haat").exists():
        print(f"instructions: building {where}/.venv", flush=True)
        subprocess.run(["make", "-C", str(where), "--quiet", "install"], check=True,
                       stdout=subprocess.DEVNULL)
    return sha, where


def _round15(shoppers: int) -> int:
    """bench/traffic.shoppers() deals languages by 1 and channels by 5: 15 is one of each."""
    return -(-shoppers // 15) * 15


def requests(secrets: traffic.Secrets, shoppers: int, prefix: str, run_id: str,
             channel: str | None) -> list[traffic.BenchRequest]:
    """Every shopper's whole script once, in script order (step 1 of all, then step 2, ...).

    With one ``channel``, three times the shoppers are generated and the others dropped, so
    the count and the languages stay the same.
    """
    wanted = _round15(shoppers) * (3 if channel else 1)
    out = list(traffic.generate(secrets, wanted * STEPS, n_shoppers=wanted, run_id=run_id,
                                prefix=prefix))
    return [r for r in out if channel is None or r.channel == channel]


async def _send(url: str, batch: Sequence[traffic.BenchRequest], concurrency: int,
                ) -> tuple[int, int]:
    """POST every request, at most ``concurrency`` at a time in order: (non-200 answers,
    503s sent again). A 503 is delivered again after a second, as the channels do (under
    valgrind on a busy machine the SQLite writer can miss its 1 s queue bound; a refused
    message stored nothing, and its redelivery is an ordinary first delivery)."""
    errors = refused = 0
    queue: asyncio.Queue[traffic.BenchRequest] = asyncio.Queue()
    for item in batch:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, refused
        while not queue.empty():
            item = queue.get_nowait()
            for _attempt in range(5):
                async with session.post(url + item.path, data=item.body,
                                        headers=dict(item.headers)) as response:
                    await response.read()
                    status = response.status
                if status != 503:
                    break
                refused += 1
                await asyncio.sleep(1.0)
            if status != 200:
                errors += 1

    timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return errors, refused


def _graph_total(graph: servers.Server) -> int:
    stats = servers.graph_stats(graph)
    return sum(stats.values())


def _settle(graph: servers.Server, quiet_s: float) -> None:
    """Wait until the fake APIs have received nothing for ``quiet_s`` (the outbox drained)."""
    last, since = _graph_total(graph), time.monotonic()
    while time.monotonic() - since < quiet_s:
        time.sleep(0.5)
        now = _graph_total(graph)
        if now != last:
            last, since = now, time.monotonic()


def _totals(path: Path) -> int:
    """The dump's collected instruction count (its ``summary:`` line)."""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        with contextlib.suppress(OSError):
            if servers.http_get(url, timeout=5)[0] == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f} s")


@contextlib.contextmanager
def _server(where: Path, env: dict[str, str], out: Path, log: Path, port: int,
            cprofile: bool) -> Iterator[subprocess.Popen[bytes]]:
    """That commit's ``haat serve`` (one process) under callgrind, or under the cProfile shim."""
    python = str(where / ".venv" / "bin" / "python")
    serve = ["-m", "webhooks", "serve", "--shop", "config", "--port", str(port),
             "--workers", "1"]
    if cprofile:
        cmd = [python, str(Path(__file__).with_name("profile_shim.py")), str(out / "window.prof"),
               *serve]
    else:
        # fair scheduling: the SQLite writer thread gets its turns (unfair, it starved past
        # the writer queue's 1 s bound and messages were refused)
        cmd = ["valgrind", "--tool=callgrind", "--trace-children=no", "--fair-sched=yes",
               "--quiet", f"--callgrind-out-file={out}/cg.%p", python, *serve]
    full_env = {**os.environ, **env, "PYTHONPATH": str(where), "PYTHONHASHSEED": "0"}
    for attempt in range(3):  # under valgrind on a busy machine a start-up write can time out
        with log.open("ab") as sink:
            proc = subprocess.Popen(cmd, env=full_env, cwd=where, stdout=sink,
                                    stderr=subprocess.STDOUT)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/readyz", proc, 900)
            break
        except RuntimeError:
            if proc.poll() is None or attempt == 2:
                raise
            print(f"instructions: the server exited during start-up (see {log}); again",
                  flush=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _window(proc: subprocess.Popen[bytes], cprofile: bool, start: bool) -> None:
    """Open (``start``) or close the measured window: callgrind's counters, or the profile."""
    if cprofile:
        os.kill(proc.pid, signal.SIGUSR1 if start else signal.SIGUSR2)
        time.sleep(0.5 if start else 3.0)  # the handler runs at the next bytecode; dumping
        return
    subprocess.run(["callgrind_control", "-z" if start else "-d", str(proc.pid)], check=True,
                   stdout=subprocess.DEVNULL)


def measure(rev: str, args: argparse.Namespace, work: Path,
            postgres: str | None = None) -> Count:
    """Warm up, then count (or profile) the measured messages of one commit; with
    ``postgres`` (an asyncpg URL of a server), on a fresh database there."""
    label, where = checkout(rev)
    secrets = traffic.Secrets(public_url=PUBLIC_URL)
    warm = requests(secrets, args.warmup_shoppers, "6", "w", args.channel)
    batch = requests(secrets, args.shoppers, "7", "m", args.channel)
    out = work / label.replace(" ", "-")
    out.mkdir(parents=True, exist_ok=True)
    twilio = f"{secrets.twilio_account_sid}:{secrets.twilio_auth_token}"
    port = free_port()
    with servers.fake_graph(secrets.whatsapp_access_token, out / "graph.log",
                            twilio=twilio) as graph:
        database = f"sqlite:///{out}/haat.db" if postgres is None else _pg_database(
            postgres, label)
        env = {**secrets.env(), "HAAT_DATABASE_URL": database,
               "WHATSAPP_API_BASE_URL": f"{graph.url}/v21.0", "TWILIO_API_BASE_URL": graph.url,
               "HAAT_LOG_LEVEL": "WARNING", "HAAT_OUTBOX_SENDER": args.sender}
        url = f"http://127.0.0.1:{port}"
        how = "cProfile" if args.cprofile else "callgrind"
        print(f"instructions: {label}: starting haat under {how}", flush=True)
        with _server(where, env, out, out / "haat.log", port, args.cprofile) as proc:
            errors, _ = asyncio.run(_send(url, warm, args.concurrency))
            _settle(graph, args.quiet)
            _window(proc, args.cprofile, start=True)
            began = time.monotonic()
            failed, refused = asyncio.run(_send(url, batch, args.concurrency))
            errors += failed
            _settle(graph, args.quiet)
            _window(proc, args.cprofile, start=False)
            window = time.monotonic() - began
            if args.cprofile:
                return Count(label, len(batch), 0, errors, window, out / "window.prof",
                             refused=refused)
            counted = _last_dump(out, proc.pid)
            _window(proc, False, start=True)
            idle_began = time.monotonic()
            time.sleep(args.idle)
            _window(proc, False, start=False)
            idle = _last_dump(out, proc.pid) / (time.monotonic() - idle_began)
    return Count(label, len(batch), counted, errors, window, idle_per_s=idle, refused=refused)


def _pg_database(server: str, label: str) -> str:
    """A fresh database named after the commit on the throwaway server."""
    import asyncpg

    name = "instr_" + "".join(ch for ch in label if ch.isalnum())

    async def create() -> None:
        conn = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return server.rsplit("/", 1)[0] + f"/{name}"


def _last_dump(out: Path, pid: int) -> int:
    dumps = sorted(out.glob(f"cg.{pid}.*"), key=lambda p: p.stat().st_mtime)
    if not dumps:
        raise RuntimeError(f"no callgrind dump for pid {pid} in {out}")
    return _totals(dumps[-1])


def profile_report(counts: Sequence[Count], top: int) -> str:
    """Per function (file and name: line numbers move between commits): calls and own time
    per message for each commit, the largest growth of own time first. Call counts are
    exact; times are CPU-load noisy and inflated by cProfile, so read them as shares."""
    import pstats

    tables: list[dict[str, list[float]]] = []
    for c in counts:
        assert c.profile is not None
        raw = pstats.Stats(str(c.profile)).stats  # type: ignore[attr-defined]
        per: dict[str, list[float]] = {}
        for (file, _line, name), (_cc, calls, tottime, _ct, _callers) in raw.items():
            row = per.setdefault(f"{_short(file)}:{name}", [0.0, 0.0])
            row[0] += calls / c.messages
            row[1] += tottime * 1e6 / c.messages
        tables.append(per)
    keys: set[str] = set().union(*tables)
    zero = [0.0, 0.0]

    def growth(key: str) -> float:
        own = [t.get(key, zero)[1] for t in tables]
        return own[-1] - own[0] if len(own) > 1 else own[0]

    head = " | ".join(f"{c.rev} calls | {c.rev} µs" for c in counts)
    lines = ["per message: calls, and own time (cProfile tottime); largest growth first", "",
             f"| function | {head} |", "|---|" + "---:|" * (2 * len(counts))]
    for key in sorted(keys, key=growth, reverse=True)[:top]:
        cells = " | ".join(f"{t.get(key, zero)[0]:,.2f} | {t.get(key, zero)[1]:,.1f}"
                           for t in tables)
        lines.append(f"| {key} | {cells} |")
    totals = " / ".join(f"{sum(v[1] for v in t.values()):,.0f} µs" for t in tables)
    lines.append(f"\nown time of all functions per message: {totals}")
    return "\n".join(lines)


def _short(file: str) -> str:
    for marker in ("site-packages/", "/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    for marker in ("/haat-commit-", "/work/"):
        if marker in file:
            return file.split(marker, 1)[1].split("/", 1)[-1]
    return file


def report(counts: Sequence[Count], args: argparse.Namespace) -> str:
    base = counts[0]
    lines = [f"{'PostgreSQL' if args.postgres else 'SQLite'}; "
             f"channel: {args.channel or 'all three'}; outbox sender: {args.sender}; "
             f"{base.messages} measured messages after {_round15(args.warmup_shoppers) * STEPS}"
             f" warm-up ones; concurrency {args.concurrency}", "",
             "| commit | instructions / message | vs first | uncorrected | idle / s | window "
             "| 503s sent again | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in counts:
        ratio = c.per_message / base.per_message - 1
        lines.append(f"| {c.rev} | {c.per_message / 1e6:.3f} M | {ratio:+.1%} | "
                     f"{c.raw_per_message / 1e6:.3f} M | {c.idle_per_s / 1e6:.2f} M | "
                     f"{c.window_s:.0f} s | {c.refused} | {c.errors} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("revs", nargs="*", default=["dde3bc6", "."],
                   help='commits to compare (default: dde3bc6 and "." = this working tree)')
    p.add_argument("--channel", choices=traffic.CHANNELS, default=None,
                   help="only this channel's requests (default: all three, a third each)")
    p.add_argument("--shoppers", type=int, default=60,
                   help="measured shoppers, 8 messages each (60: 480 messages)")
    p.add_argument("--warmup-shoppers", type=int, default=30,
                   help="warm-up shoppers, 8 messages each (30)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="requests in flight at once (1: under callgrind on a busy machine, "
                        "even 2 made the SQLite writer's queue refuse writes past its 1 s "
                        "bound, and refused messages cost less)")
    p.add_argument("--quiet", type=float, default=4.0,
                   help="seconds without an outbound send that count as drained (4)")
    p.add_argument("--idle", type=float, default=20.0,
                   help="seconds of no traffic counted after the window, to take the periodic "
                        "tasks' cost out of the per-message figure (20)")
    p.add_argument("--sender", choices=("process", "inline"), default="process",
                   help="HAAT_OUTBOX_SENDER: process (the default; the sender child runs "
                        "natively, uncounted) or inline (its sends are counted too)")
    p.add_argument("--postgres", action="store_true",
                   help="on a throwaway PostgreSQL server on this box (bench/servers.py), a "
                        "fresh database per commit, instead of SQLite")
    p.add_argument("--cprofile", action="store_true",
                   help="no valgrind: the servers run natively under cProfile for the same "
                        "window, and a per-function table compares them")
    p.add_argument("--top", type=int, default=40, help="rows of the --cprofile table (40)")
    p.add_argument("--json", type=Path, default=None, help="also write the counts here")
    p.add_argument("--keep", action="store_true", help="keep the callgrind files and logs")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("instructions: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="haat-instructions-"))
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(servers.postgres()) if args.postgres else None
            counts = [measure(rev, args, work, server) for rev in args.revs]
        if any(c.errors for c in counts):
            print("instructions: WARNING: some requests were not answered 200 (see haat.log "
                  "with --keep): the counts are not comparable", file=sys.stderr)
        if args.cprofile:
            print(profile_report(counts, args.top))
            return 0
        print(report(counts, args))
        if args.json:
            args.json.write_text(json.dumps([{"rev": c.rev, "messages": c.messages,
                                              "instructions": c.instructions,
                                              "window_s": c.window_s,
                                              "idle_per_s": c.idle_per_s,
                                              "per_message": c.per_message,
                                              "refused": c.refused,
                                              "errors": c.errors} for c in counts], indent=2))
    finally:
        if args.keep:
            print(f"instructions: files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
