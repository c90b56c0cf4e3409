"""The Markdown that ``python -m bench`` prints and appends to docs/BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.growth import LatencyResult
from bench.profile import Cost
from bench.run import RunResult
from bench.scale import ScaleResult
from bench.scale import render as render_scale

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"

HEADER = """# Benchmarks

Numbers measured by `python -m bench` (`make bench`), appended newest last. How the harness
works, and every flag, is in [bench/README.md](../bench/README.md). Each section names the
date, the commit, the machine and the exact command.

The machine is a shared 2-core box: the load generator (wrk), the server, and for Cloud API
traffic a fake Graph API all compete for the same two cores, and other engineers' test runs
may be running at the same time. Absolute numbers are noisy; the **ratio to the bare aiohttp
server measured in the same run** is the headline.

Targets (docs/DESIGN.md §4a and the Performance issue): SQLite, one `haat serve`, 32 connections:
≥ 2,000 fully handled messages/s (aim 4,000), p99 ≤ 50 ms, zero errors over 60 s; search and
NLU p99 < 1 ms up to 10,000 products; throughput within 10 % with 10,000 and 1,000,000 stored
conversations and messages; < 200 MB RSS with 10,000 products; ready in < 1.5 s.
"""


@dataclass
class Report:
    command: str
    database: str
    options: dict[str, object]
    bare: RunResult | None = None
    haat: RunResult | None = None
    haat_workers: list[RunResult] = field(default_factory=list)  # --workers N > 1 runs
    growth_runs: list[tuple[str, RunResult]] = field(default_factory=list)
    latency: list[LatencyResult] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)
    profile_samples: int = 0
    profile_self: list[Cost] = field(default_factory=list)
    profile_total: list[Cost] = field(default_factory=list)
    profile_areas: dict[str, float] = field(default_factory=dict)
    profile_threads: dict[str, float] = field(default_factory=dict)
    seeding: dict[int, float] = field(default_factory=dict)
    # per stored-data label: (msg/s, ratio to the empty database in the same round, errors)
    growth_rounds: dict[str, list[tuple[float, float, int]]] = field(default_factory=dict)
    plot: Path | None = None
    payments: str = ""  # the rendered payment-path section
    scale: ScaleResult | None = None  # the scale step: SQLite and PostgreSQL side by side
    # taken when the run starts: the run's own plot would otherwise count as a change
    revision: str = field(default_factory=lambda: commit())  # noqa: PLW0108 - defined below


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                             check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def commit() -> str:
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes" if _git("status", "--porcelain") else "")


def interpreter() -> str:
    """Which CPython build runs the suite: Debian's static build answered a median 17 % more
    messages here than a plain ``--enable-shared`` one (docs/BENCHMARKS.md, "Which Python")."""
    base = getattr(sys, "_base_executable", sys.executable)
    try:
        shared = "libpython" in Path("/proc/self/maps").read_text()
    except OSError:
        return base
    return f"{base}, {'libpython shared' if shared else 'libpython linked in'}"


def _median_change(per_round: list[tuple[float, float, int]]) -> float:
    """The median of the per-round ratios to the empty database, as a change (-0.05)."""
    ratios = sorted(ratio for _, ratio, _ in per_round)
    return ratios[len(ratios) // 2] - 1


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import aiohttp

    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        wrk_version = (out.stdout or out.stderr).split("\n", 1)[0].split(" [", 1)[0]
    load = os.getloadavg()
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB; Linux {platform.release()}; "
            f"Python {platform.python_version()} ({interpreter()}), "
            f"aiohttp {aiohttp.__version__}; "
            f"{wrk_version or 'no wrk (Python generator)'}; load average before the run "
            f"{load[0]:.2f}")


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _row(result: RunResult, bare: RunResult | None) -> str:
    ratio = (f"{result.throughput / bare.throughput:.1%}"
             if bare and bare.throughput and result is not bare else "—")
    load = result.load
    return (f"| {result.label} | {result.throughput:,.0f} | {_ms(load.p50_ms)} | "
            f"{_ms(load.p99_ms)} | {_ms(load.max_ms)} | {result.errors} | "
            f"{result.cpu_per_msg_us:,.0f} µs | {_rss(result)} | {ratio} |")


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(report: Report) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    duration = report.options.get("duration")
    lines = [
        f"## {now} — commit {report.revision} — {report.database}, "
        f"{report.options.get('connections')} connections, {duration} s",
        "",
        f"- Command: `{report.command}`",
        f"- Machine: {machine()}",
        f"- Traffic: {report.options.get('shoppers')} distinct shoppers, "
        f"{report.options.get('requests'):,} distinct pre-signed requests, a third each "
        "simulator / Twilio (signed form posts, TwiML answers) / Cloud API (signed envelopes, "
        "replies sent by the outbox to a loopback fake Graph API; owner alerts for Twilio "
        "orders go to a loopback fake Twilio REST API); scripts in en, hi, bn, ar and "
        "romanised Hindi (greet, menu, price, two adds, cart, checkout, address).",
        f"- Generator: {report.options.get('generator')}, {report.options.get('threads')} "
        "threads, closed loop (each connection waits for its answer).",
        "",
    ]
    runs = [r for r in (report.bare, report.haat, *report.haat_workers) if r is not None]
    if runs:
        lines += [
            "| run | msg/s | p50 ms | p99 ms | max ms | errors | server CPU / msg | RSS | "
            "vs bare |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(_row(r, report.bare) for r in runs), "",
        ]
    lines += _haat_lines(report)
    if report.scale is not None:
        lines += render_scale(report.scale)
    if report.latency:
        lines += [
            "### Growth: catalog size (in-process, one query at a time)",
            "",
            "| products | index + NLU build | search p50 | search p99 | NLU parse p50 | "
            "NLU parse p99 | p99 < 1 ms |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        lines += [lat.row() for lat in report.latency]
        lines += ["", "NLU parse includes entity extraction (its product lookup uses the "
                  "search index).", ""]
    lines += _growth_lines(report)
    if report.plot is not None:
        rel = os.path.relpath(report.plot, BENCHMARKS.parent)
        lines += [f"![growth]({rel})", ""]
    lines += _startup_lines(report)
    if report.payments:
        lines += [report.payments, ""]
    if report.profile_samples:
        lines += [
            "### Where the time goes (py-spy, server under the same load)",
            "",
            f"{report.profile_samples:,} samples of whichever thread held the GIL ("
            + ", ".join(f"{name} {pct:.0f} %" for name, pct in report.profile_threads.items())
            + "). By area (innermost matching frame):",
            "",
            "| area | share |", "|---|---:|",
            *(f"| {name} | {pct:.1f} % |" for name, pct in report.profile_areas.items()
              if pct >= 0.5),
            "",
            "Top functions by self time:",
            "",
            "| function | self | total |", "|---|---:|---:|",
            *(f"| `{c.name}` | {c.self_pct:.1f} % | {c.total_pct:.1f} % |"
              for c in report.profile_self),
            "",
            "Top project functions by total (inclusive) time:",
            "",
            "| function | total | self |", "|---|---:|---:|",
            *(f"| `{c.name}` | {c.total_pct:.1f} % | {c.self_pct:.1f} % |"
              for c in report.profile_total),
            "",
        ]
    return "\n".join(lines) + "\n"


def _haat_lines(report: Report) -> list[str]:
    """Each haat run's account, and the targets on SQLite."""
    lines: list[str] = []
    for haat in (r for r in (report.haat, *report.haat_workers) if r is not None):
        load = haat.load
        lines += [
            f"{haat.label}: handled {haat.handled:,} messages in {load.duration_s:.1f} s "
            f"({haat.duplicates} duplicates replayed); wrk errors {load.errors or 'none'}, "
            f"server errors {haat.server_errors}; outbox sent {haat.outbox_sent:,} messages "
            f"(Cloud API replies, owner alerts; drained {haat.outbox_pending_after_s:.1f} s "
            "after the load stopped); "
            f"peak RSS {haat.peak_rss_mb:.0f} MB; load generator CPU "
            f"{load.generator_cpu_s:.1f} s, fake Graph/Twilio API CPU {haat.helper_cpu_s:.1f} s, "
            f"server CPU {haat.server_cpu_s:.1f} s over the run.",
            "",
        ]
        for note in haat.notes:
            lines.append(f"- note: {note}")
        if report.database == "SQLite":
            lines += [
                f"Targets ({haat.label}): ≥ 2,000 msg/s {_verdict(haat.throughput >= 2000)} "
                f"({haat.throughput:,.0f}); p99 ≤ 50 ms {_verdict(load.p99_ms <= 50)} "
                f"({_ms(load.p99_ms)} ms); zero errors {_verdict(haat.errors == 0)}; "
                f"aim 4,000 msg/s {_verdict(haat.throughput >= 4000)}.",
                "",
            ]
    return lines


def _growth_lines(report: Report) -> list[str]:
    """Throughput on stored data and catalog sizes, per run and per round."""
    if not report.growth_runs:
        return []
    lines: list[str] = []
    base = report.growth_runs[0][1]
    rounds = max((len(r) for r in report.growth_rounds.values()), default=1)
    lines += [
        "### Growth: stored data and catalog size under load (SQLite)",
        "",
        f"Stored data: {rounds} round(s), each running every database once (rotating "
        "order), later rounds on messages the database has not seen; the row shows the "
        "median round, errors are summed over all rounds, and the change is the median "
        "of the per-round ratios to the empty database.",
        "",
        "| run | msg/s | p50 ms | p99 ms | errors | CPU / msg | RSS | per round msg/s "
        "(vs empty) | change |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for label, result in report.growth_runs:
        per_round = report.growth_rounds.get(label)
        if per_round:
            change = _median_change(per_round)
            errors = sum(err for _, _, err in per_round)
            detail = ", ".join(f"{rate:,.0f} ({ratio - 1:+.1%})"
                               for rate, ratio, _ in per_round)
        else:
            change = (result.throughput / base.throughput - 1) if base.throughput else 0.0
            errors = result.errors
            detail = "one run"
        lines.append(
            f"| {label} | {result.throughput:,.0f} | {_ms(result.load.p50_ms)} | "
            f"{_ms(result.load.p99_ms)} | {errors} | "
            f"{result.cpu_per_msg_us:,.0f} µs | {_rss(result)} | {detail} | {change:+.1%} |")
    changes = [_median_change(per_round)
               for label, per_round in report.growth_rounds.items()
               if per_round and not label.startswith("demo shop, 0 ")]
    if changes:
        worst = min(changes)
        lines += ["", f"Stored data, throughput within 10 % of the empty database: "
                  f"{_verdict(worst >= -0.10)} (worst median change {worst:+.1%})."]
    if report.seeding:
        seeded = ", ".join(f"{n:,} in {s:.1f} s" for n, s in report.seeding.items())
        lines += ["", f"Pre-filled conversations (+ one inbound and one sent outbound "
                  f"message each): {seeded}."]
    lines.append("")
    return lines


def _startup_lines(report: Report) -> list[str]:
    if not report.startup:
        return []
    lines: list[str] = []
    best, worst = min(report.startup), max(report.startup)
    ordered = sorted(report.startup)
    median = ordered[len(ordered) // 2]
    lines += [
        "### Start-up",
        "",
        f"`haat serve` on the demo shop, spawn → first 200 on `/readyz` (catalog loaded, "
        f"NLU trained, migrations checked), {len(report.startup)} starts on a migrated "
        f"database: median {median:.2f} s (best {best:.2f}, worst {worst:.2f}); target "
        f"< 1.5 s {_verdict(median < 1.5)}.",
        "",
    ]
    return lines


def append(markdown: str, path: Path = BENCHMARKS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if not existing.endswith("\n"):
        existing += "\n"
    path.write_text(existing + "\n" + markdown, encoding="utf-8")


def _rss(result: RunResult) -> str:
    """``232 MB (190 + 42)``: the server and its children (the outbox sender) summed."""
    if not result.children_rss_mb:
        return f"{result.rss_mb:.0f} MB"
    server = result.rss_mb - result.children_rss_mb
    return f"{result.rss_mb:.0f} MB ({server:.0f} + {result.children_rss_mb:.0f})"
