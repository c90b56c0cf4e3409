"""Marketing consent: who may get marketing messages, and the words that change it.

The ``marketing_consent`` table is owned here. A shopper opts out with STOP, UNSUBSCRIBE or
their usual forms in Hindi, Bengali and Arabic (native script and romanised), or with
WhatsApp's own "stop promotions" (the ``user_preferences`` webhook); START (or WhatsApp's
"resume") opts them back in. How else a shopper opts in is the shop's choice
(``marketing.opt_in`` in shop.yaml, :class:`catalog.models.MarketingOptIn`).

Only *marketing* messages (cart reminders, broadcasts) ask :func:`may_market`; utility
messages about the shopper's own orders never do. Every change carries the time it was
made, and an older change never overwrites a newer one (a delayed webhook after a START).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from catalog.models import MarketingOptIn, Shop
from storage.database import Database, WriteSet


class ConsentStatus(StrEnum):
    UNKNOWN = "unknown"  # never said (a row exists only because we asked)
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


class ConsentSource(StrEnum):
    """How the current status was given (kept for the merchant's records)."""

    KEYWORD = "keyword"  # STOP / START typed in the chat
    WHATSAPP = "whatsapp"  # Meta's user_preferences webhook (stop / resume)
    CHECKOUT = "checkout"  # the ask_at_checkout buttons
    ORDER = "order"  # implicit_on_order
    ASKED = "asked"  # the question was put, no answer yet


class ConsentCommand(StrEnum):
    STOP = "stop"
    START = "start"


# Whole-message keywords only: "stop the order" or "band karo samosa" are not opt-outs.
# Forms after :func:`normalise` (case-folded, punctuation and Arabic marks dropped, alef
# forms unified). "cancel" (and Arabic الغاء alone) is not here: it cancels orders
# (bot/flows/orders.py); a bare "band" / "বন্ধ" asks whether the shop is closed as often.
_STOP = {
    "en": ("stop", "stop all", "stopall", "unsubscribe", "opt out", "optout",
           "stop promotions", "stop promotion", "stop offers", "stop messages",
           "stop marketing", "no more messages"),
    "hi": ("बंद करो", "बंद करें", "बंद कीजिए", "बंद कर दो", "रोको", "रोकें",
           "संदेश बंद करो", "मैसेज बंद करो", "अनसब्सक्राइब", "मत भेजो", "मैसेज मत भेजो",
           "band karo", "band kro", "band kardo", "band kar do", "bandh karo",
           "message band karo", "msg band karo", "mat bhejo", "message mat bhejo",
           "msg mat bhejo"),
    "bn": ("বন্ধ করো", "বন্ধ করুন", "বন্ধ কর", "থামাও", "থামুন", "মেসেজ বন্ধ করুন",
           "আনসাবস্ক্রাইব", "পাঠাবেন না", "bondho koro", "bondho korun",
           "bandho koro", "bando koro", "message bondho koro", "pathaben na"),
    "ar": ("توقف", "ايقاف", "اوقف", "قف", "الغاء الاشتراك", "ستوب",
           "لا ترسل", "لا ترسلوا", "اوقف الرسائل", "ايقاف الرسائل",
           "wa2ef", "wa2af", "tawaqaf", "tawa2af", "elgha2 el eshtirak"),
}
_START = {
    "en": ("start", "unstop", "subscribe", "opt in", "optin", "resume", "start offers",
           "resume promotions", "start promotions"),
    "hi": ("शुरू", "शुरू करो", "शुरू करें", "फिर से शुरू करो", "चालू करो", "चालू करें",
           "shuru", "shuru karo", "shuru kro", "chalu karo", "chaalu karo",
           "phir se shuru karo", "fir se shuru karo"),
    "bn": ("শুরু", "শুরু করো", "শুরু করুন", "চালু করো", "চালু করুন", "আবার শুরু করুন",
           "shuru koro", "shuru korun", "chalu koro", "chalu korun", "abar shuru koro"),
    "ar": ("ابدا", "ابدأ", "اشتراك", "اشترك", "تفعيل", "استئناف", "ebda2", "ibda2",
           "ishtirak", "eshtrak"),
}

_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]")  # Arabic harakat, dagger alef, tatweel
_PUNCT = re.compile(r"[^\w\s\u0900-\u097F\u0980-\u09FF]")  # keeps Indic combining marks
_SPACES = re.compile(r"\s+")
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _MARKS.sub("", text).translate(_ALEF)
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _table() -> dict[str, tuple[ConsentCommand, str]]:
    table: dict[str, tuple[ConsentCommand, str]] = {}
    for command, forms in ((ConsentCommand.STOP, _STOP), (ConsentCommand.START, _START)):
        for language, words in forms.items():
            for word in words:
                table[normalise(word)] = (command, language)
    return table


_KEYWORDS = _table()
_LONGEST = max(len(k) for k in _KEYWORDS)


def command(text: str) -> tuple[ConsentCommand, str] | None:
    """The opt-out / opt-in a whole message says, with the language it says it in."""
    if not text or len(text) > _LONGEST * 3:
        return None
    return _KEYWORDS.get(normalise(text))


# button payloads of the ask_at_checkout question (bot/flows/consent.py)
PAYLOAD_PREFIX = "consent:"
PAYLOAD_YES = "consent:yes"
PAYLOAD_NO = "consent:no"


@dataclass(frozen=True, slots=True)
class Consent:
    status: ConsentStatus = ConsentStatus.UNKNOWN
    source: str = ""
    asked: bool = False


_UPSERT = (
    "INSERT INTO marketing_consent (shop_id, channel, customer, status, source, asked, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop_id, channel, customer) DO "
    "UPDATE SET status = excluded.status, source = excluded.source, "
    "asked = (marketing_consent.asked OR excluded.asked), updated_at = excluded.updated_at "
    "WHERE marketing_consent.updated_at <= excluded.updated_at")
# only where nothing was said yet: an order never overrides a STOP (or a START)
_IF_UNSAID = (
    "INSERT INTO marketing_consent (shop_id, channel, customer, status, source, asked, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (shop_id, channel, customer) DO "
    f"UPDATE SET status = excluded.status, source = excluded.source, asked = "
    f"(marketing_consent.asked OR excluded.asked), updated_at = excluded.updated_at "
    f"WHERE marketing_consent.status = '{ConsentStatus.UNKNOWN}'")
_READ = ("SELECT status, source, asked FROM marketing_consent WHERE shop_id = ? AND "
         "channel = ? AND customer = ?")
_OPTED_IN = ("SELECT channel, customer FROM marketing_consent WHERE shop_id = ? AND "
             f"status = '{ConsentStatus.OPTED_IN}' ORDER BY channel, customer")
_OPTED_IN_AMONG = ("SELECT channel, customer FROM marketing_consent WHERE shop_id = ? AND "
                   f"status = '{ConsentStatus.OPTED_IN}' AND customer IN ({{marks}})")


def record(writes: WriteSet, shop_id: str, channel: str, customer: str,
           status: ConsentStatus, source: ConsentSource, now_ms: int) -> None:
    """An explicit choice (a keyword, WhatsApp's webhook, a button): the newest wins."""
    writes.add(_UPSERT, (shop_id, channel, customer, status.value, source.value, False,
                         now_ms))


def record_if_unsaid(writes: WriteSet, shop_id: str, channel: str, customer: str,
                     status: ConsentStatus, source: ConsentSource, now_ms: int, *,
                     asked: bool = False) -> None:
    """An implied one (an order, the question being put): never over a said choice."""
    writes.add(_IF_UNSAID, (shop_id, channel, customer, status.value, source.value, asked,
                            now_ms))


async def read(db: Database, shop_id: str, channel: str, customer: str) -> Consent:
    row = await db.fetchone(_READ, (shop_id, channel, customer))
    if row is None:
        return Consent()
    return Consent(ConsentStatus(str(row[0])), str(row[1]), bool(row[2]))


async def may_market(db: Database, shop_id: str, channel: str, customer: str) -> bool:
    """Whether a marketing message may go to this shopper: only after an opt-in."""
    return (await read(db, shop_id, channel, customer)).status is ConsentStatus.OPTED_IN


async def may_market_among(db: Database, shop_id: str,
                           shoppers: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The ``(channel, customer)`` of ``shoppers`` that :func:`may_market` allows, in one
    query (a broadcast asks once per page, not once per recipient)."""
    wanted = set(shoppers)
    if not wanted:
        return set()
    customers = sorted({customer for _, customer in wanted})
    rows = await db.fetchall(_OPTED_IN_AMONG.format(marks=", ".join("?" for _ in customers)),
                             (shop_id, *customers))
    return wanted & {(str(r[0]), str(r[1])) for r in rows}


async def opted_in(db: Database, shop_id: str) -> list[tuple[str, str]]:
    """``(channel, customer)`` of every shopper who takes the shop's marketing."""
    return [(str(r[0]), str(r[1])) for r in await db.fetchall(_OPTED_IN, (shop_id,))]


class ConsentService:
    """What a turn's handlers need of consent (a handler asks for ``consent``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, shop_id: str, channel: str, customer: str) -> Consent:
        return await read(self._db, shop_id, channel, customer)


def after_order(writes: WriteSet, shop: Shop, channel: str, customer: str,
                now_ms: int) -> None:
    """``implicit_on_order``: an order opts its shopper in, unless they said otherwise."""
    if shop.marketing_opt_in is MarketingOptIn.IMPLICIT_ON_ORDER:
        record_if_unsaid(writes, shop.id, channel, customer, ConsentStatus.OPTED_IN,
                         ConsentSource.ORDER, now_ms)
