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

import codecs
import json
import re
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qsl

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

# a lone surrogate or NUL can only get into a JSON string decoded from strict UTF-8 as an
# escape: a document with none of these escapes (a false hit, an escaped backslash, costs
# one walk of the value) needs no cleaning
_SUSPECT_ESCAPE: Final = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# a "%" that is not the start of an escape stays a "%" (urllib's unquote keeps it)
_LONE_PERCENT: Final = re.compile(rb"%(?![0-9A-Fa-f]{2})")


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
    try:
        value = _DECODER.decode(doc)
    except WireError:
        raise
    except (ValueError, RecursionError, ArithmeticError) as exc:
        raise WireError("body is not JSON") from exc
    if (isinstance(value, dict | list) and doc.count("[") + doc.count("{") > max_depth
            and _too_deep(value, max_depth)):
        raise WireError(f"JSON nested deeper than {max_depth}")
    # cleaned after parsing, not by rewriting escapes before: a regex callback per escape
    # cost 60-110 ms on a 1 MB body of them; the decoder pairs surrogates itself (Meta
    # escapes emoji so) and this walk is bounded by MAX_ITEMS
    if "\\u" in doc and _SUSPECT_ESCAPE.search(doc):
        value = _clean_tree(value)
    return value


def _clean_tree(value: Any) -> Any:
    """``value`` with every string and key made storable (:func:`clean`); iterative."""
    if isinstance(value, str):
        return clean(value)
    root = [value]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for i, child in enumerate(node):
                if isinstance(child, str):
                    node[i] = clean(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
        else:  # a dict: keys first (a cleaned key may now equal another: the last wins)
            if not all(type(key) is str and clean(key) is key for key in node):
                items = [(clean(key), child) for key, child in node.items()]
                node.clear()
                node.update(items)
            for key, child in node.items():
                if isinstance(child, str):
                    node[key] = clean(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
    return root[0]


# ---- forms -------------------------------------------------------------------------------


def unquote_bytes(raw: bytes) -> bytes:
    """``urllib.parse.unquote_to_bytes`` at C speed: %XX escapes decoded, a lone % kept.

    urllib decodes escapes in a Python loop, ~0.5 µs each: a 1 MB Twilio form of them held
    the event loop 200-700 ms. Here every lone "%" is escaped first, then each "%" becomes
    ``\\x`` (backslashes doubled) for the C escape decoder.
    """
    if b"%" not in raw:
        return raw
    raw = _LONE_PERCENT.sub(b"%25", raw)
    decoded: bytes = codecs.escape_decode(
        raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    return decoded


class TooManyFields(ValueError):
    """A form with more fields than the caller allows."""


SMALL_FORM: Final = 8192  # bytes: urllib is quicker below (~20 µs on a 433-byte Twilio body)


def form_pairs(body: bytes, *, max_fields: int,
               small: int = SMALL_FORM) -> list[tuple[str, str]]:
    """``parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=max_fields)``, fast.

    The same pairs, in order: ``&`` separates fields, the first ``=`` a name from its value,
    ``+`` is a space, escapes are decoded as UTF-8 with U+FFFD for what is not. The body
    must be strict UTF-8 (``UnicodeDecodeError`` otherwise); more than ``max_fields``
    fields raise :class:`TooManyFields` before anything is decoded. A body of at most
    ``small`` bytes (every real Twilio webhook) goes to urllib itself, whose Python loop
    over at most ``small / 3`` escapes costs under 2 ms; larger ones are decoded in C.
    """
    text = body.decode("utf-8")  # strict, as the caller's bytes must be
    if not body:
        return []
    if body.count(b"&") + 1 > max_fields:
        raise TooManyFields("too many form fields")
    if len(body) <= small:
        return parse_qsl(text, keep_blank_values=True)
    pairs = []
    for field in body.split(b"&"):
        if not field:
            continue
        name, _, value = field.partition(b"=")
        pairs.append((unquote_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace"),
                      unquote_bytes(value.replace(b"+", b" ")).decode("utf-8", "replace")))
    return pairs


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
