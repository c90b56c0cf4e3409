"""Intent backends by name (``HAAT_NLU_BACKEND``): adding one is a module and one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.nlu.base import IntentBackend
from bot.nlu.builtin import build_builtin
from bot.nlu.rasa_http import DEFAULT_TIMEOUT, RasaHttpBackend
from catalog.models import Shop


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """What a backend may need beyond the shop; the composition root fills it in."""

    rasa_url: str = "http://localhost:5005"
    session: aiohttp.ClientSession | None = None  # required by backends that do HTTP
    timeout: float = DEFAULT_TIMEOUT
    model_cache: Path | None = None  # where trained built-in weights are kept across restarts
    rasa_entities: bool = False  # items from DIET's entities (haat nlu eval --rasa-entities)


def _build_rasa(shop: Shop, options: BackendOptions) -> IntentBackend:
    if options.session is None:
        raise ValueError("the rasa backend needs an aiohttp ClientSession")
    return RasaHttpBackend(options.rasa_url, options.session, options.timeout,
                           build_builtin(shop, cache_dir=options.model_cache),
                           diet_items=options.rasa_entities)


BACKENDS: dict[str, Callable[[Shop, BackendOptions], IntentBackend]] = {
    "builtin": lambda shop, options: build_builtin(shop, cache_dir=options.model_cache),
    "rasa": _build_rasa,
}


def build_backend(name: str, shop: Shop, options: BackendOptions | None = None) -> IntentBackend:
    """The backend ``name`` for ``shop``; ValueError names the known ones."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise ValueError(f"unknown NLU backend {name!r}: use one of {', '.join(BACKENDS)}")
    return factory(shop, options or BackendOptions())
