"""The durable outbox: every proactive message is a row first, then a send, then a status.

Rows are inserted in the same transaction as the inbound message that caused them, so a
crash never loses one and a redelivered inbound message never adds a second. After commit
the engine hands the new rows to :meth:`Outbox.submit` for an immediate send; a poller
picks up anything left over (retries, a restart) from the table.

A row is *claimed* before the send, so two senders never send it at once: in memory (the
in-flight set) in the one process that owns an SQLite database, and durably on PostgreSQL
(``pending → sending`` with a lease) where several processes may share the table. Retries
happen only on 429, 5xx and timeouts, with exponential backoff and jitter; after
``max_attempts`` the row is dead-lettered (``status = 'dead'``) with a warning. The row id is
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
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.outgoing import OutboxItem
from bot.types import Reply
from config.clock import Clock
from config.database import Conflict, Database, UnstorableWrite, WriteSet
from webhooks.channels.base import ChannelAdapter, SendError
from webhooks.sender import Sender

log = logging.getLogger(__name__)

_CLAIM = ("UPDATE outbound_messages SET status = 'sending', next_attempt_at = ?, updated_at = ? "
          "WHERE id = ? AND (status = 'pending' OR (status = 'sending' AND next_attempt_at <= ?))")
# every result is recorded only over an unsent row: recording twice (a retried record, a
# status callback that recorded the send first) changes nothing
_UNSENT = "status IN ('pending', 'sending')"
_SENT = ("UPDATE outbound_messages SET status = 'sent', channel_message_id = ?, "
         f"attempts = attempts + 1, error = NULL, updated_at = ? WHERE id = ? AND {_UNSENT}")
_RETRY = ("UPDATE outbound_messages SET status = 'pending', attempts = attempts + 1, "
          f"next_attempt_at = ?, error = ?, updated_at = ? WHERE id = ? AND {_UNSENT}")
_FAIL = ("UPDATE outbound_messages SET status = ?, attempts = attempts + 1, error = ?, "
         f"updated_at = ? WHERE id = ? AND {_UNSENT}")
_DUE = ("SELECT id, shop_id, channel, customer, business, payload, attempts "
        "FROM outbound_messages WHERE status IN ('pending', 'sending') AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at LIMIT 200")
_ATTEMPTS = "SELECT attempts FROM outbound_messages WHERE id = ?"

STATUS_RANK_SQL = ("CASE status WHEN 'pending' THEN -2 WHEN 'sending' THEN -1 "
                   "WHEN 'accepted' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 "
                   "WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE -3 END")


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
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _inflight: set[str] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    # sends the channel accepted whose record has not landed: (channel, channel id) → row id
    _unrecorded: dict[tuple[str, str], str] = field(default_factory=dict)
    sent_count: int = 0
    dead_count: int = 0
    record_retries: int = 0  # writes of a result that failed and were tried again
    unrecorded_at_close: int = 0

    def submit(self, items: tuple[OutboxItem, ...] | list[OutboxItem]) -> None:
        """Send freshly committed rows now, in the background (tasks are kept referenced)."""
        for item in items:
            if item.id in self._inflight:
                continue
            self._inflight.add(item.id)
            task = asyncio.create_task(self._deliver(item, attempts=0))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, item: OutboxItem, attempts: int) -> None:
        """Claim, send once, record the result; the row stays claimed until it is recorded."""
        try:
            if self.db.dialect != "sqlite":
                # several workers share the table: take the row first. With SQLite there is
                # one process, and the in-flight set already keeps a row to one sender.
                now = self.clock.now_ms()
                claim = WriteSet()
                claim.add(_CLAIM, (now + self.lease_ms, now, item.id, now), must_change=True)
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
            update.add(_FAIL, ("dead", f"no channel {item.channel}", self.clock.now_ms(),
                               item.id))
            await self._record(update)
            return
        try:
            channel_id = await self.sender.send(item)
        except SendError as exc:
            await self._failed(item, attempts, exc)
            return
        self.sent_count += 1
        key = (item.channel, channel_id)
        self._unrecorded[key] = item.id
        try:
            update.add(_SENT, (channel_id, self.clock.now_ms(), item.id))
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
                if isinstance(exc, UnstorableWrite) and sent_row is not None:
                    update = WriteSet()
                    update.add(_SENT, (None, self.clock.now_ms(), sent_row))
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
        if exc.retryable and tries < self.max_attempts:
            delay = min(self.max_delay_ms, self.base_delay_ms * 2 ** attempts)
            delay = int(delay * (0.5 + random.random() / 2))  # jitter, not security
            update.add(_RETRY, (now + delay, error, now, item.id))
            await self._record(update)
            log.info("outbox: send failed (%s), retry %d in %d ms", error, tries, delay)
            return
        status = "dead" if exc.retryable else "failed"
        update.add(_FAIL, (status, error, now, item.id))
        await self._record(update)
        self.dead_count += 1
        log.warning("outbox: message %s %s after %d attempts: %s", item.id, status, tries, error)

    async def record_status(self, channel: str, channel_message_id: str, status: str,
                            error: str | None, now_ms: int) -> None:
        """A delivery receipt; if its send is known here but not yet recorded, record both."""
        row_id = self._unrecorded.get((channel, channel_message_id))
        writes = WriteSet()
        if row_id is not None:
            writes.add(_SENT, (channel_message_id, now_ms, row_id))
        await record_status(self.db, channel, channel_message_id, status, error, now_ms,
                            writes)

    async def recover(self) -> None:
        """At start-up: sends that a dead process had claimed go back to the queue.

        With SQLite there is exactly one server process, so a claimed row at start-up can
        only belong to a process that died mid-send: retry it now rather than after its
        lease. (On PostgreSQL several workers share the table and the lease decides.) The
        channel may have accepted the lost send: delivery is at least once, as WhatsApp's
        APIs take no idempotency key for messages.
        """
        if self.db.dialect == "sqlite":
            writes = WriteSet()
            writes.add("UPDATE outbound_messages SET status = 'pending', next_attempt_at = 0 "
                       "WHERE status = 'sending'")
            await self.db.write(writes)

    async def run_due(self) -> int:
        """Send every row that is due (retries, leftovers after a restart); returns count."""
        now = self.clock.now_ms()
        rows = await self.db.fetchall(_DUE, (now,))
        started = 0
        for row_id, shop_id, channel, customer, business, payload, attempts in rows:
            if row_id in self._inflight:
                continue  # being sent, or sent with its result still being recorded
            item = OutboxItem(row_id, shop_id, channel, customer, business,
                              Reply.from_json(json.loads(payload)))
            self._inflight.add(row_id)
            task = asyncio.create_task(self._deliver(item, attempts=attempts))
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
        await self.drain()

    async def poll_forever(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception as exc:
                log.warning("outbox poll failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.poll_seconds)


async def record_status(db: Database, channel: str, channel_message_id: str, status: str,
                        error: str | None, now_ms: int, writes: WriteSet | None = None) -> None:
    """Store a delivery receipt, never moving a status backwards (read may beat delivered).

    ``writes`` may carry statements that must commit with it (the outbox's own record)."""
    writes = writes if writes is not None else WriteSet()
    rank = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}.get(status)
    if rank is None:
        await db.write(writes)
        return
    writes.add(
        "UPDATE outbound_messages SET status = ?, error = COALESCE(?, error), updated_at = ? "
        f"WHERE channel = ? AND channel_message_id = ? AND ({STATUS_RANK_SQL}) < ?",
        (status, error, now_ms, channel, channel_message_id, rank))
    await db.write(writes)
