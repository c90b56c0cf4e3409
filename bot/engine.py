"""One inbound message, handled exactly once: dedupe, understand, route, store, answer.

The whole turn runs under the conversation's lock. Nothing is acknowledged until the
transaction holding the inbound row, the new conversation state, the outbox rows and any
order rows has committed; a redelivered message id finds the first answer and replays it.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot import consent, outgoing
from bot.flows import browse, cart, checkout, cod, merchant, orders, support
from bot.flows import consent as consent_flow
from bot.flows.support import FaqIndex
from bot.language import detect_language
from bot.nlu.base import LOW_CONFIDENCE, IntentBackend, ParseContext, Understanding
from bot.outgoing import OutboxItem, outbox_statement
from bot.reminders import schedule_for_turn
from bot.router import Outgoing, Router, Turn
from bot.services import Services
from bot.state import Conversation, ConversationKey, ConversationState, StateStore
from bot.templates import proactive_item
from bot.types import ChannelCapability, InboundMessage, MessageKind, Reply
from catalog.digits import DIGITS
from catalog.models import Shop
from catalog.search import ProductIndex
from config.clock import Clock
from storage.database import Conflict, Database, UnstorableWrite, WriteSet

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # longer messages are cut before NLU (WhatsApp allows 4,096 characters)


@dataclass(frozen=True, slots=True)
class ShopRuntime:
    """A loaded shop with what is derived from it (search index, trained intent engine)."""

    shop: Shop
    index: ProductIndex
    nlu: IntentBackend
    faq: FaqIndex


@dataclass(frozen=True, slots=True)
class HandleResult:
    replies: tuple[Reply, ...]
    response: str
    duplicate: bool = False
    outbox: tuple[OutboxItem, ...] = ()
    understanding: Understanding | None = None
    claimed: bool = False  # the outbox rows are stored claimed by this process


def build_root_router() -> Router:
    """A new root over new routers from the flows' blueprints (every Engine builds its
    own). The order matters: first match wins."""
    root = Router("root")
    root.include(*(blueprint.build() for blueprint in (
        consent_flow.router, merchant.router, support.paused_router, checkout.pending_router,
        cod.router,
        orders.reorder_router, cart.quantity_router, support.router, checkout.router,
        orders.router, cart.router, browse.router, support.fallback_router)))
    return root


class InboundStatus(StrEnum):
    """An ``inbound_messages`` row is written once, when its turn commits."""

    PROCESSED = "processed"


_INSERT_INBOUND = (
    "INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, body, "
    "received_at, status, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (channel, message_id) DO NOTHING"
)
_FIND_INBOUND = "SELECT response FROM inbound_messages WHERE channel = ? AND message_id = ?"
_RECENT_TEXTS = ("SELECT body FROM inbound_messages WHERE shop_id = ? AND channel = ? AND "
                 "customer = ? ORDER BY id DESC LIMIT ?")


async def recent_texts(db: Database, shop_id: str, channel: str, customer: str,
                       limit: int) -> list[str]:
    """The customer's last texts, oldest first (the owner's handoff alert)."""
    rows = await db.fetchall(_RECENT_TEXTS, (shop_id, channel, customer, limit))
    return [str(r[0]) for r in reversed(rows)]


class RecentIds:
    """A bounded set of recently handled (channel, message id) pairs, oldest dropped first.

    It keeps 64-bit hashes, not the ids: ~85 bytes an entry instead of ~260, 17 MB instead
    of 52 at the default 200,000. A hash collision only costs the database read that
    confirms a duplicate (the engine reads before it replays), never a lost message. A
    set and a deque: O(1) to add and to evict (a dict used as a FIFO is not, see the test).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._hashes: set[int] = set()
        self._order: deque[int] = deque()

    def __contains__(self, key: object) -> bool:
        return hash(key) in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, key: tuple[str, str]) -> None:
        digest = hash(key)
        if digest in self._hashes:
            return
        self._hashes.add(digest)
        self._order.append(digest)
        if len(self._order) > self.capacity:
            self._hashes.discard(self._order.popleft())


@dataclass
class Engine:
    db: Database
    store: StateStore
    clock: Clock
    root: Router = field(default_factory=build_root_router)
    services: Services | None = None  # create_app builds them (bot/services.py)
    recent: RecentIds = field(default_factory=RecentIds)
    # channels whose sender ids anyone may claim (the simulator): an owner number on one
    # of them is just a shopper (Settings.simulator_owner lifts it for tests)
    untrusted_channels: frozenset[str] = frozenset()
    observe_nlu: Callable[[float], None] | None = None  # seconds of one parse (/metrics)
    # channels with a customer-service window (WhatsApp's 24 hours): proactive messages on
    # them are free-form only inside it; the channels declare it, create_app passes it down
    windowed_channels: frozenset[str] = frozenset()
    # every channel's declared capabilities, by name (a turn gets its channel's: Turn.channel_can)
    channel_capabilities: Mapping[str, frozenset[ChannelCapability]] = field(
        default_factory=dict)
    # several servers on one PostgreSQL: a turn's replies are stored claimed by this
    # process for this long (bot/outgoing.py, outbox_statement), and sent by it
    outbox_lease_ms: int | None = None

    async def handle(self, runtime: ShopRuntime, message: InboundMessage, *,
                     render: Callable[[list[Reply], Understanding | None], str],
                     direct: bool) -> HandleResult:
        """Handle one message; ``direct`` replies go back in the HTTP answer, else outbox."""
        key = ConversationKey(runtime.shop.id, message.channel, message.customer)
        seen = (message.channel, message.message_id)
        async with self.store.lock(key):
            # the common case, a new message, costs no read: ids handled lately are in
            # memory, and the inbound row's unique guard catches anything older
            check = seen in self.recent
            for _attempt in range(3):
                if check:
                    previous = await self.db.fetchone(_FIND_INBOUND, seen)
                    if previous is not None:
                        self.recent.add(seen)
                        return HandleResult(replies=(), response=previous[0], duplicate=True)
                result = await self._handle_once(runtime, message, key, render, direct)
                if result is not None:
                    self.recent.add(seen)
                    return result
                # a guarded write conflicted: the same id stored before (or by another
                # process), or something this turn read (an order's status) changed
                # meanwhile; look again and run the turn again if it is not a duplicate
                check = True
                self.store.forget(key)
            raise UnstorableWrite("message could not be stored after 3 attempts")

    async def load_recent(self, limit: int = 50_000) -> None:
        """At start-up: the latest handled ids, so redeliveries are caught without a read."""
        rows = await self.db.fetchall(
            "SELECT channel, message_id FROM inbound_messages ORDER BY id DESC LIMIT ?",
            (limit,))
        for channel, message_id in reversed(rows):
            self.recent.add((channel, message_id))

    async def _handle_once(self, runtime: ShopRuntime, message: InboundMessage,
                           key: ConversationKey,
                           render: Callable[[list[Reply], Understanding | None], str],
                           direct: bool) -> HandleResult | None:
        conversation = await self.store.load(key)
        turn = await self._run_turn(runtime, message, conversation)
        response = render(turn.replies, turn.understanding) if direct else ""
        writes = WriteSet()
        writes.add(_INSERT_INBOUND, (
            message.channel, message.message_id, runtime.shop.id, message.customer,
            message.kind.value, message.text[:MAX_TEXT], turn.now_ms, InboundStatus.PROCESSED,
            response), must_change=True)
        items = await self._outbox_items(runtime.shop, message, turn, direct)
        lease = None if self.outbox_lease_ms is None else turn.now_ms + self.outbox_lease_ms
        for item in items:
            outbox_statement(writes, item, turn.now_ms, lease)
        writes.extend(turn.writes)
        try:
            await self.store.save(turn.conversation, writes)
        except BaseException as exc:
            for undo in turn.rollbacks:
                undo()
            if isinstance(exc, Conflict):
                return None
            raise
        return HandleResult(tuple(turn.replies), response, False, tuple(items),
                            turn.understanding, claimed=lease is not None)

    async def _outbox_items(self, shop: Shop, message: InboundMessage, turn: Turn,
                            direct: bool) -> list[OutboxItem]:
        business = turn.conversation.business
        items = [] if direct else [
            OutboxItem(uuid.uuid4().hex, shop.id, message.channel, message.customer, business,
                       reply) for reply in turn.replies]
        for out in turn.outgoing:
            channel = out.channel or message.channel
            found = await self.store.find(shop.id, out.customer)
            theirs = next((c for c in found if c.key.channel == channel), None)
            # from the number the recipient talks to on that channel: the sender's own
            # number only for the sender (this turn may have just changed it) or when the
            # recipient's is not known (a shop with two numbers must not answer a shopper
            # from the number the owner wrote to)
            own = channel == message.channel and out.customer == message.customer
            to_business = business if (own and business) or not (
                theirs and theirs.business) else theirs.business
            # a channel's service window: free-form only inside it, else a template
            language = out.language or (theirs.language if theirs else shop.default_language)
            items.append(proactive_item(
                shop, theirs, out.reply, turn.now_ms, out.event, out.variables,
                channel=channel, customer=out.customer, business=to_business,
                language=shop.language_for(language),
                windowed=channel in self.windowed_channels))
        return items

    async def _digest(self, turn: Turn) -> None:
        await _held_digest(self.db, turn)

    async def merchant_command(self, runtime: ShopRuntime | None, text: str
                               ) -> HandleResult | None:
        """Run a merchant command on behalf of the shop's first owner (the admin API)."""
        if runtime is None or not runtime.shop.owners:
            return None
        owner = "".join(ch for ch in runtime.shop.owners[0] if ch.isdigit())
        message = InboundMessage(channel="api", message_id=f"api-{uuid.uuid4().hex}",
                                 customer=owner, kind=MessageKind.TEXT, text=text)
        return await self.handle(runtime, message, render=lambda r, u: "", direct=True)

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
                    index=runtime.index, faq=runtime.faq, now_ms=now,
                    is_owner=(message.channel not in self.untrusted_channels
                              and _is_owner(shop, message.customer)),
                    services=self.services,
                    channel_can=self.channel_capabilities.get(message.channel, frozenset()))
        text = message.text[:MAX_TEXT]
        # a tap (or a numbered choice) names its handler and skips NLU: its title is our
        # own words, and reading them as an intent let "Confirm order" (checkout) or "Add
        # more" (add_to_cart) win over the payload. Only "/intent" payloads are parsed.
        turn.payload = _payload_of(message, conversation, text)
        said = _consent_command(message, turn.payload, text)
        if said is not None:
            # STOP / START are commands, read before the intent engine (which would call
            # "STOP" out of scope); they speak the language they were said in
            command, language = said
            turn.payload = consent.PAYLOAD_PREFIX + command.value
            if language != "en" and not conversation.language_locked:
                turn.conversation = conversation = conversation.with_(
                    language=shop.language_for(language))
        if (turn.payload is None or turn.payload.startswith("/")) and message.kind in (
                MessageKind.TEXT, MessageKind.BUTTON) and (text or turn.payload):
            parse_text = turn.payload if turn.payload else text
            context = ParseContext(shop=shop, language=conversation.language,
                                   state=conversation.state.value)
            started = time.perf_counter()
            understanding = await runtime.nlu.parse(parse_text, context)
            if self.observe_nlu is not None:
                self.observe_nlu(time.perf_counter() - started)
            if understanding.confidence < LOW_CONFIDENCE and not understanding.items:
                # a guess is worse than a question: low confidence goes to the fallback,
                # which suggests what the shopper can do (and the closest products)
                understanding = replace(understanding, intent="out_of_scope")
            turn.understanding = understanding
            turn.payload = None  # a "/intent" payload was read as text above
            _update_language(turn, text)
        cart_before = dict(conversation.cart)
        handled = await self.root.dispatch(turn)
        if turn.is_owner:
            await self._digest(turn)
        schedule_for_turn(turn, cart_before)
        _away_notice(turn)
        if not handled:
            log.debug("no handler matched")
        _remember_options(turn)
        return turn


DIGEST_ITEM_CHARS = 300


async def _held_digest(db: Database, turn: Turn) -> None:
    """The owner writes: the alerts that could not reach them (outside the window with no
    template, or refused by the channel) come first, once, as one digest."""
    message = turn.message
    held = await outgoing.held_alerts(db, turn.shop.id, message.customer)
    if not held:
        return
    lines = [f"📬 {len(held)} alert{'s' if len(held) != 1 else ''} could not reach you "
             "while the chat was closed:"]
    for alert in held:
        when = time.strftime("%d %b %H:%M UTC", time.gmtime(alert.created_at / 1000))
        text = " · ".join(part for part in alert.reply.text.splitlines() if part.strip())
        lines.append(f"• {when} — {text[:DIGEST_ITEM_CHARS]}")
        outgoing.digested(turn.writes, alert.id, turn.now_ms)
    turn.replies.insert(0, Reply(type="text", text="\n".join(lines)))


def _away_notice(turn: Turn) -> None:
    """Outside opening hours, the first answer of the day starts with the away message;
    orders are still taken (unless the shop is closed for orders)."""
    if turn.is_owner or not turn.replies or support.is_open(turn.shop, turn.now_ms):
        return
    today = support.local_day(turn.shop, turn.now_ms)
    if turn.conversation.data.get("away_day") == today:
        return
    turn.replies.insert(0, Reply(type="text", text=turn.t(
        "away", hours=support.hours_text(turn.shop))))
    turn.conversation = turn.conversation.with_data(away_day=today)


def _digits_of(number: str) -> str:
    if number.isdigit():  # most senders are digits already: no character loop
        return number
    return "".join(ch for ch in number if ch.isdigit())


@functools.lru_cache(maxsize=64)  # pure: a shop's owners, once per shop, not per message
def _owner_digits(owners: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_digits_of(o) for o in owners)


def _is_owner(shop: Shop, customer: str) -> bool:
    digits = _digits_of(customer)
    return bool(digits) and digits in _owner_digits(shop.owners)


# romanised Hindi command words that detect_language (rightly) does not count on their own
# ("do" is English too) but that, in a conversation already in Hindi, mean it continues
_HINGLISH_CUES = frozenset([
    "kar", "karo", "kardo", "kr", "krdo", "kijiye", "hata", "hatao", "hatado", "nikalo",
    "nikal", "bhi", "wala", "wali", "wale", "dikhao", "dikha", "dikhaiye", "bhejo", "chahiye",
])

# \d is every Unicode decimal digit, those catalog/digits.py translates among them: the
# text is matched as it is, and only a matched number is translated
_NUMBER_ONLY = re.compile(r"^\s*#?(\d{1,2})\s*[.)]?\s*$")


def _choice_from_text(conversation: Conversation, text: str) -> str | None:
    """"2" or an option's title after a numbered list → that option's payload."""
    options = conversation.data.get("options")
    if not options or not text:
        return None
    match = _NUMBER_ONLY.match(text)
    if match:
        number = int(match.group(1).translate(DIGITS))
        if 1 <= number <= len(options):
            return str(options[number - 1][0])
        return None
    wanted = unicodedata.normalize("NFKC", text).casefold().strip(" .!?")
    for payload, title in options:
        if str(title).casefold() == wanted:
            return str(payload)
    return None


def _consent_command(message: InboundMessage, payload: str | None, text: str
                     ) -> tuple[consent.ConsentCommand, str] | None:
    """A whole-message STOP / START (typed, or a template's "Stop promotions" quick reply)."""
    if message.kind is MessageKind.TEXT and payload is None:
        return consent.command(text)
    if message.kind is MessageKind.BUTTON and not (payload or "").startswith(
            ("/", consent.PAYLOAD_PREFIX)):
        return consent.command(message.button_title or text)
    return None


def _payload_of(message: InboundMessage, conversation: Conversation, text: str) -> str | None:
    """The payload a message selects: a tap's id, else a numbered-text choice ("2", or an
    option's title typed out) of the options last shown; None for ordinary text.

    A tap that came without an id (a template quick reply from some providers: the parser
    then gives its title as the payload) selects the option with that title if there is
    one, else it is read as text.
    """
    payload = message.button_payload
    if message.kind is MessageKind.BUTTON and payload:
        if payload == (message.button_title or message.text) and not payload.startswith("/"):
            return _choice_from_text(conversation, payload)
        return payload
    if message.kind is MessageKind.TEXT:
        return _choice_from_text(conversation, text)
    return None


def _remember_options(turn: Turn) -> None:
    """Keep the buttons/rows of the last message that had any, numbered as the channels
    number them (``Reply.as_text``), so "2" or a typed title can select one."""
    options: list[list[str]] = []
    for reply in turn.replies:
        if reply.buttons or reply.rows:
            options = [[choice.payload, choice.title] for choice in reply.buttons or reply.rows]
    if turn.conversation.data.get("options") != (options or None):
        # unchanged (the same list again, or none before and after), the data stays the
        # same mapping, and its stored JSON is reused (bot/state.py, SqlStateStore._values)
        turn.conversation = turn.conversation.with_data(options=options or None)


def _update_language(turn: Turn, text: str) -> None:
    """Sticky language: switch only on a clear signal, never when the shopper locked one."""
    conversation = turn.conversation
    if conversation.language_locked or turn.understanding is None:
        return
    if conversation.state in (ConversationState.AWAITING_ADDRESS, ConversationState.AWAITING_VPA):
        return  # "Salt Lake, sector 1" or a UPI id says nothing about the shopper's language
    detected = detect_language(text)
    if detected is None:
        return
    letters_words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    if detected == "en" and conversation.language != "en" and len(letters_words) < 3:
        return  # "ok", "thanks", a product name: not enough to leave Hindi or Bengali
    if detected == "en" and conversation.language == "hi" and not _HINGLISH_CUES.isdisjoint(
            w.casefold() for w in letters_words):
        return  # "order kar do", "samosa hata do": romanised Hindi commands stay in Hindi
    language = turn.shop.language_for(detected)
    if language != conversation.language:
        turn.conversation = conversation.with_(language=language)


__all__ = ["Engine", "HandleResult", "OutboxItem", "Outgoing", "ShopRuntime",
           "outbox_statement"]
