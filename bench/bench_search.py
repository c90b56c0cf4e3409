"""Per-query latency of catalog search at 100, 1,000 and 10,000 products.

Run from the repository root: ``.venv/bin/python bench/bench_search.py``. Prints build time
and p50/p99 per query for :meth:`ProductIndex.search`, :meth:`~ProductIndex.find_mentions`
and ``extract_entities`` over a mix of exact, typo'd, cross-script and multi-item
messages. docs/DESIGN.md §4a: search must stay well under 1 ms per query. The box is shared, so
run it twice and read the better p99.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.nlu.entities import extract_entities
from catalog.models import Catalog, Category, Option, Product, Text
from catalog.money import Money
from catalog.search import ProductIndex

# word → (hi, bn) spellings; native names are generated when every word has one
WORDS: dict[str, tuple[str, str]] = {
    "masala": ("मसाला", "মশলা"), "chai": ("चाय", "চা"), "aloo": ("आलू", "আলু"),
    "samosa": ("समोसा", "সিঙ্গারা"), "paneer": ("पनीर", "পনির"), "ginger": ("अदरक", "আদা"),
    "lemon": ("नींबू", "লেবু"), "fish": ("मछली", "মাছ"), "egg": ("अंडा", "ডিম"),
    "chicken": ("चिकन", "চিকেন"), "mutton": ("मटन", "মাটন"), "rice": ("चावल", "ভাত"),
    "sweet": ("मीठा", "মিষ্টি"), "curd": ("दही", "দই"), "roll": ("रोल", "রোল"),
    "biryani": ("बिरयानी", "বিরিয়ানি"), "kachori": ("कचौरी", "কচুরি"),
    "butter": ("मक्खन", "মাখন"), "mango": ("आम", "আম"), "milk": ("दूध", "দুধ"),
}
def _words(text: str) -> list[str]:
    return text.split()


EXTRA = _words(
    "veg special jumbo mini kashmiri hyderabadi bengali punjabi mughlai tandoori kesar "
    "elaichi badam pista malai rose garlic cheese chilli coffee momo paratha naan kulfi "
    "lassi shake pakora cutlet chop curry pulao dosa idli vada halwa ladoo barfi sandesh "
    "rasgulla pitha jalebi chaat puri bhaji thali noodles soup salad sandwich burger pizza "
    "toast"
)
STYLES = _words("classic home royal street village city")
_SYLLABLES = _words("ka ra ma na ta sa pa la da ri mo su ve ko ni ha ja bo ge lu")


def brands(count: int, rng: random.Random) -> list[str]:
    """Pronounceable made-up brand names: big catalogs have big vocabularies."""
    out: set[str] = set()
    while len(out) < count:
        out.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))))
    return sorted(out)


def make_catalog(size: int, seed: int = 7) -> Catalog:
    """A reproducible catalog of ``size`` products with 2–3 word names in en/hi/bn.

    Beyond 2,000 products names get a maker word (a style or a made-up brand), as real
    big catalogs do; common food words still repeat across hundreds of names.
    """
    rng = random.Random(seed)
    vocab = list(WORDS) + EXTRA
    makers = STYLES + brands(max(0, size // 20), rng)
    names: set[tuple[str, ...]] = set()
    products: list[Product] = []
    while len(products) < size:
        words = tuple(rng.sample(vocab, 2))
        if len(names) > 2000:
            words = (rng.choice(makers), *words)
        if words in names:
            continue
        names.add(words)
        sku = f"P{len(products):05d}"
        name: dict[str, str] = {"en": " ".join(w.title() for w in words)}
        if all(w in WORDS for w in words):
            name["hi"] = " ".join(WORDS[w][0] for w in words)
            name["bn"] = " ".join(WORDS[w][1] for w in words)
        options: tuple[Option, ...] = ()
        if rng.random() < 0.2:
            options = (Option(f"{sku}-L", Text.of("Large"), Money(5000, "INR")),)
        products.append(Product(sku, "all", Text.of(name), Money(2000, "INR"),
                                aliases=("".join(words),), options=options))
    return Catalog((Category("all", Text.of("All")),), tuple(products))


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return rng.choice([word[:i] + word[i + 1 :], word[:i] + word[i] + word[i:]])


def make_queries(catalog: Catalog, count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    products = catalog.products
    for k in range(count):
        p = rng.choice(products)
        en = p.name.get("en")
        kind = k % 6
        if kind == 0:
            out.append(en.lower())
        elif kind == 1:
            out.append(" ".join(typo(w, rng) for w in en.lower().split()))
        elif kind == 2:
            out.append(p.name.get("bn") if "bn" in p.name.by_lang else en)
        elif kind == 3:
            q = rng.choice(products).name.get("en")
            out.append(f"{rng.randint(1, 5)} {en} and {rng.randint(1, 5)} {q}")
        elif kind == 4:
            out.append(f"do you have {en.lower()} today?")
        else:
            out.append(rng.choice(["hello", "what is the price", "xyzzy plugh", "🙂🙂"]))
    return out


def timeit(fn: Callable[[str], object], queries: list[str]) -> tuple[float, float]:
    samples: list[float] = []
    for q in queries:
        t0 = time.perf_counter_ns()
        fn(q)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    print(f"{'products':>9} {'build ms':>9} {'what':<16} {'p50 µs':>8} {'p99 µs':>8}")
    for size in (100, 1000, 10000):
        catalog = make_catalog(size)
        t0 = time.perf_counter()
        index = ProductIndex.build(catalog)
        build_ms = (time.perf_counter() - t0) * 1000
        queries = make_queries(catalog, 3000)
        gc.collect()
        gc.freeze()  # as the server does after start-up (docs/DESIGN.md §4a): p99 without full GCs
        for what, fn in (
            ("search", index.search),
            ("find_mentions", index.find_mentions),
            ("extract_entities", lambda q, ix=index: extract_entities(q, ix)),
        ):
            fn(queries[0])
            p50, p99 = timeit(fn, queries)
            print(f"{size:>9} {build_ms:>9.0f} {what:<16} {p50:>8.1f} {p99:>8.1f}")


if __name__ == "__main__":
    main()
