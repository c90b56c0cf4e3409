"""Where the time goes: py-spy's collapsed stacks (``--format raw``) summed per function.

*Self* is the share of samples whose innermost frame is the function; *total* the share of
samples with the function anywhere on the stack (counted once per sample).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
PROJECT = ("bot/", "catalog/", "config/", "payments/", "webhooks/")
_SITE = re.compile(r".*/(?:site-packages|lib/python3\.\d+)/")


@dataclass(frozen=True, slots=True)
class Cost:
    name: str
    self_pct: float
    total_pct: float


def _name(frame: str) -> str:
    """``handle (/work/main/bot/engine.py:97)`` → ``bot/engine.py:handle`` (no line)."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = _SITE.sub("", match["file"])
    path = path.split("/work/main/", 1)[-1]
    return f"{path}:{match['func']}"


def summarise(raw: Path, top: int = 20) -> tuple[int, list[Cost], list[Cost]]:
    """(samples, top by self, top by total) from a py-spy raw file."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        # py-spy puts the thread name first; the innermost frame is last
        frames = [f for f in frames if not f.startswith("thread (") and f != "process"]
        if not frames:
            continue
        samples += count
        self_counts[frames[-1]] += count
        for name in set(frames):
            total_counts[name] += count
    if not samples:
        return 0, [], []

    def costs(counter: Counter[str], project_only: bool = False) -> list[Cost]:
        names = [name for name, _ in counter.most_common()
                 if not project_only or (name.startswith(PROJECT) and "cli.py" not in name)]
        return [Cost(name, 100 * self_counts[name] / samples, 100 * total_counts[name] / samples)
                for name in names[:top]]

    return samples, costs(self_counts), costs(total_counts, project_only=True)


def thread_shares(raw: Path) -> dict[str, float]:
    """Share of samples on the event loop versus other threads (the SQLite writer)."""
    loop = other = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        if "Thread._bootstrap" in stack:
            other += int(count_text)
        else:
            loop += int(count_text)
    total = loop + other
    if not total:
        return {}
    return {"event loop thread": 100 * loop / total,
            "other threads (SQLite writer, to_thread)": 100 * other / total}


def by_area(raw: Path) -> dict[str, float]:
    """Share of samples by the first project (or library) frame that is innermost-most
    meaningful: coarse buckets for the report (aiohttp, sqlite, NLU, search, ...)."""
    buckets: Counter[str] = Counter()
    samples = 0
    rules = (("bot/nlu/", "NLU (bot/nlu)"), ("catalog/search", "catalog search"),
             ("catalog/tokens", "catalog search"),
             ("storage/database", "storage (storage/database)"), ("sqlite3", "sqlite3"),
             ("twilio/", "twilio package (signature, TwiML)"),
             ("webhooks/channels", "channel adapters"), ("webhooks/outbox", "outbox"),
             ("bot/flows", "flows"), ("bot/state", "state store"), ("bot/engine", "engine"),
             ("bot/", "bot (other)"), ("catalog/", "catalog (other)"),
             ("json/", "json"), ("aiohttp/", "aiohttp"), ("asyncio/", "asyncio"))
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        label = "other"
        for frame in reversed(frames):  # innermost frame that matches a rule
            hit = next((name for key, name in rules if key in frame), None)
            if hit:
                label = hit
                break
        buckets[label] += count
    return {name: 100 * n / samples for name, n in buckets.most_common()} if samples else {}
