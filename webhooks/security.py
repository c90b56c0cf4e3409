"""Pure signature checks for every signed route: constant-time and fail-closed.

Each function returns False (never raises) when the secret is not configured, the header
is missing or malformed, or the signature does not match, so a misconfiguration can only
ever reject requests, never accept forged ones.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

from security.signatures import hmac_sha256_hex, verify_hex

__all__ = [
    "escape_unicode",
    "meta_signature",
    "twilio_signature",
    "verify_bearer",
    "verify_meta_signature",
    "verify_twilio_signature",
]

_META_PREFIX = "sha256="
# Everything outside printable ASCII 0x00-0x7E, matched per UTF-16 code unit the way
# whatsapp-api-js's escapeUnicode does (astral characters become a surrogate pair).
_NON_ASCII = re.compile(r"[^\x00-\x7e]")


def meta_signature(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends for ``body`` (simulators use it)."""
    return _META_PREFIX + hmac_sha256_hex(app_secret, body)


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


def verify_meta_signature(body: bytes, header: str | None, secret: str | None) -> bool:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` over the raw body bytes.

    When the raw bytes do not match and the body holds non-ASCII text, the ``\\uXXXX``
    escaped form is tried as well (docs/DESIGN.md §5.4); nothing else is ever re-serialised.
    """
    if not secret or not header:
        return False
    header = header.strip()
    if header[: len(_META_PREFIX)].lower() != _META_PREFIX:
        return False
    provided = header[len(_META_PREFIX):]
    if verify_hex(secret, body, provided):
        return True
    if body.isascii():
        return False
    try:
        escaped = escape_unicode(body.decode("utf-8")).encode("ascii")
    except UnicodeError:
        return False
    return verify_hex(secret, escaped, provided)


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
    validator = RequestValidator(auth_token)
    try:
        # the form post to the URL exactly as configured is nearly every request: one HMAC
        # (8 µs) instead of validate()'s parse and two HMACs with and without the port (27)
        if not isinstance(params, str) and params is not None and hmac.compare_digest(
                validator.compute_signature(url, params).encode(), signature.encode()):
            return True
        return bool(validator.validate(url, params, signature))
    except (TypeError, ValueError, UnicodeError):
        return False
