"""HMAC-SHA256 signature checks over raw bytes: constant time, fail closed.

Generic, so the channels (Twilio's and Meta's signatures, webhooks/security.py) and the
payment providers share one implementation. Providers sign the exact bytes they send;
anything re-serialised (``json.loads`` then ``dumps``) no longer verifies, which is the most
common webhook bug (docs/DESIGN.md §5.4). Several secrets may be given so a rotated
secret keeps verifying retried old events.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping


def hmac_sha256_hex(secret: str | bytes, message: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    msg = message.encode() if isinstance(message, str) else message
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _secrets(secrets: str | bytes | Iterable[str | bytes] | None) -> list[str | bytes]:
    if secrets is None:
        return []
    if isinstance(secrets, str | bytes):
        return [secrets] if secrets else []
    return [s for s in secrets if s]


def verify_hex(
    secrets: str | bytes | Iterable[str | bytes] | None,
    message: str | bytes,
    signature: str | None,
) -> bool:
    """True only if some configured, non-empty secret produces ``signature`` (hex)."""
    keys = _secrets(secrets)
    if not keys or not signature:
        return False
    given = signature.strip().lower().encode("ascii", "replace")
    ok = False
    for key in keys:  # no early exit: timing does not reveal which secret matched
        ok |= hmac.compare_digest(hmac_sha256_hex(key, message).encode(), given)
    return ok


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup for plain dicts as well as aiohttp's CIMultiDict."""
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, val in headers.items():
        if key.lower() == lower:
            return val
    return None
