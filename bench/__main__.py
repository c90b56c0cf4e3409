"""``python -m bench`` (``make bench``): haat's standard benchmark suite.

Starts a bare aiohttp server (the ceiling) and ``haat serve`` on the demo shop, drives both
with wrk on loopback using pre-signed simulator, Twilio and Cloud API requests from thousands
of multilingual shoppers, then the growth runs, start-up timing and a py-spy profile, prints
the results and appends them to docs/BENCHMARKS.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench import growth, loadgen, payments, profile, report, run, scale, servers, traffic

STEPS = ("bare", "haat", "scale", "profile", "latency", "growth", "startup")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=60.0,
                   help="seconds of load for the bare and haat runs (default 60)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--workers", default=None,
                   help="haat serve --workers values for the haat step, one run each (1,2 "
                        "with --postgres; 1 on SQLite, which refuses more than one process)")
    p.add_argument("--postgres", action="store_true",
                   help="run haat on a throwaway PostgreSQL cluster instead of SQLite "
                        "(growth runs stay on SQLite)")
    p.add_argument("--scale-variants", default=scale.DEFAULT_VARIANTS,
                   help="the scale step's runs, side by side: database:workers[:KEY=VALUE] "
                        f"(default {scale.DEFAULT_VARIANTS})")
    p.add_argument("--scale-rounds", type=int, default=3,
                   help="rounds of the scale step, each running every variant once (3)")
    p.add_argument("--scale-duration", type=float, default=None,
                   help="seconds per scale run (default: min(20, --duration))")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 5 s runs, fewer shoppers, no 1M-row growth, no profile")
    p.add_argument("--growth-duration", type=float, default=None,
                   help="seconds per growth run (default: min(10, --duration))")
    p.add_argument("--growth-rounds", type=int, default=3,
                   help="rounds of the stored-data runs, each round one run per database in "
                        "rotating order (3; --quick: 1)")
    p.add_argument("--requests", type=int, default=None,
                   help="distinct pre-signed requests to generate (default: enough for "
                        "4,500 msg/s over the longest run)")
    p.add_argument("--shoppers", type=int, default=5000, help="distinct shoppers (5000)")
    p.add_argument("--generator", choices=("wrk", "python"), default="wrk",
                   help="load generator; wrk is installed with apt-get when missing, and the "
                        "Python one is used when it cannot be")
    p.add_argument("--only", default=",".join(STEPS),
                   help=f"comma-separated steps to run (default all: {','.join(STEPS)})")
    p.add_argument("--big", type=int, default=1_000_000,
                   help="stored conversations for the largest growth run (1,000,000)")
    p.add_argument("--profile-duration", type=float, default=15.0)
    p.add_argument("--no-record", action="store_true",
                   help="print the results but do not append them to docs/BENCHMARKS.md")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    return p.parse_args(argv)


def _say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    steps = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = steps - set(STEPS)
    if unknown:
        print(f"unknown step(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.quick:
        args.duration = min(args.duration, 5.0)
        args.shoppers = min(args.shoppers, 1000)
        args.big = min(args.big, 10_000)
        args.growth_rounds = 1
        steps.discard("profile")
    growth_s = args.growth_duration or min(10.0, args.duration)
    rounds = max(1, args.growth_rounds)
    opts = _options(args)
    _say(f"work directory {opts.workdir}")
    scale_s = args.scale_duration or min(20.0, args.duration)
    variants = scale.parse_variants(args.scale_variants)
    longest = max(args.duration, growth_s * rounds if "growth" in steps else 0,
                  scale_s * args.scale_rounds if "scale" in steps else 0,
                  args.profile_duration if "profile" in steps else 0)
    total = args.requests or traffic.plan_size(longest)
    began = time.perf_counter()
    tr = run.make_traffic(opts, "http://127.0.0.1:8080", total, args.shoppers)
    _say(f"{tr.loaded:,} pre-signed requests from {args.shoppers:,} shoppers in "
         f"{time.perf_counter() - began:.1f} s")
    database = "PostgreSQL" if args.postgres else "SQLite"
    if steps == {"scale"}:
        database = "SQLite and PostgreSQL"
    rep = report.Report(
        command="python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        database=database,
        options={"duration": f"{args.duration:g}", "connections": args.connections,
                 "threads": args.threads, "generator": opts.generator,
                 "shoppers": f"{args.shoppers:,}", "requests": tr.loaded})
    demo = servers.ROOT / "config"
    try:
        _server_steps(args, opts, tr, rep, steps=steps, variants=variants, scale_s=scale_s,
                      database=database, demo=demo)
        _offline_steps(args, opts, tr, rep, steps=steps, growth_s=growth_s, rounds=rounds,
                       demo=demo)
    finally:
        (opts.workdir / "results.json").write_text(json.dumps(_results(rep), indent=2,
                                                              default=str))
    markdown = report.render(rep)
    print()
    print(markdown)
    if not args.no_record:
        report.append(markdown)
        _say(f"appended to {report.BENCHMARKS}")
    if not args.keep:
        shutil.rmtree(opts.workdir, ignore_errors=True)
    return 0


def _options(args: argparse.Namespace) -> run.Options:
    """The run's options; wrk when it is there, else the Python generator."""
    opts = run.Options(duration_s=args.duration, connections=args.connections,
                       threads=args.threads, warmup_s=1.0 if args.quick else 3.0,
                       generator=args.generator)
    if args.generator == "wrk":
        opts.wrk = loadgen.ensure_wrk()
        if opts.wrk is None:
            _say("wrk is not available: falling back to the Python generator (slower; it "
                 "takes CPU from the server)")
            opts.generator = "python"
    return opts


def _server_steps(args: argparse.Namespace, opts: run.Options, tr: run.Traffic,
                  rep: report.Report, *, steps: set[str], variants: list[scale.Variant],
                  scale_s: float, database: str, demo: Path) -> None:
    """The steps that load a running server: scale, bare, haat and profile."""
    needs_pg = args.postgres or ("scale" in steps
                                 and any(v.database == "postgres" for v in variants))
    with _database_factory(needs_pg, opts.workdir) as any_db:
        sqlite_db = _Databases(None, opts.workdir)
        new_db = any_db if args.postgres else sqlite_db
        if "scale" in steps:
            rep.scale = scale.run_scale(
                opts, tr, shop=demo, variants=variants, rounds=max(1, args.scale_rounds),
                duration_s=scale_s, say=_say, line=_line,
                new_db=lambda kind, name: (any_db if kind == "postgres" else sqlite_db)(
                    name))
        if "bare" in steps:
            _say(f"bare aiohttp for {args.duration:g} s")
            rep.bare = run.run_bare(opts, tr, args.duration)
            _say(_line(rep.bare))
        counts = args.workers or ("1,2" if args.postgres else "1")
        for workers in (_workers(counts) if "haat" in steps else []):
            label = f"haat ({database})" + (f", --workers {workers}" if workers > 1 else "")
            _say(f"{label} for {args.duration:g} s")
            result = run.run_haat(opts, tr, label, shop=demo,
                                  database_url=new_db(f"main{workers}"),
                                  duration_s=args.duration, workers=workers)
            if workers == 1:
                rep.haat = result
            else:
                rep.haat_workers.append(result)
            _say(_line(result))
        if "profile" in steps:
            _profile(args, opts, tr, rep, database_url=new_db("profile"), demo=demo)


def _profile(args: argparse.Namespace, opts: run.Options, tr: run.Traffic,
             rep: report.Report, *, database_url: str, demo: Path) -> None:
    raw = opts.workdir / "profile.txt"
    if not (servers.VENV_BIN / "py-spy").exists():
        _say("py-spy missing: .venv/bin/pip install py-spy to profile; skipped")
        return
    _say(f"py-spy profile of haat for {args.profile_duration:g} s")
    run.run_haat(opts, tr, "haat (profiled)", shop=demo, database_url=database_url,
                 duration_s=args.profile_duration, profile=raw)
    if raw.exists():
        rep.profile_samples, rep.profile_self, rep.profile_total = (
            profile.summarise(raw))
        rep.profile_areas = profile.by_area(raw)
        rep.profile_threads = profile.thread_shares(raw)
        _say(f"profile: {rep.profile_samples} samples (raw stacks: {raw}, "
             "kept with --keep)")


def _offline_steps(args: argparse.Namespace, opts: run.Options, tr: run.Traffic,
                   rep: report.Report, *, steps: set[str], growth_s: float, rounds: int,
                   demo: Path) -> None:
    """Latency, growth (and their plot), start-up and the payment path."""
    if "latency" in steps:
        for size in (100, 1000, 10_000):
            _say(f"search and NLU latency with {size:,} products")
            rep.latency.append(growth.measure_latency(size, opts.workdir))
    if "growth" in steps:
        _growth(opts, tr, rep, duration_s=growth_s, rounds=rounds, big=args.big, demo=demo)
    if rep.latency or rep.growth_runs:
        from bench.plot import growth_plot

        stamp = time.strftime("%Y%m%d-%H%M", time.gmtime())
        where = opts.workdir if args.no_record else servers.ROOT / "docs" / "benchmarks"
        rep.plot = growth_plot(rep, where / f"growth-{stamp}.png")
    if "startup" in steps:
        _say("start-up time")
        rep.startup = run.startup_times(demo, opts.workdir, runs=1 if args.quick else 5)
    _say("payment path")
    rep.payments = payments.render(payments.bench_payment_path(
        samples=200 if args.quick else 2000))


def _growth(opts: run.Options, tr: run.Traffic, rep: report.Report, *, duration_s: float,
            rounds: int, big: int, demo: Path) -> None:
    """The demo shop on 0, 10,000 and ``big`` stored conversations, in ``rounds`` rounds.

    Each round runs every database once, in an order that rotates from round to round, and
    each database's later rounds start further into the request files (messages it has not
    seen). The box's speed drifts by 15-20 % from minute to minute; comparing runs that are
    seconds apart, round by round, keeps that drift out of the stored-data comparison.
    """
    from webhooks.plugins import load_shop

    shop_id = load_shop(demo).id
    sizes = sorted({0, 10_000, big})
    urls = {stored: f"sqlite:///{opts.workdir / f'growth-{stored}.db'}" for stored in sizes}
    for stored in sizes:
        if stored:
            _say(f"storing {stored:,} conversations and messages")
            rep.seeding[stored] = growth.seed_sqlite(urls[stored], shop_id, stored)
    runs: dict[int, list[run.RunResult]] = {stored: [] for stored in sizes}
    for round_ in range(rounds):
        order = sizes[round_ % len(sizes):] + sizes[:round_ % len(sizes)]
        for stored in order:
            label = f"demo shop, {stored:,} stored conversations"
            _say(f"{label}, round {round_ + 1} of {rounds}, for {duration_s:g} s")
            result = run.run_haat(opts, tr, label, shop=demo, database_url=urls[stored],
                                  duration_s=duration_s, start=round_ / rounds)
            runs[stored].append(result)
            _say(_line(result))
    for stored in sizes:
        Path(urls[stored].split("///", 1)[1]).unlink(missing_ok=True)
        results = runs[stored]
        middle = sorted(results, key=lambda r: r.throughput)[len(results) // 2]
        label = f"demo shop, {stored:,} stored conversations"
        rep.growth_runs.append((label, middle))
        rep.growth_rounds[label] = [
            (r.throughput, r.throughput / base.throughput if base.throughput else 0.0,
             r.errors) for r, base in zip(results, runs[sizes[0]], strict=True)]
    shop = growth.write_shop(opts.workdir / "shop-10000-served", 10_000)
    label = "10,000-product catalog, empty database"
    _say(f"{label} for {duration_s:g} s")
    result = run.run_haat(opts, tr, label, shop=shop,
                          database_url=f"sqlite:///{opts.workdir / 'growth-catalog.db'}",
                          duration_s=duration_s)
    rep.growth_runs.append((label, result))
    _say(_line(result) + f", ready in {result.ready_s:.2f} s")


def _workers(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit("--workers: comma-separated process counts, each 1 or more")
    return counts


def _line(result: run.RunResult) -> str:
    return (f"{result.label}: {result.throughput:,.0f} msg/s, p50 {result.load.p50_ms:.1f} ms, "
            f"p99 {result.load.p99_ms:.1f} ms, errors {result.errors}, "
            f"CPU {result.cpu_per_msg_us:,.0f} µs/msg, RSS {result.rss_mb:.0f} MB"
            + _db_line(result))


def _db_line(result: run.RunResult) -> str:
    """Write sets per commit and write round trips per write set (one process's /metrics)."""
    commits, sets = result.db.get("commits", 0), result.db.get("write_sets", 0)
    trips = result.db.get("round_trips", 0)
    if not commits or not sets:
        return ""
    line = f", {sets / commits:.1f} write sets/commit"
    return line + (f", {trips / sets:.2f} round trips/write set" if trips else "")


def _results(rep: report.Report) -> dict[str, object]:
    return {
        "bare": rep.bare.to_json() if rep.bare else None,
        "haat": rep.haat.to_json() if rep.haat else None,
        "haat_workers": [r.to_json() for r in rep.haat_workers],
        "growth": [{"label": label, **r.to_json(),
                    "rounds": rep.growth_rounds.get(label, [])} for label, r in rep.growth_runs],
        "latency": [vars(lat) for lat in rep.latency],
        "startup_s": rep.startup,
    }


class _Databases:
    """Hands out a fresh, empty database per haat run (a file, or a PostgreSQL database)."""

    def __init__(self, postgres_url: str | None, workdir: Path) -> None:
        self.postgres_url = postgres_url
        self.workdir = workdir

    def __call__(self, name: str) -> str:
        if self.postgres_url is None:
            return f"sqlite:///{self.workdir / f'{name}.db'}"
        import asyncpg

        async def create() -> None:
            admin = str(self.postgres_url).replace("postgresql+asyncpg://", "postgresql://")
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'CREATE DATABASE "bench_{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.postgres_url.rsplit("/", 1)[0] + f"/bench_{name}"


@contextlib.contextmanager
def _database_factory(postgres: bool, workdir: Path) -> Iterator[_Databases]:
    """SQLite files in the work directory, or databases on one throwaway PostgreSQL."""
    if not postgres:
        yield _Databases(None, workdir)
        return
    with servers.postgres() as url:
        yield _Databases(url, workdir)


if __name__ == "__main__":
    sys.exit(main())
