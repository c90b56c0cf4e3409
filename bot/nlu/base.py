"""The intent-engine extension point: anything that turns text into an Understanding."""

from __future__ import annotations

from dataclasses import dataclass, field
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
ENTITY_TYPES: tuple[str, ...] = ("product", "quantity", "vpa", "amount", "order_id", "language")


@dataclass(frozen=True, slots=True)
class Entity:
    """``value`` is normalised: a sku for product, digits for quantity, minor units for amount."""

    type: str
    value: str
    text: str = ""  # the words in the message it came from
    start: int = -1
    end: int = -1


@dataclass(frozen=True, slots=True)
class ItemMention:
    """One "2 samosa" in a message: a catalog sku (product or option) and how many."""

    sku: str
    quantity: int
    quantity_given: bool = False  # "samosa" alone → 1, but the flow may ask
    text: str = ""


@dataclass(frozen=True, slots=True)
class Understanding:
    intent: str
    confidence: float  # a score in [0, 1], not money: float is fine
    language: str  # detected from this message: en, hi, bn, ar
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = ()
    items: tuple[ItemMention, ...] = ()

    def entity(self, kind: str) -> str | None:
        return next((e.value for e in self.entities if e.type == kind), None)


@dataclass(frozen=True, slots=True)
class ParseContext:
    shop: Shop
    language: str | None = None  # the conversation's sticky language, if any
    state: str = "idle"
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


class IntentBackend(Protocol):
    name: str

    async def parse(self, text: str, context: ParseContext) -> Understanding: ...
