"""No message text, phone number, token or secret in any log line (docs/RELIABILITY.md).

:class:`Redactor` is a ``logging.Filter`` that rewrites a record before any handler sees
it: the message is formatted once and redacted (phone-number-like digit runs, wamids, which
are base64 of the phone number, ``/pay/<token>`` and ``/receipt/<token>`` paths, bearer
tokens, every configured secret), and a traceback keeps its frames and exception types but
never an exception's message, which may quote the input that caused it. Message text
cannot be recognised by a pattern, so haat's own log calls never pass it; a test drives
traffic at DEBUG and looks for every text, phone, token and secret it sent.

:func:`install_redaction` hooks it into the log-record factory, the one place every
record passes whatever logger made it and whichever handler prints it (a filter on a
logger misses its children's records; one on a handler misses handlers added later, such
as pytest's). ``create_app`` installs it with the settings' secrets.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from config.settings import Settings

_PATTERNS: Final = (
    (re.compile(r"/pay/[^/\s?#\"'<>]+"), "/pay/<token>"),
    (re.compile(r"/receipt/[^/\s?#\"'<>]+"), "/receipt/<token>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), r"\1 <redacted>"),
    (re.compile(r"wamid\.[A-Za-z0-9+/=_-]+"), "wamid.<id>"),
    # seven or more digits, optionally after + (or its URL form %2B) and with spaces,
    # dashes, dots or brackets between them: phone numbers in any format, inside words too
    # (a BSUID, a query string), and, harmlessly, any other long number
    (re.compile(r"(?:\+|%2[Bb])?\d(?:[ .()-]{0,2}\d){6,}"), "<number>"),
    (re.compile(r"(?i)(token|secret|password|signature)=[^\s&\"']+"), r"\1=<redacted>"),
)
_MIN_SECRET: Final = 4  # shorter configured "secrets" would redact ordinary words
# loggers whose records quote input by design (SQL parameters, driver calls): never below
# WARNING, whatever the root level
_QUIET: Final = ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def safe_traceback(exc_info: ExcInfo) -> str:
    """Frames (file, line, function, code) and exception types: no exception messages."""
    _, exc, tb = exc_info
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    chain: list[tuple[BaseException, TracebackType | None]] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, current.__traceback__ if current is not exc else tb))
        current = current.__cause__ or current.__context__
    for index, (error, frames) in enumerate(reversed(chain)):
        if index:
            parts.append("\nwhich led to:\n")
        parts.append("Traceback (most recent call last; messages redacted):\n")
        for frame in traceback.extract_tb(frames):
            parts.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n')
            if frame.line:
                parts.append(f"    {frame.line.strip()}\n")
        parts.append(f"{type(error).__module__}.{type(error).__qualname__}: <redacted>")
    return "".join(parts)


class Redactor(logging.Filter):
    """Rewrites each record in place; never drops one."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def add_secrets(self, values: Iterable[str | None]) -> None:
        for value in values:
            if value and len(value) >= _MIN_SECRET and value not in self._secrets:
                self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)  # a secret inside another goes second

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "<secret>")
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_haat_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = f"{record.msg!s} <unformattable arguments>"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(safe_traceback(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record._haat_redacted = True
        return True


def secrets_of(settings: Settings) -> list[str | None]:
    """Every configured secret, for the redactor."""
    from webhooks.plugins import plugin_secrets

    return [settings.admin_token, *plugin_secrets(settings)]


def install_redaction(secrets: Iterable[str | None] = ()) -> Redactor:
    """Redact every log record from now on (idempotent); ``secrets`` join the redacted set."""
    factory = logging.getLogRecordFactory()
    redactor: Redactor | None = getattr(factory, "haat_redactor", None)
    if redactor is None:
        redactor = Redactor()
        chosen = redactor

        def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = factory(*args, **kwargs)
            chosen.filter(record)
            return record

        hooked: Callable[..., logging.LogRecord] = make
        hooked.haat_redactor = redactor  # type: ignore[attr-defined]
        logging.setLogRecordFactory(hooked)
    for name in _QUIET:
        quiet = logging.getLogger(name)
        if quiet.getEffectiveLevel() < logging.WARNING:
            quiet.setLevel(logging.WARNING)
    redactor.add_secrets(secrets)
    return redactor
