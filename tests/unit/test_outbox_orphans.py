"""On PostgreSQL the outbox poll takes over the journals of dead servers on this host
(webhooks/outbox.py: adopt_orphans), but looks for them every few seconds, not every poll."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from config.clock import Clock
from storage.database import open_database
from webhooks.outbox import Outbox
from webhooks.sender import ORPHAN_GRACE_SECONDS, InlineSender, SentJournal


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _orphan(directory: Path, row_id: str) -> Path:
    """The journal of a server that died a while ago, naming one accepted send."""
    path = directory / f"{_dead_pid()}.sent"
    SentJournal(path).append(row_id, f"wamid.{row_id}")
    old = time.time() - ORPHAN_GRACE_SECONDS - 5
    os.utime(path, (old, old))
    return path


async def test_dead_servers_journals_are_taken_every_grace_period_not_every_poll(
        tmp_path: Path, fresh_postgres: str) -> None:
    db = open_database(fresh_postgres)
    await db.start()
    clock = Clock()
    journal = SentJournal(tmp_path / f"{os.getpid()}.sent")
    outbox = Outbox(db=db, channels={}, sender=InlineSender({}, aiohttp.ClientSession, journal),
                    clock=clock, journal=journal, lease_ms=60_000)
    try:
        assert outbox.orphan_seconds == ORPHAN_GRACE_SECONDS
        first = _orphan(tmp_path, "row-1")
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 1 and not first.exists()
        second = _orphan(tmp_path, "row-2")
        await outbox.poll_once()  # the next poll, a second later at most: not yet
        assert outbox.recovered_from_journal == 1 and second.exists()
        clock.advance(seconds=ORPHAN_GRACE_SECONDS)
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 2 and not second.exists()
    finally:
        await outbox.close()
        await db.close()


def test_a_short_lease_looks_at_every_poll() -> None:
    """A claim must be recorded before its lease runs out: eight looks a lease at least."""
    outbox = Outbox(db=open_database("sqlite:///:memory:"), channels={},
                    sender=InlineSender({}, aiohttp.ClientSession),
                    clock=Clock(), lease_ms=2_000)
    assert outbox.orphan_seconds == 0.25
