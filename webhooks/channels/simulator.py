"""The simulator channel: JSON in, replies out, proactive messages kept for polling.

It exists only when HAAT_SIMULATOR_TOKEN is set; ``haat chat``, conversation tests and
benchmarks use it through exactly the same engine path as the WhatsApp channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

from bot.nlu.base import Understanding
from bot.types import ChannelCapability, InboundMessage, MessageKind, OrderItem, Reply
from config import wire
from config.plugins import Option, load, option, options
from config.settings import Settings
from webhooks.channels.base import (
    BadPayload,
    ChannelState,
    Delivery,
    DirectResponse,
    ExtraRoute,
    own_state,
    webhook_path,
)
from webhooks.security import verify_bearer

DRAIN_SECONDS = 0.5  # the outbox route waits at most this for sends in flight
MAX_TEXT = 4096
MAX_ID = 128  # inbound_messages.message_id; "from" and "to" are 64 (bot/models.py)
MAX_USER = 64
MAX_QUANTITY = 2**31 - 1  # the cart caps quantities; this keeps every sum in 64 bits
MAX_PRICE_MINOR = 10**30  # as payments/providers/base.py MAX_AMOUNT_MINOR


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    token: str | None = option("HAAT_SIMULATOR_TOKEN", secret=True,
                               doc="bearer token of the simulator; unset, it is not mounted")


class SimulatorState(ChannelState):
    """What was sent to each simulated shopper, kept until ``GET …/outbox`` takes it."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)


@dataclass(frozen=True, slots=True, init=False)
class SimulatorAdapter:
    name: ClassVar[str] = "simulator"
    # it plays WhatsApp (buttons, lists, the 24-hour window), but anyone holding its token
    # says who the sender is
    capabilities: ClassVar[frozenset[ChannelCapability]] = frozenset({
        ChannelCapability.SERVICE_WINDOW, ChannelCapability.BUTTONS, ChannelCapability.LISTS,
        ChannelCapability.TEMPLATES, ChannelCapability.DIRECT_REPLIES,
        ChannelCapability.UNTRUSTED_SENDERS, ChannelCapability.REFUSES_UNSERVED})
    options: ClassVar[tuple[Option, ...]] = options(SimulatorConfig)
    direct_replies = True
    response_content_type = "application/json"

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        """Mounted only when HAAT_SIMULATOR_TOKEN is set."""
        return bool(load(SimulatorConfig, settings.env).token)

    _token: str | None
    state: SimulatorState

    @classmethod
    def live(cls, settings: Settings) -> str | None:
        return None  # a test tool: nobody real talks to it

    @classmethod
    def new_state(cls, settings: Settings) -> SimulatorState:
        return SimulatorState()

    def __init__(self, settings: Settings, *, state: ChannelState | None = None) -> None:
        object.__setattr__(self, "_token", load(SimulatorConfig, settings.env).token)
        object.__setattr__(self, "state", own_state(state, SimulatorState))

    def verify(self, *, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_bearer(headers.get("Authorization"), self._token)

    def extra_routes(self) -> Sequence[ExtraRoute]:
        """``GET /webhooks/simulator/outbox?to=…``: what was sent to a simulated shopper."""
        return (ExtraRoute("GET", webhook_path(self.name) + "/outbox", self._outbox),)

    async def _outbox(self, request: web.Request) -> web.Response:
        from webhooks import keys as k  # the app's outbox, waited for briefly
        from webhooks.inbound import error_answer

        if not verify_bearer(request.headers.get("Authorization"), self._token):
            return error_answer(403, "bad token").response()
        to = request.query.get("to", "")
        if not to:
            return error_answer(400, "'to' is required").response()
        # sends still in flight (the simulator's are instant) are waited for, but briefly:
        # under load every channel's sends are in flight, and no answer may take seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(request.app[k.OUTBOX].drain()),
                                   DRAIN_SECONDS)
        return web.json_response({"messages": self.drain(to)})

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        try:
            data = wire.loads(body)  # bounded depth and numbers, storable strings
        except wire.WireError as exc:
            raise BadPayload(str(exc)) from exc
        if not isinstance(data, dict):
            raise BadPayload("body must be a JSON object")
        customer = data.get("from")
        if not isinstance(customer, str) or not customer.strip():
            raise BadPayload("'from' (the shopper's phone or id) is required")
        text = data.get("text")
        button = data.get("button")
        order = data.get("order")
        for name, value in (("text", text), ("button", button), ("id", data.get("id")),
                            ("to", data.get("to"))):
            if value is not None and not isinstance(value, str):
                raise BadPayload(f"'{name}' must be a string")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise BadPayload(f"'text' is longer than {MAX_TEXT} characters")
        for name, limit in (("from", MAX_USER), ("to", MAX_USER), ("id", MAX_ID),
                            ("button", MAX_TEXT)):
            if len(data.get(name) or "") > limit:
                raise BadPayload(f"'{name}' is longer than {limit} characters")
        items = _order_items(order) if order is not None else []
        if text is None and button is None and order is None:
            raise BadPayload("one of 'text', 'button' or 'order' is required")
        kind = MessageKind.ORDER if items else (
            MessageKind.BUTTON if button is not None else MessageKind.TEXT)
        digits = wire.ascii_digits(customer) or customer.strip()
        message = InboundMessage(
            channel=self.name, message_id=str(data.get("id") or uuid.uuid4().hex),
            customer=digits, kind=kind, business=str(data.get("to") or ""),
            text=text or "", button_payload=button, order_items=tuple(items),
            button_title=text if button is not None else None,
            raw_kind=kind.value, phone=customer.strip(),
        )
        return Delivery(messages=(message,))

    def render_response(self, replies: Sequence[Reply]) -> DirectResponse:
        body = json.dumps({"replies": [r.to_json() for r in replies]}, ensure_ascii=False)
        return DirectResponse(body.encode(), self.response_content_type)

    def render_turn(self, replies: Sequence[Reply], understanding: Understanding | None) -> str:
        """The simulator also says what it understood, for tests and ``haat chat``."""
        data: dict[str, Any] = {"replies": [r.to_json() for r in replies]}
        if understanding is not None:
            data["intent"] = understanding.intent
            data["confidence"] = round(understanding.confidence, 4)
            data["language"] = understanding.language
        return json.dumps(data, ensure_ascii=False)

    async def send(self, session: aiohttp.ClientSession, *, business: str, to: str,
                   reply: Reply, idempotency_key: str) -> str:
        self.state.sent[to].append(reply.to_json() | {"id": idempotency_key})
        return idempotency_key

    def drain(self, to: str) -> list[dict[str, Any]]:
        digits = wire.ascii_digits(to) or to
        return self.state.sent.pop(digits, [])


def _order_items(order: Any) -> list[OrderItem]:
    """The ``order`` field's lines: each a sku, a quantity and maybe the price shown."""
    if not isinstance(order, list):
        raise BadPayload("'order' must be a list of {sku, qty}")
    items: list[OrderItem] = []
    for line in order:
        if (not isinstance(line, dict) or not isinstance(line.get("sku"), str)
                or not line["sku"] or len(line["sku"]) > MAX_ID
                or type(line.get("qty")) is not int
                or not 1 <= line["qty"] <= MAX_QUANTITY):
            raise BadPayload("each order line needs a 'sku' and a positive 'qty'")
        price = line.get("price_minor")
        if price is not None and (type(price) is not int
                                  or not 0 <= price <= MAX_PRICE_MINOR):
            raise BadPayload("'price_minor' (what the shopper's app showed, in minor "
                             "units) must be a non-negative integer")
        items.append(OrderItem(sku=line["sku"], quantity=line["qty"],
                               item_price_minor=price))
    return items
