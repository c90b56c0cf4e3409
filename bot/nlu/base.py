"""The intent-engine extension point: anything that turns text into an Understanding."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from catalog.models import Shop

INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thanks", "affirm", "deny", "browse_catalog", "search_product",
    "product_price", "product_info", "add_to_cart", "remove_from_cart", "view_cart",
    "checkout", "pay",
    "order_status", "cancel_order", "business_hours", "delivery_info", "human_handoff",
    "tip", "change_language", "out_of_scope",
)
# below this a backend's top intent is a guess: the bot asks rather than act on it
LOW_CONFIDENCE = 0.40
ENTITY_TYPES: tuple[str, ...] = ("product", "quantity", "vpa", "amount", "order_id", "language",
                                 "unit")
# Rasa entity roles the labelled data uses (tests/nlu/extraction): what must not reach a cart
ENTITY_ROLES: dict[str, tuple[str, ...]] = {"product": ("negated", "ask"), "quantity": ("ask",)}


@dataclass(frozen=True, slots=True)
class Entity:
    """``value`` is normalised: a sku for product, digits for quantity, minor units for amount."""

    type: str
    value: str
    text: str = ""  # the words in the message it came from
    start: int = -1
    end: int = -1


class QuantityIssue(StrEnum):
    """Why a quantity cannot be taken as written (issue #15 item 7)."""

    TOO_MANY = "too_many"  # above the shop's max_quantity
    ZERO = "zero"
    NEGATIVE = "negative"
    SCIENTIFIC = "scientific"  # "1e9"
    FRACTION = "fraction"  # "2.5 samosa": a countable item
    NO_SIZE = "no_size"  # "half kg onion" when onions come by the kilo only


@dataclass(frozen=True, slots=True)
class ItemMention:
    """One "2 samosa" in a message: a catalog sku (product or option) and how many."""

    sku: str
    quantity: int
    quantity_given: bool = False  # "samosa" alone → 1, but the flow may ask
    text: str = ""
    # what the flow must not do silently (bot/nlu/cart_plan.py decides from these):
    negated: bool = False  # "no samosa today", "চা লাগবে না": never added
    issue: QuantityIssue | None = None  # "0 samosa", "1e9 samosa": ask, never rewrite
    quantity_text: str = ""  # the words of the quantity, to quote back
    sized: bool = False  # a measure chose the sku ("2 kg rice" → the 1 kg base): no option ask
    candidates: tuple[str, ...] = ()  # equally likely skus ("dal" in a shop with two): ask
    removal: bool = False  # "cancel 2 samosa", "সিঙ্গারা বাদ দিন": to take out, never to add


@dataclass(frozen=True, slots=True)
class Understanding:
    intent: str
    confidence: float  # a score in [0, 1], not money: float is fine
    language: str  # detected from this message: en, hi, bn, ar
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = ()
    items: tuple[ItemMention, ...] = ()
    # words where a product was expected ("2 pizza") that match nothing in the catalog
    unmatched: tuple[str, ...] = ()

    def entity(self, kind: str) -> str | None:
        return next((e.value for e in self.entities if e.type == kind), None)


def put_first(ranking: tuple[tuple[str, float], ...], intent: str
              ) -> tuple[tuple[str, float], ...]:
    """The ranking with ``intent`` on top at the top score (a rule overruled the engine)."""
    if not ranking or ranking[0][0] == intent:
        return ranking
    return ((intent, ranking[0][1]), *(row for row in ranking if row[0] != intent))


@dataclass(frozen=True, slots=True)
class ParseContext:
    shop: Shop
    language: str | None = None  # the conversation's sticky language, if any
    state: str = "idle"
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


class IntentBackend(Protocol):
    @property
    def name(self) -> str: ...

    async def parse(self, text: str, context: ParseContext) -> Understanding: ...
