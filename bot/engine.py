"""One inbound message, handled exactly once: dedupe, understand, route, store, answer.

The whole turn runs under the conversation's lock. Nothing is acknowledged until the
transaction holding the inbound row, the new conversation state, the outbox rows and any
order rows has committed; a redelivered message id finds the first answer and replays it.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.flows import browse, cart, support
from bot.language import detect_language
from bot.nlu.base import IntentBackend, ParseContext, Understanding
from bot.router import Outgoing, Router, Turn
from bot.state import Conversation, ConversationKey, StateStore
from bot.types import InboundMessage, MessageKind, Reply
from catalog.models import Shop
from catalog.search import ProductIndex
from config.clock import Clock
from config.database import Conflict, Database, WriteSet

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # longer messages are cut before NLU (WhatsApp allows 4,096 characters)
_DIGITS = str.maketrans("०१२३४५६७८९০১২৩৪৫৬৭৮৯٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 4)


@dataclass(frozen=True, slots=True)
class ShopRuntime:
    """A loaded shop with what is derived from it (search index, trained intent engine)."""

    shop: Shop
    index: ProductIndex
    nlu: IntentBackend


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    shop_id: str
    channel: str
    customer: str
    business: str
    reply: Reply


@dataclass(frozen=True, slots=True)
class HandleResult:
    replies: tuple[Reply, ...]
    response: str
    duplicate: bool = False
    outbox: tuple[OutboxItem, ...] = ()
    understanding: Understanding | None = None


def build_root_router() -> Router:
    """The order matters: first match wins."""
    root = Router("root")
    root.include(support.router, cart.router, browse.router, support.fallback_router)
    return root


_INSERT_INBOUND = (
    "INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, body, "
    "received_at, status, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (channel, message_id) DO NOTHING"
)
_FIND_INBOUND = "SELECT response FROM inbound_messages WHERE channel = ? AND message_id = ?"
_INSERT_OUTBOX = (
    "INSERT INTO outbound_messages (id, shop_id, channel, customer, business, payload, status, "
    "attempts, next_attempt_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
)


def outbox_statement(writes: WriteSet, item: OutboxItem, now_ms: int) -> None:
    writes.add(_INSERT_OUTBOX, (
        item.id, item.shop_id, item.channel, item.customer, item.business,
        json.dumps(item.reply.to_json(), ensure_ascii=False), now_ms, now_ms, now_ms))


@dataclass
class Engine:
    db: Database
    store: StateStore
    clock: Clock
    root: Router = field(default_factory=build_root_router)
    services: dict[str, object] = field(default_factory=dict)

    async def handle(self, runtime: ShopRuntime, message: InboundMessage, *,
                     render: Callable[[list[Reply], Understanding | None], str],
                     direct: bool) -> HandleResult:
        """Handle one message; ``direct`` replies go back in the HTTP answer, else outbox."""
        key = ConversationKey(runtime.shop.id, message.channel, message.customer)
        async with self.store.lock(key):
            previous = await self.db.fetchone(_FIND_INBOUND, (message.channel, message.message_id))
            if previous is not None:
                return HandleResult(replies=(), response=previous[0], duplicate=True)
            conversation = await self.store.load(key)
            turn = await self._run_turn(runtime, message, conversation)
            response = render(turn.replies, turn.understanding) if direct else ""
            writes = WriteSet()
            writes.add(_INSERT_INBOUND, (
                message.channel, message.message_id, runtime.shop.id, message.customer,
                message.kind.value, message.text[:MAX_TEXT], turn.now_ms, "processed",
                response), must_change=True)
            items = self._outbox_items(runtime.shop, message, turn, direct)
            for item in items:
                outbox_statement(writes, item, turn.now_ms)
            writes.extend(turn.writes)
            try:
                await self.store.save(turn.conversation, writes)
            except Conflict:
                # another process stored this message id between our check and our commit
                again = await self.db.fetchone(_FIND_INBOUND,
                                               (message.channel, message.message_id))
                return HandleResult(replies=(), response=again[0] if again else "",
                                    duplicate=True)
            return HandleResult(tuple(turn.replies), response, False, tuple(items),
                                turn.understanding)

    def _outbox_items(self, shop: Shop, message: InboundMessage, turn: Turn,
                      direct: bool) -> list[OutboxItem]:
        business = turn.conversation.business
        items = [] if direct else [
            OutboxItem(uuid.uuid4().hex, shop.id, message.channel, message.customer, business,
                       reply) for reply in turn.replies]
        for out in turn.outgoing:
            items.append(OutboxItem(uuid.uuid4().hex, shop.id, out.channel or message.channel,
                                    out.customer, business, out.reply))
        return items

    async def _run_turn(self, runtime: ShopRuntime, message: InboundMessage,
                        conversation: Conversation) -> Turn:
        shop = runtime.shop
        now = self.clock.now_ms()
        conversation = conversation.with_(
            last_inbound_at=now, updated_at=now,
            business=message.reply_from or message.business or conversation.business)
        if conversation.is_new:
            conversation = conversation.with_(language=shop.default_language)
        turn = Turn(shop=shop, message=message, conversation=conversation,
                    index=runtime.index, now_ms=now, is_owner=_is_owner(shop, message.customer),
                    services=self.services)
        text = message.text[:MAX_TEXT]
        turn.payload = message.button_payload or _choice_from_text(conversation, text)
        if message.kind in (MessageKind.TEXT, MessageKind.BUTTON) and (
                text or (turn.payload or "").startswith("/")):
            parse_text = turn.payload if (turn.payload or "").startswith("/") else text
            context = ParseContext(shop=shop, language=conversation.language,
                                   state=conversation.state.value)
            turn.understanding = await runtime.nlu.parse(parse_text, context)
            if turn.payload and turn.payload.startswith("/"):
                turn.payload = None
            _update_language(turn, text)
        handled = await self.root.dispatch(turn)
        if not handled:
            log.debug("no handler matched")
        _remember_options(turn)
        return turn


def _digits_of(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _is_owner(shop: Shop, customer: str) -> bool:
    digits = _digits_of(customer)
    return bool(digits) and any(_digits_of(o) == digits for o in shop.owners)


_NUMBER_ONLY = re.compile(r"^\s*#?(\d{1,2})\s*[.)]?\s*$")


def _choice_from_text(conversation: Conversation, text: str) -> str | None:
    """"2" or an option's title after a numbered list → that option's payload."""
    options = conversation.data.get("options")
    if not options or not text:
        return None
    match = _NUMBER_ONLY.match(text.translate(_DIGITS))
    if match:
        number = int(match.group(1))
        if 1 <= number <= len(options):
            return str(options[number - 1][0])
        return None
    wanted = unicodedata.normalize("NFKC", text).casefold().strip(" .!?")
    for payload, title in options:
        if str(title).casefold() == wanted:
            return str(payload)
    return None


def _remember_options(turn: Turn) -> None:
    """Keep the last buttons/rows shown so a numbered answer can select one."""
    options: list[list[str]] = []
    for reply in turn.replies:
        for choice in reply.buttons or reply.rows:
            options.append([choice.payload, choice.title])
    turn.conversation = turn.conversation.with_data(options=options or None)


def _update_language(turn: Turn, text: str) -> None:
    """Sticky language: switch only on a clear signal, never when the shopper locked one."""
    conversation = turn.conversation
    if conversation.language_locked or turn.understanding is None:
        return
    detected = detect_language(text)
    if detected is None:
        return
    letters_words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    if detected == "en" and conversation.language != "en" and len(letters_words) < 3:
        return  # "ok", "thanks", a product name: not enough to leave Hindi or Bengali
    language = turn.shop.language_for(detected)
    if language != conversation.language:
        turn.conversation = conversation.with_(language=language)


__all__ = ["Engine", "HandleResult", "OutboxItem", "Outgoing", "ShopRuntime"]
