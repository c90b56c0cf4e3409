"""The ``outbound_messages`` table: the only module that writes or reads it.

Rows are built inside a turn or a payment update (:func:`outbox_statement`, committed with
what caused them) and then moved by the outbox (webhooks/outbox.py) through the statements
below: claimed, sent, retried, failed, and updated by the channel's delivery receipts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from bot.types import Reply
from storage.database import Database, Row, WriteSet


class OutboundStatus(StrEnum):
    """A row's life: ``pending → sending → sent → delivered → read`` (or failed / dead)."""

    PENDING = "pending"  # waiting for a send (a new row, or a retry that is due)
    SENDING = "sending"  # claimed by a sender (PostgreSQL: with a lease)
    ACCEPTED = "accepted"  # the channel queued it (Twilio's receipts)
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # refused for good by the channel, or a receipt said failed
    DEAD = "dead"  # retried until max_attempts, or no such channel


_S = OutboundStatus
# a receipt never moves a row backwards (read may arrive before delivered)
_RANK = {_S.ACCEPTED: 0, _S.SENT: 1, _S.DELIVERED: 2, _S.READ: 3, _S.FAILED: 4}
_RANK_SQL = ("CASE status " + " ".join(f"WHEN '{s}' THEN {r}" for s, r in (
    (_S.PENDING, -2), (_S.SENDING, -1), *_RANK.items())) + " ELSE -3 END")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    shop_id: str
    channel: str
    customer: str
    business: str
    reply: Reply


_INSERT_OUTBOX = (
    "INSERT INTO outbound_messages (id, shop_id, channel, customer, business, payload, status, "
    "attempts, next_attempt_at, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
)
_CLAIM = (f"UPDATE outbound_messages SET status = '{_S.SENDING}', next_attempt_at = ?, "
          f"updated_at = ? WHERE id = ? AND (status = '{_S.PENDING}' OR "
          f"(status = '{_S.SENDING}' AND next_attempt_at <= ?))")
# every result is recorded only over an unsent row: recording twice (a retried record, a
# status callback that recorded the send first) changes nothing
_UNSENT = f"status IN ('{_S.PENDING}', '{_S.SENDING}')"
_SENT = (f"UPDATE outbound_messages SET status = '{_S.SENT}', channel_message_id = ?, "
         f"attempts = attempts + 1, error = NULL, updated_at = ? WHERE id = ? AND {_UNSENT}")
_RETRY = (f"UPDATE outbound_messages SET status = '{_S.PENDING}', attempts = attempts + 1, "
          f"next_attempt_at = ?, error = ?, updated_at = ? WHERE id = ? AND {_UNSENT}")
_FAIL = ("UPDATE outbound_messages SET status = ?, attempts = attempts + 1, error = ?, "
         f"updated_at = ? WHERE id = ? AND {_UNSENT}")
_RECEIPT = ("UPDATE outbound_messages SET status = ?, error = COALESCE(?, error), "
            f"updated_at = ? WHERE channel = ? AND channel_message_id = ? AND ({_RANK_SQL}) < ?")
_RELEASE = (f"UPDATE outbound_messages SET status = '{_S.PENDING}', next_attempt_at = 0 "
            f"WHERE status = '{_S.SENDING}'")
_DUE = ("SELECT id, shop_id, channel, customer, business, payload, attempts "
        f"FROM outbound_messages WHERE {_UNSENT} AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at LIMIT 200")
_UNSENT_IDS = f"SELECT id FROM outbound_messages WHERE {_UNSENT}"
# PostgreSQL, where several servers poll one table: take the due rows and claim them in one
# statement; SKIP LOCKED lets two pollers split the rows instead of queueing on each other,
# and a row whose lease ran out (its server died mid-send) is due again
_CLAIM_DUE = (
    f"UPDATE outbound_messages SET status = '{_S.SENDING}', next_attempt_at = ?, "
    "updated_at = ? WHERE id IN (SELECT id FROM outbound_messages "
    f"WHERE {_UNSENT} AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 200 "
    "FOR UPDATE SKIP LOCKED) "
    "RETURNING id, shop_id, channel, customer, business, payload, attempts")


def outbox_statement(writes: WriteSet, item: OutboxItem, now_ms: int,
                     lease_until: int | None = None) -> None:
    """The row of one reply to send. With ``lease_until`` (several servers on PostgreSQL)
    it is born claimed by this process, as :func:`claim` would leave it: the turn's own
    process sends it right after the commit (no claim statement, and no poller of another
    server races it for the row), and if that process dies the row is due again when the
    lease ends."""
    status, due = (_S.PENDING, now_ms) if lease_until is None else (_S.SENDING, lease_until)
    writes.add(_INSERT_OUTBOX, (
        item.id, item.shop_id, item.channel, item.customer, item.business,
        json.dumps(item.reply.to_json(), ensure_ascii=False), status.value, due, now_ms,
        now_ms))


def claim(writes: WriteSet, row_id: str, lease_until: int, now_ms: int) -> None:
    """Take an unsent row for one sender (a second claim in the lease conflicts)."""
    writes.add(_CLAIM, (lease_until, now_ms, row_id, now_ms), must_change=True)


def mark_sent(writes: WriteSet, row_id: str, channel_message_id: str | None,
              now_ms: int) -> None:
    writes.add(_SENT, (channel_message_id, now_ms, row_id))


def retry_later(writes: WriteSet, row_id: str, next_attempt_at: int, error: str,
                now_ms: int) -> None:
    writes.add(_RETRY, (next_attempt_at, error, now_ms, row_id))


def give_up(writes: WriteSet, row_id: str, status: OutboundStatus, error: str,
            now_ms: int) -> None:
    """``failed`` (the channel refused it) or ``dead`` (retries exhausted, no channel)."""
    writes.add(_FAIL, (status, error, now_ms, row_id))


def receipt(writes: WriteSet, channel: str, channel_message_id: str, status: str,
            error: str | None, now_ms: int) -> None:
    """A delivery receipt, never moving a status backwards; unknown statuses add nothing."""
    try:
        rank = _RANK[OutboundStatus(status)]
    except (ValueError, KeyError):
        return
    writes.add(_RECEIPT, (status, error, now_ms, channel, channel_message_id, rank))


def release_claims(writes: WriteSet) -> None:
    """At start-up on SQLite: claims of a dead process go back to pending."""
    writes.add(_RELEASE, ())


async def due(db: Database, now_ms: int) -> list[Row]:
    """``(id, shop_id, channel, customer, business, payload, attempts)`` of due rows."""
    return await db.fetchall(_DUE, (now_ms,))


async def claim_due(db: Database, now_ms: int, lease_until: int) -> list[Row]:
    """PostgreSQL: the due rows, each claimed for this server until ``lease_until``."""
    return await db.fetchall(_CLAIM_DUE, (lease_until, now_ms, now_ms))


async def unsent_ids(db: Database) -> set[str]:
    return {str(row[0]) for row in await db.fetchall(_UNSENT_IDS)}
