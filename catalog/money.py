"""Money as an integer count of minor units plus a currency code.

Floats never appear: prices enter as decimal strings (or YAML numbers, read as text) at the
YAML edge, are checked against the currency's ISO 4217 exponent, and from then on every sum
is integer arithmetic. The only decimal string haat ever emits for a machine is the UPI
``am=`` field, built by :meth:`Money.to_decimal_string`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents. Currencies absent here but listed in ISO_CODES use 2.
_EXPONENTS: dict[str, int] = {
    # zero-decimal
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "CLF": 4,
    "UYW": 4,
    # three-decimal
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}

ISO_CODES: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)

# Non-ISO assets (stablecoins and the like) with their own, larger exponents.
_EXTRA_EXPONENTS: dict[str, int] = {"USDC": 6, "USDT": 6, "BTC": 8, "ETH": 18}

_DECIMAL_TEXT = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


class MoneyError(ValueError):
    """A price or amount that cannot be represented exactly in its currency."""


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (INR 2, JPY 0, KWD 3, ETH 18)."""
    code = currency.upper()
    if code in _EXTRA_EXPONENTS:
        return _EXTRA_EXPONENTS[code]
    if code not in ISO_CODES:
        raise MoneyError(f"unknown currency {currency!r}: use an ISO 4217 code such as INR")
    return _EXPONENTS.get(code, 2)


def is_currency(code: str) -> bool:
    return code.upper() in ISO_CODES or code.upper() in _EXTRA_EXPONENTS


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An exact amount: ``minor`` units of ``currency`` (paise for INR, fils for KWD)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:  # bool and float are both rejected
            raise MoneyError(f"minor units must be an int, got {type(self.minor).__name__}")
        exponent(self.currency)

    # construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency.upper())

    @classmethod
    def parse(cls, text: str | int | Decimal, currency: str) -> Money:
        """Read a major-unit amount such as ``"149.50"`` exactly, refusing extra decimals."""
        code = currency.upper()
        places = exponent(code)
        if isinstance(text, bool):
            raise MoneyError("an amount cannot be true/false")
        if isinstance(text, int):
            value = Decimal(text)
        elif isinstance(text, Decimal):
            value = text
        else:
            if not _DECIMAL_TEXT.match(text):
                raise MoneyError(f"{text!r} is not a decimal amount like 149.50")
            try:
                value = Decimal(text.strip())
            except InvalidOperation as exc:  # pragma: no cover - regex guards this
                raise MoneyError(f"{text!r} is not a decimal amount") from exc
        if not value.is_finite():
            raise MoneyError("an amount must be finite")
        scaled = value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{text} has more decimals than {code} allows ({places})")
        return cls(int(scaled), code)

    # arithmetic ---------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if type(quantity) is not int:
            raise MoneyError("money can only be multiplied by a whole quantity")
        return Money(self.minor * quantity, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __bool__(self) -> bool:
        return self.minor != 0

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    # formatting ---------------------------------------------------------------------
    def to_decimal_string(self, places: int | None = None) -> str:
        """Exact major-unit text; ``places`` pads (UPI ``am=`` wants exactly two)."""
        exp = exponent(self.currency)
        want = exp if places is None else places
        if want < exp and self.minor % (10 ** (exp - want)):
            raise MoneyError(f"{self.minor} minor units do not fit in {want} decimals")
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**exp)
        frac_text = str(frac).rjust(exp, "0") if exp else ""
        frac_text = (frac_text + "0" * want)[:want] if want >= exp else frac_text[:want]
        return f"{sign}{whole}.{frac_text}" if want else f"{sign}{whole}"

    def format(self) -> str:
        """Human text for chat replies: ``₹149.50``, ``¥500``, ``KWD 1.250``."""
        symbol = _SYMBOLS.get(self.currency)
        amount = self.to_decimal_string()
        if symbol:
            sign = ""
            if amount.startswith("-"):
                sign, amount = "-", amount[1:]
            return f"{sign}{symbol}{_group(amount)}"
        return f"{self.currency} {_group(amount)}"

    def __str__(self) -> str:
        return self.format()


_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "BDT": "৳"}


def _group(amount: str) -> str:
    """Thousands separators on the whole part (plain Western grouping, script-neutral)."""
    whole, dot, frac = amount.partition(".")
    neg = whole.startswith("-")
    digits = whole.lstrip("-")
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return ("-" if neg else "") + ",".join(groups) + (dot + frac)


def total(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
