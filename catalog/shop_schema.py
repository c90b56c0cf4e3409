"""shop.yaml: the shop's name, phone, hours, delivery, payments, replies and FAQ."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import time
from types import MappingProxyType

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from catalog.cart import MAX_QUANTITY
from catalog.digits import DIGITS
from catalog.invoice_schema import parse_invoice
from catalog.message_templates import CONTENT_SID_RE, NAME_RE, TemplateEvent
from catalog.models import (
    CARD_GATEWAYS,
    LANGUAGES,
    LATE_PAYMENT_POLICIES,
    METHOD_CURRENCIES,
    MOBILE_WALLETS,
    OVERPAYMENT_POLICIES,
    PAYMENT_METHODS,
    TRANSFER_METHODS,
    WEEKDAYS,
    BusinessAddress,
    CardPayment,
    CashOnDelivery,
    Delivery,
    FaqEntry,
    GoodsType,
    InvoiceProfile,
    MarketingOptIn,
    OpeningHours,
    Payments,
    TemplateRef,
    Text,
    TransferAccount,
    UpiPayee,
    WhatsAppCommerce,
)
from catalog.money import ISO_CODES, MoneyError, asset_token, currency_code, is_currency
from catalog.nodes import (
    _bool,
    _Ctx,
    _free_mapping,
    _get,
    _hint,
    _int,
    _kind,
    _mapping,
    _money,
    _scalar_text,
    _seq,
    _str_list,
    _text,
)
from catalog.plugin_rules import PluginRules, ProviderRules

VPA_RE = re.compile(r"^[A-Za-z0-9.\-_]{2,256}@[A-Za-z]{2,64}$")
PHONE_RE = re.compile(r"^\+[1-9]\d{7,14}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MCC_RE = re.compile(r"^\d{4}$")
_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")

_FULL_DAYS = {
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
    "friday": "fri", "saturday": "sat", "sunday": "sun",
}
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)), "everyday": tuple(range(7)), "weekdays": (0, 1, 2, 3, 4),
    "weekend": (5, 6), "weekends": (5, 6),
}
_END_OF_DAY = time(23, 59, 59, 999999)
_COLLECT_WARNING = (
    "payments.methods has 'collect': NPCI deprecated merchant UPI collect requests for most "
    "merchant categories (from 28 Feb 2026); shoppers will be offered it only where the "
    "provider still supports it, so keep upi_link or payment_link first"
)


# --------------------------------------------------------------------------------------
# shop.yaml

_SHOP_KEYS = {
    "name": True, "phone": True, "currency": True, "timezone": True, "languages": False,
    "hours": False, "owners": False, "delivery": False, "payments": False, "replies": False,
    "faq": False, "closed_for_orders": False, "handoff_quiet_minutes": False,
    "max_quantity": False, "templates": False, "assets": False, "whatsapp_commerce": False,
    "invoice": False, "marketing": False,
}
_COMMERCE_KEYS = {
    "catalog_id": False, "sync_on_reload": False, "goods_type": False, "card_payment": False,
    "gateway": False, "gateway_configuration": False, "product_url": False,
    "address_form": False, "business_address": False,
}
_BUSINESS_ADDRESS_KEYS = {"address_line1": True, "address_line2": False, "city": True,
                          "zone_code": True, "postal_code": True}
_ZONE_RE = re.compile(r"^[A-Z]{2}$")
_PIN_RE = re.compile(r"^\d{6}$")
_CATALOG_ID_RE = re.compile(r"^\d{1,32}$")
_GATEWAY_CONFIG_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_MARKETING_KEYS = {"opt_in": False}
_ASSET_KEYS = {"exponent": True}
_PAYMENT_KEYS = {
    "methods": False, "provider": False, "upi": False, "link_expiry_minutes": False,
    "collect_expiry_minutes": False, "tips": False, "late_payment": False,
    "overpayment": False, "cod": False, **{method: False for method in TRANSFER_METHODS},
}
_WALLET_KEYS = {"number": True, "name": False, "account": False, "expiry_minutes": False}
_WALLET_ACCOUNTS = ("personal", "merchant", "agent")
_UPI_TRANSFER_KEYS = {"vpa": True, "name": False, "expiry_minutes": False}
_BANK_KEYS = {"account_number": True, "account_name": False, "bank": True, "branch": False,
              "ifsc": False, "routing": False, "swift": False, "expiry_minutes": False}
# Bangladeshi mobile numbers: 01 + operator digit 3-9 + 8 digits (+880 / 880 in front is the
# country code); a Rocket account is that number plus one check digit
_BD_MOBILE_RE = re.compile(r"^(?:\+?880|0)?(1[3-9]\d{8})(\d?)$")
_IFSC_RE = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
_SWIFT_RE = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_ACCOUNT_RE = re.compile(r"^\d{6,20}$")
_ROUTING_RE = re.compile(r"^\d{9}$")
_CURRENCY_HINT = {
    "INR": "UPI (upi_link, collect, upi_transfer) moves rupees only: an INR shop",
    "BDT": "bKash, Nagad and Rocket move taka only: a BDT shop",
}
_COD_KEYS = {"max_order": False, "areas": False, "confirm_minutes": False,
             "remind_minutes": False}
_UPI_KEYS = {"vpa": True, "payee_name": False, "mcc": False}
_DELIVERY_KEYS = {"fee": True, "free_above": False, "areas": False}
_FAQ_KEYS = {"ask": True, "answer": True}


@dataclass(slots=True)
class _ShopParts:
    """What shop.yaml yields before the catalog is attached (``plugins`` is given: what
    the registered providers allow, catalog/plugin_rules.py)."""

    plugins: PluginRules
    name: Text | None = None
    phone: str | None = None
    currency: str | None = None
    timezone: str | None = None
    languages: tuple[str, ...] = ("en",)
    hours: OpeningHours | None = None
    owners: tuple[str, ...] = ()
    delivery: Delivery | None = None
    payments: Payments | None = None
    replies: Mapping[str, Text] | None = None
    faq: tuple[FaqEntry, ...] = ()
    closed_for_orders: bool = False
    handoff_quiet_minutes: int = 120
    max_quantity: int = MAX_QUANTITY
    templates: Mapping[str, TemplateRef] | None = None
    assets: Mapping[str, int] | None = None
    whatsapp: WhatsAppCommerce | None = None
    invoice: InvoiceProfile | None = None
    invoice_node: Node | None = None  # where finish_invoice's cross-file errors point
    marketing_opt_in: MarketingOptIn = MarketingOptIn.KEYWORD_ONLY


def _assets(ctx: _Ctx, node: Node) -> dict[str, int]:
    """``assets: {ETH: {exponent: 18}}``: non-ISO currencies and their decimals (0-18)."""
    found: dict[str, int] = {}
    entries = _free_mapping(ctx, node, "assets")
    for code, key_node, value_node in entries or []:
        fields = _mapping(ctx, value_node, f"assets.{code}", _ASSET_KEYS)
        if fields is None or "exponent" not in fields:
            continue
        places = _int(ctx, fields["exponent"][1], f"assets.{code}.exponent")
        if places is None:
            continue
        try:
            asset_token(code, 0)
        except MoneyError as exc:  # the code itself
            ctx.error(key_node, str(exc))
            continue
        try:
            asset_token(code, places)
        except MoneyError as exc:  # the exponent
            ctx.error(fields["exponent"][1], str(exc))
            continue
        found[code] = places
    return found


def _choice(ctx: _Ctx, fields: Mapping[str, tuple[Node, Node]], section: str, key: str,
            allowed: Sequence[str], *, why: str = "") -> str | None:
    """``<section>.<key>``: one of ``allowed``, else None (absent, or an error that names the
    choices, ``why`` the key exists, and the closest one)."""
    if (pair := fields.get(key)) is None:
        return None
    value = _scalar_text(ctx, pair[1], f"{section}.{key}")
    if value is not None and value not in allowed:
        ctx.error(pair[1], f"{section}.{key} must be one of {', '.join(allowed)}{why}, "
                           f"got {value!r}{_hint(value, allowed)}")
        return None
    return value


def _phone(ctx: _Ctx, node: Node, what: str) -> str | None:
    raw = _scalar_text(ctx, node, what)
    if raw is None:
        return None
    compact = re.sub(r"[\s\-()]", "", raw)
    if not PHONE_RE.match(compact):
        ctx.error(
            node, f"{what} {raw!r} is not an E.164 phone number like \"+919800000000\""
        )
        return None
    return compact


def _timezone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # a machine without tz data at all cannot judge: accept rather than refuse a shop
        return not zoneinfo.available_timezones()
    return True



def _known_once(ctx: _Ctx, node: Node, key: str, known: Sequence[str], noun: str,
                unknown: Callable[[str], str]) -> list[tuple[str, Node]]:
    """The listed values that are known, each once; an error at each other one."""
    kept: list[tuple[str, Node]] = []
    for value, item in _str_list(ctx, node, key):
        if value not in known:
            ctx.error(item, f"{unknown(value)}{_hint(value, known)}; "
                            f"use any of {', '.join(known)}")
        elif any(value == seen for seen, _ in kept):
            ctx.error(item, f"{noun} {value!r} is listed twice")
        else:
            kept.append((value, item))
    return kept

def _languages(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    langs = [lang for lang, _ in _known_once(
        ctx, node, "languages", LANGUAGES, "language",
        lambda lang: f"language {lang!r} is not supported")]
    if langs:
        parts.languages = tuple(langs)
    elif isinstance(node, SequenceNode) and not node.value:
        ctx.error(node, "languages must list at least one language")


def _name(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.name = _text(ctx, node, "name", parts.languages[0])


def _shop_phone(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.phone = _phone(ctx, node, "phone")


def _shop_assets(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.assets = _assets(ctx, node)


def _currency(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    code = _scalar_text(ctx, node, "currency")
    assets = parts.assets or {}
    if code is None:
        return
    if code in assets:
        parts.currency = asset_token(code, assets[code])  # e.g. ETH/18
    elif code in ISO_CODES:
        parts.currency = code
    else:
        ctx.error(
            node,
            f"unknown currency {code!r}: use an ISO 4217 code such as INR, or "
            f"declare it under assets: with its exponent ({code}: {{exponent: 18}})"
            + (f" (did you mean {code.upper()!r}?)" if is_currency(code) else ""),
        )


def _timezone(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    tz = _scalar_text(ctx, node, "timezone")
    if tz is None:
        return
    if _timezone_ok(tz):
        parts.timezone = tz
    else:
        ctx.error(node, f"unknown timezone {tz!r}: use a name like Asia/Kolkata")


def _shop_hours(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.hours = _hours(ctx, node)


def _owners(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    owners: list[str] = []
    for _raw, item in _str_list(ctx, node, "owners"):
        phone = _phone(ctx, item, "owner")
        if phone is not None:
            owners.append(phone)
    parts.owners = tuple(owners)


def _shop_delivery(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.delivery = _delivery(ctx, node, parts.currency)


def _shop_payments(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.payments = _payments(ctx, node, parts)


def _replies(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    replies: dict[str, Text] = {}
    for key, key_node, value_node in _free_mapping(ctx, node, "replies") or []:
        if not _KEY_RE.match(key):
            ctx.error(key_node, f"reply key {key!r} must be lower_case_words")
            continue
        text = _text(ctx, value_node, f"replies.{key}", parts.languages[0])
        if text is not None:
            replies[key] = text
    parts.replies = MappingProxyType(replies)


def _shop_faq(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.faq = tuple(
        entry
        for item in _seq(ctx, node, "faq")
        if (entry := _faq(ctx, item, parts.languages[0])) is not None
    )


def _closed_for_orders(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.closed_for_orders = bool(_bool(ctx, node, "closed_for_orders"))


def _handoff_quiet_minutes(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    minutes = _int(ctx, node, "handoff_quiet_minutes")
    if minutes is not None:
        parts.handoff_quiet_minutes = minutes


def _max_quantity(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    cap = _int(ctx, node, "max_quantity", minimum=1)
    if cap is None:
        return
    if cap <= MAX_QUANTITY:
        parts.max_quantity = cap
    else:
        ctx.error(node, f"max_quantity must be between 1 and {MAX_QUANTITY} "
                        f"(the most of one item a cart line holds), got {cap}")


# shop.yaml ``templates`` keys before issue 17: one single-parameter template per purpose,
# whose parameter was the whole text (newlines and all: Meta refuses it, error 132018)
_OLD_TEMPLATE_KEYS: dict[str, tuple[str, ...]] = {
    "reminder": ("cart_reminder", "payment_reminder"),
    "payment_update": ("order_paid", "refund"),
    "order_update": ("order_placed", "order_shipped", "order_delivered"),
    "default": tuple(e.value for e in TemplateEvent),
}
_EVENT_KEYS = tuple(e.value for e in TemplateEvent)
_TEMPLATE_REF_KEYS = {"whatsapp": False, "twilio": False}


def _template_value(ctx: _Ctx, node: Node, where: str) -> TemplateRef | None:
    """``name`` | ``HX…`` | ``{whatsapp: name, twilio: HX… | {lang: HX…}}``."""
    if isinstance(node, ScalarNode):
        value = _scalar_text(ctx, node, where)
        if value is None:
            return None
        if value.startswith("HX"):
            return _content_sids(ctx, node, where, {"*": value})
        if not NAME_RE.match(value):
            ctx.error(node, f"{where}: template name {value!r} must be lower-case letters, "
                            "digits and _ (as approved in WhatsApp Manager), or a Twilio "
                            "Content SID (HX + 32 hex digits)")
            return None
        return TemplateRef(name=value)
    fields = _mapping(ctx, node, where, _TEMPLATE_REF_KEYS)
    if fields is None:
        return None
    name: str | None = None
    if "whatsapp" in fields:
        name = _scalar_text(ctx, fields["whatsapp"][1], f"{where}.whatsapp")
        if name is not None and not NAME_RE.match(name):
            ctx.error(fields["whatsapp"][1], f"{where}.whatsapp: template name {name!r} must "
                                             "be lower-case letters, digits and _")
            name = None
    sids = _twilio_sids(ctx, fields["twilio"][1], where) if "twilio" in fields else {}
    ref = _content_sids(ctx, node, where, sids) if sids else TemplateRef()
    if ref is None:
        return None
    if name is None and not ref.content_sids:
        ctx.error(node, f"{where} names no template: give whatsapp: NAME and/or twilio: HX…")
        return None
    return TemplateRef(name=name, content_sids=ref.content_sids)


def _twilio_sids(ctx: _Ctx, twilio: Node, where: str) -> dict[str, str]:
    """``twilio: HX…`` (every language) or ``twilio: {lang: HX…}``, by language (``*``)."""
    sids: dict[str, str] = {}
    if isinstance(twilio, ScalarNode):
        sid = _scalar_text(ctx, twilio, f"{where}.twilio")
        if sid is not None:
            sids["*"] = sid
        return sids
    for lang, _key_node, value_node in _free_mapping(ctx, twilio, f"{where}.twilio") or []:
        if lang not in LANGUAGES:
            ctx.error(value_node, f"{where}.twilio: {lang!r} is not one of haat's "
                                  f"languages ({', '.join(LANGUAGES)})")
            continue
        sid = _scalar_text(ctx, value_node, f"{where}.twilio.{lang}")
        if sid is not None:
            sids[lang] = sid
    return sids


def _content_sids(ctx: _Ctx, node: Node, where: str, sids: dict[str, str]) -> TemplateRef | None:
    for sid in sids.values():
        if not CONTENT_SID_RE.match(sid):
            ctx.error(node, f"{where}: {sid!r} is not a Twilio Content SID (HX followed by "
                            "32 hex digits, from Twilio Console → Content Template Builder)")
            return None
    return TemplateRef(content_sids=MappingProxyType(sids))


def _templates(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    """One approved template per event (``haat templates export`` writes what to submit)."""
    templates: dict[str, TemplateRef] = {}
    for key, key_node, value_node in _free_mapping(ctx, node, "templates") or []:
        if key in _OLD_TEMPLATE_KEYS:
            ctx.error(key_node, f"templates.{key} is the old one-parameter form, which "
                                "WhatsApp refuses outside the 24-hour window (error 132018): "
                                "haat now sends one template per event with named variables. "
                                "Run `haat templates export`, submit those, and map "
                                f"{', '.join(_OLD_TEMPLATE_KEYS[key])} instead "
                                "(docs/CHANNELS.md)")
            continue
        if not _KEY_RE.match(key):
            ctx.error(key_node, f"template key {key!r} must be lower_case_words")
            continue
        if key not in _EVENT_KEYS:
            ctx.warn(key_node, f"templates.{key} is not an event haat sends"
                               f"{_hint(key, _EVENT_KEYS)}; it is kept for broadcasts")
        ref = _template_value(ctx, value_node, f"templates.{key}")
        if ref is not None:
            templates[key] = ref
    parts.templates = MappingProxyType(templates)


def _whatsapp_commerce(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    """``whatsapp_commerce``: the Meta catalog haat syncs and how order cards look."""
    fields = _mapping(ctx, node, "whatsapp_commerce", _COMMERCE_KEYS)
    if fields is None:
        return
    catalog_id = None
    if (pair := fields.get("catalog_id")) is not None:
        raw = _scalar_text(ctx, pair[1], "whatsapp_commerce.catalog_id")
        if raw is not None and not _CATALOG_ID_RE.match(raw):
            ctx.error(pair[1], "whatsapp_commerce.catalog_id must be the catalog's numeric id "
                               f"from Commerce Manager (quote it), got {raw!r}")
        elif raw is not None:
            catalog_id = raw
    sync = _get(fields, "sync_on_reload",
                lambda n: _bool(ctx, n, "whatsapp_commerce.sync_on_reload"))
    if sync and catalog_id is None:
        ctx.error(fields["sync_on_reload"][1],
                  "whatsapp_commerce.sync_on_reload needs whatsapp_commerce.catalog_id")
    section = "whatsapp_commerce"
    goods = _choice(ctx, fields, section, "goods_type", [g.value for g in GoodsType])
    card = _choice(ctx, fields, section, "card_payment", [c.value for c in CardPayment])
    gateway = _choice(ctx, fields, section, "gateway", CARD_GATEWAYS)
    config = None
    if (pair := fields.get("gateway_configuration")) is not None:
        config = _scalar_text(ctx, pair[1], "whatsapp_commerce.gateway_configuration")
        if config is not None and not _GATEWAY_CONFIG_RE.match(config):
            ctx.error(pair[1], "whatsapp_commerce.gateway_configuration must be the "
                               "configuration name from WhatsApp Manager (letters, digits, "
                               f"_ . -), got {config!r}")
            config = None
    if card == CardPayment.PAYMENT_GATEWAY and (gateway is None or config is None):
        ctx.error(fields["card_payment"][1],
                  "whatsapp_commerce.card_payment payment_gateway needs gateway "
                  f"({', '.join(CARD_GATEWAYS)}) and gateway_configuration")
    elif card == CardPayment.PAYMENT_GATEWAY and gateway is not None:
        _check_card_gateway(ctx, fields["gateway"][1], gateway, parts)
    url = None
    if (pair := fields.get("product_url")) is not None:
        url = _scalar_text(ctx, pair[1], "whatsapp_commerce.product_url")
        if url is not None and (not url.startswith("https://") or "{sku}" not in url):
            ctx.error(pair[1], "whatsapp_commerce.product_url must be an https:// URL with "
                               f"{{sku}} in it, got {url!r}")
            url = None
    form = _get(fields, "address_form",
                lambda n: _bool(ctx, n, "whatsapp_commerce.address_form"))
    business = _get(fields, "business_address", lambda n: _business_address(ctx, n))
    parts.whatsapp = WhatsAppCommerce(
        catalog_id=catalog_id, sync_on_reload=bool(sync),
        goods_type=GoodsType(goods) if goods else GoodsType.PHYSICAL,
        card_payment=CardPayment(card) if card else CardPayment.UPI_INTENT,
        gateway=gateway, gateway_configuration=config, product_url=url,
        address_form=True if form is None else form, business_address=business)


def _business_address(ctx: _Ctx, node: Node) -> BusinessAddress | None:
    where = "whatsapp_commerce.business_address"
    fields = _mapping(ctx, node, where, _BUSINESS_ADDRESS_KEYS)
    if fields is None:
        return None
    got: dict[str, str] = {}
    for key, (_, value_node) in fields.items():
        text = _scalar_text(ctx, value_node, f"{where}.{key}")
        if text is None:
            return None
        if key == "zone_code" and not _ZONE_RE.match(text):
            ctx.error(value_node, f"{where}.zone_code must be the state's two-letter code "
                                  f"in capitals (WB, DL, MH), got {text!r}")
            return None
        if key == "postal_code" and not _PIN_RE.match(text):
            ctx.error(value_node, f"{where}.postal_code must be a 6-digit PIN code (in "
                                  f"quotes), got {text!r}")
            return None
        got[key] = text[:100]
    if not all(k in got for k, required in _BUSINESS_ADDRESS_KEYS.items() if required):
        return None
    return BusinessAddress(address_line1=got["address_line1"], city=got["city"],
                           zone_code=got["zone_code"], postal_code=got["postal_code"],
                           address_line2=got.get("address_line2"))


def _invoice(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    parts.invoice = parse_invoice(ctx, node, parts.currency)
    parts.invoice_node = node


def _marketing(ctx: _Ctx, node: Node, parts: _ShopParts) -> None:
    """``marketing: {opt_in: keyword_only | ask_at_checkout | implicit_on_order}``."""
    fields = _mapping(ctx, node, "marketing", _MARKETING_KEYS)
    if fields is None:
        return
    mode = _choice(ctx, fields, "marketing", "opt_in", [m.value for m in MarketingOptIn],
                   why=" (how shoppers agree to offers and broadcasts)")
    if mode is not None:
        parts.marketing_opt_in = MarketingOptIn(mode)


# shop.yaml's keys in the order they are read: languages first (texts need the first
# language), assets before currency, currency before delivery and payments
_SHOP_READERS: tuple[tuple[str, Callable[[_Ctx, Node, _ShopParts], None]], ...] = (
    ("languages", _languages), ("name", _name), ("phone", _shop_phone),
    ("assets", _shop_assets), ("currency", _currency), ("timezone", _timezone),
    ("hours", _shop_hours), ("owners", _owners), ("delivery", _shop_delivery),
    ("payments", _shop_payments), ("replies", _replies), ("faq", _shop_faq),
    ("closed_for_orders", _closed_for_orders),
    ("handoff_quiet_minutes", _handoff_quiet_minutes), ("max_quantity", _max_quantity),
    ("templates", _templates), ("whatsapp_commerce", _whatsapp_commerce),
    ("invoice", _invoice), ("marketing", _marketing),
)


def _parse_shop(ctx: _Ctx, root: Node, plugins: PluginRules) -> _ShopParts:
    parts = _ShopParts(plugins)
    fields = _mapping(ctx, root, "shop.yaml", _SHOP_KEYS)
    if fields is None:
        return parts
    for key, read in _SHOP_READERS:
        if (pair := fields.get(key)) is not None:
            read(ctx, pair[1], parts)
    if "payments" not in fields and "currency" in fields:
        check_default_payments(ctx, parts.currency, fields["currency"][1])
    return parts


def _day_key(key: str) -> tuple[int, ...] | None:
    """``mon``, ``mon-sat``, ``fri-mon`` (wraps), ``daily``, ``weekdays``, ``sat,sun``."""
    days: list[int] = []
    for piece in key.lower().replace(" ", "").split(","):
        if piece in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[piece])
            continue
        ends = [_FULL_DAYS.get(p, p) for p in piece.split("-")]
        if not all(e in WEEKDAYS for e in ends) or len(ends) > 2:
            return None
        start, stop = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        days.extend((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return tuple(days)


def _ranges(value: str) -> tuple[tuple[time, time], ...] | None:
    text = value.strip().lower()
    if text == "closed":
        return ()
    if text in ("24h", "open", "always"):
        return ((time(0, 0), _END_OF_DAY),)
    out: list[tuple[time, time]] = []
    for piece in text.split(","):
        match = _RANGE_RE.match(piece.strip())
        if match is None:
            return None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            return None
        start = time(h1, m1)
        end = _END_OF_DAY if h2 == 24 else time(h2, m2)
        if start == end:
            return None
        out.append((start, end))
    return tuple(out)


def _hours(ctx: _Ctx, node: Node) -> OpeningHours | None:
    items = _free_mapping(ctx, node, "hours")
    if items is None:
        return None
    week: list[tuple[tuple[time, time], ...]] = [() for _ in WEEKDAYS]
    ok = True
    for key, key_node, value_node in items:
        days = _day_key(key)
        if days is None:
            ok = False
            ctx.error(
                key_node,
                f"unknown day {key!r} in hours{_hint(key.lower(), [*WEEKDAYS, *_DAY_GROUPS])}: "
                "use mon..sun, a range like mon-sat, daily, weekdays or weekends",
            )
            continue
        raw = str(value_node.value) if isinstance(value_node, ScalarNode) else None
        ranges = None if raw is None else _ranges(raw)
        if ranges is None:
            ok = False
            ctx.error(
                value_node,
                f"bad opening hours {raw if raw is not None else _kind(value_node)!r} for "
                f"{key}: use HH:MM-HH:MM like \"08:00-21:00\", several separated by "
                "commas, or closed",
            )
            continue
        for day in days:  # later lines override earlier ones
            week[day] = ranges
    return OpeningHours(tuple(week)) if ok else None


def _delivery(ctx: _Ctx, node: Node, currency: str | None) -> Delivery | None:
    fields = _mapping(ctx, node, "delivery", _DELIVERY_KEYS)
    if fields is None:
        return None
    fee = _get(fields, "fee", lambda n: _money(ctx, n, currency, "delivery.fee"))
    free_above = _get(
        fields, "free_above", lambda n: _money(ctx, n, currency, "delivery.free_above")
    )
    areas = tuple(
        a for a, _ in _str_list(ctx, fields["areas"][1], "delivery.areas")
    ) if "areas" in fields else ()
    if fee is None:
        return None
    return Delivery(fee=fee, free_above=free_above, areas=areas)


def _payments(ctx: _Ctx, node: Node, parts: _ShopParts) -> Payments | None:
    fields = _mapping(ctx, node, "payments", _PAYMENT_KEYS)
    if fields is None:
        return None
    defaults = Payments()
    methods: list[str] = []
    methods_node: Node | None = None
    if (pair := fields.get("methods")) is not None:
        methods_node = pair[1]
        methods = _methods(ctx, pair[1])
    provider = defaults.provider
    provider_node: Node | None = None
    if (pair := fields.get("provider")) is not None:
        provider_node = pair[1]
        provider = _provider(ctx, pair[1], parts.plugins.provider_names) or provider
    upi: UpiPayee | None = None
    if (pair := fields.get("upi")) is not None:
        upi = _upi(ctx, pair[1], parts)
    rules = parts.plugins.providers.get(provider)
    if rules is not None:
        _check_provider(ctx, rules, parts.plugins, "upi" in fields, methods,
                        (methods_node, provider_node))
    transfers = _transfers(ctx, fields, methods, methods_node, parts)
    _check_currency(ctx, parts.currency, methods, methods_node, rules, provider_node)
    link = _get(fields, "link_expiry_minutes", lambda n: _int(ctx, n, "link_expiry_minutes", 1))
    collect = _get(
        fields, "collect_expiry_minutes", lambda n: _int(ctx, n, "collect_expiry_minutes", 1)
    )
    tips = _get(fields, "tips", lambda n: _bool(ctx, n, "tips"))
    late = _choice(ctx, fields, "payments", "late_payment",
                   LATE_PAYMENT_POLICIES) or defaults.late_payment
    over = _choice(ctx, fields, "payments", "overpayment",
                   OVERPAYMENT_POLICIES) or defaults.overpayment
    cod = defaults.cod
    if (pair := fields.get("cod")) is not None:
        cod = _cod(ctx, pair[1], parts) or cod
        if "cod" not in methods:
            ctx.warn(pair[0], "payments.cod is set but 'cod' is not in payments.methods: "
                              "cash on delivery is not offered")
    return Payments(
        methods=tuple(methods) or defaults.methods,
        provider=provider,
        upi=upi,
        transfers=MappingProxyType(transfers),
        link_expiry_minutes=link if link is not None else defaults.link_expiry_minutes,
        collect_expiry_minutes=(
            collect if collect is not None else defaults.collect_expiry_minutes
        ),
        tips=bool(tips) if tips is not None else defaults.tips,
        late_payment=late,
        overpayment=over,
        cod=cod,
    )


def _methods(ctx: _Ctx, node: Node) -> list[str]:
    """``payments.methods``: known ones, each once, at least one."""
    methods: list[str] = []
    for method, mnode in _known_once(
            ctx, node, "payments.methods", PAYMENT_METHODS, "payment method",
            lambda m: f"unknown payment method {m!r}"):
        methods.append(method)
        if method == "collect":
            ctx.warn(mnode, _COLLECT_WARNING)
    if isinstance(node, SequenceNode) and not node.value:
        ctx.error(node, "payments.methods must list at least one method")
    return methods


def _provider(ctx: _Ctx, node: Node, known: Sequence[str]) -> str | None:
    """``payments.provider`` when it names a registered one."""
    name = _scalar_text(ctx, node, "payments.provider")
    if name is not None and name not in known:
        ctx.error(
            node,
            f"unknown payment provider {name!r}{_hint(name, known)}; "
            f"use one of {', '.join(known)}",
        )
        return None
    return name


def _cod(ctx: _Ctx, node: Node, parts: _ShopParts) -> CashOnDelivery | None:
    """``payments.cod``: an order limit (an amount, as delivery fees are), the delivery areas
    where COD is allowed (each one of ``delivery.areas``), and the confirmation timing."""
    fields = _mapping(ctx, node, "payments.cod", _COD_KEYS)
    if fields is None:
        return None
    defaults = CashOnDelivery()
    limit = _get(fields, "max_order",
                 lambda n: _money(ctx, n, parts.currency, "payments.cod.max_order"))
    areas: list[str] = []
    if (pair := fields.get("areas")) is not None:
        served = parts.delivery.areas if parts.delivery is not None else ()
        folded = {a.casefold(): a for a in served}
        for area, anode in _str_list(ctx, pair[1], "payments.cod.areas"):
            if parts.delivery is None:
                ctx.error(anode, "payments.cod.areas needs delivery.areas: add the areas you "
                                 "deliver to under delivery first")
            elif served and area.casefold() not in folded:
                ctx.error(anode, f"payments.cod.areas has {area!r}, which is not one of "
                                 f"delivery.areas{_hint(area, served)}; delivery.areas are: "
                                 f"{', '.join(served)}")
            else:
                areas.append(folded.get(area.casefold(), area))
    confirm = _get(fields, "confirm_minutes",
                   lambda n: _int(ctx, n, "payments.cod.confirm_minutes", 5))
    remind = _get(fields, "remind_minutes",
                  lambda n: _int(ctx, n, "payments.cod.remind_minutes", 1))
    confirm = confirm if confirm is not None else defaults.confirm_minutes
    if remind is None:
        remind = min(defaults.remind_minutes, confirm // 2)
    elif remind >= confirm:
        ctx.error(fields["remind_minutes"][1],
                  f"payments.cod.remind_minutes ({remind}) must be less than "
                  f"confirm_minutes ({confirm}): the reminder comes before the auto-cancel")
    return CashOnDelivery(max_order=limit, areas=tuple(areas), confirm_minutes=confirm,
                          remind_minutes=remind)


# how the merchant knows the gateways of WhatsApp's order card (catalog/models.py:CARD_GATEWAYS)
_GATEWAY_NAMES = {"razorpay": "Razorpay", "payu": "PayU"}


def _check_card_gateway(ctx: _Ctx, node: Node, gateway: str, parts: _ShopParts) -> None:
    """The card's payment is booked from the signed webhook of the provider that declares
    the gateway (its notes carry haat's reference): without it nobody would verify it."""
    booker = parts.plugins.booking(gateway)
    if booker is None:
        ctx.warn(node, f"whatsapp_commerce.gateway {gateway}: haat has no "
                       f"{_GATEWAY_NAMES.get(gateway, gateway)} provider, so payments made in "
                       "the card are not booked by themselves; confirm each with "
                       "`paid ORD-… amount reference`")
    elif parts.payments is None or parts.payments.provider != booker:
        ctx.error(node, f"whatsapp_commerce.gateway {gateway} needs payments.provider "
                        f"{booker}, so that its webhooks book what shoppers pay in the card")


def _check_provider(ctx: _Ctx, rules: ProviderRules, plugins: PluginRules, has_upi: bool,
                    methods: Sequence[str], nodes: tuple[Node | None, Node | None]) -> None:
    """What the shop's provider declares it needs (payments.upi) and cannot do (collect)."""
    methods_node, provider_node = nodes
    if rules.needs_payee and not has_upi:
        ctx.error(provider_node, f"provider {rules.name} needs payments.upi with your vpa")
    if "collect" in methods and "collect" not in rules.capabilities:
        able = ", ".join(plugins.able_to("collect"))
        ctx.error(methods_node, f"provider {rules.name} cannot send collect requests: remove "
                  "'collect'" + (f" or use a provider that can ({able})" if able else ""))


def _fits(method: str, currency: str) -> bool:
    allowed = METHOD_CURRENCIES.get(method)
    return allowed is None or currency in allowed


def _check_currency(ctx: _Ctx, currency: str | None, methods: Sequence[str],
                    methods_node: Node | None, provider: ProviderRules | None,
                    provider_node: Node | None) -> None:
    """Every method must be able to take the shop's currency, and one at least must."""
    if currency is None:
        return
    currency = currency_code(currency)  # an asset's own code (ETH), not its token
    for method in methods:
        if not _fits(method, currency):
            (need,) = METHOD_CURRENCIES[method]
            ctx.error(methods_node, f"payment method {method!r} cannot take {currency}: "
                      f"{_CURRENCY_HINT.get(need, need)}; " + _method_hint(currency))
    only = provider.currencies if provider is not None else None
    if only is not None and currency not in only and any(
            m not in TRANSFER_METHODS for m in methods):
        assert provider is not None
        ctx.error(provider_node, f"provider {provider.name} takes {', '.join(sorted(only))} only, "
                  f"not {currency}: " + _method_hint(currency))


def _method_hint(currency: str) -> str:
    if currency == "BDT":
        return ("for taka use bkash, nagad or rocket (with payments.bkash: {number: "
                "\"01XXXXXXXXX\"}), bank_transfer, or payment_link")
    if currency == "INR":
        return "for rupees use upi_link, upi_transfer, bank_transfer or payment_link"
    return f"for {currency} use payment_link or bank_transfer"


def check_default_payments(ctx: _Ctx, currency: str | None, node: Node | None) -> None:
    """A shop.yaml without ``payments`` takes the default method (a UPI link): refused
    where the currency is not rupees, since nothing could then take the shop's money."""
    default = Payments()
    currency = currency_code(currency) if currency is not None else None
    if currency is not None and not any(_fits(m, currency) for m in default.methods):
        ctx.error(node, f"no payment method can take {currency}: the default is a UPI link "
                  f"(rupees only); add payments.methods: " + _method_hint(currency))


def _local_digits(text: str) -> str:
    """Bengali, Devanagari or Arabic digits as ASCII; spaces, dashes and dots dropped."""
    return "".join(ch for ch in text.translate(DIGITS) if ch not in " -.()\u00a0")


def _transfers(ctx: _Ctx, fields: Mapping[str, tuple[Node, Node]], methods: Sequence[str],
               methods_node: Node | None, parts: _ShopParts) -> dict[str, TransferAccount]:
    """``payments.<method>`` for each manual-transfer method: where the money goes."""
    found: dict[str, TransferAccount] = {}
    for method in TRANSFER_METHODS:
        pair = fields.get(method)
        if pair is None:
            if method in methods:
                example = {"upi_transfer": "{vpa: yourname@okicici}",
                           "bank_transfer": "{account_number: …, bank: …, ifsc: …}"}.get(
                               method, '{number: "01XXXXXXXXX"}')
                ctx.error(methods_node, f"payment method {method!r} needs payments.{method} "
                          f"with your account, e.g. {method}: {example}")
            continue
        if method not in methods:
            ctx.warn(pair[0], f"payments.{method} is set but {method!r} is not in "
                     "payments.methods: shoppers will not be offered it")
        default_name = parts.name.get(parts.languages[0]) if parts.name else ""
        if method in MOBILE_WALLETS:
            account = _wallet(ctx, pair[1], method, default_name)
        elif method == "upi_transfer":
            account = _upi_transfer(ctx, pair[1], default_name)
        else:
            account = _bank(ctx, pair[1], parts.currency, default_name)
        if account is not None and isinstance(pair[1], MappingNode):  # any method's key
            for key_node, value_node in pair[1].value:
                if getattr(key_node, "value", None) == "expiry_minutes":
                    minutes = _int(ctx, value_node, f"payments.{method}.expiry_minutes", 1)
                    if minutes is not None:
                        account = replace(account, expiry_minutes=minutes)
            found[method] = account
    return found


def _wallet(ctx: _Ctx, node: Node, method: str, default_name: str) -> TransferAccount | None:
    fields = _mapping(ctx, node, f"payments.{method}", _WALLET_KEYS)
    if fields is None or "number" not in fields:
        return None
    number_node = fields["number"][1]
    raw = _scalar_text(ctx, number_node, f"payments.{method}.number")
    if raw is None:
        return None
    match = _BD_MOBILE_RE.match(_local_digits(raw))
    check = match.group(2) if match else ""
    if match is None or (check and method != "rocket"):
        extra = " (a Rocket account may add its 12th check digit)" if method == "rocket" else ""
        ctx.error(number_node, f"bad {method} number {raw!r}: a Bangladeshi mobile number "
                  f"like 01712345678 or +8801712345678{extra}")
        return None
    kind = "personal"
    if (pair := fields.get("account")) is not None:
        value = _scalar_text(ctx, pair[1], f"payments.{method}.account")
        if value is not None and value not in _WALLET_ACCOUNTS:
            ctx.error(pair[1], f"payments.{method}.account must be one of "
                      f"{', '.join(_WALLET_ACCOUNTS)}, not {value!r}")
        elif value is not None:
            kind = value
    name = _get(fields, "name", lambda n: _scalar_text(ctx, n, f"payments.{method}.name"))
    return TransferAccount(method=method, number="0" + match.group(1) + check,
                           name=name or default_name, kind=kind)


def _upi_transfer(ctx: _Ctx, node: Node, default_name: str) -> TransferAccount | None:
    fields = _mapping(ctx, node, "payments.upi_transfer", _UPI_TRANSFER_KEYS)
    if fields is None or "vpa" not in fields:
        return None
    raw = _scalar_text(ctx, fields["vpa"][1], "payments.upi_transfer.vpa")
    if raw is None:
        return None
    if not (VPA_RE.match(raw) and len(raw) <= 255):
        ctx.error(fields["vpa"][1], f"bad UPI id {raw!r}: it looks like name@bank, e.g. "
                  "rina.das@okicici (letters, digits, . - _ before the @, letters after it)")
        return None
    name = _get(fields, "name", lambda n: _scalar_text(ctx, n, "payments.upi_transfer.name"))
    return TransferAccount(method="upi_transfer", number=raw, name=name or default_name)


def _bank(ctx: _Ctx, node: Node, currency: str | None,
          default_name: str) -> TransferAccount | None:
    fields = _mapping(ctx, node, "payments.bank_transfer", _BANK_KEYS)
    if fields is None:
        return None

    def text(key: str) -> str | None:
        return _get(fields, key, lambda n: _scalar_text(ctx, n, f"payments.bank_transfer.{key}"))

    ok = True
    number = text("account_number")
    if number is not None and not _ACCOUNT_RE.match(_local_digits(number)):
        ctx.error(fields["account_number"][1], f"bad bank account number {number!r}: 6 to 20 "
                  "digits")
        ok = False
    codes: dict[str, str | None] = {}
    for key, pattern, what in (("ifsc", _IFSC_RE, "an IFSC code like SBIN0001234"),
                               ("routing", _ROUTING_RE, "a 9-digit routing number"),
                               ("swift", _SWIFT_RE, "a SWIFT/BIC code like DBBLBDDH")):
        value = text(key)
        if value is not None:
            value = _local_digits(value).upper()
            if not pattern.match(value):
                ctx.error(fields[key][1], f"bad {key} {value!r}: {what}")
                ok = False
        codes[key] = value
    if currency == "INR" and codes["ifsc"] is None and ok:
        ctx.error(node, "an INR bank transfer needs payments.bank_transfer.ifsc (the "
                  "branch's IFSC code, e.g. SBIN0001234)")
        ok = False
    elif currency == "BDT" and codes["routing"] is None and ok:
        ctx.error(node, "a BDT bank transfer needs payments.bank_transfer.routing (the "
                  "branch's 9-digit routing number)")
        ok = False
    elif currency not in ("INR", "BDT") and codes["swift"] is None and ok:
        ctx.error(node, f"a {currency} bank transfer needs payments.bank_transfer.swift")
        ok = False
    if codes["ifsc"] is not None and currency != "INR":
        ctx.error(fields["ifsc"][1], f"an IFSC code is for Indian rupee accounts, not "
                  f"{currency}")
        ok = False
    bank = text("bank")
    if not ok or number is None or bank is None:
        return None
    return TransferAccount(method="bank_transfer", number=_local_digits(number),
                           name=text("account_name") or default_name, bank=bank,
                           branch=text("branch"), ifsc=codes["ifsc"],
                           routing=codes["routing"], swift=codes["swift"])


def _upi(ctx: _Ctx, node: Node, parts: _ShopParts) -> UpiPayee | None:
    fields = _mapping(ctx, node, "payments.upi", _UPI_KEYS)
    if fields is None:
        return None
    vpa: str | None = None
    if (pair := fields.get("vpa")) is not None:
        raw = _scalar_text(ctx, pair[1], "payments.upi.vpa")
        if raw is not None:
            if VPA_RE.match(raw) and len(raw) <= 255:
                vpa = raw
            else:
                ctx.error(
                    pair[1],
                    f"bad UPI id {raw!r}: it looks like name@bank, e.g. mitratea@okaxis "
                    "(letters, digits, . - _ before the @, letters after it)",
                )
    payee = _get(fields, "payee_name", lambda n: _scalar_text(ctx, n, "payments.upi.payee_name"))
    mcc: str | None = None
    if (pair := fields.get("mcc")) is not None:
        raw = _scalar_text(ctx, pair[1], "payments.upi.mcc")
        if raw is not None and not _MCC_RE.match(raw):
            ctx.error(pair[1], f"mcc {raw!r} must be a 4-digit merchant category code")
        else:
            mcc = raw
    if vpa is None:
        return None
    if payee is None:
        payee = parts.name.get(parts.languages[0]) if parts.name else vpa
    return UpiPayee(vpa=vpa, payee_name=payee, mcc=mcc)


def _faq(ctx: _Ctx, node: Node, lang0: str) -> FaqEntry | None:
    fields = _mapping(ctx, node, "faq entry", _FAQ_KEYS)
    if fields is None:
        return None
    ask: dict[str, tuple[str, ...]] = {}
    if (pair := fields.get("ask")) is not None:
        if isinstance(pair[1], MappingNode):
            for lang, key_node, value_node in _free_mapping(ctx, pair[1], "faq ask") or []:
                if lang not in LANGUAGES:
                    ctx.error(
                        key_node,
                        f"unknown language code {lang!r} in faq ask{_hint(lang, LANGUAGES)}",
                    )
                    continue
                phrases = tuple(p for p, _ in _str_list(ctx, value_node, f"faq ask.{lang}"))
                if phrases:
                    ask[lang] = phrases
        else:
            phrases = tuple(p for p, _ in _str_list(ctx, pair[1], "faq ask"))
            if phrases:
                ask[lang0] = phrases
        if isinstance(pair[1], SequenceNode | MappingNode) and not pair[1].value:
            ctx.error(pair[1], "faq ask must give at least one phrase")
    answer = _get(fields, "answer", lambda n: _text(ctx, n, "faq answer", lang0))
    if not ask or answer is None:
        return None
    return FaqEntry(ask=MappingProxyType(ask), answer=answer)
