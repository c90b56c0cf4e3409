"""The durable outbox: every proactive message is a row first, then a send, then a status.

Rows are inserted in the same transaction as the inbound message that caused them, so a
crash never loses one and a redelivered inbound message never adds a second. After commit
the engine hands the new rows to :meth:`Outbox.submit` for an immediate send; a poller
picks up anything left over (retries, a restart) from the table.

A row is *claimed* before the send, so two senders never send it at once: in memory (the
in-flight set) in the one process that owns an SQLite database, and durably on PostgreSQL
(``pending → sending`` with a lease) where several processes may share the table. Retries
happen only on 429, 5xx and timeouts, with exponential backoff and jitter; after
``max_attempts`` the row is dead-lettered (``OutboundStatus.DEAD``) with a warning. The row id is
the idempotency key given to the channel.

A send's result is kept in memory until it is recorded: when the write that records it fails
(storage locked, disk full, a failing neighbour), it is retried with backoff while the row
stays claimed, so a failed "mark sent" never causes a second send. A delivery status that
arrives for such a send meanwhile (it carries the channel's message id) records both. Only a
crash between a send and its record can send a row again after the restart: see
docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from bot import outgoing
from bot.order_card import without_card
from bot.outgoing import OutboundStatus, OutboxItem
from bot.templates import fallback_of, is_owner_alert
from bot.types import Reply
from config.clock import Clock
from storage.database import Conflict, Database, UnstorableWrite, WriteSet
from webhooks.channels.base import ChannelAdapter, SendError
from webhooks.metrics import LatencyHistogram
from webhooks.sender import ORPHAN_GRACE_SECONDS, Sender, SentJournal, orphaned_journals

log = logging.getLogger(__name__)

# What a refusal means (docs/CHANNELS.md, "When a send fails"). The customer-service window
# was closed: Cloud API 131047 (re-engagement), Twilio 63016 (free-form outside the window)
WINDOW_CLOSED: Final = frozenset({"131047", "63016"})
# this person cannot get it: 131026 (undeliverable), 131049 (Meta's per-user marketing
# limit), 131050 (stopped marketing messages), Twilio 63003/63024 (no such recipient),
# 63049 (Twilio's 131049); a template with no Content SID (Twilio) or no name (Cloud API)
UNDELIVERABLE: Final = frozenset({"131026", "131049", "131050", "63003", "63024", "63049",
                                  "no_content_sid", "no_template_name"})
# refusals haat knows, all of them a fault of haat or of the shop's setup, not of the
# moment: template parameters (132000 count, 132018 format, 132012, 132001 no such template
# or language, 132005, 132007, 132015/132016 paused or disabled), parameters 131008/131009,
# 131051 type, 131005/190 access, Twilio 21211 bad number, 21655/21656 Content SID/variables
KNOWN_REFUSALS: Final = frozenset({
    "132000", "132001", "132005", "132007", "132012", "132015", "132016", "132018",
    "131008", "131009", "131051", "131005", "131031", "190", "100", "21211", "21655",
    "21656", "63040", "not_configured", "unknown_business"})


def classify(code: str | None, reply: Reply) -> OutboundStatus:
    """The end of a row the channel refused for good (not for the window: see
    :meth:`Outbox._window_closed`); an owner's alert is held for the digest instead."""
    if is_owner_alert(reply):
        return OutboundStatus.HELD
    if code in UNDELIVERABLE:
        return OutboundStatus.UNDELIVERABLE
    if code in KNOWN_REFUSALS:
        return OutboundStatus.FAILED
    return OutboundStatus.UNKNOWN_ERROR


@dataclass
class Outbox:
    db: Database
    channels: Mapping[str, ChannelAdapter]
    sender: Sender  # in this event loop, or in the sender child (webhooks/sender.py)
    clock: Clock
    max_attempts: int = 6
    base_delay_ms: int = 1000
    max_delay_ms: int = 5 * 60 * 1000
    lease_ms: int = 60_000
    poll_seconds: float = 1.0
    record_delay: float = 0.2  # first wait before recording a result again (doubles)
    record_max_delay: float = 10.0
    journal: SentJournal | None = None  # sends the channel accepted (webhooks/sender.py)
    # after a restart, rows left unsent wait this long (a dead server's sender child may
    # still be finishing its sends) and for the journal's word before they are sent
    recovery_grace: float = ORPHAN_GRACE_SECONDS + 1.0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _inflight: set[str] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    # sends the channel accepted whose record has not landed: (channel, channel id) → row id
    _unrecorded: dict[tuple[str, str], str] = field(default_factory=dict)
    _held: set[str] = field(default_factory=set)  # in doubt after a restart: not yet
    _recovery: asyncio.Task[None] | None = None
    _orphans_looked_at: int | None = None  # clock ms of the last look (poll_once)
    sent_count: int = 0
    dead_count: int = 0
    templated_count: int = 0  # sends refused for the window and sent again as templates
    record_retries: int = 0  # writes of a result that failed and were tried again
    unrecorded_at_close: int = 0
    recovered_from_journal: int = 0  # sends a dead process made, recorded at start-up
    send_seconds: LatencyHistogram | None = None  # /metrics: haat_send_seconds{channel}

    def submit(self, items: tuple[OutboxItem, ...] | list[OutboxItem], *,
               claimed: bool = False) -> None:
        """Send freshly committed rows now, in the background (tasks are kept referenced);
        rows stored held or undeliverable are not for sending. ``claimed``: the rows were
        stored claimed by this process (bot/outgoing.py)."""
        for item in items:
            if item.id in self._inflight or item.status is not OutboundStatus.PENDING:
                continue
            self._inflight.add(item.id)
            task = asyncio.create_task(self._deliver(item, attempts=0, claimed=claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, item: OutboxItem, attempts: int, *,
                       claimed: bool = False) -> None:
        """Claim, send once, record the result; the row stays claimed until it is recorded."""
        try:
            if self.db.dialect != "sqlite" and not claimed:
                # several workers share the table: take the row first. With SQLite there is
                # one process, and the in-flight set already keeps a row to one sender.
                now = self.clock.now_ms()
                claim = WriteSet()
                outgoing.claim(claim, item.id, now + self.lease_ms, now)
                try:
                    await self.db.write(claim)
                except Conflict:
                    return  # someone else has it, or it is already sent
                except Exception as exc:  # nothing was sent: the poller tries again later
                    log.warning("outbox: could not claim a message (%s)", type(exc).__name__)
                    return
            await self._send_claimed(item, attempts)
        finally:
            self._inflight.discard(item.id)

    async def _send_claimed(self, item: OutboxItem, attempts: int) -> None:
        update = WriteSet()
        if item.channel not in self.channels:
            outgoing.give_up(update, item.id, OutboundStatus.DEAD, f"no channel {item.channel}",
                             self.clock.now_ms())
            await self._record(update)
            return
        started = time.perf_counter()
        try:
            channel_id = await self.sender.send(item)
        except SendError as exc:
            await self._failed(item, attempts, exc)
            return
        finally:
            if self.send_seconds is not None:
                self.send_seconds.labels(item.channel).observe(time.perf_counter() - started)
        self.sent_count += 1
        key = (item.channel, channel_id)
        self._unrecorded[key] = item.id
        try:
            outgoing.mark_sent(update, item.id, channel_id, self.clock.now_ms())
            await self._record(update, sent_row=item.id)
        finally:
            self._unrecorded.pop(key, None)

    async def _record(self, update: WriteSet, *, sent_row: str | None = None) -> None:
        """Write a send's result, retrying with backoff until it lands (or the server stops).

        The row stays in the in-flight set meanwhile, so neither the poller nor a new
        submit sends it again. If the channel's message id itself cannot be stored, the
        row of a send (``sent_row``) is recorded as sent without it.
        """
        delay = self.record_delay
        while True:
            try:
                await self.db.write(update)
                return
            except Exception as exc:  # storage refused, or a failing neighbour's fault
                if isinstance(exc, Conflict):
                    raise  # a guarded end recorded before (_record_once)
                if isinstance(exc, UnstorableWrite) and sent_row is not None:
                    update = WriteSet()
                    outgoing.mark_sent(update, sent_row, None, self.clock.now_ms())
                    sent_row = None
                    continue
                if self._closing.is_set():
                    self.unrecorded_at_close += 1
                    log.warning("outbox: a send result could not be recorded before shutdown "
                                "(%s); that message will be sent again after the restart",
                                type(exc).__name__)
                    return
                self.record_retries += 1
                log.warning("outbox: recording a send result failed (%s); retrying in %.1f s",
                            type(exc).__name__, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
                delay = min(delay * 2, self.record_max_delay)

    async def _failed(self, item: OutboxItem, attempts: int, exc: SendError) -> None:
        now = self.clock.now_ms()
        update = WriteSet()
        error = f"{exc.status or ''} {exc.code or ''} {exc}".strip()[:500]
        tries = attempts + 1
        if exc.code in WINDOW_CLOSED:
            await self._window_closed(item, error, sent=False)
            return
        if exc.retryable and tries < self.max_attempts:
            delay = min(self.max_delay_ms, self.base_delay_ms * 2 ** attempts)
            delay = int(delay * (0.5 + random.random() / 2))  # jitter, not security
            outgoing.retry_later(update, item.id, now + delay, error, now)
            await self._record(update)
            log.info("outbox: send failed (%s), retry %d in %d ms", error, tries, delay)
            return
        if exc.retryable:
            status = OutboundStatus.HELD if is_owner_alert(item.reply) else OutboundStatus.DEAD
        else:
            status = classify(exc.code, item.reply)
        outgoing.give_up(update, item.id, status, error, now)
        await self._record(update)
        self.dead_count += 1
        log.warning("outbox: message %s %s after %d attempts: %s", item.id, status, tries, error)

    async def _window_closed(self, item: OutboxItem, error: str, *, sent: bool) -> None:
        """The window was closed after all: the message goes again as its template, in a
        new row (the old one is ``templated``), once however often this is reported; with
        no template an owner's alert is held for the digest, a shopper's is undeliverable.
        """
        now = self.clock.now_ms()
        update = WriteSet()
        template = fallback_of(item.reply) if item.reply.type != "template" else None
        if template is None:
            status = (OutboundStatus.HELD if is_owner_alert(item.reply)
                      else OutboundStatus.UNDELIVERABLE)
            error = f"{error} (and no approved template for it in shop.yaml)"[:500]
            self._end(update, item.id, status, error, now, sent=sent)
            await self._record_once(update)
            log.warning("outbox: message %s %s: the window was closed", item.id, status)
            return
        if await self._resend(item, template, OutboundStatus.TEMPLATED, error, sent=sent):
            self.templated_count += 1
            log.info("outbox: the window was closed; message %s goes again as template %s",
                     item.id, template.template or template.extra.get("content_sid"))

    @staticmethod
    def _end(update: WriteSet, row_id: str, status: OutboundStatus, error: str, now: int, *,
             sent: bool) -> None:
        if sent:
            outgoing.settle(update, row_id, status, error, now, must_change=True)
        else:
            outgoing.give_up(update, row_id, status, error, now, must_change=True)

    async def _record_once(self, update: WriteSet) -> bool:
        """Record an end that must happen once; False when another report did it first."""
        try:
            await self._record(update)
        except Conflict:
            return False
        return True

    async def record_status(self, channel: str, channel_message_id: str, status: str,
                            error: str | None, now_ms: int) -> None:
        """A delivery receipt; if its send is known here but not yet recorded, record both."""
        row_id = self._unrecorded.get((channel, channel_message_id))
        writes = WriteSet()
        if row_id is not None:
            outgoing.mark_sent(writes, row_id, channel_message_id, now_ms)
        outgoing.receipt(writes, channel, channel_message_id, status, error, now_ms)
        await self.db.write(writes)
        if status == OutboundStatus.FAILED and error:
            await self._failed_receipt(channel, channel_message_id, error)

    async def _failed_receipt(self, channel: str, channel_message_id: str, code: str) -> None:
        """A message the channel accepted and then could not deliver (the window, 131026,
        an unknown error): the same plan as a refusal at send time."""
        row = await outgoing.by_channel_id(self.db, channel, channel_message_id)
        if row is None:
            return
        row_id, shop_id, channel, customer, business, payload, status = row
        if status != OutboundStatus.FAILED:
            return  # settled before (a redelivered receipt), or a late one over read
        item = OutboxItem(str(row_id), str(shop_id), str(channel), str(customer),
                          str(business), Reply.from_json(json.loads(payload)))
        error = f"receipt {code}"
        if code in WINDOW_CLOSED:
            await self._window_closed(item, error, sent=True)
            return
        end = classify(code, item.reply)
        plain = without_card(item.reply)
        if plain is not None and end is not OutboundStatus.UNDELIVERABLE:
            await self._replace(item, plain, error)
            return
        if end is not OutboundStatus.FAILED:
            update = WriteSet()
            outgoing.settle(update, item.id, end, error, self.clock.now_ms(), must_change=True)
            await self._record_once(update)

    async def _replace(self, item: OutboxItem, plain: Reply, error: str) -> None:
        """An order card Meta failed after accepting it (a number without payments set up,
        a shopper it cannot take a card from): the shopper still gets a way to pay, the
        same words with the link and the QR, once however often the status comes."""
        if await self._resend(item, plain, OutboundStatus.REPLACED, error, sent=True):
            log.info("outbox: order card %s failed (%s); sent again without the card",
                     item.id, error)

    async def _resend(self, item: OutboxItem, reply: Reply, status: OutboundStatus,
                      error: str, *, sent: bool) -> bool:
        """End ``item`` as ``status`` and send ``reply`` in a new row, in one write that
        happens once (False: another report did it first, nothing is sent)."""
        now = self.clock.now_ms()
        update = WriteSet()
        self._end(update, item.id, status, error, now, sent=sent)
        again = OutboxItem(uuid.uuid4().hex, item.shop_id, item.channel, item.customer,
                           item.business, reply)
        outgoing.outbox_statement(update, again, now)
        if not await self._record_once(update):
            return False
        self.submit([again])
        return True

    async def recover(self) -> None:
        """At start-up: what a dead process left behind.

        With SQLite there is exactly one server process, so a claimed row at start-up can
        only belong to a process that died mid-send. Each unsent row is held back: the
        sends the channel accepted are in the journal (written the moment each answer came,
        also by a dead server's sender child, which finishes within its grace); once the
        grace is over they are recorded as sent, and only the rest is sent. A send that was
        in flight at the channel when everything died is in doubt and sent again (at least
        once: WhatsApp's APIs take no idempotency key for messages). On PostgreSQL several
        workers share the table and the lease decides.
        """
        if self.db.dialect != "sqlite":
            await self.adopt_orphans()
            return
        writes = WriteSet()
        outgoing.release_claims(writes)
        await self.db.write(writes)
        if self.journal is None:
            return
        self._held = await outgoing.unsent_ids(self.db)
        await self._record_journal()
        if self._held:
            self._recovery = asyncio.create_task(self._finish_recovery())
        else:
            self.journal.reset()

    async def _record_journal(self) -> None:
        assert self.journal is not None
        entries = self.journal.read()
        found = {row_id: entries[row_id] for row_id in self._held if row_id in entries}
        if found:
            writes = WriteSet()
            now = self.clock.now_ms()
            for row_id, channel_id in found.items():
                outgoing.mark_sent(writes, row_id, channel_id or None, now)
            await self._record(writes)
            self.recovered_from_journal += len(found)
            log.info("outbox: %d sends of a previous process recorded from its journal",
                     len(found))
        self._held -= set(found)

    async def adopt_orphans(self) -> int:
        """PostgreSQL: record the accepted sends in the journals of dead servers on this
        host (webhooks/sender.py, orphaned_journals), before their claims' leases run out
        and another server sends them again. Recording is idempotent: a row already sent,
        or taken over and sent, stays as it is. Returns the number of sends recorded."""
        if self.journal is None or self.db.dialect == "sqlite":
            return 0
        adopted = 0
        for path in orphaned_journals(self.journal.path.parent):
            entries = SentJournal(path).read()
            if entries:
                writes = WriteSet()
                now = self.clock.now_ms()
                for row_id, channel_id in entries.items():
                    outgoing.mark_sent(writes, row_id, channel_id or None, now)
                await self._record(writes)
                adopted += len(entries)
                log.info("outbox: %d sends of a dead server recorded from its journal",
                         len(entries))
            with contextlib.suppress(OSError):
                path.unlink()
        self.recovered_from_journal += adopted
        return adopted

    async def _finish_recovery(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.recovery_grace)
        await self._record_journal()
        self._held = set()
        if not self._closing.is_set():
            await self.run_due()

    def _compact_journal(self) -> None:
        """Empty the journal when every send it names is recorded: nothing in flight."""
        recovering = self._recovery is not None and not self._recovery.done()
        if self.journal is None or recovering or self._inflight or self._held:
            return
        if self.journal.size():
            self.journal.reset()

    async def run_due(self) -> int:
        """Send every row that is due (retries, leftovers after a restart); returns count."""
        now = self.clock.now_ms()
        claimed = self.db.dialect == "postgresql"
        if claimed:
            # each returned row is ours alone until its lease ends; a row one of our own
            # tasks holds is not due (its lease is in the future), so none is sent twice
            rows = await outgoing.claim_due(self.db, now, now + self.lease_ms)
        else:
            rows = await outgoing.due(self.db, now)
        started = 0
        for row_id, shop_id, channel, customer, business, payload, attempts in rows:
            if not claimed and (row_id in self._inflight or row_id in self._held):
                continue  # being sent, its result being recorded, or in doubt (recover)
            item = OutboxItem(row_id, shop_id, channel, customer, business,
                              Reply.from_json(json.loads(payload)))
            self._inflight.add(row_id)
            task = asyncio.create_task(self._deliver(item, attempts=attempts,
                                                     claimed=claimed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def drain(self) -> None:
        """Wait for every send in flight (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Shutdown: finish the sends in flight; a result still unrecordable is given up
        after one more try (that row is sent again after the restart)."""
        self._closing.set()
        if self._recovery is not None:
            await self._recovery
        await self.drain()
        if self.journal is not None and self.db.dialect != "sqlite" and not (
                self._unrecorded or self.unrecorded_at_close):
            # every send recorded: this server's journal says nothing a successor needs
            with contextlib.suppress(OSError):
                self.journal.path.unlink()
            with contextlib.suppress(OSError):
                self.journal.path.parent.rmdir()  # empty: the last server of the host left

    @property
    def orphan_seconds(self) -> float:
        """How often a poll looks for dead servers' journals (PostgreSQL). A journal is
        only taken ORPHAN_GRACE_SECONDS after its last line, and must be recorded before
        the dead server's claims run out: every grace period, and at least eight times a
        lease (a test's short lease: every poll)."""
        return min(ORPHAN_GRACE_SECONDS, self.lease_ms / 8000)

    async def poll_once(self) -> None:
        """One poll: dead servers' journals when it is time (:attr:`orphan_seconds`),
        then every due row."""
        now = self.clock.now_ms()
        last = self._orphans_looked_at
        if last is None or now - last >= self.orphan_seconds * 1000 or now < last:
            self._orphans_looked_at = now
            await self.adopt_orphans()  # before the dead servers' leases are due
        await self.run_due()
        self._compact_journal()

    async def poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("outbox poll failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.poll_seconds)

