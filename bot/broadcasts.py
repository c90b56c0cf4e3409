"""Broadcasts: one approved marketing template to a segment of opted-in shoppers.

The ``broadcasts`` and ``broadcast_recipients`` tables are owned here. See broadcasts.mmd.

- **The audience is fixed when the broadcast is created**, in the same transaction as the
  broadcast: the shoppers who opted in (bot/consent.py) and are in the segment (everyone,
  those who ordered in the last N days, or buyers of a product). Each recipient gets a
  sequence number and, from it, the id of its outbox row, fixed in advance.
- **Sending is queuing outbox rows**, a batch per second at most the number's throughput
  (``rate``), each batch in one transaction with its recipients marked ``queued``. The
  durable outbox (webhooks/outbox.py) sends them. A row is inserted only if its id is new,
  and a recipient is queued once, so a shopper never gets a broadcast twice: not after a
  crash (the run resumes at the first recipient not queued), nor when it is resumed twice.
- **Pacing backs off**: when rows wait for a retry (130429, the number's throughput hit; the
  outbox retries each with backoff) or Meta caps shoppers (131049, its per-shopper limit on
  marketing messages), the next batches are halved, down to one a second; they grow back by
  a tenth of the rate per clean second. While the outbox is a batch behind, nothing is added.
- **Consent is read again when a recipient is queued**: who said STOP since is skipped.
- **Several servers on one PostgreSQL** each resume a broadcast; a recipient is marked
  ``queued`` by a guarded update, so only one server's batch commits (the other's rolls
  back whole), and the outbox's claim keeps each row to one sender.
- **Counts come from the outbox rows**, which the channels' status callbacks move to sent,
  delivered, read or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bot import consent, outgoing
from bot.outgoing import OutboundStatus, OutboxItem
from bot.state import StateStore
from bot.templates import template_reply
from bot.types import Reply
from catalog.message_templates import TemplateCategory, meta_language
from catalog.models import Shop, TemplateRef
from payments.repository import PaymentsRepository
from storage.database import Conflict, Database, WriteSet

log = logging.getLogger(__name__)

DEFAULT_RATE = 80  # messages a second: Meta's default throughput for a Cloud API number
MAX_DAYS = 3650


class BroadcastStatus(StrEnum):
    SENDING = "sending"  # recipients are being queued (resumed at start-up)
    QUEUED = "queued"  # every recipient is queued or skipped; the outbox does the rest


class RecipientState(StrEnum):
    WAITING = "waiting"
    QUEUED = "queued"  # its outbox row is written
    SKIPPED = "skipped"  # opted out since, or no channel that takes templates


class SegmentError(ValueError):
    """A segment, template or language that cannot be broadcast (a 400 / a CLI error)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """``all``, ``recent:N`` (ordered in the last N days) or ``product:SKU`` (bought it)."""

    kind: str
    days: int = 0
    sku: str = ""

    @classmethod
    def parse(cls, text: str, shop: Shop) -> Segment:
        kind, _, value = text.strip().partition(":")
        if kind == "all" and not value:
            return cls("all")
        if kind == "recent":
            if (not value.isascii() or not value.isdigit() or len(value) > 4
                    or not 1 <= int(value) <= MAX_DAYS):
                raise SegmentError(f"recent:N needs a number of days from 1 to {MAX_DAYS}")
            return cls("recent", days=int(value))
        if kind == "product":
            if shop.catalog.find_sku(value) is None:
                raise SegmentError(f"product:{value[:40]}: no such sku in the catalog")
            return cls("product", sku=value)
        raise SegmentError("segment must be all, recent:N (days) or product:SKU")

    def __str__(self) -> str:
        return {"all": "all", "recent": f"recent:{self.days}"}.get(
            self.kind, f"product:{self.sku}")


# Meta's template language codes for the shop languages (a template is approved per code)
SHOPPER_LANGUAGE = "shopper"  # each shopper's own conversation language
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:_[A-Z]{2})?$")  # Meta's codes: en, en_US, pt_BR


def template_message(shop: Shop, template: str, language: str,
                     params: tuple[str, ...]) -> Reply:
    """The marketing template one recipient gets, through the one template constructor
    (bot/templates.py:template_reply): a key of the shop's ``templates`` map (a Cloud API
    name and/or Twilio Content SIDs per language) or an approved Cloud API name as given;
    its body parameters are positional (``{{1}}``, ``{{2}}``…)."""
    ref = shop.templates.get(template) or (
        TemplateRef(content_sids=MappingProxyType({"*": template}))
        if template.startswith("HX") else TemplateRef(name=template))
    variables = [(str(n), value) for n, value in enumerate(params, start=1)]
    reply = template_reply(ref, language, variables, event="broadcast",
                           category=TemplateCategory.MARKETING, text=template)
    assert reply is not None  # ref names a template (a name or a SID) by construction
    return reply


def outbox_prefix(broadcast_id: str) -> str:
    return f"bc-{broadcast_id}-"


_INSERT_BROADCAST = (
    "INSERT INTO broadcasts (id, shop_id, template, language, params, segment, status, "
    "total, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_RECIPIENT = (
    "INSERT INTO broadcast_recipients (broadcast_id, channel, customer, business, language, "
    f"seq, outbox_id, state) VALUES (?, ?, ?, ?, ?, ?, ?, '{RecipientState.WAITING}')")
_READ_BROADCAST = ("SELECT id, shop_id, template, language, params, segment, status, total, "
                   "created_at FROM broadcasts WHERE id = ?")
_SENDING = f"SELECT id FROM broadcasts WHERE status = '{BroadcastStatus.SENDING}'"
_LIST = ("SELECT id FROM broadcasts WHERE shop_id = ? ORDER BY created_at DESC, id LIMIT ?")
_WAITING = ("SELECT channel, customer, business, language, outbox_id FROM "
            f"broadcast_recipients WHERE broadcast_id = ? AND state = '{RecipientState.WAITING}' "
            "ORDER BY seq LIMIT ?")
# a recipient moves once: queuing (or skipping) it twice changes nothing
_MARK = ("UPDATE broadcast_recipients SET state = ? WHERE broadcast_id = ? AND channel = ? "
         f"AND customer = ? AND state = '{RecipientState.WAITING}'")
_FINISH = ("UPDATE broadcasts SET status = ?, updated_at = ? WHERE id = ? AND "
           f"status = '{BroadcastStatus.SENDING}'")
_STATES = ("SELECT state, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ? "
           "GROUP BY state")


@dataclass
class Broadcaster:
    db: Database
    store: StateStore
    shop_for: Callable[[str], Shop | None]
    now_ms: Callable[[], int]
    submit: Callable[[list[OutboxItem]], None]  # the outbox's immediate send
    # channels whose adapters send templates (ChannelCapability.TEMPLATES)
    template_channels: frozenset[str] = frozenset()
    rate: int = DEFAULT_RATE  # messages a second (HAAT_WHATSAPP_THROUGHPUT)
    pace: Callable[[float], Awaitable[None]] = asyncio.sleep
    batches: list[int] = field(default_factory=list)  # sizes queued per tick (observed)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def create(self, shop: Shop, template: str, *, segment: str,
                     language: str | None = None, params: tuple[str, ...] = ()) -> str:
        """Fix the audience and store the broadcast; :meth:`start` sends it."""
        wanted = Segment.parse(segment, shop)
        language = language or shop.default_language
        if language != SHOPPER_LANGUAGE and not _LANGUAGE_CODE.match(language):
            raise SegmentError(f"language must be a template language code as approved "
                               f"(en, en_US, hi, bn, ar…) or {SHOPPER_LANGUAGE!r}")
        if not template or len(template) > 512 or not all(
                ch.isascii() and (ch.isalnum() or ch == "_") for ch in template):
            raise SegmentError("template must be the approved name (letters, digits, _)")
        audience = await self._audience(shop, wanted)
        broadcast_id = uuid.uuid4().hex[:16]
        now = self.now_ms()
        writes = WriteSet()
        prefix = outbox_prefix(broadcast_id)
        for seq, (channel, customer) in enumerate(audience, start=1):
            business, spoken = await self._contact(shop, channel, customer)
            code = (meta_language(spoken) if language == SHOPPER_LANGUAGE
                    else language)
            writes.add(_INSERT_RECIPIENT, (broadcast_id, channel, customer, business, code,
                                           seq, f"{prefix}{seq:07d}"))
        writes.add(_INSERT_BROADCAST, (broadcast_id, shop.id, template, language,
                                       json.dumps(list(params), ensure_ascii=False),
                                       str(wanted), BroadcastStatus.SENDING.value,
                                       len(audience), now, now))
        await self.db.write(writes)
        log.info("broadcast %s created for shop %s: %d recipients", broadcast_id, shop.id,
                 len(audience))
        return broadcast_id

    async def _audience(self, shop: Shop, segment: Segment) -> list[tuple[str, str]]:
        opted = await consent.opted_in(self.db, shop.id)
        if segment.kind == "all":
            return opted
        repo = PaymentsRepository(self.db)
        since = self.now_ms() - segment.days * 86_400_000 if segment.kind == "recent" else None
        buyers = set(await repo.buyers(shop.id, since_ms=since, sku=segment.sku or None))
        return [who for who in opted if who in buyers]

    async def _contact(self, shop: Shop, channel: str, customer: str) -> tuple[str, str]:
        """The number the shopper talks to, and the language they speak."""
        for conversation in await self.store.find(shop.id, customer):
            if conversation.key.channel == channel:
                return conversation.business, shop.language_for(conversation.language)
        return "", shop.default_language

    def start(self, broadcast_id: str) -> None:
        """Send in the background (one task per broadcast, kept referenced)."""
        task = self._tasks.get(broadcast_id)
        if task is not None and not task.done():
            return
        self._tasks[broadcast_id] = asyncio.create_task(self._guarded(broadcast_id))

    async def _guarded(self, broadcast_id: str) -> None:
        try:
            await self.run(broadcast_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # resumed from where it stopped at the next start
            log.warning("broadcast %s stopped (%s); it resumes at the next start",
                        broadcast_id, type(exc).__name__)

    async def resume_all(self) -> list[str]:
        """At start-up: every broadcast a stopped process left unfinished."""
        ids = [str(r[0]) for r in await self.db.fetchall(_SENDING)]
        for broadcast_id in ids:
            self.start(broadcast_id)
        return ids

    async def wait(self, broadcast_id: str) -> None:
        task = self._tasks.get(broadcast_id)
        if task is not None:
            await asyncio.shield(task)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self, broadcast_id: str) -> None:
        """Queue every waiting recipient, paced; returns when all are queued or skipped."""
        row = await self.db.fetchone(_READ_BROADCAST, (broadcast_id,))
        if row is None:
            return
        shop = self.shop_for(str(row[1]))
        if shop is None:
            log.warning("broadcast %s: its shop is not served; not sent", broadcast_id)
            return
        template, params = str(row[2]), tuple(str(p) for p in json.loads(str(row[4])))
        prefix = outbox_prefix(broadcast_id)
        rate = max(1, self.rate)
        capped_before = (await outgoing.pressure_with_prefix(self.db, prefix))[2]
        while True:
            started = time.monotonic()
            unsent, retrying, capped = await outgoing.pressure_with_prefix(self.db, prefix)
            if retrying or capped > capped_before:
                rate = max(1, rate // 2)  # 130429 / 131049: the number or Meta says slower
            elif rate < self.rate:
                rate = min(self.rate, rate + max(1, self.rate // 10))
            capped_before = capped
            room = rate - unsent  # never more than a second's worth waiting in the outbox
            if room > 0:
                waiting = await self.db.fetchall(_WAITING, (broadcast_id, room))
                if not waiting:
                    break
                await self._queue(shop, broadcast_id, template, params, waiting)
            await self.pace(max(0.0, 1.0 - (time.monotonic() - started)))
        finish = WriteSet()
        finish.add(_FINISH, (BroadcastStatus.QUEUED.value, self.now_ms(), broadcast_id))
        await self.db.write(finish)
        log.info("broadcast %s: every recipient queued", broadcast_id)

    async def _queue(self, shop: Shop, broadcast_id: str, template: str,
                     params: tuple[str, ...], waiting: list[Any]) -> None:
        now = self.now_ms()
        writes = WriteSet()
        items: list[OutboxItem] = []
        rows = [tuple(str(v) for v in row) for row in waiting]
        # one consent read for the page: only channels that send templates can be allowed
        marketable = await consent.may_market_among(
            self.db, shop.id, ((r[0], r[1]) for r in rows if r[0] in self.template_channels))
        for channel, customer, business, language, outbox_id in rows:
            allowed = (channel, customer) in marketable
            state = RecipientState.QUEUED if allowed else RecipientState.SKIPPED
            # guarded: on PostgreSQL every server resumes the same broadcast, and a batch
            # another server queued first is rolled back here whole
            writes.add(_MARK, (state.value, broadcast_id, channel, customer),
                       must_change=True)
            if allowed:
                item = OutboxItem(outbox_id, shop.id, channel, customer, business,
                                  template_message(shop, template, language, params))
                outgoing.outbox_statement(writes, item, now, if_new=True)
                items.append(item)
        try:
            await self.db.write(writes)
        except Conflict:
            return  # another server queued some of them: the next tick reads what is left
        self.batches.append(len(items))
        self.submit(items)

    async def report(self, broadcast_id: str) -> dict[str, Any] | None:
        """What the merchant sees: the audience, and the sends by their latest status."""
        row = await self.db.fetchone(_READ_BROADCAST, (broadcast_id,))
        if row is None:
            return None
        states = {str(r[0]): int(r[1]) for r in await self.db.fetchall(_STATES,
                                                                       (broadcast_id,))}
        counts = await outgoing.counts_with_prefix(self.db, outbox_prefix(broadcast_id))
        s = OutboundStatus

        def n(*statuses: OutboundStatus) -> int:
            return sum(counts.get(s, 0) for s in statuses)

        return {
            "id": str(row[0]), "shop": str(row[1]), "template": str(row[2]),
            "language": str(row[3]), "segment": str(row[5]), "status": str(row[6]),
            "recipients": int(row[7]),
            "waiting": states.get(RecipientState.WAITING, 0),
            "skipped": states.get(RecipientState.SKIPPED, 0),
            "queued": states.get(RecipientState.QUEUED, 0),
            "pending": n(s.PENDING, s.SENDING),
            # every count is "reached at least": a read message was also sent and delivered
            "sent": n(s.ACCEPTED, s.SENT, s.DELIVERED, s.READ),
            "delivered": n(s.DELIVERED, s.READ),
            "read": n(s.READ),
            "failed": n(s.FAILED, s.DEAD, s.UNDELIVERABLE, s.UNKNOWN_ERROR),
        }

    async def recent(self, shop_id: str, limit: int = 50) -> list[str]:
        return [str(r[0]) for r in await self.db.fetchall(_LIST, (shop_id, limit))]
