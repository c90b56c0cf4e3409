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
    """A row's life: ``pending → sending → sent → delivered → read``, or one of the ends
    below; the merchant sees every end but ``digested`` in ``GET /api/outbox``."""

    PENDING = "pending"  # waiting for a send (a new row, or a retry that is due)
    SENDING = "sending"  # claimed by a sender (PostgreSQL: with a lease)
    ACCEPTED = "accepted"  # the channel queued it (Twilio's receipts)
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # refused for good: haat's mistake or the shop's setup (132000…)
    DEAD = "dead"  # retried until max_attempts, or no such channel
    # the window was closed (131047, 63016): sent again as its template, in a new row
    TEMPLATED = "templated"
    # the channel cannot deliver it to this person (131026, 131049), or no template
    # exists for it outside the window
    UNDELIVERABLE = "undeliverable"
    UNKNOWN_ERROR = "unknown_error"  # refused with an error haat does not know
    HELD = "held"  # an owner alert that could not be delivered: kept for the digest
    DIGESTED = "digested"  # a held alert, given to the owner in a digest
    # an order card Meta accepted, then failed in a status: sent again without the card
    # (text, pay link and QR), in a new row
    REPLACED = "replaced"


# the ends a merchant must hear of (GET /api/outbox)
PROBLEMS: tuple[OutboundStatus, ...] = (
    OutboundStatus.FAILED, OutboundStatus.DEAD, OutboundStatus.UNDELIVERABLE,
    OutboundStatus.UNKNOWN_ERROR, OutboundStatus.HELD)


_S = OutboundStatus
# a receipt never moves a row backwards (read may arrive before delivered)
_RANK = {_S.ACCEPTED: 0, _S.SENT: 1, _S.DELIVERED: 2, _S.READ: 3, _S.FAILED: 4}
# the ends the outbox decided (templated, undeliverable…) are above every receipt
_SETTLED = (_S.DEAD, _S.TEMPLATED, _S.UNDELIVERABLE, _S.UNKNOWN_ERROR, _S.HELD, _S.DIGESTED,
            _S.REPLACED)
_RANK_SQL = ("CASE status " + " ".join(f"WHEN '{s}' THEN {r}" for s, r in (
    (_S.PENDING, -2), (_S.SENDING, -1), *_RANK.items(), *((s, 9) for s in _SETTLED)))
    + " ELSE -3 END")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    shop_id: str
    channel: str
    customer: str
    business: str
    reply: Reply
    # a row that is not to be sent starts held or undeliverable (bot/templates.py:plan)
    status: OutboundStatus = OutboundStatus.PENDING
    error: str | None = None


_INSERT_OUTBOX = (
    "INSERT INTO outbound_messages (id, shop_id, channel, customer, business, payload, status, "
    "attempts, next_attempt_at, error, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
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
# a receipt's failure, classified (templated, undeliverable, held…): only over a row that
# is sent or further, and not yet at one of those ends
_SETTLE = ("UPDATE outbound_messages SET status = ?, error = ?, updated_at = ? "
           f"WHERE id = ? AND status IN ('{_S.ACCEPTED}', '{_S.SENT}', '{_S.DELIVERED}', "
           f"'{_S.READ}', '{_S.FAILED}')")
_BY_CHANNEL_ID = ("SELECT id, shop_id, channel, customer, business, payload, status "
                  "FROM outbound_messages WHERE channel = ? AND channel_message_id = ?")
_HELD = ("SELECT id, payload, created_at FROM outbound_messages WHERE shop_id = ? AND "
         f"customer = ? AND status = '{_S.HELD}' ORDER BY created_at LIMIT 50")
_DIGEST = (f"UPDATE outbound_messages SET status = '{_S.DIGESTED}', updated_at = ? "
           f"WHERE id = ? AND status = '{_S.HELD}'")
_PROBLEMS = ("SELECT id, channel, customer, status, error, payload, attempts, created_at, "
             "updated_at FROM outbound_messages WHERE shop_id = ? AND status IN ("
             + ", ".join(f"'{s}'" for s in PROBLEMS) + ") ORDER BY updated_at DESC LIMIT ?")
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


# the rows of one id prefix: on SQLite a range of the primary key (``id >= 'bc-x-' AND id <
# 'bc-x.'``, its BINARY order is ASCII's), which the index answers where LIKE would scan; on
# PostgreSQL a LIKE, since a database collation may not order "-" before "." as ASCII does
_PREFIX = {"sqlite": "id >= ? AND id < ?", "postgresql": "id LIKE ?"}
_PREFIX_COUNTS = ("SELECT status, COUNT(*) FROM outbound_messages WHERE {where} "
                  "GROUP BY status")
# a broadcast's pacing signals: rows waiting for a retry (130429 and other throttling, the
# outbox backs each off) and rows Meta capped (131049: its per-shopper marketing limit)
_PREFIX_PRESSURE = (
    f"SELECT COALESCE(SUM(CASE WHEN {_UNSENT} THEN 1 ELSE 0 END), 0), "
    f"COALESCE(SUM(CASE WHEN status = '{_S.PENDING}' AND attempts > 0 THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN error LIKE '%131049%' THEN 1 ELSE 0 END), 0) "
    "FROM outbound_messages WHERE {where}")


def outbox_statement(writes: WriteSet, item: OutboxItem, now_ms: int,
                     lease_until: int | None = None, *, if_new: bool = False) -> None:
    """The row of one message. ``if_new``: a row with that id already there is kept as it
    is (a broadcast's ids are fixed in advance, so queuing one twice sends it once). With
    ``lease_until`` (several servers on PostgreSQL) a row for sending is born claimed by
    this process, as :func:`claim` would leave it: the turn's own process sends it right
    after the commit (no claim statement, and no poller of another server races it for the
    row), and if that process dies the row is due again when the lease ends. A row stored
    held or undeliverable (bot/templates.py:plan) keeps its status."""
    status, due = item.status, now_ms
    if lease_until is not None and status is _S.PENDING:
        status, due = _S.SENDING, lease_until
    writes.add(_INSERT_OUTBOX + (" ON CONFLICT (id) DO NOTHING" if if_new else ""), (
        item.id, item.shop_id, item.channel, item.customer, item.business,
        json.dumps(item.reply.to_json(), ensure_ascii=False), status.value, due, item.error,
        now_ms, now_ms))


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
            now_ms: int, *, must_change: bool = False) -> None:
    """An end for an unsent row: ``failed`` (the channel refused it), ``dead`` (retries
    exhausted, no channel), ``templated``, ``undeliverable``, ``unknown_error``, ``held``."""
    writes.add(_FAIL, (status, error, now_ms, row_id), must_change=must_change)


def settle(writes: WriteSet, row_id: str, status: OutboundStatus, error: str,
           now_ms: int, *, must_change: bool = False) -> None:
    """A sent row's failure receipt, classified by the outbox (webhooks/outbox.py); with
    ``must_change`` a row settled before conflicts (a redelivered receipt does it once)."""
    writes.add(_SETTLE, (status, error[:500], now_ms, row_id), must_change=must_change)


async def by_channel_id(db: Database, channel: str, channel_message_id: str) -> Row | None:
    """``(id, shop_id, channel, customer, business, payload, status)`` of a sent row."""
    return await db.fetchone(_BY_CHANNEL_ID, (channel, channel_message_id))


@dataclass(frozen=True, slots=True)
class HeldAlert:
    id: str
    reply: Reply
    created_at: int


async def held_alerts(db: Database, shop_id: str, customer: str) -> list[HeldAlert]:
    """The owner's alerts that could not be delivered, oldest first (at most 50), on every
    channel: an alert is held on the channel of the order it is about, and the owner gets
    it wherever they write next (an owner number is its digits on every channel)."""
    return [HeldAlert(str(row[0]), Reply.from_json(json.loads(row[1])), int(row[2]))
            for row in await db.fetchall(_HELD, (shop_id, customer))]


def digested(writes: WriteSet, row_id: str, now_ms: int) -> None:
    """A held alert was given in a digest (in the owner's own turn: once)."""
    writes.add(_DIGEST, (now_ms, row_id))


async def problems(db: Database, shop_id: str, limit: int = 100) -> list[dict[str, object]]:
    """The shop's messages that did not arrive, newest first (``GET /api/outbox``)."""
    out: list[dict[str, object]] = []
    for (row_id, channel, customer, status, error, payload, attempts, created,
         updated) in await db.fetchall(_PROBLEMS, (shop_id, limit)):
        data = json.loads(payload)
        extra = data.get("extra") or {}
        fallback = extra.get("fallback") or {}
        out.append({"id": row_id, "channel": channel, "customer": customer, "status": status,
                    "error": error, "attempts": attempts, "created_at": created,
                    "updated_at": updated, "type": data.get("type"),
                    "event": extra.get("event") or fallback.get("extra", {}).get("event"),
                    "template": data.get("template"), "text": str(data.get("text", ""))[:200]})
    return out


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


async def counts_with_prefix(db: Database, prefix: str) -> dict[OutboundStatus, int]:
    """Rows per status among those whose id starts with ``prefix`` (a broadcast's)."""
    where, params = _prefix(db, prefix)
    rows = await db.fetchall(_PREFIX_COUNTS.format(where=where), params)
    return {OutboundStatus(str(r[0])): int(r[1]) for r in rows}


async def pressure_with_prefix(db: Database, prefix: str) -> tuple[int, int, int]:
    """``(unsent, waiting for a retry, capped by 131049)`` among a prefix's rows."""
    where, params = _prefix(db, prefix)
    row = await db.fetchone(_PREFIX_PRESSURE.format(where=where), params)
    return (0, 0, 0) if row is None else (int(row[0]), int(row[1]), int(row[2]))


def _prefix(db: Database, prefix: str) -> tuple[str, tuple[str, ...]]:
    """The condition (and its parameters) for the ids that start with ``prefix``."""
    if not prefix.endswith("-") or not all(ch.isascii() and (ch.isalnum() or ch == "-")
                                           for ch in prefix):
        raise ValueError("an outbox id prefix is ASCII letters, digits and '-', ending in '-'")
    if db.dialect == "sqlite":
        return _PREFIX["sqlite"], (prefix, prefix[:-1] + ".")  # "." follows "-" in ASCII
    return _PREFIX["postgresql"], (prefix + "%",)


async def unsent_ids(db: Database) -> set[str]:
    return {str(row[0]) for row in await db.fetchall(_UNSENT_IDS)}
