"""Pure signature checks for every signed route: constant-time and fail-closed.

Each function returns False (never raises) when the secret is not configured, the header
is missing or malformed, or the signature does not match, so a misconfiguration can only
ever reject requests, never accept forged ones.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

__all__ = [
    "escape_unicode",
    "header_value",
    "hmac_sha256_hex",
    "meta_signature",
    "twilio_signature",
    "verify_bearer",
    "verify_hmac_sha256_hex",
    "verify_meta_signature",
    "verify_twilio_signature",
]

_META_PREFIX = "sha256="
# Everything outside printable ASCII 0x00-0x7E, matched per UTF-16 code unit the way
# whatsapp-api-js's escapeUnicode does (astral characters become a surrogate pair).
_NON_ASCII = re.compile(r"[^\x00-\x7e]")


def hmac_sha256_hex(message: bytes, secret: str) -> str:
    """Lowercase hex HMAC-SHA256, the digest Meta and most PSPs sign with."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def meta_signature(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends for ``body`` (simulators use it)."""
    return _META_PREFIX + hmac_sha256_hex(body, app_secret)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code > 0xFFFF:
        code -= 0x10000
        high, low = 0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)
        return f"\\u{high:04x}\\u{low:04x}"
    return f"\\u{code:04x}"


def escape_unicode(text: str) -> str:
    r"""Replace every non-ASCII character by ``\uXXXX`` (lowercase hex, UTF-16 units).

    Meta documents that it signs "an escaped unicode version of the payload"; real Cloud
    deliveries are already escaped, but a proxy that unescapes them would break the HMAC.
    """
    return _NON_ASCII.sub(_escape_char, text)


def _digest_matches(expected_hex: str, provided: str) -> bool:
    return hmac.compare_digest(expected_hex.encode("ascii"),
                               provided.strip().lower().encode("utf-8"))


def verify_meta_signature(body: bytes, header: str | None, secret: str | None) -> bool:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` over the raw body bytes.

    When the raw bytes do not match and the body holds non-ASCII text, the ``\\uXXXX``
    escaped form is tried as well (channels.md 1.5); nothing else is ever re-serialised.
    """
    if not secret or not header:
        return False
    header = header.strip()
    if header[: len(_META_PREFIX)].lower() != _META_PREFIX:
        return False
    provided = header[len(_META_PREFIX):]
    if _digest_matches(hmac_sha256_hex(body, secret), provided):
        return True
    if body.isascii():
        return False
    try:
        escaped = escape_unicode(body.decode("utf-8")).encode("ascii")
    except UnicodeError:
        return False
    return _digest_matches(hmac_sha256_hex(escaped, secret), provided)


def verify_hmac_sha256_hex(message: bytes, signature: str | None, secret: str | None) -> bool:
    """Generic ``hex(HMAC-SHA256(secret, message))`` check (no prefix), e.g. PSP callbacks."""
    if not secret or not signature:
        return False
    return _digest_matches(hmac_sha256_hex(message, secret), signature)


def verify_bearer(header: str | None, token: str | None) -> bool:
    """``Authorization: Bearer <token>``; the scheme is case-insensitive, the token is not."""
    if not token or not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode("utf-8"), token.encode("utf-8"))


def twilio_signature(url: str, params: Mapping[str, Any], auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for a form post (simulators use it)."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


def verify_twilio_signature(url: str, params: Mapping[str, Any] | str | None,
                            signature: str | None, auth_token: str | None) -> bool:
    """Twilio's own ``RequestValidator``: tries ``url`` with and without the default port.

    ``url`` must be the public URL Twilio called (scheme and host as configured in
    HAAT_PUBLIC_URL, query string byte-for-byte); ``params`` every POST field, as a
    multidict when keys repeat, or the raw body ``str`` for the JSON/bodySHA256 variant.
    """
    if not auth_token or not signature:
        return False
    try:
        return bool(RequestValidator(auth_token).validate(url, params, signature))
    except (TypeError, ValueError, UnicodeError):
        return False


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that also works on plain dicts (tests, simulators)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None
