"""NLU benchmark: training time and parse latency (p50/p99) on the demo shop and on a
generated 1,000-product catalog. Run: ``python -m bench.bench_nlu``; prints one line each."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

from bot.nlu import builtin
from bot.nlu.base import ParseContext
from bot.nlu.builtin import BuiltinBackend
from bot.nlu.training import load_rasa_nlu
from catalog.models import Shop
from tests.fakes.rasa import tea_shop

ROOT = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def bench(label: str, shop: Shop, texts: list[str], rounds: int = 5) -> None:
    builtin.forget_trained_models()
    began = time.perf_counter()
    backend = BuiltinBackend.train(shop)
    train_s = time.perf_counter() - began
    context = ParseContext(shop=shop)
    for text in texts:  # warm: product index, caches
        await backend.parse(text, context)
    gc.collect()
    gc.freeze()  # as the server does after start-up (docs/DESIGN.md §4a)
    parse: list[float] = []
    classify: list[float] = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            await backend.parse(text, context)
            t1 = time.perf_counter()
            backend.classify(text)
            classify.append(time.perf_counter() - t1)
            parse.append(t1 - t0)
    gc.unfreeze()
    print(
        f"{label}: products={len(shop.catalog.products)} train={train_s:.3f}s "
        f"examples={backend.trained.n_examples} features={len(backend.trained.model.index)} "
        f"parse p50={_percentile(parse, 0.5) * 1e6:.0f}us "
        f"p99={_percentile(parse, 0.99) * 1e6:.0f}us "
        f"classify p50={_percentile(classify, 0.5) * 1e6:.0f}us "
        f"p99={_percentile(classify, 0.99) * 1e6:.0f}us n={len(parse)}"
    )


async def main() -> None:
    texts = [ex.text for ex in load_rasa_nlu(ROOT / "tests" / "nlu" / "test_set.yml")]
    if (ROOT / "config" / "shop.yaml").exists():
        from webhooks.plugins import load_shop

        await bench("demo shop", load_shop(ROOT / "config"), texts)
    await bench("1000 generated products", tea_shop(extra_products=1000), texts)


if __name__ == "__main__":
    asyncio.run(main())
