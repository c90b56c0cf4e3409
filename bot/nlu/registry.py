"""Intent backends by name (``HAAT_NLU_BACKEND``): adding one is a module and one line here.

Each backend class declares its name, capabilities and environment keys, and builds
itself with ``create(shop, env, options)``; the app, ``haat nlu`` and the contract suite
iterate ``BACKEND_CLASSES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Protocol

import aiohttp

from bot.nlu.base import IntentBackend
from bot.nlu.builtin import BuiltinBackend, Extractors
from bot.nlu.rasa_http import DEFAULT_TIMEOUT, RasaHttpBackend
from catalog.models import Shop
from config.plugins import Option


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """What a backend may need beyond the shop and its own keys; the composition root
    fills it in."""

    session: aiohttp.ClientSession | None = None  # required by backends that do HTTP
    timeout: float = DEFAULT_TIMEOUT
    model_cache: Path | None = None  # where trained built-in weights are kept across restarts
    rasa_entities: bool = False  # items from DIET's entities (haat nlu eval --rasa-entities)
    # the app's catalog indexes and extraction memory (none given: the backend keeps its own)
    extractors: Extractors | None = None


class BackendPlugin(Protocol):
    """What an intent backend *class* declares: ``name`` (the HAAT_NLU_BACKEND value),
    ``capabilities`` (``in_process``, ``http``, ``falls_back``, ``diet_entities`` …),
    ``options`` (its environment keys) and ``create``."""

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    options: ClassVar[tuple[Option, ...]]

    @classmethod
    def create(cls, shop: Shop, env: Mapping[str, str],
               options: BackendOptions) -> IntentBackend: ...


BACKEND_CLASSES: tuple[type[BackendPlugin], ...] = (BuiltinBackend, RasaHttpBackend)

BACKENDS: Mapping[str, type[BackendPlugin]] = MappingProxyType(
    {cls.name: cls for cls in BACKEND_CLASSES})


def build_backend(name: str, shop: Shop, options: BackendOptions | None = None,
                  env: Mapping[str, str] | None = None) -> IntentBackend:
    """The backend ``name`` for ``shop``, configured from its own keys in ``env``
    (``Settings.env``); ValueError names the known ones."""
    cls = BACKENDS.get(name)
    if cls is None:
        raise ValueError(f"unknown NLU backend {name!r}: use one of {', '.join(BACKENDS)}")
    return cls.create(shop, env or {}, options or BackendOptions())
