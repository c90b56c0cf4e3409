"""The shop and catalog schema (docs/DESIGN.md §1.2) as frozen, validated value objects.

The loader turns YAML into these; everything downstream reads them and never the YAML.
Texts that merchants write per language are :class:`Text` (language code → string).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType

from catalog.money import Money

LANGUAGES: tuple[str, ...] = ("en", "hi", "bn", "ar")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PAYMENT_METHODS: tuple[str, ...] = ("upi_link", "payment_link", "collect", "cod")
# methods that take no money through the payment provider (cash at the door)
OFFLINE_METHODS: frozenset[str] = frozenset({"cod"})
# the names of payments/providers/registry.py (catalog may not import it; a test keeps the
# two equal: tests/contract/test_providers.py)
PAYMENT_PROVIDERS: tuple[str, ...] = ("sandbox", "upi_intent", "razorpay", "stripe")
LATE_PAYMENT_POLICIES: tuple[str, ...] = ("refund", "manual")
OVERPAYMENT_POLICIES: tuple[str, ...] = ("refund", "hold")


@dataclass(frozen=True, slots=True)
class Text:
    """A merchant text in one or more languages; ``get`` falls back sensibly."""

    by_lang: Mapping[str, str]

    @classmethod
    def of(cls, value: str | Mapping[str, str], default_lang: str = "en") -> Text:
        if isinstance(value, str):
            return cls(MappingProxyType({default_lang: value}))
        return cls(MappingProxyType(dict(value)))

    def get(self, lang: str, fallback: str = "en") -> str:
        if lang in self.by_lang:
            return self.by_lang[lang]
        if fallback in self.by_lang:
            return self.by_lang[fallback]
        return next(iter(self.by_lang.values()), "")

    def all(self) -> tuple[str, ...]:
        return tuple(self.by_lang.values())


@dataclass(frozen=True, slots=True)
class Option:
    """A variant with its own sku and price (Large, Half kg, …)."""

    sku: str
    name: Text
    price: Money
    stock: int | None = None


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    category: str
    name: Text
    price: Money
    aliases: tuple[str, ...] = ()
    description: Text | None = None
    unit: str | None = None
    stock: int | None = None  # None = unlimited, 0 = sold out
    image: str | None = None
    options: tuple[Option, ...] = ()

    @property
    def sold_out(self) -> bool:
        return self.stock is not None and self.stock <= 0

    def names(self) -> tuple[str, ...]:
        """Every way a shopper might write this product: names in all languages + aliases."""
        return self.name.all() + self.aliases


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: Text


@dataclass(frozen=True, slots=True)
class Catalog:
    categories: tuple[Category, ...]
    products: tuple[Product, ...]
    _by_sku: Mapping[str, tuple[Product, Option | None]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )
    _by_category: Mapping[str, tuple[Product, ...]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        index: dict[str, tuple[Product, Option | None]] = {}
        grouped: dict[str, list[Product]] = {}
        for product in self.products:
            index[product.sku] = (product, None)
            for option in product.options:
                index[option.sku] = (product, option)
            grouped.setdefault(product.category, []).append(product)
        object.__setattr__(self, "_by_sku", MappingProxyType(index))
        object.__setattr__(self, "_by_category", MappingProxyType(
            {category: tuple(products) for category, products in grouped.items()}))

    def find_sku(self, sku: str) -> tuple[Product, Option | None] | None:
        """The product (and option, for a variant sku) for a sku, or None."""
        return self._by_sku.get(sku)

    def in_category(self, category_id: str) -> tuple[Product, ...]:
        """The category's products in catalog order (indexed once: menus read it a lot)."""
        return self._by_category.get(category_id, ())

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Per weekday (0 = Monday) a list of (open, close) local times; empty = closed."""

    by_weekday: tuple[tuple[tuple[time, time], ...], ...]

    def is_open(self, weekday: int, at: time) -> bool:
        for start, end in self.by_weekday[weekday]:
            if start <= end:
                if start <= at < end:
                    return True
            elif at >= start or at < end:  # spans midnight
                return True
        return False

    @classmethod
    def always(cls) -> OpeningHours:
        day = ((time(0, 0), time(23, 59, 59)),)
        return cls(tuple(day for _ in WEEKDAYS))


@dataclass(frozen=True, slots=True)
class Delivery:
    fee: Money
    free_above: Money | None = None
    areas: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpiPayee:
    vpa: str
    payee_name: str
    mcc: str | None = None


@dataclass(frozen=True, slots=True)
class CashOnDelivery:
    """shop.yaml ``payments.cod``: when cash on delivery is offered, and its timing."""

    max_order: Money | None = None  # orders above this total are not offered COD
    areas: tuple[str, ...] = ()  # () = every delivery area; else only these
    confirm_minutes: int = 120  # an unconfirmed COD order is cancelled after this
    remind_minutes: int = 30  # the shopper is reminded once, this long after placing it

    def allows(self, total: Money, address: str) -> bool:
        """COD for an order of ``total`` delivered to ``address`` (areas match as the
        delivery check does: the area's name appears in the address)."""
        if self.max_order is not None and total.minor > self.max_order.minor:
            return False
        lowered = address.casefold()
        return not self.areas or any(area.casefold() in lowered for area in self.areas)


@dataclass(frozen=True, slots=True)
class Payments:
    methods: tuple[str, ...] = ("upi_link",)
    provider: str = "sandbox"
    upi: UpiPayee | None = None
    link_expiry_minutes: int = 60
    collect_expiry_minutes: int = 15
    tips: bool = False
    # money that arrives for an order already cancelled: "refund" it automatically, or
    # keep it for the merchant to refund by hand ("manual"); either way it is never dropped
    late_payment: str = "refund"
    # money beyond the total of an order that is not cancelled (paid twice: the QR and the
    # link, two taps): "refund" the excess automatically, or "hold" it and alert the merchant
    # (one command, ``refund ORD-… excess``, returns exactly that)
    overpayment: str = "refund"
    cod: CashOnDelivery = CashOnDelivery()

    @property
    def prepaid_methods(self) -> tuple[str, ...]:
        """The methods that take money before delivery, in the shop's order."""
        return tuple(m for m in self.methods if m not in OFFLINE_METHODS)


@dataclass(frozen=True, slots=True)
class FaqEntry:
    ask: Mapping[str, tuple[str, ...]]  # language → phrases
    answer: Text


@dataclass(frozen=True, slots=True)
class Shop:
    """A whole shop: profile, rules and its catalog."""

    id: str  # the folder name; keys every table
    name: Text
    phone: str
    currency: str
    timezone: str
    languages: tuple[str, ...]
    hours: OpeningHours
    owners: tuple[str, ...]
    payments: Payments
    catalog: Catalog
    delivery: Delivery | None = None
    replies: Mapping[str, Text] = field(default_factory=lambda: MappingProxyType({}))
    faq: tuple[FaqEntry, ...] = ()
    closed_for_orders: bool = False
    handoff_quiet_minutes: int = 120
    # the most of one item a message may add; more is questioned, never cut silently
    max_quantity: int = 99
    templates: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    nlu_examples: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # non-ISO currencies declared in shop.yaml: code → exponent (``currency`` is then the
    # token "CODE/EXPONENT", see catalog/money.py)
    assets: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def language_for(self, wanted: str) -> str:
        """The shopper's language when the shop speaks it, else the shop's first."""
        return wanted if wanted in self.languages else self.default_language
