"""Shop folder → frozen models, with every error pointing at FILE:LINE:COL.

Merchants edit YAML by hand, so the loader's job is mostly to explain mistakes well: it
reads the YAML *node graph* (``yaml.compose``), never plain ``safe_load``, so each value
keeps its position; it keeps going after an error so one ``haat check`` shows them all;
and it reads prices from the node's raw text so a YAML number never passes through float.

A shop folder holds ``shop.yaml``, ``catalog.yaml`` and optionally ``nlu.yml``; a folder of
such folders is a multi-shop deployment. :class:`ShopSource` re-reads them when they change
and keeps the last good shops when an edit is invalid.
"""

from __future__ import annotations

import copyreg
import difflib
import io
import os
import pickle
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from catalog.cart import MAX_QUANTITY
from catalog.models import (
    LANGUAGES,
    LATE_PAYMENT_POLICIES,
    OVERPAYMENT_POLICIES,
    PAYMENT_METHODS,
    PAYMENT_PROVIDERS,
    WEEKDAYS,
    Catalog,
    Category,
    Delivery,
    FaqEntry,
    OpeningHours,
    Option,
    Payments,
    Product,
    Shop,
    Text,
    UpiPayee,
)
from catalog.money import ISO_CODES, Money, MoneyError, asset_token, is_currency

SHOP_FILE = "shop.yaml"
CATALOG_FILE = "catalog.yaml"
NLU_FILE = "nlu.yml"
_WATCHED = (SHOP_FILE, CATALOG_FILE, NLU_FILE)

# The intents of DESIGN 1.6 and product_info (mirrors bot.nlu.base.INTENTS; catalog may
# not import bot).
INTENTS: tuple[str, ...] = (
    "greet", "goodbye", "thanks", "affirm", "deny", "browse_catalog", "search_product",
    "product_price", "product_info", "add_to_cart", "remove_from_cart", "view_cart",
    "checkout", "pay",
    "order_status", "cancel_order", "business_hours", "delivery_info", "human_handoff",
    "tip", "change_language", "out_of_scope",
)

SKU_RE = re.compile(r"^[A-Za-z0-9_.-]{1,35}$")
VPA_RE = re.compile(r"^[A-Za-z0-9.\-_]{2,256}@[A-Za-z]{2,64}$")
PHONE_RE = re.compile(r"^\+[1-9]\d{7,14}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TEMPLATE_RE = re.compile(r"^[a-z0-9_]{1,512}$")
_MCC_RE = re.compile(r"^\d{4}$")
_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_ANNOTATION_RE = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_TRUE = frozenset({"true", "yes", "on", "y"})
_FALSE = frozenset({"false", "no", "off", "n"})

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

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
T = TypeVar("T")


# --------------------------------------------------------------------------------------
# errors


@dataclass(frozen=True, slots=True)
class LoadError:
    """One problem in a shop file, located 1-based; ``severity`` is error or warning."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.column}: {prefix}{self.message}"


class ShopError(Exception):
    """A shop folder that cannot be served; ``errors`` lists every problem found."""

    def __init__(self, errors: list[LoadError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def _sort(errors: list[LoadError]) -> list[LoadError]:
    """Per folder: shop.yaml, then catalog.yaml, then nlu.yml, each top to bottom."""

    def key(e: LoadError) -> tuple[str, int, int, int]:
        path = Path(e.file)
        rank = _WATCHED.index(path.name) if path.name in _WATCHED else len(_WATCHED)
        return str(path.parent), rank, e.line, e.column

    return sorted(errors, key=key)


def _hint(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class _Ctx:
    """Collects the errors and warnings of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[LoadError] = []
        self.warnings: list[LoadError] = []

    def error(self, node: Node | None, message: str) -> None:
        line, col = _pos(node)
        self.errors.append(LoadError(self.file, line, col, message))

    def warn(self, node: Node | None, message: str) -> None:
        line, col = _pos(node)
        self.warnings.append(LoadError(self.file, line, col, message, "warning"))


def _pos(node: Node | None) -> tuple[int, int]:
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


# --------------------------------------------------------------------------------------
# node readers: each reports its own error and returns None on a bad value


def _compose(ctx: _Ctx, text: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}: {problem}"
        ctx.errors.append(LoadError(ctx.file, line, col, f"YAML syntax error: {problem}"))
    except yaml.YAMLError as exc:
        ctx.errors.append(LoadError(ctx.file, 1, 1, f"YAML error: {exc}"))
    return None


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "empty"
    return f"{node.value!r}"


def _mapping(
    ctx: _Ctx,
    node: Node,
    where: str,
    allowed: Mapping[str, bool],
) -> dict[str, tuple[Node, Node]] | None:
    """A mapping with known keys (name → required); unknown keys get a did-you-mean hint."""
    if not isinstance(node, MappingNode):
        ctx.error(node, f"{where} must be a mapping of keys, got {_kind(node)}")
        return None
    out: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            ctx.error(key_node, f"{where}: keys must be plain words")
            continue
        key = str(key_node.value)
        if key in out:
            first = out[key][0].start_mark.line + 1
            ctx.error(key_node, f"duplicate key {key!r} in {where} (first on line {first})")
            continue
        if key not in allowed:
            ctx.error(key_node, f"unknown key {key!r} in {where}{_hint(key, allowed)}")
            continue
        out[key] = (key_node, value_node)
    for key, required in allowed.items():
        if required and key not in out:
            ctx.error(node, f"{where} is missing required key {key!r}")
    return out


def _free_mapping(ctx: _Ctx, node: Node, where: str) -> list[tuple[str, Node, Node]] | None:
    """A mapping whose keys are the merchant's own (reply keys, languages, days)."""
    if not isinstance(node, MappingNode):
        ctx.error(node, f"{where} must be a mapping, got {_kind(node)}")
        return None
    seen: dict[str, int] = {}
    out: list[tuple[str, Node, Node]] = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL:
            ctx.error(key_node, f"{where}: keys must be plain words")
            continue
        key = str(key_node.value)
        if key in seen:
            ctx.error(key_node, f"duplicate key {key!r} in {where} (first on line {seen[key]})")
            continue
        seen[key] = key_node.start_mark.line + 1
        out.append((key, key_node, value_node))
    return out


def _scalar_text(ctx: _Ctx, node: Node, what: str) -> str | None:
    """Any non-empty scalar, as written (so ``phone: +91…`` unquoted still reads right)."""
    if not isinstance(node, ScalarNode):
        ctx.error(node, f"{what} must be text, got {_kind(node)}")
        return None
    if node.tag == _NULL or not str(node.value).strip():
        ctx.error(node, f"{what} must not be empty")
        return None
    return str(node.value).strip()


def _int(ctx: _Ctx, node: Node, what: str, minimum: int = 0) -> int | None:
    if not isinstance(node, ScalarNode) or node.tag not in (_INT, _STR):
        ctx.error(node, f"{what} must be a whole number, got {_kind(node)}")
        return None
    raw = str(node.value).replace("_", "").strip()
    if not re.fullmatch(r"[+-]?\d+", raw):
        ctx.error(node, f"{what} must be a whole number, got {node.value!r}")
        return None
    value = int(raw)
    if value < minimum:
        if minimum == 0:
            ctx.error(node, f"{what} must not be negative, got {value}")
        else:
            ctx.error(node, f"{what} must be at least {minimum}, got {value}")
        return None
    return value


def _bool(ctx: _Ctx, node: Node, what: str) -> bool | None:
    raw = str(node.value).lower() if isinstance(node, ScalarNode) else ""
    if isinstance(node, ScalarNode) and node.tag in (_BOOL, _STR):
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
    ctx.error(node, f"{what} must be true or false, got {_kind(node)}")
    return None


def _money(ctx: _Ctx, node: Node, currency: str | None, what: str) -> Money | None:
    """A price in major units, read from the raw YAML text: never through float."""
    if not isinstance(node, ScalarNode) or node.tag not in (_STR, _INT, _FLOAT):
        ctx.error(node, f"{what} must be an amount like \"149.50\", got {_kind(node)}")
        return None
    if currency is None:  # the currency itself is wrong; that error is reported already
        return None
    try:
        money = Money.parse(str(node.value), currency)
    except MoneyError as exc:
        ctx.error(node, f"{what}: {exc}")
        return None
    if money.is_negative:
        ctx.error(node, f"{what} must not be negative, got {node.value}")
        return None
    return money


def _text(ctx: _Ctx, node: Node, what: str, default_lang: str) -> Text | None:
    """A string, or a mapping of language code → string."""
    if isinstance(node, ScalarNode):
        value = _scalar_text(ctx, node, what)
        return None if value is None else Text.of(value, default_lang)
    items = _free_mapping(ctx, node, what)
    if items is None:
        return None
    by_lang: dict[str, str] = {}
    for lang, key_node, value_node in items:
        if lang not in LANGUAGES:
            tip = f"use one of {', '.join(LANGUAGES)}"
            if " " in lang or (isinstance(value_node, ScalarNode) and value_node.tag == _NULL):
                tip = "a comma inside {...} splits the text: put the text in quotes"
            ctx.error(
                key_node,
                f"unknown language code {lang!r} in {what}{_hint(lang, LANGUAGES)}; {tip}",
            )
            continue
        value = _scalar_text(ctx, value_node, f"{what}.{lang}")
        if value is not None:
            by_lang[lang] = value
    if not items:
        ctx.error(node, f"{what} must have at least one language")
        return None
    return Text(MappingProxyType(by_lang)) if by_lang else None


def _str_list(ctx: _Ctx, node: Node, what: str, single_ok: bool = True) -> list[tuple[str, Node]]:
    """A list of strings (or one string where ``single_ok``), each with its node."""
    if isinstance(node, ScalarNode) and single_ok and node.tag != _NULL:
        value = _scalar_text(ctx, node, what)
        return [] if value is None else [(value, node)]
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{what} must be a list, got {_kind(node)}")
        return []
    out: list[tuple[str, Node]] = []
    for item in node.value:
        value = _scalar_text(ctx, item, f"each item of {what}")
        if value is not None:
            out.append((value, item))
    return out


def _seq(ctx: _Ctx, node: Node, what: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{what} must be a list, got {_kind(node)}")
        return []
    return list(node.value)


def _peek(node: Node, key: str) -> str | None:
    """A scalar value by key without reporting anything: labels for error messages."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key and isinstance(v, ScalarNode):
                return str(v.value) or None
    return None


def _get(
    fields: Mapping[str, tuple[Node, Node]], key: str, read: Callable[[Node], T | None]
) -> T | None:
    pair = fields.get(key)
    return None if pair is None else read(pair[1])


# --------------------------------------------------------------------------------------
# shop.yaml

_SHOP_KEYS = {
    "name": True, "phone": True, "currency": True, "timezone": True, "languages": False,
    "hours": False, "owners": False, "delivery": False, "payments": False, "replies": False,
    "faq": False, "closed_for_orders": False, "handoff_quiet_minutes": False,
    "max_quantity": False, "templates": False, "assets": False,
}
_ASSET_KEYS = {"exponent": True}
_PAYMENT_KEYS = {
    "methods": False, "provider": False, "upi": False, "link_expiry_minutes": False,
    "collect_expiry_minutes": False, "tips": False, "late_payment": False,
    "overpayment": False,
}
_UPI_KEYS = {"vpa": True, "payee_name": False, "mcc": False}
_DELIVERY_KEYS = {"fee": True, "free_above": False, "areas": False}
_FAQ_KEYS = {"ask": True, "answer": True}
_CATALOG_KEYS = {"categories": False, "products": True}
_CATEGORY_KEYS = {"id": True, "name": True}
_PRODUCT_KEYS = {
    "sku": True, "category": True, "name": True, "aliases": False, "description": False,
    "price": True, "unit": False, "stock": False, "image": False, "options": False,
}
_OPTION_KEYS = {"sku": True, "name": True, "price": True, "stock": False}


@dataclass(slots=True)
class _ShopParts:
    """What shop.yaml yields before the catalog is attached."""

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
    templates: Mapping[str, str] | None = None
    assets: Mapping[str, int] | None = None


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


def _choice(ctx: _Ctx, fields: Mapping[str, tuple[Node, Node]], key: str,
            allowed: Sequence[str], default: str) -> str:
    """``payments.<key>``: one of ``allowed`` (an error names them), else ``default``."""
    if (pair := fields.get(key)) is None:
        return default
    policy = _scalar_text(ctx, pair[1], f"payments.{key}")
    if policy is not None and policy not in allowed:
        ctx.error(pair[1], f"payments.{key} must be one of {', '.join(allowed)}, "
                           f"got {policy!r}")
        return default
    return default if policy is None else policy


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


def _parse_shop(ctx: _Ctx, root: Node) -> _ShopParts:
    parts = _ShopParts()
    fields = _mapping(ctx, root, "shop.yaml", _SHOP_KEYS)
    if fields is None:
        return parts

    if (pair := fields.get("languages")) is not None:
        langs: list[str] = []
        for lang, node in _str_list(ctx, pair[1], "languages"):
            if lang not in LANGUAGES:
                ctx.error(
                    node,
                    f"language {lang!r} is not supported{_hint(lang, LANGUAGES)}; "
                    f"use any of {', '.join(LANGUAGES)}",
                )
            elif lang in langs:
                ctx.error(node, f"language {lang!r} is listed twice")
            else:
                langs.append(lang)
        if langs:
            parts.languages = tuple(langs)
        elif isinstance(pair[1], SequenceNode) and not pair[1].value:
            ctx.error(pair[1], "languages must list at least one language")
    lang0 = parts.languages[0]

    parts.name = _get(fields, "name", lambda n: _text(ctx, n, "name", lang0))
    parts.phone = _get(fields, "phone", lambda n: _phone(ctx, n, "phone"))

    if (pair := fields.get("assets")) is not None:
        parts.assets = _assets(ctx, pair[1])
    if (pair := fields.get("currency")) is not None:
        code = _scalar_text(ctx, pair[1], "currency")
        assets = parts.assets or {}
        if code is not None:
            if code in assets:
                parts.currency = asset_token(code, assets[code])  # e.g. ETH/18
            elif code in ISO_CODES:
                parts.currency = code
            else:
                ctx.error(
                    pair[1],
                    f"unknown currency {code!r}: use an ISO 4217 code such as INR, or "
                    f"declare it under assets: with its exponent ({code}: {{exponent: 18}})"
                    + (f" (did you mean {code.upper()!r}?)" if is_currency(code) else ""),
                )

    if (pair := fields.get("timezone")) is not None:
        tz = _scalar_text(ctx, pair[1], "timezone")
        if tz is not None:
            if _timezone_ok(tz):
                parts.timezone = tz
            else:
                ctx.error(pair[1], f"unknown timezone {tz!r}: use a name like Asia/Kolkata")

    if (pair := fields.get("hours")) is not None:
        parts.hours = _hours(ctx, pair[1])

    if (pair := fields.get("owners")) is not None:
        owners: list[str] = []
        for _raw, node in _str_list(ctx, pair[1], "owners"):
            phone = _phone(ctx, node, "owner")
            if phone is not None:
                owners.append(phone)
        parts.owners = tuple(owners)

    if (pair := fields.get("delivery")) is not None:
        parts.delivery = _delivery(ctx, pair[1], parts.currency)

    if (pair := fields.get("payments")) is not None:
        parts.payments = _payments(ctx, pair[1], parts)

    if (pair := fields.get("replies")) is not None:
        replies: dict[str, Text] = {}
        for key, key_node, value_node in _free_mapping(ctx, pair[1], "replies") or []:
            if not _KEY_RE.match(key):
                ctx.error(key_node, f"reply key {key!r} must be lower_case_words")
                continue
            text = _text(ctx, value_node, f"replies.{key}", lang0)
            if text is not None:
                replies[key] = text
        parts.replies = MappingProxyType(replies)

    if (pair := fields.get("faq")) is not None:
        parts.faq = tuple(
            entry
            for item in _seq(ctx, pair[1], "faq")
            if (entry := _faq(ctx, item, lang0)) is not None
        )

    if (pair := fields.get("closed_for_orders")) is not None:
        closed = _bool(ctx, pair[1], "closed_for_orders")
        parts.closed_for_orders = bool(closed)
    if (pair := fields.get("handoff_quiet_minutes")) is not None:
        minutes = _int(ctx, pair[1], "handoff_quiet_minutes")
        if minutes is not None:
            parts.handoff_quiet_minutes = minutes
    if (pair := fields.get("max_quantity")) is not None:
        cap = _int(ctx, pair[1], "max_quantity", minimum=1)
        if cap is not None:
            if cap <= MAX_QUANTITY:
                parts.max_quantity = cap
            else:
                ctx.error(pair[1], f"max_quantity must be between 1 and {MAX_QUANTITY} "
                                   f"(the most of one item a cart line holds), got {cap}")

    if (pair := fields.get("templates")) is not None:
        templates: dict[str, str] = {}
        for key, key_node, value_node in _free_mapping(ctx, pair[1], "templates") or []:
            if not _KEY_RE.match(key):
                ctx.error(key_node, f"template key {key!r} must be lower_case_words")
                continue
            name = _scalar_text(ctx, value_node, f"templates.{key}")
            if name is None:
                continue
            if not _TEMPLATE_RE.match(name):
                ctx.error(
                    value_node,
                    f"template name {name!r} must be lower-case letters, digits and _ "
                    "(as approved in WhatsApp Manager)",
                )
                continue
            templates[key] = name
        parts.templates = MappingProxyType(templates)
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
        for method, mnode in _str_list(ctx, pair[1], "payments.methods"):
            if method not in PAYMENT_METHODS:
                ctx.error(
                    mnode,
                    f"unknown payment method {method!r}{_hint(method, PAYMENT_METHODS)}; "
                    f"use any of {', '.join(PAYMENT_METHODS)}",
                )
            elif method in methods:
                ctx.error(mnode, f"payment method {method!r} is listed twice")
            else:
                methods.append(method)
                if method == "collect":
                    ctx.warn(mnode, _COLLECT_WARNING)
        if isinstance(pair[1], SequenceNode) and not pair[1].value:
            ctx.error(pair[1], "payments.methods must list at least one method")
    provider = defaults.provider
    provider_node: Node | None = None
    if (pair := fields.get("provider")) is not None:
        provider_node = pair[1]
        name = _scalar_text(ctx, pair[1], "payments.provider")
        if name is not None and name not in PAYMENT_PROVIDERS:
            ctx.error(
                pair[1],
                f"unknown payment provider {name!r}{_hint(name, PAYMENT_PROVIDERS)}; "
                f"use one of {', '.join(PAYMENT_PROVIDERS)}",
            )
        elif name is not None:
            provider = name
    upi: UpiPayee | None = None
    if (pair := fields.get("upi")) is not None:
        upi = _upi(ctx, pair[1], parts)
    if provider == "upi_intent" and upi is None and "upi" not in fields:
        ctx.error(provider_node, "provider upi_intent needs payments.upi with your vpa")
    if provider == "upi_intent" and "collect" in methods:
        ctx.error(
            methods_node,
            "provider upi_intent cannot send collect requests: remove 'collect' or use "
            "razorpay",
        )
    link = _get(fields, "link_expiry_minutes", lambda n: _int(ctx, n, "link_expiry_minutes", 1))
    collect = _get(
        fields, "collect_expiry_minutes", lambda n: _int(ctx, n, "collect_expiry_minutes", 1)
    )
    tips = _get(fields, "tips", lambda n: _bool(ctx, n, "tips"))
    late = _choice(ctx, fields, "late_payment", LATE_PAYMENT_POLICIES, defaults.late_payment)
    over = _choice(ctx, fields, "overpayment", OVERPAYMENT_POLICIES, defaults.overpayment)
    return Payments(
        methods=tuple(methods) or defaults.methods,
        provider=provider,
        upi=upi,
        link_expiry_minutes=link if link is not None else defaults.link_expiry_minutes,
        collect_expiry_minutes=(
            collect if collect is not None else defaults.collect_expiry_minutes
        ),
        tips=bool(tips) if tips is not None else defaults.tips,
        late_payment=late,
        overpayment=over,
    )


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


# --------------------------------------------------------------------------------------
# catalog.yaml


def _parse_catalog(ctx: _Ctx, root: Node, currency: str | None, lang0: str) -> Catalog | None:
    fields = _mapping(ctx, root, "catalog.yaml", _CATALOG_KEYS)
    if fields is None:
        return None
    categories: list[Category] = []
    category_lines: dict[str, int] = {}
    if (pair := fields.get("categories")) is not None:
        for item in _seq(ctx, pair[1], "categories"):
            cfields = _mapping(ctx, item, "category", _CATEGORY_KEYS)
            if cfields is None:
                continue
            cid: str | None = None
            if (cpair := cfields.get("id")) is not None:
                cid = _scalar_text(ctx, cpair[1], "category id")
                if cid is not None and not _ID_RE.match(cid):
                    ctx.error(cpair[1], f"category id {cid!r} may use letters, digits, _ and -")
                    cid = None
                elif cid is not None and cid in category_lines:
                    ctx.error(
                        cpair[1],
                        f"duplicate category id {cid!r} (first on line {category_lines[cid]})",
                    )
                    cid = None
            name = _get(cfields, "name", lambda n: _text(ctx, n, "category name", lang0))
            if cid is not None:
                category_lines[cid] = cpair[1].start_mark.line + 1 if cpair else 0
                if name is not None:
                    categories.append(Category(id=cid, name=name))

    implicit = "categories" not in fields  # then each product's category names one
    products: list[Product] = []
    sku_lines: dict[str, int] = {}
    product_nodes: list[Node] = []
    if (pair := fields.get("products")) is not None:
        node = pair[1]
        if (isinstance(node, ScalarNode) and node.tag == _NULL) or (
            isinstance(node, SequenceNode) and not node.value
        ):
            ctx.error(node, "the catalog is empty: add at least one product")
        else:
            product_nodes = _seq(ctx, node, "products")
    for item in product_nodes:
        known = None if implicit else category_lines
        product = _product(
            ctx, item, currency=currency, lang0=lang0, categories=known, sku_lines=sku_lines
        )
        if product is not None:
            products.append(product)
            if implicit and product.category not in category_lines:
                category_lines[product.category] = 0
                title = product.category.replace("_", " ").replace("-", " ").title()
                categories.append(Category(id=product.category, name=Text.of(title, lang0)))
    return Catalog(categories=tuple(categories), products=tuple(products))


def _sku(ctx: _Ctx, node: Node, sku_lines: dict[str, int]) -> str | None:
    sku = _scalar_text(ctx, node, "sku")
    if sku is None:
        return None
    if not SKU_RE.match(sku):
        ctx.error(
            node,
            f"bad sku {sku!r}: use 1-35 letters, digits, '.', '_' or '-' (no spaces)",
        )
        return None
    if sku in sku_lines:
        ctx.error(node, f"duplicate sku {sku!r} (first on line {sku_lines[sku]})")
        return None
    sku_lines[sku] = node.start_mark.line + 1
    return sku


def _product(
    ctx: _Ctx,
    node: Node,
    *,
    currency: str | None,
    lang0: str,
    categories: Mapping[str, int] | None,
    sku_lines: dict[str, int],
) -> Product | None:
    peeked = _peek(node, "sku")
    fields = _mapping(ctx, node, f"product {peeked}" if peeked else "product", _PRODUCT_KEYS)
    if fields is None:
        return None
    sku = _get(fields, "sku", lambda n: _sku(ctx, n, sku_lines))
    label = f"product {sku or peeked or ''}".strip()
    category: str | None = None
    if (pair := fields.get("category")) is not None:
        category = _scalar_text(ctx, pair[1], f"{label} category")
        if category is not None and categories is not None and category not in categories:
            known = ", ".join(categories) or "none defined"
            ctx.error(
                pair[1],
                f"unknown category {category!r}{_hint(category, categories)}; "
                f"categories are: {known}",
            )
            category = None
    name = _get(fields, "name", lambda n: _text(ctx, n, f"{label} name", lang0))
    price = _get(fields, "price", lambda n: _money(ctx, n, currency, f"{label} price"))
    aliases = tuple(
        a for a, _ in _str_list(ctx, fields["aliases"][1], f"{label} aliases")
    ) if "aliases" in fields else ()
    description = _get(
        fields, "description", lambda n: _text(ctx, n, f"{label} description", lang0)
    )
    unit = _get(fields, "unit", lambda n: _scalar_text(ctx, n, f"{label} unit"))
    stock = _get(fields, "stock", lambda n: _int(ctx, n, f"{label} stock"))
    image: str | None = None
    if (pair := fields.get("image")) is not None:
        image = _scalar_text(ctx, pair[1], f"{label} image")
        if image is not None and not image.startswith(("https://", "http://")):
            ctx.error(pair[1], f"{label} image must be an http(s) URL, got {image!r}")
            image = None
    options: list[Option] = []
    if (pair := fields.get("options")) is not None:
        for item in _seq(ctx, pair[1], f"{label} options"):
            option = _option(
                ctx, item, currency=currency, lang0=lang0, label=label, sku_lines=sku_lines
            )
            if option is not None:
                options.append(option)
    if sku is None or category is None or name is None or price is None:
        return None
    return Product(
        sku=sku, category=category, name=name, price=price, aliases=aliases,
        description=description, unit=unit, stock=stock, image=image, options=tuple(options),
    )


def _option(
    ctx: _Ctx, node: Node, *, currency: str | None, lang0: str, label: str,
    sku_lines: dict[str, int],
) -> Option | None:
    peeked = _peek(node, "sku")
    fields = _mapping(ctx, node, f"option {peeked}" if peeked else f"{label} option", _OPTION_KEYS)
    if fields is None:
        return None
    sku = _get(fields, "sku", lambda n: _sku(ctx, n, sku_lines))
    olabel = f"option {sku}" if sku else f"{label} option"
    name = _get(fields, "name", lambda n: _text(ctx, n, f"{olabel} name", lang0))
    price = _get(fields, "price", lambda n: _money(ctx, n, currency, f"{olabel} price"))
    stock = _get(fields, "stock", lambda n: _int(ctx, n, f"{olabel} stock"))
    if sku is None or name is None or price is None:
        return None
    return Option(sku=sku, name=name, price=price, stock=stock)


# --------------------------------------------------------------------------------------
# nlu.yml (Rasa 3.x NLU format)

_NLU_KEYS = {"version": False, "nlu": False}
_NLU_OTHER_ITEMS = ("synonym", "regex", "lookup")


def strip_annotations(example: str) -> str:
    """``I want [2](quantity) [chai](product)`` → ``I want 2 chai``."""
    return _ANNOTATION_RE.sub(r"\1", example).strip()


def _parse_nlu(ctx: _Ctx, root: Node) -> dict[str, tuple[str, ...]]:
    fields = _mapping(ctx, root, "nlu.yml", _NLU_KEYS)
    examples: dict[str, list[str]] = {}
    if not fields or "nlu" not in fields:
        return {}
    for item in _seq(ctx, fields["nlu"][1], "nlu"):
        if isinstance(item, MappingNode) and any(
            isinstance(k, ScalarNode) and k.value in _NLU_OTHER_ITEMS for k, _ in item.value
        ):
            continue  # synonyms, regexes and lookups are Rasa's business, not ours
        ifields = _mapping(ctx, item, "nlu item", {"intent": True, "examples": True,
                                                    "metadata": False})
        if not ifields or "intent" not in ifields or "examples" not in ifields:
            continue
        intent_node = ifields["intent"][1]
        intent = _scalar_text(ctx, intent_node, "intent")
        if intent is None:
            continue
        if intent not in INTENTS:
            ctx.error(intent_node, f"unknown intent {intent!r}{_hint(intent, INTENTS)}")
            continue
        ex_node = ifields["examples"][1]
        if not isinstance(ex_node, ScalarNode) or ex_node.tag == _NULL:
            ctx.error(ex_node, "examples must be a block of lines starting with '- '")
            continue
        first_line = ex_node.start_mark.line + 1 + (1 if ex_node.style in ("|", ">") else 0)
        found = examples.setdefault(intent, [])
        for offset, line in enumerate(str(ex_node.value).splitlines()):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                ctx.errors.append(LoadError(
                    ctx.file, first_line + offset, ex_node.start_mark.column + 1,
                    f"example {stripped!r} must start with '- '",
                ))
                continue
            text = strip_annotations(stripped[1:].strip())
            if text and text not in found:
                found.append(text)
    return {k: tuple(v) for k, v in examples.items() if v}


# --------------------------------------------------------------------------------------
# folders


def _read(ctx: _Ctx, path: Path) -> Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        ctx.error(None, f"file not found: {path}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        ctx.error(None, f"cannot read {path}: {exc}")
        return None
    root = _compose(ctx, text)
    if root is None and not ctx.errors:
        ctx.error(None, "the file is empty")
    return root


def _load_one(
    folder: Path, shop_id: str | None
) -> tuple[Shop | None, list[LoadError], list[LoadError]]:
    shop_ctx = _Ctx(str(folder / SHOP_FILE))
    catalog_ctx = _Ctx(str(folder / CATALOG_FILE))
    nlu_ctx = _Ctx(str(folder / NLU_FILE))
    parts = _ShopParts()
    if (root := _read(shop_ctx, folder / SHOP_FILE)) is not None:
        parts = _parse_shop(shop_ctx, root)
    catalog: Catalog | None = None
    if (root := _read(catalog_ctx, folder / CATALOG_FILE)) is not None:
        catalog = _parse_catalog(catalog_ctx, root, parts.currency, parts.languages[0])
    nlu: dict[str, tuple[str, ...]] = {}
    if (folder / NLU_FILE).exists() and (root := _read(nlu_ctx, folder / NLU_FILE)) is not None:
        nlu = _parse_nlu(nlu_ctx, root)
    errors = _sort(shop_ctx.errors + catalog_ctx.errors + nlu_ctx.errors)
    warnings = _sort(shop_ctx.warnings + catalog_ctx.warnings + nlu_ctx.warnings)
    if errors:
        return None, errors, warnings
    if not (parts.name and parts.phone and parts.currency and parts.timezone and catalog):
        # every reader reports its own failure; this guards a gap rather than trusting it
        return None, [LoadError(shop_ctx.file, 1, 1, "incomplete shop: see the guide")], warnings
    shop = Shop(
        id=shop_id or folder.resolve().name,
        name=parts.name,
        phone=parts.phone,
        currency=parts.currency,
        timezone=parts.timezone,
        languages=parts.languages,
        hours=parts.hours or OpeningHours.always(),
        owners=parts.owners,
        payments=parts.payments or Payments(),
        catalog=catalog,
        delivery=parts.delivery,
        replies=parts.replies or MappingProxyType({}),
        faq=parts.faq,
        closed_for_orders=parts.closed_for_orders,
        handoff_quiet_minutes=parts.handoff_quiet_minutes,
        max_quantity=parts.max_quantity,
        templates=parts.templates or MappingProxyType({}),
        nlu_examples=MappingProxyType(nlu),
        assets=MappingProxyType(dict(parts.assets or {})),
    )
    return shop, errors, warnings


def load_shop(folder: Path, shop_id: str | None = None) -> Shop:
    """Load one shop folder; raises :class:`ShopError` listing every problem."""
    shop, errors, _warnings = _load_one(Path(folder), shop_id)
    if shop is None:
        raise ShopError(errors)
    return shop


def is_shop_folder(path: Path) -> bool:
    return (Path(path) / SHOP_FILE).is_file()


def shop_folders(path: Path) -> list[Path]:
    """The shop folders under ``path``: itself, or each subfolder holding shop.yaml."""
    path = Path(path)
    if is_shop_folder(path):
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir() and is_shop_folder(p))


def _load_many(path: Path) -> tuple[dict[str, Shop], list[LoadError], list[LoadError]]:
    path = Path(path)
    folders = shop_folders(path)
    if not folders:
        missing = LoadError(
            str(path / SHOP_FILE), 1, 1,
            f"no {SHOP_FILE} in {path} (nor in any folder inside it)",
        )
        return {}, [missing], []
    shops: dict[str, Shop] = {}
    errors: list[LoadError] = []
    warnings: list[LoadError] = []
    single = len(folders) == 1 and folders[0] == path
    for folder in folders:
        shop, errs, warns = _load_one(folder, None if single else folder.name)
        errors += errs
        warnings += warns
        if shop is not None:
            shop_id, frozen = shop.id, _freeze(shop)
            shop = None  # the original goes first, so the copy can reuse its memory
            shops[shop_id] = _thaw(frozen)
    errors += _phone_clashes(shops, path)
    return shops, errors, warnings


def _proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


def _reduce_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return _proxy, (dict(proxy),)


def _freeze(shop: Shop) -> bytes:
    """A loaded shop as bytes, to be rebuilt by :func:`_thaw` once the original is gone.

    Reading the YAML node graph (positions for every value) leaves its garbage spread
    between the objects we keep, and the allocator can hand back none of those half-used
    blocks. Dropping the original and rebuilding it in one pass packs it densely: a fresh
    process that loaded a generated 10,000-product catalog (``bench.growth.write_shop``) held
    64 MB of RSS through :func:`load_shop`, which keeps the original, and 40 MB through
    :func:`load_shops`, which rebuilds it (Debian's Python 3.11, 2026-11-22). A private
    pickler, so no global pickling rule changes.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_proxy}
    pickler.dump(shop)
    return buffer.getvalue()


def _thaw(frozen: bytes) -> Shop:
    shop: Shop = pickle.loads(frozen)  # noqa: S301 (bytes _freeze just wrote)
    return shop


def _phone_clashes(shops: Mapping[str, Shop], root: Path) -> list[LoadError]:
    """Two shops with one business number could not be told apart on inbound messages."""
    seen: dict[str, str] = {}
    out: list[LoadError] = []
    for shop in shops.values():
        digits = phone_digits(shop.phone)
        if digits in seen:
            out.append(LoadError(
                str(root / shop.id / SHOP_FILE), 1, 1,
                f"phone {shop.phone} is also the phone of shop {seen[digits]!r}",
            ))
        else:
            seen[digits] = shop.id
    return out


def load_shops(path: Path) -> dict[str, Shop]:
    """One shop (``path`` holds shop.yaml) or many (each subfolder), keyed by shop id."""
    shops, errors, _warnings = _load_many(Path(path))
    if errors:
        raise ShopError(_sort(errors))
    return shops


def check_shop_with_warnings(folder: Path) -> tuple[list[LoadError], list[LoadError]]:
    """Errors and warnings for a shop folder or a folder of shops (``haat check``)."""
    _shops, errors, warnings = _load_many(Path(folder))
    return _sort(errors), _sort(warnings)


def check_shop(folder: Path) -> list[LoadError]:
    """Only the errors: an empty list means the folder would load."""
    return check_shop_with_warnings(folder)[0]


def phone_digits(number: str) -> str:
    """``whatsapp:+91 98000-00000`` → ``919800000000``."""
    text = number.strip()
    if text.lower().startswith("whatsapp:"):
        text = text[9:]
    return "".join(ch for ch in text if ch.isdigit())


def shop_for_business(shops: Mapping[str, Shop], business_number: str | None) -> Shop | None:
    """The shop whose phone is the number a message was sent to.

    With no number at all (a simulator post without ``to``) a single-shop server answers
    as its only shop; a number that matches no shop gets None.
    """
    if not business_number:
        return next(iter(shops.values())) if len(shops) == 1 else None
    wanted = phone_digits(business_number)
    for shop in shops.values():
        if phone_digits(shop.phone) == wanted:
            return shop
    return None


# --------------------------------------------------------------------------------------
# live reload

_Signature = tuple[tuple[str, int, int], ...]


def _signature(folder: Path) -> _Signature:
    out: list[tuple[str, int, int]] = []
    for name in _WATCHED:
        try:
            st = os.stat(folder / name)
        except OSError:
            out.append((name, -1, -1))
        else:
            out.append((name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class ShopSource:
    """The current good shops of a folder, re-read when a YAML file changes.

    ``poll()`` costs a few ``stat`` calls when nothing changed. Each shop folder is
    reloaded on its own: a broken edit to one shop keeps that shop's last good version
    serving and leaves the others alone. ``version`` grows on every successful change so
    callers can rebuild caches (search indexes) cheaply.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._multi = not is_shop_folder(self.path)
        self._sigs = self._scan()
        shops, errors, warnings = _load_many(self.path)
        if errors:
            raise ShopError(_sort(errors))
        self.shops: dict[str, Shop] = shops
        self.warnings: list[LoadError] = warnings
        self.version = 0

    def _scan(self) -> dict[Path, _Signature]:
        return {folder: _signature(folder) for folder in shop_folders(self.path)}

    def poll(self) -> list[LoadError] | None:
        """None when nothing changed; else the errors of the reload ([] = all good)."""
        sigs = self._scan()
        if sigs == self._sigs:
            return None
        changed = [f for f, sig in sigs.items() if self._sigs.get(f) != sig]
        removed = [f for f in self._sigs if f not in sigs]
        self._sigs = sigs
        shops = dict(self.shops)
        errors: list[LoadError] = []
        for folder in removed:
            shops.pop(self._id(folder), None)
        reloaded = 0
        for folder in changed:
            shop, errs, _warns = _load_one(folder, self._id(folder))
            if shop is None:
                errors += errs  # keep the last good version of this shop
            else:
                shops[shop.id] = shop
                reloaded += 1
        clashes = _phone_clashes(shops, self.path)
        if clashes:
            return _sort(errors + clashes)
        if reloaded or removed:  # something new to serve
            self.shops = shops
            self.version += 1
        return _sort(errors)

    def _id(self, folder: Path) -> str:
        return folder.name if self._multi else self.path.resolve().name
