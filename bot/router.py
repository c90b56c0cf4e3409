"""The router: first matching handler wins; handlers ask for what they need by name.

A handler is ``async def handle(turn, shop, understanding, …)``; the router passes only the
parameters the handler declares, taken from the Turn's attributes (aiogram's injection by
parameter name, without its middleware machinery). Returning ``UNHANDLED`` lets the next
handler try.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.filters import Filter
from bot.nlu.base import Understanding
from bot.replies import shop_name, text_for
from bot.state import Conversation
from bot.types import Button, ChannelCapability, InboundMessage, Reply
from catalog.message_templates import TemplateEvent
from catalog.models import Shop
from catalog.search import ProductIndex

if TYPE_CHECKING:
    from bot.flows.support import FaqIndex
    from bot.services import Services
from storage.database import WriteSet

UNHANDLED = object()

Handler = Callable[..., Awaitable[Any]]


@dataclass(slots=True)
class Outgoing:
    """A message to someone other than the sender (owner alerts), sent via the outbox."""

    customer: str
    reply: Reply
    channel: str | None = None  # None: the turn's channel
    # the template outside the 24-hour window (catalog/message_templates.py) and its values
    event: TemplateEvent | None = TemplateEvent.MERCHANT_ALERT
    variables: dict[str, str] = field(default_factory=dict)
    language: str | None = None  # the recipient's; None: their conversation's


@dataclass(slots=True)
class Turn:
    """Everything one inbound message's handling can read and what it produces."""

    shop: Shop
    message: InboundMessage
    conversation: Conversation
    index: ProductIndex
    faq: FaqIndex
    now_ms: int
    understanding: Understanding | None = None
    payload: str | None = None  # button payload (or a numbered-text choice resolved to one)
    is_owner: bool = False
    replies: list[Reply] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    writes: WriteSet = field(default_factory=WriteSet)
    services: Services | None = None  # None only in tests of the router alone
    # what the message's channel declares (webhooks/channels/: address forms, Meta products…)
    channel_can: frozenset[ChannelCapability] = frozenset()
    rollbacks: list[Callable[[], None]] = field(default_factory=list)  # undo if not stored

    @property
    def language(self) -> str:
        return self.conversation.language

    def t(self, key: str, **values: Any) -> str:
        return text_for(self.shop, key, self.language, **values)

    def say(self, key: str, **values: Any) -> None:
        self.replies.append(Reply(type="text", text=self.t(key, **values)))

    def outgoing_to_owners(self, body: str, event: TemplateEvent = TemplateEvent.MERCHANT_ALERT,
                           **variables: str) -> None:
        """An alert to every owner number of the shop, through this turn's channel; outside
        the window as the ``event`` template (``merchant_alert``: the body is its alert)."""
        values = {"shop": shop_name(self.shop, "en"),
                  "alert": body, **variables}
        for owner in self.shop.owners:
            digits = "".join(ch for ch in owner if ch.isdigit())
            if digits and digits != self.message.customer:
                self.outgoing.append(Outgoing(customer=digits, reply=Reply(type="text",
                                                                           text=body),
                                              event=event, variables=values, language="en"))

    def reply_text(self, body: str) -> None:
        self.replies.append(Reply(type="text", text=body))

    def reply(self, reply: Reply) -> None:
        self.replies.append(reply)

    def buttons(self, body: str, buttons: list[Button]) -> None:
        self.replies.append(Reply(type="buttons", text=body, buttons=tuple(buttons)))


@dataclass(slots=True)
class _Route:
    filter: Filter
    handler: Handler
    params: tuple[str, ...]


class Blueprint:
    """A flow module's routes, declared once at import (``@blueprint.on(filter)``) and
    never dispatched: each Engine builds its own :class:`Router` from it (``build()``), so
    no router, candidate table or parent link is shared between engines or apps."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._routes: list[tuple[Filter, Handler]] = []

    def on(self, flt: Filter) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append((flt, handler))
            return handler

        return register

    def build(self) -> Router:
        router = Router(self.name)
        for flt, handler in self._routes:
            router.on(flt)(handler)
        return router


class Router:
    """A dispatching router. Like aiogram's, it has at most one parent: including it a
    second time (in another root, another Engine) is refused, so nothing grows per Engine."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._routes: list[_Route] = []
        self._children: list[Router] = []
        self._parents: list[Router] = []
        # per intent (None: no understanding), the routes in order that could match it
        self._table: dict[str | None, tuple[_Route, ...]] = {}

    def on(self, flt: Filter) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            params = tuple(inspect.signature(handler).parameters)
            self._routes.append(_Route(flt, handler, params))
            self._forget_tables()
            return handler

        return register

    def include(self, *routers: Router) -> None:
        for child in routers:
            if child._parents or child is self:
                raise RuntimeError(f"router {child.name!r} is already included in "
                                   f"{child._parents[0].name if child._parents else 'itself'}"
                                   "; build a new one (Blueprint.build)")
        self._children.extend(routers)
        for child in routers:
            child._parents.append(self)
        self._forget_tables()

    def _forget_tables(self) -> None:
        """A route added anywhere below changes the candidates of every router above."""
        self._table.clear()
        for parent in self._parents:
            parent._forget_tables()

    def routes(self) -> list[_Route]:
        """Every route in dispatch order: this router's own, then each child's."""
        out = list(self._routes)
        for child in self._children:
            out.extend(child.routes())
        return out

    def _candidates(self, intent: str | None) -> tuple[_Route, ...]:
        found = self._table.get(intent)
        if found is None:
            found = self._table[intent] = tuple(
                route for route in self.routes()
                if route.filter.intents is None or intent in route.filter.intents)
        return found

    async def dispatch(self, turn: Turn) -> bool:
        """Run the first handler whose filter matches and that does not return UNHANDLED.

        Routes whose filter needs another intent are skipped without running it: the same
        first match as trying every route in order, at a fraction of the filter calls.
        """
        understanding = turn.understanding
        for route in self._candidates(understanding.intent if understanding else None):
            if not route.filter(turn):
                continue
            kwargs = {name: _resolve(turn, name) for name in route.params}
            if await route.handler(**kwargs) is not UNHANDLED:
                return True
        return False


# the fields of bot/services.py:Services (a test keeps the two equal; importing it here
# would be circular)
SERVICE_NAMES = frozenset({"payments", "inventory", "payment_notify", "conversations",
                           "catalogs", "consent"})


async def call_injected(handler: Callable[..., Awaitable[object]], turn: Turn,
                        **given: Any) -> object:
    """Call ``handler`` as a route is called, each parameter by its name (the turn, a
    service of bot/services.py, a Turn field), with ``given`` besides: a flow's own table
    of sub-handlers (the merchant's commands) gets its services the same way."""
    names = inspect.signature(handler).parameters
    return await handler(**{name: given[name] if name in given else _resolve(turn, name)
                            for name in names})


def _resolve(turn: Turn, name: str) -> Any:
    if name == "turn":
        return turn
    if name in SERVICE_NAMES:
        if turn.services is None:
            raise LookupError(f"the handler asks for {name!r} but the turn has no services")
        return getattr(turn.services, name)
    return getattr(turn, name)
