"""The durable outbox: every proactive message is a row first, then a send, then a status.

Rows are inserted in the same transaction as the inbound message that caused them, so a
crash never loses one and a redelivered inbound message never adds a second. After commit
the engine hands the new rows to :meth:`Outbox.submit` for an immediate send; a poller
picks up anything left over (retries, a restart) from the table.

A row is *claimed* (``pending → sending`` with a lease) before the send, so two workers or
the poller and the fast path never send it twice. Retries happen only on 429, 5xx and
timeouts, with exponential backoff and jitter; after ``max_attempts`` the row is dead-lettered
(``status = 'dead'``) with a warning. The row id is the idempotency key given to the channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.outgoing import OutboxItem
from bot.types import Reply
from config.clock import Clock
from config.database import Conflict, Database, WriteSet
from webhooks.channels.base import ChannelAdapter, SendError
from webhooks.sender import Sender

log = logging.getLogger(__name__)

_CLAIM = ("UPDATE outbound_messages SET status = 'sending', next_attempt_at = ?, updated_at = ? "
          "WHERE id = ? AND (status = 'pending' OR (status = 'sending' AND next_attempt_at <= ?))")
_SENT = ("UPDATE outbound_messages SET status = 'sent', channel_message_id = ?, "
         "attempts = attempts + 1, error = NULL, updated_at = ? WHERE id = ?")
_RETRY = ("UPDATE outbound_messages SET status = 'pending', attempts = attempts + 1, "
          "next_attempt_at = ?, error = ?, updated_at = ? WHERE id = ?")
_FAIL = ("UPDATE outbound_messages SET status = ?, attempts = attempts + 1, error = ?, "
         "updated_at = ? WHERE id = ?")
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
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _inflight: set[str] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent_count: int = 0
    dead_count: int = 0

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
            await self._send_claimed(item, attempts)
        finally:
            self._inflight.discard(item.id)

    async def _send_claimed(self, item: OutboxItem, attempts: int) -> None:
        update = WriteSet()
        if item.channel not in self.channels:
            update.add(_FAIL, ("dead", f"no channel {item.channel}", self.clock.now_ms(),
                               item.id))
            await self.db.write(update)
            return
        try:
            channel_id = await self.sender.send(item)
        except SendError as exc:
            await self._failed(item, attempts, exc)
            return
        update.add(_SENT, (channel_id, self.clock.now_ms(), item.id))
        await self.db.write(update)
        self.sent_count += 1

    async def _failed(self, item: OutboxItem, attempts: int, exc: SendError) -> None:
        now = self.clock.now_ms()
        update = WriteSet()
        error = f"{exc.status or ''} {exc.code or ''} {exc}".strip()[:500]
        tries = attempts + 1
        if exc.retryable and tries < self.max_attempts:
            delay = min(self.max_delay_ms, self.base_delay_ms * 2 ** attempts)
            delay = int(delay * (0.5 + random.random() / 2))  # jitter, not security
            update.add(_RETRY, (now + delay, error, now, item.id))
            await self.db.write(update)
            log.info("outbox: send failed (%s), retry %d in %d ms", error, tries, delay)
            return
        status = "dead" if exc.retryable else "failed"
        update.add(_FAIL, (status, error, now, item.id))
        await self.db.write(update)
        self.dead_count += 1
        log.warning("outbox: message %s %s after %d attempts: %s", item.id, status, tries, error)

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
                continue
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

    async def poll_forever(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:
                log.exception("outbox poll failed")
            await asyncio.sleep(self.poll_seconds)


async def record_status(db: Database, channel: str, channel_message_id: str, status: str,
                        error: str | None, now_ms: int) -> None:
    """Store a delivery receipt, never moving a status backwards (read may beat delivered)."""
    rank = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}.get(status)
    if rank is None:
        return
    writes = WriteSet()
    writes.add(
        "UPDATE outbound_messages SET status = ?, error = COALESCE(?, error), updated_at = ? "
        f"WHERE channel = ? AND channel_message_id = ? AND ({STATUS_RANK_SQL}) < ?",
        (status, error, now_ms, channel, channel_message_id, rank))
    await db.write(writes)
