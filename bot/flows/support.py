"""Support: FAQ, hours, delivery info, language switching, thanks/bye, fallback.

See support.mmd for the diagram.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.filters import Filter, intent, kind
from bot.flows.common import product_name
from bot.language import language_switch_request
from bot.router import UNHANDLED, Blueprint, Turn
from bot.state import ConversationState
from bot.types import Button, MessageKind, Reply
from catalog.message_templates import TemplateEvent
from catalog.models import FaqEntry, OpeningHours, Shop

router = Blueprint("support")
fallback_router = Blueprint("fallback")
paused_router = Blueprint("paused")


@paused_router.on(Filter(lambda t: not t.is_owner and t.conversation.paused(t.now_ms),
                         "paused"))
async def while_paused(turn: Turn) -> None:
    """A person is handling this chat: stay quiet, pass the message on, extend the pause."""
    quiet = turn.shop.handoff_quiet_minutes * 60_000
    turn.conversation = turn.conversation.with_(handoff_until=turn.now_ms + quiet)
    who = turn.message.phone or f"+{turn.message.customer}"
    if turn.message.text:
        turn.outgoing_to_owners(f"💬 {who}: {turn.message.text[:1000]}",
                                TemplateEvent.HANDOFF_ALERT, customer=who,
                                message=turn.message.text)


@paused_router.on(Filter(lambda t: t.conversation.state is ConversationState.HANDOFF
                         and not t.conversation.paused(t.now_ms), "pause_over"))
async def pause_over(turn: Turn) -> object:
    """The quiet time passed: the bot is back, and handles this message as usual."""
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE, handoff_until=0)
    return UNHANDLED

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


class FaqIndex:
    """The shop's FAQ phrases, normalised once when the shop loads (not per message)."""

    def __init__(self, shop: Shop) -> None:
        self._entry_of: dict[str, FaqEntry] = {}
        for entry in shop.faq:
            for phrases in entry.ask.values():
                for phrase in phrases:
                    if (norm := _norm(phrase)):
                        self._entry_of.setdefault(norm, entry)  # the first entry wins
        # one pass over the message for every phrase: longest phrases first, whole words
        alternatives = sorted(self._entry_of, key=len, reverse=True)
        self._pattern = re.compile(
            "(?<![^ ])(?:" + "|".join(re.escape(a) for a in alternatives) + ")(?![^ ])"
        ) if alternatives else None

    def answer(self, text: str) -> FaqEntry | None:
        """The FAQ entry one of whose phrases (any language) appears in the message."""
        if self._pattern is None:
            return None
        found = self._pattern.search(_norm(text))
        return self._entry_of[found.group(0)] if found else None


def _faq_filter() -> Filter:
    return Filter(lambda t: bool(t.message.text) and t.payload is None
                  and t.faq.answer(t.message.text) is not None, "faq")


@router.on(_faq_filter())
async def faq(turn: Turn) -> None:
    entry = turn.faq.answer(turn.message.text)
    assert entry is not None
    turn.reply_text(entry.answer.get(turn.language, turn.shop.default_language))


def _fmt(t: time) -> str:
    return t.strftime("%H:%M")


def hours_text(shop: Shop) -> str:
    """``Mon–Sat 08:00–21:00, Sun 09:00–13:00``: consecutive days with equal hours merged."""
    return _hours_text(shop.hours)


@functools.lru_cache(maxsize=64)
def _hours_text(hours: OpeningHours) -> str:
    days = [", ".join(f"{_fmt(a)}–{_fmt(b)}" for a, b in spans) or "closed"
            for spans in hours.by_weekday]
    groups: list[tuple[int, int, str]] = []
    for i, text in enumerate(days):
        if groups and groups[-1][2] == text and groups[-1][1] == i - 1:
            groups[-1] = (groups[-1][0], i, text)
        else:
            groups.append((i, i, text))
    parts = []
    for start, end, text in groups:
        label = _DAY_NAMES[start] if start == end else f"{_DAY_NAMES[start]}–{_DAY_NAMES[end]}"
        parts.append(f"{label} {text}")
    return ", ".join(parts)


def is_open(shop: Shop, now_ms: int) -> bool:
    return _open_in_minute(shop.hours, shop.timezone, now_ms // 60_000)


def local_day(shop: Shop, now_ms: int) -> str:
    """The shop's calendar date now, ``2026-11-23`` (one computation per shop and minute)."""
    return _day_in_minute(shop.timezone, now_ms // 60_000)


@functools.lru_cache(maxsize=256)
def _day_in_minute(timezone: str, minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, ZoneInfo(timezone)).date().isoformat()


@functools.lru_cache(maxsize=256)
def _open_in_minute(hours: OpeningHours, timezone: str, minute: int) -> bool:
    """Opening hours are whole minutes: one answer per shop and minute, not per message."""
    local = datetime.fromtimestamp(minute * 60, ZoneInfo(timezone))
    return hours.is_open(local.weekday(), local.time())


@router.on(intent("business_hours"))
async def business_hours(turn: Turn) -> None:
    now = turn.t("open_now") if is_open(turn.shop, turn.now_ms) else turn.t("closed_now")
    turn.say("hours", hours=hours_text(turn.shop), now=now)


@router.on(intent("delivery_info"))
async def delivery_info(turn: Turn) -> None:
    delivery = turn.shop.delivery
    if delivery is None:
        turn.say("no_delivery")
        return
    free = turn.t("delivery_free_above", amount=delivery.free_above.format()) \
        if delivery.free_above is not None else ""
    turn.say("delivery_info", areas=", ".join(delivery.areas) or "—",
             fee=delivery.fee.format(), free=free)


@router.on(intent("change_language"))
async def change_language(turn: Turn) -> None:
    wanted = language_switch_request(turn.message.text) or (
        turn.understanding.entity("language") if turn.understanding else None)
    if wanted is None or wanted not in turn.shop.languages:
        turn.say("language_unavailable", languages=", ".join(turn.shop.languages))
        return
    turn.conversation = turn.conversation.with_(language=wanted, language_locked=True)
    turn.say("language_switched")


@router.on(intent("thanks"))
async def thanks(turn: Turn) -> None:
    turn.say("thanks")


@router.on(intent("goodbye"))
async def goodbye(turn: Turn) -> None:
    turn.say("goodbye")


@router.on(kind(MessageKind.UNKNOWN, MessageKind.MEDIA, MessageKind.REACTION))
async def unsupported(turn: Turn) -> None:
    if turn.message.kind is MessageKind.REACTION:
        return  # a 👍 on our message needs no answer
    turn.say("unsupported_message")


@fallback_router.on(Filter(lambda t: t.payload is not None, "stale_payload"))
async def stale_payload(turn: Turn) -> None:
    """A tap no handler took: a button of an earlier message whose moment has passed (the
    order already placed, a product no longer sold) or one this bot never sent. Never a
    guess from its title: say so, and show where the conversation stands now."""
    from bot.flows.cart import show_cart
    from bot.flows.checkout import summary

    state = turn.conversation.state
    if state is ConversationState.CONFIRMING_ORDER and turn.conversation.cart:
        turn.say("button_expired")
        await summary(turn)
    elif state is ConversationState.AWAITING_ADDRESS:
        turn.say("button_expired")
        turn.say("ask_address")
    elif turn.conversation.cart:
        turn.say("button_expired")
        show_cart(turn)
    else:
        turn.reply(Reply(type="buttons", text=turn.t("button_expired_menu"),
                         buttons=(Button("menu", turn.t("menu_button")),)))


@fallback_router.on(Filter(lambda t: True, "any"))
async def fallback(turn: Turn) -> None:
    suggestions = turn.index.suggest(turn.message.text, limit=3) if turn.message.text else []
    if suggestions:
        turn.say("did_you_mean",
                 names=", ".join(product_name(turn, m.product) for m in suggestions))
    turn.say("fallback")
