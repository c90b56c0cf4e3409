"""Rasa as an out-of-process intent backend over ``POST {url}/model/parse``.

Rasa cannot live in haat's process (its pins clash with Python 3.11, SQLAlchemy 2 and
aiohttp 3.10+; see reference/style.md), so it is reached over HTTP, like Rasa 2.x's own
``RasaNLUHttpInterpreter``. What Rasa does not know is the catalog: product skus, items and
quantities come from our catalog-aware extractor, Rasa contributes the intent (and any
entity type we did not find). Button payloads (``/intent{...}``) never leave the process.
When Rasa is slow, down or answers nonsense, the message is not lost: the fallback backend
(the built-in classifier) answers and a warning is logged — without the message text.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.nlu.base import (
    ENTITY_TYPES,
    INTENTS,
    Entity,
    IntentBackend,
    ParseContext,
    Understanding,
)
from bot.nlu.builtin import (
    MAX_ENTITY_CHARS,
    RANKING_SIZE,
    extraction_for_shop,
    message_language,
    parse_shortcut,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0  # seconds; a chat reply waits on this, so keep it short
# Rasa's FallbackClassifier and any intent we do not handle mean "not understood".
_RASA_ALIASES = {"nlu_fallback": "out_of_scope"}


class RasaResponseError(ValueError):
    """Rasa answered, but not with a /model/parse result."""


def _intent_name(name: object) -> str:
    text = str(name)
    text = _RASA_ALIASES.get(text, text)
    return text if text in INTENTS else "out_of_scope"


def _confidence(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(number):
        return 0.0
    return min(1.0, max(0.0, number))


def understanding_from_rasa(
    data: Mapping[str, Any], language: str, ours: tuple[Entity, ...] = ()
) -> Understanding:
    """Map Rasa's parse JSON onto an Understanding (entities: ours first, then Rasa's)."""
    intent_obj = data.get("intent")
    if not isinstance(intent_obj, Mapping) or "name" not in intent_obj:
        raise RasaResponseError("no intent in Rasa's answer")
    intent = _intent_name(intent_obj["name"])
    confidence = _confidence(intent_obj.get("confidence"))
    best: dict[str, float] = {intent: confidence}
    for row in data.get("intent_ranking") or ():
        if isinstance(row, Mapping) and "name" in row:
            name = _intent_name(row["name"])
            best[name] = max(best.get(name, 0.0), _confidence(row.get("confidence")))
    best[intent] = max(best[intent], confidence)
    # Best first; on a tie the answer's own intent leads.
    ranking = sorted(best.items(), key=lambda kv: (-kv[1], kv[0] != intent))[:RANKING_SIZE]
    entities = list(ours)
    have = {e.type for e in ours}
    for raw in data.get("entities") or ():
        if not isinstance(raw, Mapping):
            continue
        kind = str(raw.get("entity", ""))
        if kind not in ENTITY_TYPES or kind in have or kind == "product":
            continue  # products need skus: only our catalog-aware extractor has them
        start, end = raw.get("start", -1), raw.get("end", -1)
        entities.append(Entity(
            kind, str(raw.get("value", "")), str(raw.get("text", "") or ""),
            start if isinstance(start, int) else -1, end if isinstance(end, int) else -1,
        ))
    return Understanding(intent, confidence, language, tuple(ranking), tuple(entities))


class RasaHttpBackend:
    """An IntentBackend backed by a Rasa server; falls back to ``fallback`` on any failure."""

    name = "rasa"

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        timeout: float = DEFAULT_TIMEOUT,
        fallback: IntentBackend | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/model/parse"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._fallback = fallback

    async def parse(self, text: str, context: ParseContext) -> Understanding:
        language = message_language(text, context)
        shortcut = parse_shortcut(text, context.shop, language)
        if shortcut is not None:
            return shortcut
        try:
            data = await self._post(text[:MAX_ENTITY_CHARS])
            found = extraction_for_shop(text, context.shop)
            items = found.items
            result = understanding_from_rasa(data, language, found.entities)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("rasa parse failed (%s); using the fallback backend", type(exc).__name__)
            if self._fallback is not None:
                return await self._fallback.parse(text, context)
            return Understanding("out_of_scope", 0.0, language)
        return Understanding(
            result.intent, result.confidence, language, result.ranking, result.entities, items,
            found.unmatched,
        )

    async def _post(self, text: str) -> Mapping[str, Any]:
        async with self._session.post(
            self.endpoint, json={"text": text}, timeout=self._timeout
        ) as resp:
            if resp.status != 200:
                raise RasaResponseError(f"HTTP {resp.status}")
            data = await resp.json(content_type=None)
        if not isinstance(data, Mapping):
            raise RasaResponseError("Rasa's answer is not a JSON object")
        return data
