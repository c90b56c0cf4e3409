"""Amounts as people in the shop's country write them on paper: receipts and invoices.

Chat replies keep :meth:`Money.format` (plain Western grouping); a receipt follows the
currency's usual form: South Asian grouping (lakh, crore) for the rupee and the taka
(``₹1,00,000.00``, ``৳12,34,567``), Western grouping elsewhere (``AED 1,250.00``). Digits
stay ASCII in every language: an invoice number and its amounts are copied into accounts.
"""

from __future__ import annotations

from catalog.money import Money, currency_code, exponent

# currencies whose usual written form groups by lakh and crore (2 digits after the first 3)
LAKH_GROUPING: frozenset[str] = frozenset({"INR", "BDT", "NPR", "PKR"})
_SYMBOLS = {"INR": "₹", "BDT": "৳", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _lakh(digits: str) -> str:
    """``1234567`` → ``12,34,567``: the last three, then pairs."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail])


def _western(digits: str) -> str:
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return ",".join([digits, *groups])


def format_usual(amount: Money, *, whole: bool = False) -> str:
    """The amount in its currency's usual written form. ``whole`` drops the decimals of an
    amount that has none (``৳1,250``); an amount with a fraction always keeps them."""
    places = exponent(amount.currency)
    code = currency_code(amount.currency)
    value = abs(amount.minor)
    major, fraction = divmod(value, 10 ** places)
    grouped = (_lakh if code in LAKH_GROUPING else _western)(str(major))
    text = grouped if places == 0 or (whole and fraction == 0) else \
        f"{grouped}.{str(fraction).rjust(places, '0')}"
    sign = "-" if amount.minor < 0 else ""
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code} {text}"
