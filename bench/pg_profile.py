"""Where a message's time goes on PostgreSQL: haat's side and the server's, in one run.

One ``haat serve`` on a throwaway PostgreSQL cluster with ``pg_stat_statements`` loaded,
under the standard mix (bench/traffic.py, wrk, 32 connections). After the warm-up the
statement counters are reset; during the measured window py-spy samples haat (as the
``profile`` step does) and /proc counts the CPU of haat and of every PostgreSQL process.
It prints msg/s, CPU per message on each side, transactions and write round trips per
message, every statement's calls per message, and py-spy's shares by area: the pool's
checkouts, BEGIN/COMMIT, the write groups' statements, the read groups, JSON, the rest.

    .venv/bin/python -m bench.pg_profile 15                       # seconds of load
    .venv/bin/python -m bench.pg_profile 15 HAAT_PG_GROUP_COMMIT=0  # server environment
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from bench import loadgen, profile, run, servers, traffic
from tests.localhost import throwaway_cluster

AREAS = (
    ("pool checkout returned (asyncpg's reset)", "PoolConnectionHolder.release"),
    ("pool checkout taken", "Pool._acquire"),
    ("BEGIN / COMMIT", "asyncpg/transaction.py"),
    ("write groups' statements", "PostgresDatabase._run_heads"),
    ("write sets alone", "PostgresDatabase._write_alone"),
    ("read groups", "PostgresDatabase._read_group"),
    ("other asyncpg", "asyncpg/"),
    ("other storage/database.py", "storage/database.py"),
    ("JSON", "json/"),
)


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process on the box (the cluster is the only one
    the benchmark starts; run this on a box without another busy PostgreSQL)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"postgres" not in (proc / "cmdline").read_bytes():
                continue
            stat = (proc / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / servers.CLK_TCK
        except (OSError, ValueError):
            continue
    return total


def _query(url: str, sql: str) -> list[Any]:
    async def go() -> list[Any]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(go())


def areas(raw: Path) -> list[tuple[str, float]]:
    """py-spy's samples by area: the first of :data:`AREAS` on the stack, else haat."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        name = next((label for label, mark in AREAS if mark in stack), "everything else")
        counts[name] += int(count)
    names = [label for label, _ in AREAS] + ["everything else"]
    return [(name, 100 * counts[name] / total) for name in names] if total else []


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 15.0
    extra = dict(arg.split("=", 1) for arg in argv[1:] if "=" in arg)
    opts = run.Options(duration_s=seconds)
    opts.wrk = loadgen.ensure_wrk()
    tr = run.make_traffic(opts, "http://127.0.0.1:8080", traffic.plan_size(seconds + 10), 5000)
    with throwaway_cluster("synchronous_commit=off", "max_connections=200",
                           "shared_preload_libraries=pg_stat_statements",
                           "pg_stat_statements.track=all",
                           prefix="haat-bench-pgprof-") as url:
        _query(url, 'CREATE DATABASE "profiled"')
        db = url.rsplit("/", 1)[0] + "/profiled"
        _query(db, "CREATE EXTENSION pg_stat_statements")
        xacts = "SELECT xact_commit FROM pg_stat_database WHERE datname = 'profiled'"
        raw = opts.workdir / "py-spy.txt"
        with run._graph(opts, tr) as graph, servers.haat(
                servers.ROOT / "config", db, {**tr.secrets.env(), **extra},
                opts.workdir / "haat.log", graph.url) as server:
            run.drive(opts, server.url, tr.warm_stem, opts.warmup_s)
            _query(db, "SELECT pg_stat_statements_reset()")
            x0 = _query(db, xacts)[0][0]
            m0, s0, pg0 = servers.metrics(server), server.sample(), postgres_cpu_s()
            spy = run._start_profile(server.proc.pid, seconds, raw)
            load = run.drive(opts, server.url, tr.stem, seconds)
            s1, pg1, m1 = server.sample(), postgres_cpu_s(), servers.metrics(server)
            x1 = _query(db, xacts)[0][0]
            statements = _query(db, "SELECT calls, rows, left(regexp_replace(query, '\\s+', "
                                    "' ', 'g'), 110) FROM pg_stat_statements ORDER BY calls "
                                    "DESC LIMIT 25")
            if spy is not None:
                spy.wait(timeout=seconds + 60)
    n = m1["haat_inbound_messages_total"] - m0["haat_inbound_messages_total"]
    db_ = {k: m1.get(f"haat_db_{k}_total", 0) - m0.get(f"haat_db_{k}_total", 0)
           for k in ("commits", "write_sets", "round_trips")}
    print(f"{n / load.duration_s:,.0f} msg/s, p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms,"
          f" errors {load.error_count}; load average {os.getloadavg()[0]:.1f}")
    print(f"CPU a message: haat {(s1.cpu_s - s0.cpu_s) / n * 1e6:,.0f} µs, PostgreSQL "
          f"{(pg1 - pg0) / n * 1e6:,.0f} µs; transactions a message {(x1 - x0) / n:.2f}; "
          f"write sets a commit {db_['write_sets'] / max(db_['commits'], 1):.1f}; write "
          f"round trips a message {db_['round_trips'] / n:.2f}")
    print("\n| calls / message | rows / call | statement |\n|---:|---:|---|")
    for calls, rows, text in statements:
        print(f"| {calls / n:.3f} | {rows / max(calls, 1):.1f} | `{text}` |")
    if raw.exists():
        samples, _, _ = profile.summarise(raw)
        print(f"\npy-spy, {samples} samples (haat's process, GIL held)\n")
        print("| area | share of samples |\n|---|---:|")
        for name, share in areas(raw):
            print(f"| {name} | {share:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
