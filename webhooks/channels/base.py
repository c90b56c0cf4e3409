"""The channel extension point: verify, parse, render a direct answer, send proactively.

An adapter is constructed from Settings by its registry entry and holds configuration
only (a frozen dataclass); what a channel learns or opens while the app runs (learned
numbers, a pooled REST client, the simulator's inbox) is its :class:`ChannelState`, which
``registry.build_channel_states`` creates and the app owns and closes. The shared aiohttp
ClientSession is passed in for sending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import aiohttp
from aiohttp import web

from bot.types import ChannelCapability, InboundMessage, PreferenceUpdate, Reply, StatusUpdate
from config.plugins import Option
from config.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ExtraRoute:
    """A route a channel adds besides its ``POST`` webhook (Meta's GET handshake…)."""

    method: str
    path: str
    handler: Handler


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
    """Everything one webhook request carried: messages, delivery receipts and marketing
    preference changes (WhatsApp's ``user_preferences``)."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    preferences: tuple[PreferenceUpdate, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectResponse:
    """What goes back in the webhook's HTTP response body."""

    body: bytes
    content_type: str


class ChannelState:
    """What one app's channel learns or opens at run time. The app builds one per mounted
    channel (``registry.build_channel_states``), hands it to the adapter, and closes it in
    its cleanup; two apps in one process never share one."""

    __slots__ = ()

    async def close(self) -> None:
        """Release what it opened (nothing, unless a channel's state says otherwise)."""


class ChannelPlugin(Protocol):
    """What a channel *class* declares, so that the app, the routes, the worker, the sender,
    ``haat serve``'s warnings and the contract suites learn it from one registry line:

    - ``name``: the channel's name in every table and the webhook path ``/webhooks/<name>``;
    - ``capabilities``: :class:`ChannelCapability` values;
    - ``options``: its environment keys (``config.plugins.options`` of its config);
    - ``enabled``: whether it is mounted at all with these settings;
    - ``live``: a description of the credentials that make it reach real shoppers, or None;
    - ``new_state``: its empty run-time state (:class:`ChannelState`).

    The class object itself is the plugin: calling it with Settings (and the app's state
    for it; without one it makes its own) builds the adapter.
    """

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[ChannelCapability]: ...

    @property
    def options(self) -> tuple[Option, ...]: ...

    def __call__(self, settings: Settings, *, state: ChannelState | None = None
                 ) -> ChannelAdapter: ...

    def new_state(self, settings: Settings) -> ChannelState: ...

    def enabled(self, settings: Settings) -> bool: ...

    def live(self, settings: Settings) -> str | None: ...


def webhook_path(name: str) -> str:
    """Where channel ``name``'s deliveries arrive."""
    return f"/webhooks/{name}"


class ChannelAdapter(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[ChannelCapability]: ...

    @property
    def state(self) -> ChannelState:
        """Its app-owned run-time state (the only thing about it that changes)."""
        ...

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

    def extra_routes(self) -> Sequence[ExtraRoute]:
        """Routes the channel adds besides ``POST /webhooks/<name>`` (usually none)."""
        ...

    def render_response(self, replies: Sequence[Reply]) -> DirectResponse:
        """The HTTP answer to the webhook (TwiML, JSON, or an empty 200)."""
        ...

    async def send(self, session: aiohttp.ClientSession, *, business: str, to: str,
                   reply: Reply, idempotency_key: str) -> str:
        """Send one proactive message; returns the channel's message id; raises SendError."""
        ...


S = TypeVar("S", bound=ChannelState)


def own_state(state: ChannelState | None, kind: type[S]) -> S:
    """The app's state for a channel, or a fresh one for an adapter built alone (a test,
    a one-off send); a state of another channel is a wiring bug."""
    if state is None:
        return kind()
    if not isinstance(state, kind):
        raise TypeError(f"expected a {kind.__name__}, got a {type(state).__name__}")
    return state
