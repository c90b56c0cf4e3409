"""``haat nlu eval`` and ``haat rasa export``: the intent engine's command-line side."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.nlu.evaluate import (
    FORMS,
    CorpusShop,
    evaluate,
    evaluate_corpus,
    format_extraction,
    format_report,
)
from bot.nlu.rasa_export import export_rasa_project
from bot.nlu.registry import BackendOptions, build_backend
from bot.nlu.training import Example, load_rasa_nlu
from catalog.models import Shop
from config.settings import Settings
from webhooks.plugins import load_shop, load_shops


def _first_shop(settings: Settings) -> Shop:
    shops = load_shops(Path(settings.shop_dir))
    return next(iter(shops.values()))


def corpus_files(split: Path) -> dict[str, list[tuple[str, Path]]]:
    """``<split>/<shop>/<form>.yml`` → shop id → [(form, file)], forms in FORMS order."""
    out: dict[str, list[tuple[str, Path]]] = {}
    for folder in sorted(p for p in split.iterdir() if p.is_dir()):
        files = [(form, folder / f"{form}.yml") for form in FORMS
                 if (folder / f"{form}.yml").is_file()]
        if files:
            out[folder.name] = files
    return out


async def nlu_eval(settings: Settings, file: Path, shops_dir: Path | None = None,
                   max_mistakes: int = 30, rasa_entities: bool = False) -> str:
    """Accuracy, macro-F1, per-intent scores and confusions; the last line is machine-read.

    On a corpus split folder, each shop is loaded from ``shops_dir`` and gets its own
    backend, and the extraction lines (per language form) come before the intent lines.
    """
    corpus = file.is_dir()  # noqa: ASYNC240 - one stat before any I/O starts
    async with aiohttp.ClientSession() as session:
        options = BackendOptions(session=session,
                                 rasa_entities=rasa_entities)
        if not corpus:
            shop = _first_shop(settings)
            backend = build_backend(settings.nlu_backend, shop, options, settings.env)
            return format_report(await evaluate(backend, load_rasa_nlu(file), shop), max_mistakes)
        shops_dir = shops_dir or file.parent.parent / "shops"
        entries: list[CorpusShop] = []
        for shop_id, files in corpus_files(file).items():
            shop = load_shop(shops_dir / shop_id, shop_id)
            examples: list[tuple[str, Example]] = [
                (form, ex) for form, path in files for ex in load_rasa_nlu(path)]
            backend = build_backend(settings.nlu_backend, shop, options, settings.env)
            entries.append(CorpusShop(shop, backend, examples))
        intents, extraction = await evaluate_corpus(entries)
    source = " (items from DIET's entities)" if rasa_entities else ""
    head = [f"extraction on {', '.join(e.shop.id for e in entries)} "
            f"(backend {settings.nlu_backend}{source})"]
    lines = [*head, *format_extraction(extraction, max_mistakes), "",
             format_report(intents, max_mistakes=min(10, max_mistakes))]
    return "\n".join(lines)


def rasa_export(settings: Settings, out_dir: Path) -> Path:
    """One Rasa project for the shop, or for every shop of a folder of shops."""
    export_rasa_project(list(load_shops(Path(settings.shop_dir)).values()), out_dir)
    return out_dir
