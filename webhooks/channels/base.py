"""The channel extension point: verify, parse, render a direct answer, send proactively.

An adapter is constructed from Settings by its registry entry and holds no other state
than configuration; the shared aiohttp ClientSession is passed in for sending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from bot.types import InboundMessage, Reply, StatusUpdate


class BadPayload(ValueError):
    """The body is not what this channel sends: answered with a 400, nothing stored."""


class SendError(Exception):
    """An outbound send failed; ``retryable`` says whether the outbox should try again."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one webhook request carried: messages and delivery receipts."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectResponse:
    """What goes back in the webhook's HTTP response body."""

    body: bytes
    content_type: str


class ChannelAdapter(Protocol):
    name: str
    # True when replies travel in the webhook's HTTP response (Twilio TwiML, simulator);
    # False when every reply is sent through the channel's REST API via the outbox.
    direct_replies: bool
    # the media type of render_response's body, known without rendering anything
    response_content_type: str

    def verify(self, *, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Fail closed: False when no secret is configured or the signature is wrong."""
        ...

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        """Frozen channel-neutral types; raises BadPayload on a malformed body."""
        ...

    def render_response(self, replies: Sequence[Reply]) -> DirectResponse:
        """The HTTP answer to the webhook (TwiML, JSON, or an empty 200)."""
        ...

    async def send(self, session: aiohttp.ClientSession, *, business: str, to: str,
                   reply: Reply, idempotency_key: str) -> str:
        """Send one proactive message; returns the channel's message id; raises SendError."""
        ...
