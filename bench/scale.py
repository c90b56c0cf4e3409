"""The ``scale`` step: SQLite and PostgreSQL side by side, in one run (issue 16).

Every round runs each *variant* once, in an order that rotates from round to round: by
default one ``haat serve`` on SQLite, one on PostgreSQL, and ``--workers 2`` on the same
PostgreSQL server (a throwaway cluster on this box), each on a fresh database. The box
drifts by 15-20 % from minute to minute, so the verdict on "2 processes ≥ 1.3 × one" uses
the ratio within each round, seconds apart, and its median. A variant is
``database:workers[:KEY=VALUE,...]``; the extra keys go to the server's environment (for
example ``postgres:1:HAAT_PG_GROUP_COMMIT=0``, the PostgreSQL path before group commit).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import run

DEFAULT_VARIANTS = "sqlite:1,postgres:1,postgres:2"


@dataclass(frozen=True)
class Variant:
    database: str  # "sqlite" or "postgres"
    workers: int
    env: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        name = "SQLite" if self.database == "sqlite" else "PostgreSQL"
        text = f"{name}, {self.workers} process{'es' if self.workers > 1 else ''}"
        if self.env:
            text += " (" + ", ".join(f"{k}={v}" for k, v in self.env) + ")"
        return text


def parse_variants(text: str) -> list[Variant]:
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        pieces = part.split(":")
        database = pieces[0].lower()
        if database in ("pg", "postgresql"):
            database = "postgres"
        if database not in ("sqlite", "postgres"):
            raise SystemExit(f"--scale-variants: unknown database {pieces[0]!r}")
        workers = int(pieces[1]) if len(pieces) > 1 and pieces[1] else 1
        if workers < 1 or (database == "sqlite" and workers > 1):
            raise SystemExit("--scale-variants: 1 or more processes, and 1 on SQLite")
        env = tuple(tuple(kv.split("=", 1)) for kv in pieces[2:] if "=" in kv)
        out.append(Variant(database, workers, env))  # type: ignore[arg-type]
    return out


@dataclass
class ScaleResult:
    variants: list[Variant]
    # per round, per variant label: the run
    rounds: list[dict[str, run.RunResult]] = field(default_factory=list)

    def median(self, variant: Variant, value: Callable[[run.RunResult], float]) -> float:
        return statistics.median(value(r[variant.label]) for r in self.rounds)

    def ratio(self, variant: Variant, base: Variant) -> float:
        """The median over rounds of ``variant``'s msg/s over ``base``'s in the same round."""
        return statistics.median(
            r[variant.label].throughput / r[base.label].throughput
            if r[base.label].throughput else 0.0 for r in self.rounds)


def run_scale(opts: run.Options, tr: run.Traffic, *, shop: Path, variants: list[Variant],
              rounds: int, duration_s: float, new_db: Callable[[str, str], str],
              say: Callable[[str], None], line: Callable[[run.RunResult], str]) -> ScaleResult:
    """``new_db(database, name)`` gives a fresh, empty database URL of that kind."""
    result = ScaleResult(variants)
    for round_ in range(rounds):
        order = variants[round_ % len(variants):] + variants[:round_ % len(variants)]
        runs: dict[str, run.RunResult] = {}
        for n, variant in enumerate(order):
            say(f"scale: {variant.label}, round {round_ + 1} of {rounds}, "
                f"for {duration_s:g} s")
            url = new_db(variant.database, f"scale{round_}_{n}")
            runs[variant.label] = run.run_haat(
                opts, tr, variant.label, shop=shop, database_url=url,
                duration_s=duration_s, workers=variant.workers, start=round_ / rounds,
                extra_env=dict(variant.env))
            say(line(runs[variant.label]))
        result.rounds.append(runs)
    return result


def render(result: ScaleResult) -> list[str]:
    if not result.rounds:
        return []
    lines = ["### SQLite and PostgreSQL side by side (`scale`)", "",
             f"{len(result.rounds)} round(s); each round runs every variant once, in an order "
             "that rotates from round to round, each on a fresh database; PostgreSQL is a "
             "throwaway cluster on this box (`synchronous_commit=off`). The row is the "
             "median over the rounds.", "",
             "| run | msg/s (median) | each round | p99 ms (worst round) | errors (all "
             "rounds) | server CPU / msg | write sets / commit | write round trips / "
             "write set |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for v in result.variants:
        per = [r[v.label] for r in result.rounds]
        commits = sum(r.db.get("commits", 0) for r in per)
        sets = sum(r.db.get("write_sets", 0) for r in per)
        trips = sum(r.db.get("round_trips", 0) for r in per)
        lines.append(
            f"| {v.label} | {result.median(v, lambda r: r.throughput):,.0f} | "
            + " / ".join(f"{r.throughput:,.0f}" for r in per)
            + f" | {max(r.load.p99_ms for r in per):.1f} | {sum(r.errors for r in per)} | "
            f"{result.median(v, lambda r: r.cpu_per_msg_us):,.0f} µs | "
            + (f"{sets / commits:.1f}" if commits else "—") + " | "
            + (f"{trips / sets:.2f}" if trips and sets else "—") + " |")
    lines.append("")
    lines += cpu_table(result)
    lines += verdicts(result)
    return lines


def cpu_table(result: ScaleResult) -> list[str]:
    """Where the box's CPU went in each variant: a message's CPU on each side (haat with
    its children, the PostgreSQL server's backends, wrk, the fake partner APIs), and the
    cores that every process on the box kept busy, ours and other engineers' runs."""
    lines = ["CPU a message (median over the rounds) and the box's two cores over each "
             "window: *others* is what processes outside this run used (other engineers' "
             "tests and mutation runs).", "",
             "| run | haat µs | PostgreSQL µs | wrk µs | fake APIs µs | total µs | box cores "
             "busy | others' cores |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v in result.variants:
        def med(value: Callable[[run.RunResult], float], v: Variant = v) -> float:
            return result.median(v, value)

        haat = med(lambda r: r.cpu_per_msg_us)
        pg = med(lambda r: r.per_msg_us(r.db_cpu_s))
        gen = med(lambda r: r.per_msg_us(r.load.generator_cpu_s))
        fakes = med(lambda r: r.per_msg_us(r.helper_cpu_s))
        busy = med(lambda r: r.box_cpu_s / r.load.duration_s if r.load.duration_s else 0.0)
        others = med(lambda r: r.others_cpu_s / r.load.duration_s
                     if r.load.duration_s else 0.0)
        lines.append(f"| {v.label} | {haat:,.0f} | {pg:,.0f} | {gen:,.0f} | {fakes:,.0f} | "
                     f"{haat + pg + gen + fakes:,.0f} | {busy:.2f} | {others:.2f} |")
    return [*lines, ""]


def verdicts(result: ScaleResult) -> list[str]:
    """Issue 16's targets: one PostgreSQL process ≥ 2,000 msg/s, two ≥ 1.3 × one (the
    ratio within each round), p99 ≤ 50 ms and zero errors in every PostgreSQL run."""
    pg1 = next((v for v in result.variants if v.database == "postgres" and v.workers == 1
                and not v.env), None)
    pg2 = next((v for v in result.variants if v.database == "postgres" and v.workers == 2
                and not v.env), None)
    sqlite = next((v for v in result.variants if v.database == "sqlite" and not v.env), None)
    out = []
    if pg1 is not None:
        one = result.median(pg1, lambda r: r.throughput)
        out.append(f"- PostgreSQL, 1 process ≥ 2,000 msg/s: {_verdict(one >= 2000)} "
                   f"({one:,.0f})")
        if sqlite is not None:
            out.append(f"- PostgreSQL, 1 process against SQLite in the same round: "
                       f"{result.ratio(pg1, sqlite):.2f} ×")
        if pg2 is not None:
            ratio = result.ratio(pg2, pg1)
            out.append(f"- PostgreSQL, 2 processes ≥ 1.3 × one: {_verdict(ratio >= 1.3)} "
                       f"({ratio:.2f} ×, median of the rounds' ratios)")
    pg_runs = [r[v.label] for r in result.rounds for v in result.variants
               if v.database == "postgres" and not v.env]
    if pg_runs:
        worst = max(r.load.p99_ms for r in pg_runs)
        errors = sum(r.errors for r in pg_runs)
        out.append(f"- PostgreSQL p99 ≤ 50 ms in every run: {_verdict(worst <= 50)} "
                   f"(worst {worst:.1f} ms)")
        out.append(f"- zero errors: {_verdict(errors == 0)} ({errors})")
    return [*out, ""] if out else out


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"
