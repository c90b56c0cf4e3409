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

# ISO 4217 (list one, the active codes incl. fund codes) with their minor-unit exponents.
# Checked against the SIX maintenance agency's list of 2025; VED, XCG and ZWG are the newest.
ISO_4217: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
    "BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2,
    "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2,
    "CRC": 2, "CUC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2,
    "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2,
    "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0,
    "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2,
    "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2,
    "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
    "MXV": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
    "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2,
    "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2,
    "SGD": 2, "SHP": 2, "SLE": 2, "SLL": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2,
    "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2,
    "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4,
    "UZS": 2, "VED": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0, "XCD": 2, "XCG": 2,
    "XOF": 0, "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}
ISO_CODES: frozenset[str] = frozenset(ISO_4217)
# codes in the list whose minor unit is "N.A." (metals, SDR, test and "no currency" codes):
# no price can be written in them
ISO_NO_MINOR_UNIT: frozenset[str] = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"})

# A non-ISO asset (a stablecoin, a token) travels as ``CODE/EXPONENT``, e.g. ``ETH/18``: the
# amount carries its own scale through the database and every provider, so no process-wide
# registry of assets is needed. shop.yaml declares them (``assets: {ETH: {exponent: 18}}``)
# and the loader turns the shop's ``currency: ETH`` into ``ETH/18``.
_ASSET_TOKEN = re.compile(r"^([A-Z][A-Z0-9]{1,4})/(\d{1,2})$")
_ASSET_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,4}$")
MAX_ASSET_EXPONENT = 18

_DECIMAL_TEXT = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


class MoneyError(ValueError):
    """A price or amount that cannot be represented exactly in its currency."""


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (INR 2, JPY 0, KWD 3, ETH/18 18)."""
    code = currency.upper()
    known = ISO_4217.get(code)
    if known is not None:
        return known
    token = _ASSET_TOKEN.match(code)
    if token is not None and token.group(1) not in ISO_4217:
        places = int(token.group(2))
        if places <= MAX_ASSET_EXPONENT:
            return places
        raise MoneyError(f"{currency}: an asset's exponent must be 0 to {MAX_ASSET_EXPONENT}")
    if code in ISO_NO_MINOR_UNIT:
        raise MoneyError(f"{currency} has no minor unit in ISO 4217: prices cannot use it")
    raise MoneyError(f"unknown currency {currency!r}: use an ISO 4217 code such as INR, or "
                     "declare the asset in shop.yaml (assets: {CODE: {exponent: N}})")


def is_currency(code: str) -> bool:
    """An ISO 4217 code with a minor unit (any case), or an asset token such as ETH/18."""
    try:
        exponent(code)
    except MoneyError:
        return False
    return True


def asset_token(code: str, places: int) -> str:
    """The currency of a declared asset: ``asset_token("ETH", 18) == "ETH/18"``."""
    if not _ASSET_CODE.match(code) or code in ISO_4217 or code in ISO_NO_MINOR_UNIT:
        raise MoneyError(f"asset code {code!r} must be 2-5 capital letters or digits, "
                         "starting with a letter, and not an ISO 4217 code")
    if type(places) is not int or not 0 <= places <= MAX_ASSET_EXPONENT:
        raise MoneyError(f"an asset's exponent must be a whole number 0 to {MAX_ASSET_EXPONENT}")
    return f"{code}/{places}"


def currency_code(currency: str) -> str:
    """What people read: ``INR`` for INR, ``ETH`` for ``ETH/18``."""
    return currency.split("/", 1)[0]


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An exact amount: ``minor`` units of ``currency`` (paise for INR, fils for KWD)."""

    minor: int
    currency: str  # an ISO 4217 code, or an asset token such as ETH/18 (see above)

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

    def format(self, *, usual: bool = False, whole: bool = False) -> str:
        """Human text. Chat replies: ``₹149.50``, ``¥500``, ``KWD 1.250`` (plain Western
        grouping, script-neutral). ``usual`` is the form people in the currency's country
        write on paper (receipts and invoices): lakh and crore grouping for the rupee and the
        taka (``₹1,00,000.00``). ``whole`` drops the decimals of an amount that has none
        (``৳1,250``); an amount with a fraction always keeps them. Digits stay ASCII."""
        places = exponent(self.currency)
        code = currency_code(self.currency)
        major, fraction = divmod(abs(self.minor), 10**places)
        grouped = _group(str(major), lakh=usual and code in LAKH_GROUPING)
        text = grouped if places == 0 or (whole and fraction == 0) else \
            f"{grouped}.{str(fraction).rjust(places, '0')}"
        sign = "-" if self.minor < 0 else ""
        symbol = _SYMBOLS.get(self.currency)
        return f"{sign}{symbol}{text}" if symbol else f"{code} {sign}{text}"

    def __str__(self) -> str:
        return self.format()


_SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "BDT": "৳"}
# currencies whose usual written form groups by lakh and crore (2 digits after the first 3)
LAKH_GROUPING: frozenset[str] = frozenset({"INR", "BDT", "NPR", "PKR"})


def _group(digits: str, *, lakh: bool) -> str:
    """Separators in a whole number: ``1234567`` is ``1,234,567`` (Western) or
    ``12,34,567`` (lakh: the last three, then pairs)."""
    size = 3
    groups: list[str] = []
    while len(digits) > size:
        groups.insert(0, digits[-size:])
        digits = digits[:-size]
        size = 2 if lakh else 3
    return ",".join([digits, *groups])


def total(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
