"""``haat nlu eval`` and ``haat rasa export``: the intent engine's command-line side."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.nlu.evaluate import evaluate, format_report
from bot.nlu.rasa_export import export_rasa_project
from bot.nlu.registry import BackendOptions, build_backend
from bot.nlu.training import load_rasa_nlu
from catalog.loader import load_shops
from catalog.models import Shop
from config.settings import Settings


def _first_shop(settings: Settings) -> Shop:
    shops = load_shops(Path(settings.shop_dir))
    return next(iter(shops.values()))


async def nlu_eval(settings: Settings, file: Path) -> str:
    """Accuracy, macro-F1, per-intent scores and confusions; the last line is machine-read."""
    shop = _first_shop(settings)
    examples = load_rasa_nlu(file)
    async with aiohttp.ClientSession() as session:
        backend = build_backend(settings.nlu_backend, shop,
                                BackendOptions(rasa_url=settings.rasa_url, session=session))
        report = await evaluate(backend, examples, shop)
    return format_report(report)


def rasa_export(settings: Settings, out_dir: Path) -> Path:
    export_rasa_project(_first_shop(settings), out_dir)
    return out_dir
