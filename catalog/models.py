"""The shop and catalog schema (docs/DESIGN.md §1.2) as frozen, validated value objects.

The loader turns YAML into these; everything downstream reads them and never the YAML.
Texts that merchants write per language are :class:`Text` (language code → string).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from types import MappingProxyType

from catalog.money import Money

LANGUAGES: tuple[str, ...] = ("en", "hi", "bn", "ar")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PAYMENT_METHODS: tuple[str, ...] = ("upi_link", "payment_link", "collect", "bkash", "nagad",
                                     "rocket", "upi_transfer", "bank_transfer", "cod")
# manual transfers: the shopper sends the money to the merchant's own wallet, UPI ID or bank
# account, replies with the transaction id, and the merchant confirms with ``paid ORD-…``
# (payments/providers/manual.py). Each has its own ``payments.<method>`` section.
TRANSFER_METHODS: tuple[str, ...] = ("bkash", "nagad", "rocket", "upi_transfer", "bank_transfer")
MOBILE_WALLETS: tuple[str, ...] = ("bkash", "nagad", "rocket")
# the currencies a method can take (absent: any, as the provider allows): UPI moves rupees
# only, Bangladesh's mobile wallets taka only; a bank transfer takes the account's currency
METHOD_CURRENCIES: Mapping[str, frozenset[str]] = MappingProxyType({
    "upi_link": frozenset({"INR"}), "collect": frozenset({"INR"}),
    "upi_transfer": frozenset({"INR"}), "bkash": frozenset({"BDT"}),
    "nagad": frozenset({"BDT"}), "rocket": frozenset({"BDT"}),
})
# methods that take no money through the payment provider (cash at the door)
OFFLINE_METHODS: frozenset[str] = frozenset({"cod"})
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
    # for receipts (bot/receipts.py): the HSN code and the GST rate in basis points
    # (500 = 5 %); an option is invoiced with its product's
    hsn: str | None = None
    gst_rate_bp: int | None = None

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
class TransferAccount:
    """Where a shopper sends a manual transfer (``payments.<method>`` in shop.yaml).

    ``number`` is a wallet number in local form (``01XXXXXXXXX``; Rocket may add its check
    digit), a UPI ID for ``upi_transfer``, or the bank account number; ``kind`` says what
    sort of wallet account it is (personal: "Send Money", merchant: "Payment", agent:
    "Cash Out"), which decides the menu the shopper picks in the wallet app.
    """

    method: str
    number: str
    name: str
    kind: str = "personal"
    bank: str | None = None
    branch: str | None = None
    ifsc: str | None = None
    routing: str | None = None
    swift: str | None = None
    # how long the order waits for the money before it is cancelled (a transaction id from
    # the shopper stops the clock: the merchant then confirms or cancels)
    expiry_minutes: int = 24 * 60


@dataclass(frozen=True, slots=True)
class Payments:
    methods: tuple[str, ...] = ("upi_link",)
    provider: str = "sandbox"
    upi: UpiPayee | None = None
    # manual-transfer accounts by method (bkash, nagad, rocket, upi_transfer, bank_transfer)
    transfers: Mapping[str, TransferAccount] = field(
        default_factory=lambda: MappingProxyType({}))
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


class GoodsType(StrEnum):
    """``order_details.type``: what Meta's order card says is being sold."""

    PHYSICAL = "physical-goods"  # food, groceries: anything delivered
    DIGITAL = "digital-goods"  # only when the merchant says so (shop.yaml)


class CardPayment(StrEnum):
    """``order_details.payment_settings``: how the shopper pays from the card."""

    UPI_INTENT = "upi_intent"  # upi_intent_link: the shopper's UPI app opens pre-filled
    PAYMENT_GATEWAY = "payment_gateway"  # Razorpay / PayU checkout inside WhatsApp
    PAYMENT_LINK = "payment_link"  # our hosted pay page


CARD_GATEWAYS: tuple[str, ...] = ("razorpay", "payu")


@dataclass(frozen=True, slots=True)
class BusinessAddress:
    """The shop's own address: the importer of what it sells, on an order card without a
    catalog (Meta asks country of origin, importer name and address per item then)."""

    address_line1: str
    city: str
    zone_code: str  # the state's code: WB, DL, MH…
    postal_code: str  # 6 digits
    address_line2: str | None = None


@dataclass(frozen=True, slots=True)
class WhatsAppCommerce:
    """shop.yaml ``whatsapp_commerce``: the shop's Meta catalog and its order cards."""

    catalog_id: str | None = None  # the Commerce Manager catalog ``haat catalog sync`` fills
    sync_on_reload: bool = False  # ``haat serve`` pushes the catalog after each YAML reload
    goods_type: GoodsType = GoodsType.PHYSICAL
    card_payment: CardPayment = CardPayment.UPI_INTENT
    gateway: str | None = None  # razorpay | payu, with card_payment payment_gateway
    gateway_configuration: str | None = None  # the configuration name in WhatsApp Manager
    product_url: str | None = None  # a product's public page, "{sku}" replaced
    address_form: bool = True  # India: ask with WhatsApp's native address form
    business_address: BusinessAddress | None = None


@dataclass(frozen=True, slots=True)
class InvoiceProfile:
    """shop.yaml ``invoice:``: who issues the receipts and how (docs/MERCHANT_GUIDE.md).

    With a ``gstin`` the receipt is a tax invoice (GST per line); without, a bill of supply.
    """

    legal_name: str
    address: str
    prefix: str  # the invoice number's first part: MTH in MTH/2627/000123
    gstin: str | None = None
    state: str | None = None  # the GST state code of the shop ("19")
    gst_rate_bp: int | None = None  # the default GST rate, basis points (1800 = 18 %)
    delivery_gst_rate_bp: int | None = None  # delivery taxed at this rate; None: untaxed
    delivery_hsn: str | None = None  # its SAC code on the invoice (e.g. 9968)
    whole_amounts: bool = False  # show ৳1,250 rather than ৳1,250.00 (whole amounts only)
    year_start_month: int = 4  # the financial year's first month (India: April)


@dataclass(frozen=True, slots=True)
class FaqEntry:
    ask: Mapping[str, tuple[str, ...]]  # language → phrases
    answer: Text


class MarketingOptIn(StrEnum):
    """How a shop collects consent to marketing messages (shop.yaml ``marketing.opt_in``).

    Whatever the mode, STOP (or WhatsApp's own "stop promotions") opts a shopper out and
    only START opts them back in: an order never overrides an opt-out (bot/consent.py).
    """

    KEYWORD_ONLY = "keyword_only"  # only START (or "resume" in WhatsApp) opts in
    ASK_AT_CHECKOUT = "ask_at_checkout"  # the first order asks once, with two buttons
    IMPLICIT_ON_ORDER = "implicit_on_order"  # placing an order opts in (unless opted out)


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """Where an event's approved template is: its Cloud API name (one name for every
    language) and/or its Twilio Content SIDs (one per language; ``"*"``: any language)."""

    name: str | None = None
    content_sids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def content_sid(self, language: str) -> str | None:
        return self.content_sids.get(language) or self.content_sids.get("*")


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
    # event (catalog/message_templates.py) or the merchant's own key → approved template
    templates: Mapping[str, TemplateRef] = field(default_factory=lambda: MappingProxyType({}))
    marketing_opt_in: MarketingOptIn = MarketingOptIn.KEYWORD_ONLY
    nlu_examples: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # non-ISO currencies declared in shop.yaml: code → exponent (``currency`` is then the
    # token "CODE/EXPONENT", see catalog/money.py)
    assets: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    whatsapp: WhatsAppCommerce = field(default_factory=WhatsAppCommerce)
    invoice: InvoiceProfile | None = None  # receipts say who sold; without it, the shop name

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def language_for(self, wanted: str) -> str:
        """The shopper's language when the shop speaks it, else the shop's first."""
        return wanted if wanted in self.languages else self.default_language
