"""shop.yaml ``invoice:`` and the catalog's ``hsn`` / ``gst_rate``: who the receipt says
sold, and the tax on each line (docs/MERCHANT_GUIDE.md "Receipts and invoices")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from yaml.nodes import Node

from catalog.gst import STATES, gstin_problem, state_code
from catalog.models import InvoiceProfile, Product
from catalog.nodes import LoadError, _bool, _Ctx, _int, _mapping, _pos, _scalar_text

_INVOICE_KEYS = {
    "legal_name": True, "address": True, "gstin": False, "state": False, "prefix": False,
    "gst_rate": False, "delivery_gst_rate": False, "delivery_hsn": False,
    "whole_amounts": False, "year_start_month": False,
}
# the GST rates in force (percent); 40 % from 22 September 2025, 0.25 / 3 for stones and
# gold, 1.5 / 7.5 and the old 12 / 28 for the goods still billed at them
GST_RATES_PERCENT: tuple[str, ...] = (
    "0", "0.1", "0.25", "1", "1.5", "3", "5", "6", "7.5", "12", "18", "28", "40")
GST_RATES_BP: frozenset[int] = frozenset(int(Decimal(r) * 100) for r in GST_RATES_PERCENT)
_HSN = re.compile(r"^\d{4}(\d{2}){0,2}$")
_PREFIX = re.compile(r"^[A-Z0-9]{1,4}$")


def default_prefix(shop_id: str) -> str:
    """The invoice prefix when shop.yaml names none: the shop id's first three letters or
    digits, upper-cased (``mitra-tea`` → ``MIT``)."""
    letters = "".join(ch for ch in shop_id.upper() if ch.isascii() and ch.isalnum())
    return letters[:3] or "INV"


def gst_rate(ctx: _Ctx, node: Node, what: str) -> int | None:
    """A GST rate in percent (``5``, ``18``, ``0.25``) as basis points, one of the rates
    in force."""
    raw = _scalar_text(ctx, node, what)
    if raw is None:
        return None
    try:
        value = Decimal(raw.rstrip("%").strip())
    except InvalidOperation:
        value = Decimal(-1)
    bp = value * 100 if value.is_finite() else Decimal(-1)
    if bp != bp.to_integral_value() or int(bp) not in GST_RATES_BP:
        ctx.error(node, f"{what} {raw!r} is not a GST rate: use one of "
                        f"{', '.join(GST_RATES_PERCENT)} (percent)")
        return None
    return int(bp)


def hsn(ctx: _Ctx, node: Node, what: str) -> str | None:
    """An HSN (goods) or SAC (services) code: 4, 6 or 8 digits."""
    raw = _scalar_text(ctx, node, what)
    if raw is None:
        return None
    if not _HSN.match(raw):
        ctx.error(node, f"{what} {raw!r} must be an HSN or SAC code of 4, 6 or 8 digits")
        return None
    return raw


def parse_invoice(ctx: _Ctx, node: Node, currency: str | None) -> InvoiceProfile | None:
    """``invoice:``; the prefix is left empty when unset (the loader knows the shop id)."""
    fields = _mapping(ctx, node, "invoice", _INVOICE_KEYS)
    if fields is None:
        return None
    text: dict[str, str | None] = {}
    for key in ("legal_name", "address", "gstin", "state", "prefix"):
        pair = fields.get(key)
        text[key] = None if pair is None else _scalar_text(ctx, pair[1], f"invoice.{key}")
    gstin = _gstin(ctx, fields, text["gstin"], currency)
    state = _state(ctx, fields, text["state"], gstin)
    if gstin is not None and state is None:
        state = gstin[:2]
    prefix = text["prefix"] or ""
    if text["prefix"] is not None and not _PREFIX.match(prefix):
        ctx.error(fields["prefix"][1], f"invoice.prefix {prefix!r} must be 1-4 capital "
                                       "letters or digits (the number then fits GST's 16 "
                                       "characters: MTH/2627/000123)")
        prefix = ""
    rates: dict[str, int | None] = {}
    for key in ("gst_rate", "delivery_gst_rate"):
        pair = fields.get(key)
        rates[key] = None if pair is None else gst_rate(ctx, pair[1], f"invoice.{key}")
        if pair is not None and "gstin" not in fields and currency in (None, "INR"):
            ctx.error(pair[1], f"invoice.{key} needs invoice.gstin: a shop not registered "
                               "for GST issues a bill of supply, without tax")
    delivery_hsn = None
    if (pair := fields.get("delivery_hsn")) is not None:
        delivery_hsn = hsn(ctx, pair[1], "invoice.delivery_hsn")
    whole = False
    if (pair := fields.get("whole_amounts")) is not None:
        whole = bool(_bool(ctx, pair[1], "invoice.whole_amounts"))
    month = _year_start_month(ctx, fields)
    if text["legal_name"] is None or text["address"] is None:
        return None
    return InvoiceProfile(
        legal_name=text["legal_name"], address=text["address"], prefix=prefix, gstin=gstin,
        state=state, gst_rate_bp=rates["gst_rate"],
        delivery_gst_rate_bp=rates["delivery_gst_rate"], delivery_hsn=delivery_hsn,
        whole_amounts=whole, year_start_month=month)


_Fields = dict[str, tuple[Node, Node]]


def _gstin(ctx: _Ctx, fields: _Fields, raw: str | None, currency: str | None) -> str | None:
    """``invoice.gstin`` checked, or None (none given, wrong, or a shop not in INR)."""
    if raw is None:
        return None
    gstin = raw.replace(" ", "").upper()
    if (problem := gstin_problem(gstin)) is not None:
        ctx.error(fields["gstin"][1], f"invoice.gstin {raw!r}: {problem}")
        return None
    if currency is not None and currency != "INR":
        # a warning: a copy of an Indian shop moved to another currency still loads
        ctx.warn(fields["gstin"][1], f"invoice.gstin is India's GST number, but this "
                                     f"shop sells in {currency}: it is ignored and "
                                     "receipts carry no GST (GST needs INR)")
        return None
    return gstin


def _state(ctx: _Ctx, fields: _Fields, raw: str | None, gstin: str | None) -> str | None:
    """``invoice.state`` as its GST code, which must be the GSTIN's own."""
    if raw is None:
        return None
    state = state_code(raw)
    if state is None:
        ctx.error(fields["state"][1], f"invoice.state {raw!r} is not an Indian "
                                      "state: use its GST code (19), its name (West "
                                      "Bengal) or abbreviation (WB)")
    elif gstin is not None and gstin[:2] != state:
        ctx.error(fields["state"][1], f"invoice.state is {STATES[state]} ({state}) but "
                                      f"the GSTIN is registered in "
                                      f"{STATES[gstin[:2]]} ({gstin[:2]})")
    return state


def _year_start_month(ctx: _Ctx, fields: _Fields) -> int:
    month = 4
    if (pair := fields.get("year_start_month")) is not None:
        value = _int(ctx, pair[1], "invoice.year_start_month", minimum=1)
        if value is not None and value > 12:
            ctx.error(pair[1], "invoice.year_start_month must be 1 to 12 (India: 4, April; "
                               "Bangladesh: 7, July)")
        elif value is not None:
            month = value
    return month


def finish_invoice(profile: InvoiceProfile, shop_id: str, products: Sequence[Product],
                   file: str, node: Node | None) -> tuple[InvoiceProfile, list[LoadError]]:
    """The cross-file rules: a default prefix, and with a GSTIN a rate for every product."""
    if not profile.prefix:
        profile = replace(profile, prefix=default_prefix(shop_id))
    errors: list[LoadError] = []
    if profile.gstin is not None and profile.gst_rate_bp is None:
        missing = [p.sku for p in products if p.gst_rate_bp is None]
        if missing:
            line, col = _pos(node)
            errors.append(LoadError(
                file, line, col,
                f"invoice.gstin is set, so every line of a tax invoice needs a GST rate: set "
                f"invoice.gst_rate (the default) or gst_rate on {', '.join(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")))
    return profile, errors
