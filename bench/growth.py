"""Growth: generated catalogs (100 to 10,000 products) and pre-filled databases (up to a
million stored conversations and messages), and in-process search / NLU latency per size."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.traffic import PRODUCTS, SCRIPTS

ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOP = ROOT / "config"

# word → (Hindi, Bengali); names get all three scripts so cross-script search is exercised
WORDS: dict[str, tuple[str, str]] = {
    "masala": ("मसाला", "মশলা"), "chai": ("चाय", "চা"), "aloo": ("आलू", "আলু"),
    "samosa": ("समोसा", "সিঙাড়া"), "paneer": ("पनीर", "পনির"), "ginger": ("अदरक", "আদা"),
    "lemon": ("नींबू", "লেবু"), "fish": ("मछली", "মাছ"), "egg": ("अंडा", "ডিম"),
    "chicken": ("चिकन", "চিকেন"), "mutton": ("मटन", "মাটন"), "rice": ("चावल", "চাল"),
    "sweet": ("मीठा", "মিষ্টি"), "curd": ("दही", "দই"), "roll": ("रोल", "রোল"),
    "biryani": ("बिरयानी", "বিরিয়ানি"), "kachori": ("कचौरी", "কচুরি"),
    "butter": ("मक्खन", "মাখন"), "mango": ("आम", "আম"), "milk": ("दूध", "দুধ"),
}
_EXTRA_WORDS = (
    "veg special jumbo mini kashmiri hyderabadi bengali punjabi mughlai tandoori kesar "
    "elaichi badam pista malai rose garlic cheese chilli coffee momo paratha naan kulfi "
    "lassi shake pakora cutlet chop curry pulao dosa idli vada halwa ladoo barfi sandesh "
    "rasgulla pitha jalebi chaat puri bhaji thali noodles soup salad sandwich burger "
    "pizza toast")
EXTRA = tuple(_EXTRA_WORDS.split())
STYLES = ("classic", "home", "royal", "street", "village", "city")
CATEGORIES = 20


def _yaml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def product_names(size: int, seed: int = 7) -> list[tuple[str, str | None, str | None]]:
    """``size`` distinct (en, hi, bn) names, 2–3 words; hi/bn only when every word has one."""
    rng = random.Random(seed)
    vocab = [*WORDS, *EXTRA]
    seen: set[str] = set()
    out: list[tuple[str, str | None, str | None]] = []
    while len(out) < size:
        words = rng.sample(vocab, rng.choice((2, 2, 3)))
        if len(seen) > size // 2:
            words.append(rng.choice(STYLES))
        en = " ".join(w.capitalize() for w in words)
        if en in seen:
            continue
        seen.add(en)
        native = all(w in WORDS for w in words)
        hi = " ".join(WORDS[w][0] for w in words) if native else None
        bn = " ".join(WORDS[w][1] for w in words) if native else None
        out.append((en, hi, bn))
    return out


def write_shop(folder: Path, size: int) -> Path:
    """A shop folder: the demo shop.yaml and nlu.yml with a generated ``size``-product catalog."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("shop.yaml", "nlu.yml"):
        if (DEMO_SHOP / name).exists():
            shutil.copy(DEMO_SHOP / name, folder / name)
    lines = ["categories:"]
    for c in range(CATEGORIES):
        lines.append(f"  - id: cat{c}")
        lines.append(f"    name: {{en: Category {c}}}")
    lines.append("products:")
    rng = random.Random(size)
    for i, (en, hi, bn) in enumerate(product_names(size)):
        names = [f"en: {_yaml_str(en)}"]
        if hi:
            names.append(f"hi: {_yaml_str(hi)}")
        if bn:
            names.append(f"bn: {_yaml_str(bn)}")
        lines.append(f"  - sku: P{i:06d}")
        lines.append(f"    category: cat{i % CATEGORIES}")
        lines.append(f"    name: {{{', '.join(names)}}}")
        lines.append(f'    price: "{rng.randint(5, 900)}.{rng.choice((0, 50)):02d}"')
    (folder / "catalog.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class LatencyResult:
    products: int
    build_s: float  # index + NLU training, what start-up pays for this catalog
    search_p50_us: float
    search_p99_us: float
    nlu_p50_us: float
    nlu_p99_us: float
    queries: int

    def row(self) -> str:
        """Its line of the latency table (``bench --only latency`` and this module's main)."""
        ok = self.search_p99_us < 1000 and self.nlu_p99_us < 1000
        return (f"| {self.products:,} | {self.build_s * 1000:,.0f} ms | "
                f"{self.search_p50_us:,.0f} µs | {self.search_p99_us:,.0f} µs | "
                f"{self.nlu_p50_us:,.0f} µs | {self.nlu_p99_us:,.0f} µs | "
                f"{'yes' if ok else '**no**'} |")


def queries_for(names: list[tuple[str, str | None, str | None]], count: int = 400,
                seed: int = 3) -> list[str]:
    """Shopper-like texts: exact, typo'd and native-script names, script lines, misses."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(count):
        en, hi, bn = names[rng.randrange(len(names))]
        kind = i % 6
        if kind == 0:
            out.append(f"{rng.randint(1, 5)} {en.lower()}")
        elif kind == 1:  # a typo: drop a letter
            text = en.lower()
            cut = rng.randrange(1, len(text))
            out.append(f"how much is {text[:cut - 1]}{text[cut:]}")
        elif kind == 2:
            out.append(f"२ {hi}" if hi else f"do {en.lower()} chahiye")
        elif kind == 3:
            out.append(f"{bn} কত দাম" if bn else f"do you have {en.lower()}")
        elif kind == 4:
            lang = rng.choice(list(SCRIPTS))
            out.append(SCRIPTS[lang][i % len(SCRIPTS[lang])].format(
                a=PRODUCTS[lang][0], b=PRODUCTS[lang][1]))
        else:
            out.append("do you sell unobtainium widgets")
    return out


def measure_latency(size: int, workdir: Path, rounds: int = 3,
                    clock: Callable[[], float] = time.perf_counter) -> LatencyResult:
    """Build the shop's index and intent engine in-process, then time each query alone.

    ``clock`` is wall time by default; ``time.thread_time`` counts only this thread's CPU,
    so on a busy machine a preempted query is not charged for the other processes' turns
    (``python -m bench.growth --cpu``)."""
    from bot.nlu import builtin
    from bot.nlu.base import ParseContext
    from bot.nlu.builtin import build_builtin
    from webhooks.plugins import load_shop

    shop = load_shop(write_shop(workdir / f"shop-{size}", size))
    builtin.forget_trained_models()  # time a cold build, as a fresh server start pays it
    began = time.perf_counter()
    extractors = builtin.Extractors()
    index = extractors.for_catalog(shop.catalog).index
    nlu = build_builtin(shop, extractors=extractors)
    build_s = time.perf_counter() - began
    texts = queries_for(product_names(size))
    context = ParseContext(shop=shop)

    async def timed() -> tuple[list[float], list[float]]:
        for text in texts:  # warm lazy caches, as a running server would be
            index.search(text)
            await nlu.parse(text, context)
        gc.collect()
        gc.freeze()  # the server freezes start-up garbage (docs/DESIGN.md §4a)
        search: list[float] = []
        parse: list[float] = []
        extractor = extractors.for_catalog(shop.catalog)  # the extraction cache (perf-b)
        for _ in range(rounds):
            for text in texts:
                extractor.forget()  # time a never-seen text's extraction: the cost that counts
                t0 = clock()
                index.search(text)
                t1 = clock()
                await nlu.parse(text, context)
                t2 = clock()
                search.append(t1 - t0)
                parse.append(t2 - t1)
        gc.unfreeze()
        return search, parse

    search, parse = asyncio.run(timed())
    return LatencyResult(size, build_s, statistics.median(search) * 1e6,
                         _pct(search, 0.99) * 1e6, statistics.median(parse) * 1e6,
                         _pct(parse, 0.99) * 1e6, len(search))


def seed_sqlite(url: str, shop_id: str, count: int, batch: int = 50_000) -> float:
    """Migrate ``url`` and store ``count`` old conversations, each with one inbound message
    and one sent reply (other shoppers and ids than the run's traffic); returns seconds."""
    from webhooks.migrate import upgrade

    upgrade(url)
    began = time.perf_counter()
    path = url.split("///", 1)[1]
    db = sqlite3.connect(path)
    now = int(time.time() * 1000) - 86_400_000
    cart = json.dumps({"SAMOSA": 2}, separators=(",", ":"))
    try:
        for start in range(0, count, batch):
            ids = range(start, min(count, start + batch))
            db.executemany(
                "INSERT INTO conversations (shop_id, channel, customer, language, "
                "language_locked, state, cart, data, business, last_inbound_at, "
                "handoff_until, updated_at) VALUES (?, ?, ?, 'en', 0, 'idle', ?, '{}', "
                "'+919800000000', ?, 0, ?)",
                [(shop_id, "whatsapp", f"918{i:09d}", cart, now, now) for i in ids])
            db.executemany(
                "INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, "
                "body, received_at, status, response) VALUES (?, ?, ?, ?, 'text', "
                "'2 samosa', ?, 'processed', '')",
                [("whatsapp", f"wamid.SEED{i}", shop_id, f"918{i:09d}", now) for i in ids])
            db.executemany(
                "INSERT INTO outbound_messages (id, shop_id, channel, customer, business, "
                "payload, status, attempts, next_attempt_at, channel_message_id, created_at, "
                "updated_at) VALUES (?, ?, 'whatsapp', ?, '+919800000000', "
                "'{\"type\":\"text\",\"text\":\"Added 2 Samosa\"}', 'sent', 1, ?, ?, ?, ?)",
                [(f"seed{i:032d}", shop_id, f"918{i:09d}", now, f"wamid.SEEDOUT{i}", now, now)
                 for i in ids])
            db.commit()
    finally:
        db.close()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.growth [--cpu] [SIZE...]``: the latency rows alone (bench --only latency
    without the traffic it also builds), by wall time or (``--cpu``) this thread's CPU time."""
    import argparse
    import tempfile

    p = argparse.ArgumentParser(prog="python -m bench.growth")
    p.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10_000])
    p.add_argument("--cpu", action="store_true", help="time.thread_time instead of wall time")
    args = p.parse_args(argv)
    clock = time.thread_time if args.cpu else time.perf_counter
    print(f"| products | index + NLU build | search p50 | search p99 | NLU parse p50 | "
          f"NLU parse p99 | p99 < 1 ms ({'thread CPU' if args.cpu else 'wall'} time) |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="haat-latency-") as tmp:
        for size in args.sizes:
            print(measure_latency(size, Path(tmp), clock=clock).row(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
