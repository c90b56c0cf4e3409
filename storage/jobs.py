"""The ``scheduled_jobs`` table: the only module that writes or reads it.

A job is a row with a unique key, written in the same transaction as whatever made it due,
and finished by a compare-and-set on ``pending`` in the transaction of its effect, so it
survives restarts and runs once. The reminders (bot/reminders.py: kinds ``cart`` and
``payment``) and the payment service (payments/repository.py: ``cancel_link``) keep jobs
here; this layer sits below both.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from storage.database import Database, Row, WriteSet


class JobStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"  # done (its effect committed with it)
    CANCELLED = "cancelled"  # no longer wanted (an emptied cart, a link that closed)


_P = JobStatus.PENDING
_COLUMNS = "key, shop_id, kind, channel, customer, due_at, payload, status, created_at"
_UPSERT = (f"INSERT INTO scheduled_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, '{_P}', ?) "
           "ON CONFLICT (key) DO UPDATE SET due_at = excluded.due_at, "
           f"payload = excluded.payload, status = '{_P}'")
_ONCE = (f"INSERT INTO scheduled_jobs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, '{_P}', ?) "
         "ON CONFLICT (key) DO NOTHING")
_FINISH = f"UPDATE scheduled_jobs SET status = ? WHERE key = ? AND status = '{_P}'"
_POSTPONE = f"UPDATE scheduled_jobs SET due_at = ? WHERE key = ? AND status = '{_P}'"
_DUE = ("SELECT key, shop_id, kind, channel, customer, payload FROM scheduled_jobs "
        f"WHERE status = '{_P}' AND due_at <= ? AND kind IN ({{kinds}}) "
        "ORDER BY due_at LIMIT ?")


def schedule(writes: WriteSet, key: str, *, shop_id: str, kind: str, due_at: int,
             payload: str, now_ms: int, channel: str = "", customer: str = "",
             rearm: bool = True) -> None:
    """A pending job; ``rearm`` moves an existing one (else the first one stays)."""
    writes.add(_UPSERT if rearm else _ONCE,
               (key, shop_id, kind, channel, customer, due_at, payload, now_ms))


def cancel(writes: WriteSet, key: str) -> None:
    """The job is no longer wanted; nothing happens if it is not pending."""
    writes.add(_FINISH, (JobStatus.CANCELLED, key))


def finish(writes: WriteSet, key: str, status: JobStatus = JobStatus.FIRED) -> None:
    """Compare-and-set: a job finished meanwhile (by another process) conflicts."""
    writes.add(_FINISH, (status, key), must_change=True)


def postpone(writes: WriteSet, key: str, due_at: int) -> None:
    writes.add(_POSTPONE, (due_at, key), must_change=True)


async def due(db: Database, kinds: Sequence[str], now_ms: int, limit: int) -> list[Row]:
    """``(key, shop_id, kind, channel, customer, payload)`` of pending jobs due by now."""
    sql = _DUE.format(kinds=", ".join("?" for _ in kinds))
    return await db.fetchall(sql, (now_ms, *kinds, limit))
