"""Rasa as an out-of-process intent backend over ``POST {url}/model/parse``.

Rasa cannot live in haat's process (its pins clash with Python 3.11, SQLAlchemy 2 and
aiohttp 3.10+; docs/DESIGN.md §5.6), so it is reached over HTTP, like Rasa 2.x's own
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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp

from bot.nlu.base import (
    ENTITY_TYPES,
    INTENTS,
    Entity,
    IntentBackend,
    ItemMention,
    ParseContext,
    QuantityIssue,
    Understanding,
    put_first,
)
from bot.nlu.builtin import (
    MAX_ENTITY_CHARS,
    RANKING_SIZE,
    Extractors,
    build_builtin,
    message_language,
    parse_shortcut,
)
from bot.nlu.entities import item_for, order_intent
from bot.nlu.numbers import NumberSpan, find_numbers
from catalog.models import Shop
from catalog.search import Mention, ProductIndex
from config.plugins import Option, load, option, options

if TYPE_CHECKING:
    from bot.nlu.registry import BackendOptions

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


_Span = tuple[int, int, str, str, str, str]  # start, end, entity, text, value, role


def _rasa_spans(data: Mapping[str, Any], kinds: tuple[str, ...]) -> list[_Span]:
    """(start, end, entity, text, value, role) of Rasa's entities of these kinds, in order."""
    out: list[_Span] = []
    for raw in data.get("entities") or ():
        if not isinstance(raw, Mapping) or raw.get("entity") not in kinds:
            continue
        start, end = raw.get("start"), raw.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
            continue
        out.append((start, end, str(raw["entity"]), str(raw.get("text", "")),
                    str(raw.get("value", "")), str(raw.get("role", "") or "")))
    out.sort()
    return out


# a quantity reaches across at most two words ("three pack of bread"), never across "and"
_QUANTITY_BREAKS = frozenset({"and", "aur", "ar", "আর", "এবং", "और", "و", "but", "no"})


def _quantity_owners(text: str, products: list[_Span], numbers: list[_Span]) -> dict[int, int]:
    """Which product each quantity (or unit) span belongs to, by position in its list."""
    # a quantity (and its unit) goes to the product right after it; what is left, to the
    # product right before it ("samosa 2"): the same order our extractor reads
    owner: dict[int, int] = {}
    for q, quant in enumerate(numbers):
        nxt = next((k for k, p in enumerate(products) if p[0] >= quant[1]), None)
        if nxt is None:
            continue
        gap = text[quant[1]:products[nxt][0]]
        for unit in numbers:
            if unit[2] == "unit" and quant[1] <= unit[0] and unit[1] <= products[nxt][0]:
                gap = gap.replace(text[unit[0]:unit[1]], " ", 1)
        gap_words = gap.casefold().split()
        if len(gap_words) <= 2 and not any(w in _QUANTITY_BREAKS for w in gap_words) \
                and not any(ch in gap for ch in ",;&\n،"):
            owner[q] = nxt
    for q, quant in enumerate(numbers):
        if q in owner:
            continue
        prev = max((k for k, p in enumerate(products) if p[1] <= quant[0]), default=None)
        if prev is not None and prev not in owner.values():
            owner[q] = prev
    return owner


def _number_of(text: str, around: list[_Span]) -> NumberSpan | None:
    """The count a product's quantity and unit spans say, with offsets in ``text``."""
    if not around:
        return None
    first, last = min(s[0] for s in around), max(s[1] for s in around)
    found_numbers = find_numbers(text[first:last])
    if not found_numbers:
        return None
    n = found_numbers[0]
    return NumberSpan(n.value, first + n.start, first + n.end, n.text, n.unit)


def items_from_rasa(data: Mapping[str, Any], text: str, shop: Shop,
                    index: ProductIndex) -> tuple[ItemMention, ...]:
    """Cart items from DIET's entities alone, to score Rasa's extraction against ours.

    A product span is its synonym-mapped sku when DIET's value is one, else the catalog's
    best match for the span's words; each takes the nearest quantity (and unit) before it,
    else after it. Sizes, packs and refusals then follow the same rules as ours
    (:func:`bot.nlu.entities.item_for`), so only what DIET found differs.
    """
    spans = _rasa_spans(data, ("product", "quantity", "unit"))
    catalog = shop.catalog
    items: list[ItemMention] = []
    products = [s for s in spans if s[2] == "product"]
    numbers = [s for s in spans if s[2] != "product"]
    owner = _quantity_owners(text, products, numbers)
    for k, (start, end, _, _, value, role) in enumerate(products):
        words = text[start:end]
        hit = catalog.find_sku(value)
        if hit is None:
            found = index.search(words, limit=1)
            if not found or found[0].score < 0.6:
                continue
            hit = (found[0].product, found[0].option)
        product, option = hit
        around = [numbers[q] for q, o in owner.items() if o == k]
        number = _number_of(text, around)
        quantity_role = next((s[5] for s in around if s[2] == "quantity"), "")
        mention = Mention(start, end, words, product, option, 1.0, words)
        item = item_for(mention, number)
        if role == "negated":
            item = replace(item, negated=True)
        elif role == "ask" or quantity_role == "ask":
            item = replace(item, issue=item.issue or QuantityIssue.TOO_MANY)
        items.append(item)
    return tuple(items)


@dataclass(frozen=True, slots=True)
class RasaConfig:
    url: str = option("HAAT_RASA_URL", "http://localhost:5005",
                      doc="a Rasa server's base URL (POST /model/parse)")


class RasaHttpBackend:
    """An IntentBackend backed by a Rasa server; falls back to ``fallback`` on any failure.

    ``diet_items``: cart items from DIET's entities (:func:`items_from_rasa`) instead of our
    extractor, for ``haat nlu eval --rasa-entities``; serving keeps our extractor.
    """

    name: ClassVar[str] = "rasa"
    # out of process over HTTP; any failure falls back to the built-in classifier
    capabilities: ClassVar[frozenset[str]] = frozenset({"http", "falls_back", "diet_entities"})
    options: ClassVar[tuple[Option, ...]] = options(RasaConfig)

    @classmethod
    def create(cls, shop: Shop, env: Mapping[str, str],
               options: BackendOptions) -> RasaHttpBackend:
        """The registry's constructor (bot/nlu/registry.py): the built-in backend is its
        fallback."""
        if options.session is None:
            raise ValueError("the rasa backend needs an aiohttp ClientSession")
        return cls(load(RasaConfig, env).url, options.session, options.timeout,
                   build_builtin(shop, cache_dir=options.model_cache,
                                 extractors=options.extractors),
                   diet_items=options.rasa_entities, extractors=options.extractors)

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        timeout: float = DEFAULT_TIMEOUT,
        fallback: IntentBackend | None = None,
        diet_items: bool = False,
        extractors: Extractors | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/model/parse"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._fallback = fallback
        self._diet_items = diet_items
        self._extractors = extractors or Extractors()

    async def parse(self, text: str, context: ParseContext) -> Understanding:
        language = message_language(text, context)
        shortcut = parse_shortcut(text, context.shop, language)
        if shortcut is not None:
            return shortcut
        try:
            data = await self._post(text[:MAX_ENTITY_CHARS])
            extractor = self._extractors.for_catalog(context.shop.catalog)
            found = extractor.extraction(text, context.shop.currency)
            items = found.items
            result = understanding_from_rasa(data, language, found.entities)
            if self._diet_items:
                items = items_from_rasa(data, text[:MAX_ENTITY_CHARS], context.shop,
                                        extractor.index)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("rasa parse failed (%s); using the fallback backend", type(exc).__name__)
            if self._fallback is not None:
                return await self._fallback.parse(text, context)
            return Understanding("out_of_scope", 0.0, language)
        # our extractor's items overrule Rasa's intent as they do the built-in one's; with
        # DIET's entities (--rasa-entities) Rasa's intent stands alone
        intent = result.intent if self._diet_items else order_intent(result.intent, text, found)
        return Understanding(
            intent, result.confidence, language, put_first(result.ranking, intent),
            result.entities, items, found.unmatched,
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
