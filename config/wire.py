"""Untrusted bytes → Python values, totally: strict JSON and storable field values.

Every parser of a body from the outside (channel adapters, payment provider callbacks, the
``/pay`` and ``/api`` routes) goes through here, so one place decides what may reach the
rest of the code and the database (docs/RELIABILITY.md "Hostile input"):

- JSON nesting is bounded (Python's ``json`` recurses: a deep body raised RecursionError),
  checked on the raw bytes before parsing, at C speed;
- integers must fit SQLite's and PostgreSQL's 64-bit INTEGER (a 5,000-digit literal raised
  ValueError, a 20-digit one OverflowError at commit);
- decimals are kept exact (``Decimal``) but short, with a small exponent: ``1E+1000000``
  then ``int()`` froze the event loop for 8.7 s; NaN and Infinity are refused;
- every string is made storable: a lone surrogate (``"\\ud800"``, which UTF-8 cannot
  encode) becomes U+FFFD, and so does NUL (PostgreSQL text cannot hold it).

It lives in ``config/`` because every layer that reads the wire may import ``config``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Final

MAX_DEPTH: Final = 32  # a Cloud API envelope is 8 deep, a Razorpay webhook 6
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1
# a JSON integer may be an amount of minor units: as large as a money column holds
# (payments/providers/base.py MAX_AMOUNT_MINOR); fields that are not money are bounded to
# 64 bits where they are read (bounded_int)
JSON_INT_LIMIT: Final = 10**30
MAX_NUMBER_CHARS: Final = 40  # "-9223372036854775808" is 20; a price "1234.56" is 7
MAX_EXPONENT: Final = 30
REPLACEMENT: Final = "\ufffd"
# values in one body (counted as separators): a Cloud batch of 100 messages has ~2,000;
# parsing costs up to ~3 µs a value (a Decimal), so this bounds one parse to ~60 ms
MAX_ITEMS: Final = 20_000

# an escaped backslash (kept), a surrogate pair (kept: Meta escapes emoji so), a lone
# surrogate or NUL (replaced): escapes are the only way either can get into a JSON string
# decoded from strict UTF-8
_ESCAPES: Final = re.compile(r"(\\\\)|(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                             r"|\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class WireError(ValueError):
    """The bytes are not an acceptable value: the caller answers 400 (or skips an entry)."""


def _too_deep(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit``; iterative (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False


def _fix_escape(match: re.Match[str]) -> str:
    return match.group(1) or match.group(2) or "\\ufffd"


def _int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise WireError("integer out of range")
    value = int(literal)
    if not -JSON_INT_LIMIT <= value <= JSON_INT_LIMIT:
        raise WireError("integer out of range")
    return value


def _decimal(literal: str) -> Decimal:
    if len(literal) > MAX_NUMBER_CHARS:
        raise WireError("number too long")
    value = Decimal(literal)
    exp = value.as_tuple().exponent
    if not isinstance(exp, int) or abs(exp) > MAX_EXPONENT or value.adjusted() > MAX_EXPONENT:
        raise WireError("number out of range")
    return value


def _constant(name: str) -> Any:
    raise WireError(f"{name} is not a number")


# one decoder, built once (json.loads with hooks builds a new one per call)
_DECODER: Final = json.JSONDecoder(parse_int=_int, parse_float=_decimal,
                                   parse_constant=_constant)


def clean(text: str) -> str:
    """``text`` made storable: lone surrogates and NUL become U+FFFD."""
    if not text.isascii():  # isascii is O(1): most text costs one NUL scan
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = _SURROGATE.sub(REPLACEMENT, text)
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    return text


def loads(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Strict, bounded JSON: the decoded value, or :class:`WireError`.

    Numbers with a fraction or an exponent come back as exact ``Decimal`` (prices such as
    ``12.35``); integers as ``int`` within 64 bits; every string is storable; at most
    :data:`MAX_ITEMS` values. The body must be UTF-8 (RFC 8259). Python's parser recurses,
    so a body nested past the interpreter's limit is a RecursionError, caught here;
    anything deeper than ``max_depth`` is refused after parsing, without recursion.
    """
    try:
        doc = body.decode("utf-8") if isinstance(body, bytes) else clean(body)
    except UnicodeDecodeError as exc:
        raise WireError("body is not UTF-8 JSON") from exc
    if len(doc) > MAX_ITEMS and doc.count(",") + doc.count(":") > MAX_ITEMS:
        raise WireError("JSON has too many values")
    if "\\u" in doc:
        doc = _ESCAPES.sub(_fix_escape, doc)
    try:
        value = _DECODER.decode(doc)
    except WireError:
        raise
    except (ValueError, RecursionError, ArithmeticError) as exc:
        raise WireError("body is not JSON") from exc
    if (isinstance(value, dict | list) and doc.count("[") + doc.count("{") > max_depth
            and _too_deep(value, max_depth)):
        raise WireError(f"JSON nested deeper than {max_depth}")
    return value


# ---- fields ------------------------------------------------------------------------------


def text(value: Any, limit: int) -> str | None:
    """A JSON string or number as storable text of at most ``limit`` characters, else None.

    Containers, booleans and ``null`` are not text. Longer text is cut, not refused: a
    shopper's long message is still their message.
    """
    if type(value) is str:  # the common case first: this runs for every field
        out = value if value.isascii() and "\x00" not in value else clean(value)
        return out[:limit] or None
    if value is None or isinstance(value, bool | dict | list):
        return None
    return clean(str(value))[:limit] or None


def digits(value: Any, max_len: int) -> str | None:
    """ASCII digits only (``"²"`` and ``"٣"`` are digits to ``str.isdigit``, not here)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    found = value.strip()
    if not found or len(found) > max_len or not found.isascii() or not found.isdigit():
        return None
    return found


def bounded_int(value: Any, *, lo: int = INT_MIN, hi: int = INT_MAX,
                max_digits: int = 19) -> int | None:
    """An integer from a JSON int, an integral Decimal or an ASCII-digit string, in range."""
    number: int | None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, Decimal):
        if not value.is_finite() or value.adjusted() > max_digits:
            return None
        if value != value.to_integral_value():
            return None
        number = int(value)
    else:
        found = digits(value, max_digits)
        number = int(found) if found is not None else None
    if number is None or not lo <= number <= hi:
        return None
    return number


def ascii_digits(text_value: str, max_len: int = 20) -> str:
    """The ASCII digits of ``text_value`` (a phone typed with spaces, ``ORD-7``), bounded."""
    if text_value.isascii() and text_value.isdigit():
        return text_value[:max_len]
    return "".join(ch for ch in text_value[: max_len * 4] if "0" <= ch <= "9")[:max_len]
