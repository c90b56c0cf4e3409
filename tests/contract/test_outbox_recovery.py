"""The outbox's claims, shutdown and start-up recovery, in process, on real SQLite and
PostgreSQL, sending to the loopback fake Graph API (tests/fakes/graph_api.py).

A dead process is simulated by the state it leaves in the database and in its sent
journal (webhooks/sender.py): rows claimed (``sending``) by an owner that is gone, lines
of sends the channel accepted but nobody recorded, a journal of a server pid that no longer
runs. Then a new :class:`Outbox` starts on that state, as ``haat serve`` does at start-up.
The tests that kill a real server are tests/e2e/test_reliability.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot import outgoing
from bot.outgoing import OutboundStatus, OutboxItem
from bot.types import Reply
from config.clock import Clock
from config.settings import Settings
from storage.database import Database, WriteSet, open_database
from tests.fakes.graph_api import ACCESS_TOKEN, Failure, FakeGraphApi, run_fake_graph_api
from tests.unit.test_storage_faults import hold_write_lock, release
from webhooks.channels.registry import CHANNELS
from webhooks.metrics import LatencyHistogram
from webhooks.migrate import upgrade
from webhooks.outbox import Outbox
from webhooks.sender import ORPHAN_GRACE_SECONDS, InlineSender, ProcessSender, SentJournal

CUSTOMER = "919830000077"
T0 = 1_800_000_000_000


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with run_fake_graph_api() as fake:
        yield fake


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    upgrade(url)
    return url


@dataclass
class Rig:
    """One server's outbox over a database: what ``create_app`` wires, with short waits."""

    db: Database
    graph: FakeGraphApi
    clock: Clock
    journal: SentJournal | None
    session: aiohttp.ClientSession
    settings: Settings

    def outbox(self, **kw: Any) -> Outbox:
        channels = {name: build(self.settings) for name, build in CHANNELS.items()}
        sender = InlineSender(channels, lambda: self.session, self.journal)
        kw.setdefault("recovery_grace", 0.3)
        return Outbox(db=self.db, channels=channels, sender=sender, clock=self.clock,
                      journal=self.journal, **kw)

    async def store(self, row_id: str, *, claimed_until: int | None = None,
                    status: OutboundStatus = OutboundStatus.PENDING,
                    channel: str = "whatsapp") -> OutboxItem:
        """A row as a turn commits it; ``claimed_until``: claimed (``sending``) till then."""
        item = item_of(row_id, channel=channel, status=status)
        writes = WriteSet()
        outgoing.outbox_statement(writes, item, self.clock.now_ms(), claimed_until)
        await self.db.write(writes)
        return item

    async def rows(self) -> dict[str, tuple[Any, ...]]:
        """id → (status, channel message id, attempts, next_attempt_at, error)."""
        return {str(r[0]): tuple(r[1:]) for r in await self.db.fetchall(
            "SELECT id, status, channel_message_id, attempts, next_attempt_at, error "
            "FROM outbound_messages")}

    def sent_to_graph(self) -> list[str]:
        return [str(r.json["biz_opaque_callback_data"]) for r in self.graph.received]


def item_of(row_id: str, *, channel: str = "whatsapp",
            status: OutboundStatus = OutboundStatus.PENDING) -> OutboxItem:
    return OutboxItem(row_id, "demo", channel, CUSTOMER, "777",
                      Reply(type="text", text=f"your order {row_id}"), status=status)


@asynccontextmanager
async def rig(url: str, graph: FakeGraphApi, journal: SentJournal | None,
              ) -> AsyncIterator[Rig]:
    settings = Settings(log_level="WARNING", database_url=url).with_env(
        WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN, WHATSAPP_API_BASE_URL=graph.url)
    db = open_database(url)
    await db.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Rig(db, graph, Clock.starting_at(T0), journal, session, settings)
    finally:
        await db.close()


def sqlite_journal(url: str) -> SentJournal:
    return SentJournal(Path(url.removeprefix("sqlite:///") + "-sent"))


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): no server runs as it."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def left_by_the_dead(directory: Path, pid: int, lines: dict[str, str], *,
                     age: float = ORPHAN_GRACE_SECONDS + 5) -> Path:
    """A dead server's journal, last written ``age`` seconds ago."""
    path = directory / f"{pid}.sent"
    journal = SentJournal(path)
    for row_id, channel_id in lines.items():
        journal.append(row_id, channel_id)
    journal.close()
    then = time.time() - age
    os.utime(path, (then, then))
    return path


async def until(check: Callable[[], bool] | Callable[[], Awaitable[bool]],
                what: str, *, seconds: float = 5.0) -> None:
    for _ in range(int(seconds * 100)):
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


# ---- SQLite: one process, so a claimed row at start-up belongs to a dead one -------------


async def test_a_dead_owners_claims_are_recorded_from_its_journal_and_only_the_rest_sent(
        sqlite_url: str, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    journal = sqlite_journal(sqlite_url)
    async with rig(sqlite_url, graph, journal) as r:
        lease = r.clock.now_ms() + 60_000
        await r.store("accepted", claimed_until=lease)  # the channel took it, then the kill
        await r.store("late", claimed_until=lease)  # its answer comes during the grace
        await r.store("in-doubt", claimed_until=lease)  # on the wire at the kill
        await r.store("waiting")  # never tried
        await r.store("done")
        await r.db.write(_sent("done", "wamid.DONE", r))
        journal.append("accepted", "wamid.BEFORE")
        journal.append("done", "wamid.DONE")
        outbox = r.outbox()
        with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
            await outbox.recover()
        rows = await r.rows()
        assert rows["accepted"][:3] == ("sent", "wamid.BEFORE", 1)
        assert {rows[k][0] for k in ("late", "in-doubt", "waiting")} == {"pending"}
        assert rows["late"][3] == rows["in-doubt"][3] == 0  # released: due at once
        assert outbox.recovered_from_journal == 1
        # held back for the grace: neither the start-up run nor a poll sends them
        assert await outbox.run_due() == 0
        await outbox.poll_once()
        assert r.sent_to_graph() == []
        assert journal.size() > 0  # still needed: not compacted while recovering
        SentJournal(journal.path).append("late", "wamid.LATE")  # the dead child's last answer
        with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
            await until(lambda: outbox._recovery is not None and outbox._recovery.done(),
                        "the grace ended")
            await outbox.drain()
        rows = await r.rows()
        assert rows["late"][:3] == ("sent", "wamid.LATE", 1)
        assert sorted(r.sent_to_graph()) == ["in-doubt", "waiting"]  # each once
        assert {rows[k][0] for k in ("in-doubt", "waiting")} == {"sent"}
        assert outbox.recovered_from_journal == 2 and outbox.sent_count == 2
        assert outbox_lines(caplog) == [
            "outbox: 1 sends of a previous process recorded from its journal"] * 2
        await outbox.poll_once()  # nothing in flight or in doubt: the journal is emptied
        assert journal.size() == 0
        await outbox.close()


async def test_with_nothing_in_doubt_the_journal_is_emptied_at_start_up(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    journal = sqlite_journal(sqlite_url)
    async with rig(sqlite_url, graph, journal) as r:
        await r.store("done")
        await r.db.write(_sent("done", "wamid.DONE", r))
        journal.append("done", "wamid.DONE")
        outbox = r.outbox()
        await outbox.recover()
        assert journal.size() == 0 and outbox._recovery is None
        assert outbox.recovered_from_journal == 0
        await outbox.close()


async def test_an_empty_channel_id_in_the_journal_is_recorded_as_sent_without_one(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    journal = sqlite_journal(sqlite_url)
    async with rig(sqlite_url, graph, journal) as r:
        await r.store("no-id", claimed_until=r.clock.now_ms() + 60_000)
        journal.append("no-id", "")
        outbox = r.outbox()
        await outbox.recover()
        assert (await r.rows())["no-id"][:3] == ("sent", None, 1)
        await outbox.close()
        assert r.sent_to_graph() == []


async def test_without_a_journal_a_dead_owners_claims_are_released_and_sent_at_once(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    async with rig(sqlite_url, graph, None) as r:
        await r.store("claimed", claimed_until=r.clock.now_ms() + 60_000)
        outbox = r.outbox()
        await outbox.recover()
        assert outbox._recovery is None
        assert await outbox.run_due() == 1
        await outbox.drain()
        assert r.sent_to_graph() == ["claimed"]
        await outbox.close()


async def test_a_shutdown_during_the_grace_records_the_journal_and_sends_nothing(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    journal = sqlite_journal(sqlite_url)
    async with rig(sqlite_url, graph, journal) as r:
        await r.store("late", claimed_until=r.clock.now_ms() + 60_000)
        await r.store("in-doubt", claimed_until=r.clock.now_ms() + 60_000)
        outbox = r.outbox(recovery_grace=60.0)
        await outbox.recover()
        SentJournal(journal.path).append("late", "wamid.LATE")
        await asyncio.wait_for(outbox.close(), 10)  # does not sit out the grace
        rows = await r.rows()
        assert rows["late"][:2] == ("sent", "wamid.LATE")
        assert rows["in-doubt"][0] == "pending"  # for the next start
        assert r.sent_to_graph() == []
        assert journal.size() > 0  # a SQLite journal stays beside its database


@pytest.mark.sqlite_only  # another process's SQLite write lock
async def test_a_result_unrecordable_at_shutdown_is_recorded_from_the_journal_at_restart(
        sqlite_url: str, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    journal = sqlite_journal(sqlite_url)
    async with rig(sqlite_url, graph, journal) as r:
        outbox = r.outbox(record_delay=0.05)
        items = [await r.store("locked"), await r.store("locked-too")]
        graph.hold_next(2)
        outbox.submit(items)
        await until(lambda: graph.holding == 2, "both sends are at the channel")
        locker = await asyncio.to_thread(hold_write_lock, Path(
            sqlite_url.removeprefix("sqlite:///")))
        try:
            graph.release()
            await until(lambda: outbox.record_retries >= 2, "both records failed",
                        seconds=15)
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                await asyncio.wait_for(outbox.close(), 15)
        finally:
            await asyncio.to_thread(release, locker)
        assert outbox.unrecorded_at_close == 2
        assert outbox.sent_count == 2
        assert {row[0] for row in (await r.rows()).values()} == {"pending"}
        assert outbox_lines(caplog) == [
            "outbox: a send result could not be recorded before shutdown "
            "(StorageUnavailable); that message will be sent again after the restart"] * 2
        assert CUSTOMER not in caplog.text and "your order" not in caplog.text
        # the next start finds the accepted sends in the journal: neither is sent again
        again = r.outbox()
        await again.recover()
        rows = await r.rows()
        assert {row[:3] for row in rows.values()} == {
            ("sent", "wamid.FAKE000001", 1), ("sent", "wamid.FAKE000002", 1)}
        assert again._recovery is None and journal.size() == 0
        await again.close()
        assert sorted(r.sent_to_graph()) == ["locked", "locked-too"]


@pytest.mark.sqlite_only  # another process's SQLite write lock
async def test_a_result_retried_backs_off_doubling_to_its_cap_and_says_why(
        sqlite_url: str, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    async with rig(sqlite_url, graph, None) as r:
        outbox = r.outbox(record_delay=0.1, record_max_delay=0.8)
        item = await r.store("slow")
        graph.hold_next(1)
        outbox.submit([item])
        await until(lambda: graph.holding == 1, "the send is at the channel")
        locker = await asyncio.to_thread(hold_write_lock, Path(
            sqlite_url.removeprefix("sqlite:///")))
        try:
            with caplog.at_level(logging.WARNING, logger="webhooks.outbox"):
                graph.release()
                await until(lambda: outbox.record_retries >= 5, "five records failed",
                            seconds=30)
        finally:
            await asyncio.to_thread(release, locker)  # during the fifth wait (0.8 s)
        await asyncio.wait_for(outbox.drain(), 15)
        assert outbox_lines(caplog) == [
            "outbox: recording a send result failed (StorageUnavailable); "
            f"retrying in {delay} s" for delay in ("0.1", "0.2", "0.4", "0.8", "0.8")]
        assert outbox.record_retries == 5 and outbox.unrecorded_at_close == 0
        assert (await r.rows())["slow"][:3] == ("sent", "wamid.FAKE000001", 1)
        assert r.sent_to_graph() == ["slow"]
        await outbox.close()


# ---- both: the claim before a send ------------------------------------------------------


async def test_a_submitted_row_is_claimed_for_its_lease_only_on_postgresql(
        database_url: str, graph: FakeGraphApi) -> None:
    async with rig(database_url, graph, None) as r:
        outbox = r.outbox(lease_ms=45_000)
        item = await r.store("fresh")
        graph.hold_next(1)
        before = r.clock.now_ms()
        outbox.submit([item])
        await until(lambda: graph.holding == 1, "the send is at the channel")
        after = r.clock.now_ms()
        status, _, _, due, _ = (await r.rows())["fresh"]
        if r.db.dialect == "postgresql":
            assert status == "sending" and before + 45_000 <= due <= after + 45_000
        else:  # one process: the in-flight set is the claim
            assert status == "pending" and due <= after
        graph.release()
        await outbox.drain()
        assert (await r.rows())["fresh"][:3] == ("sent", "wamid.FAKE000001", 1)
        assert r.sent_to_graph() == ["fresh"]
        await outbox.close()


async def test_a_row_another_server_holds_is_not_sent_until_its_lease_ends(
        fresh_postgres: str, graph: FakeGraphApi) -> None:
    async with rig(fresh_postgres, graph, None) as r:
        outbox = r.outbox()
        item = await r.store("theirs", claimed_until=r.clock.now_ms() + 60_000)
        outbox.submit([item])
        await outbox.drain()
        assert r.sent_to_graph() == []
        assert (await r.rows())["theirs"][0] == "sending"
        r.clock.advance(minutes=2)  # that server died: its lease ran out
        outbox.submit([item])  # not kept in flight by the first try
        await outbox.drain()
        assert r.sent_to_graph() == ["theirs"]
        outbox.submit([item])  # sent: the claim conflicts, nothing is sent again
        await outbox.drain()
        assert r.sent_to_graph() == ["theirs"]
        await outbox.close()


async def test_a_row_born_claimed_is_sent_without_a_second_claim(
        fresh_postgres: str, graph: FakeGraphApi) -> None:
    async with rig(fresh_postgres, graph, None) as r:
        outbox = r.outbox()
        item = await r.store("mine", claimed_until=r.clock.now_ms() + 60_000)
        outbox.submit([item], claimed=True)
        await outbox.drain()
        assert r.sent_to_graph() == ["mine"]
        await outbox.close()


async def test_a_claim_the_database_refuses_sends_nothing_and_says_why(
        fresh_postgres: str, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    async with rig(fresh_postgres, graph, None) as r:
        outbox = r.outbox()
        item = await r.store("unclaimable")
        await r.db.close()  # the database went away between the commit and the send
        with caplog.at_level(logging.WARNING):
            outbox.submit([item])
            await outbox.drain()
        assert r.sent_to_graph() == [] and outbox.sent_count == 0
        assert outbox_lines(caplog) == [
            "outbox: could not claim a message (RuntimeError)"]
        assert CUSTOMER not in caplog.text
        await r.db.start()


async def test_on_postgresql_the_poller_claims_the_due_rows(
        fresh_postgres: str, graph: FakeGraphApi) -> None:
    async with rig(fresh_postgres, graph, None) as r:
        outbox = r.outbox(lease_ms=30_000)
        await r.store("due")
        await r.store("theirs", claimed_until=r.clock.now_ms() + 60_000)
        graph.hold_next(1)
        before = r.clock.now_ms()
        assert await outbox.run_due() == 1
        await until(lambda: graph.holding == 1, "the send is at the channel")
        status, _, _, due, _ = (await r.rows())["due"]
        assert status == "sending" and before + 30_000 <= due <= r.clock.now_ms() + 30_000
        assert await outbox.run_due() == 0  # claimed by us: not due again
        graph.release()
        await outbox.drain()
        assert r.sent_to_graph() == ["due"]
        await outbox.close()


async def test_a_row_with_no_channel_is_dead_and_each_send_is_timed_by_channel(
        database_url: str, graph: FakeGraphApi) -> None:
    async with rig(database_url, graph, None) as r:
        seconds = LatencyHistogram("haat_send_seconds", "sends", ("channel",))
        outbox = r.outbox(send_seconds=seconds)
        gone = await r.store("gone", channel="fax")
        ok = await r.store("ok")
        started = time.perf_counter()
        outbox.submit([gone, ok])
        await outbox.drain()
        took = time.perf_counter() - started
        assert 0 < seconds.labels("whatsapp").sum <= took  # the send's time, in seconds
        rows = await r.rows()
        assert rows["gone"][0] == "dead" and rows["gone"][4] == "no channel fax"
        assert rows["ok"][0] == "sent"
        assert sum(seconds.labels("whatsapp").counts) == 1
        assert sum(seconds.labels("fax").counts) == 0
        await outbox.close()


async def test_without_a_journal_every_due_row_is_sent_and_a_batch_skips_only_the_unsendable(
        database_url: str, graph: FakeGraphApi) -> None:
    async with rig(database_url, graph, None) as r:
        outbox = r.outbox()
        held = await r.store("held", status=OutboundStatus.HELD)  # for the owner's digest
        first = await r.store("first")
        outbox.submit([held, first])  # the held row is skipped, not the rest of the batch
        await outbox.drain()
        assert r.sent_to_graph() == ["first"]
        await r.store("second")
        await r.store("third")
        assert await outbox.run_due() == 2
        await outbox.drain()
        await r.store("fourth")
        await outbox.poll_once()
        await outbox.drain()
        await outbox.poll_once()  # nothing due or in flight, and no journal to compact
        assert sorted(r.sent_to_graph()) == ["first", "fourth", "second", "third"]
        assert outbox.sent_count == 4
        assert (await r.rows())["held"][0] == "held"
        await outbox.close()


async def test_a_send_its_channel_crashes_on_is_retried_later_and_the_rest_still_go(
        sqlite_url: str, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    # a 2xx answer nested too deep for the JSON parser: RecursionError, no error the adapter
    # knows. The sender child retried such a send; the inline sender let the exception
    # out of the send task, where drain swallowed it: the row stayed due, with no attempt
    # counted and no line logged, and every poll sent it again
    async with rig(sqlite_url, graph, None) as r:
        outbox = r.outbox()
        graph.pattern(lambda n: Failure(201, page="[" * 100_000) if n == 1 else None)
        items = [await r.store("first"), await r.store("second")]
        with caplog.at_level(logging.INFO):
            outbox.submit(items)
            await asyncio.wait_for(outbox.drain(), 10)
        (went,) = r.sent_to_graph()
        (crashed,) = {"first", "second"} - {went}
        rows = await r.rows()
        assert rows[went][:3] == ("sent", "wamid.FAKE000001", 1)
        status, channel_id, attempts, due, error = rows[crashed]
        assert (status, channel_id, attempts, error) == (
            "pending", None, 1, "internal error: RecursionError")
        assert due > r.clock.now_ms()  # backed off, not sent again at the next poll
        (crash,) = [rec for rec in caplog.records if rec.name == "webhooks.sender"]
        assert crash.getMessage() == "send failed unexpectedly"
        assert crash.levelno == logging.ERROR and crash.exc_info is not None
        assert crash.exc_info[0] is RecursionError
        (retry,) = outbox_lines(caplog)
        assert retry.startswith("outbox: send failed (internal error: RecursionError), "
                                "retry 1 in ")
        await outbox.run_due()
        await outbox.drain()
        assert r.sent_to_graph() == [went]  # not due yet
        r.clock.advance(seconds=2)
        await outbox.run_due()
        await outbox.drain()
        assert r.sent_to_graph() == [went, crashed]
        assert (await r.rows())[crashed][:3] == ("sent", "wamid.FAKE000002", 2)
        assert outbox.sent_count == 2
        await outbox.close()


async def test_a_send_whose_journal_line_cannot_be_written_is_recorded_as_sent_once(
        tmp_path: Path, sqlite_url: str, graph: FakeGraphApi,
        caplog: pytest.LogCaptureFixture) -> None:
    # the journal's folder is gone (on PostgreSQL it is under the system's temporary
    # directory) or the disk is full: the channel accepted the send all the same, so it
    # is recorded as sent and not sent again; only a crash before that record would
    journal = SentJournal(tmp_path / "gone" / "outbox.sqlite-sent")
    async with rig(sqlite_url, graph, journal) as r:
        outbox = r.outbox()
        item = await r.store("accepted")
        with caplog.at_level(logging.WARNING, logger="webhooks.sender"):
            outbox.submit([item])
            await asyncio.wait_for(outbox.drain(), 10)
        assert (await r.rows())["accepted"][:3] == ("sent", "wamid.FAKE000001", 1)
        assert [rec.getMessage() for rec in caplog.records
                if rec.name == "webhooks.sender"] == [
            "the sent journal could not be written (FileNotFoundError); a crash before "
            "this send is recorded would send it again"]
        r.clock.advance(minutes=10)
        await outbox.poll_once()
        await outbox.drain()
        assert r.sent_to_graph() == ["accepted"]  # once
        assert outbox.sent_count == 1
        await outbox.close()


def no_more_descriptors() -> Callable[[], None]:
    """Until the returned call: this process can open no file, pipe or socket (EMFILE), as
    when a server has used up its descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    taken = {int(fd) for fd in os.listdir("/proc/self/fd")}
    lowest_free = min(set(range(len(taken) + 2)) - taken)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_sender_child_that_cannot_start_is_a_retry_and_a_later_try_sends(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    # the OSError of a spawn (no descriptors, no memory, no process slot) came out of the
    # send task: drain swallowed it, the row stayed due with no attempt counted
    async with rig(sqlite_url, graph, None) as r:
        channels = {name: build(r.settings) for name, build in CHANNELS.items()}
        sender = ProcessSender(r.settings, InlineSender(channels, lambda: r.session),
                               frozenset({"whatsapp"}))
        sender.restart_delay = 0.0
        outbox = Outbox(db=r.db, channels=channels, sender=sender, clock=r.clock)
        item = await r.store("first")
        restore = no_more_descriptors()
        try:
            outbox.submit([item])
            await until(lambda: sender._last_start > 0 and sender._starting is None,
                        "the child's start failed")
        finally:
            restore()
        await asyncio.wait_for(outbox.drain(), 10)
        status, channel_id, attempts, due, error = (await r.rows())["first"]
        assert (status, channel_id, attempts, error) == (
            "pending", None, 1, "the sender process did not start (OSError)")
        assert due > r.clock.now_ms() and sender.started == 0
        r.clock.advance(seconds=2)
        assert await outbox.run_due() == 1
        await asyncio.wait_for(outbox.drain(), 60)
        assert (await r.rows())["first"][:3] == ("sent", "wamid.FAKE000001", 2)
        assert r.sent_to_graph() == ["first"] and sender.started == 1
        await outbox.close()
        await sender.close()


async def test_a_channel_id_that_cannot_be_stored_is_recorded_as_sent_without_it(
        database_url: str, graph: FakeGraphApi) -> None:
    async with rig(database_url, graph, None) as r:
        outbox = r.outbox()
        graph.message_ids.append("wamid.\udcff")  # a lone surrogate: no encoding stores it
        item = await r.store("odd")
        before = r.clock.now_ms()
        outbox.submit([item])
        await asyncio.wait_for(outbox.drain(), 10)
        assert (await r.rows())["odd"][:3] == ("sent", None, 1)
        (updated,) = await r.db.fetchall(
            "SELECT updated_at FROM outbound_messages WHERE id = 'odd'")
        assert before <= updated[0] <= r.clock.now_ms()
        assert outbox.record_retries == 0 and outbox.sent_count == 1
        assert r.sent_to_graph() == ["odd"]  # once
        await outbox.close()


# ---- PostgreSQL: several servers, a journal each ----------------------------------------


async def test_a_dead_servers_journal_is_adopted_once_and_removed(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    mine = SentJournal(journals / f"{os.getpid()}.sent")
    async with rig(fresh_postgres, graph, mine) as r:
        lease = r.clock.now_ms() + 60_000
        for row_id in ("a", "b", "c", "d"):
            await r.store(row_id, claimed_until=lease)
        gone = dead_pid()
        dead = left_by_the_dead(journals, gone, {"a": "wamid.A", "b": ""})
        fresh = left_by_the_dead(journals, gone + 100_000, {"c": "wamid.C"}, age=0)
        alive = left_by_the_dead(journals, os.getppid(), {"d": "wamid.D"})
        outbox = r.outbox()
        with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
            await outbox.recover()  # on PostgreSQL: adopt, never release another's claims
        assert outbox_lines(caplog) == [
            "outbox: 2 sends of a dead server recorded from its journal"]
        rows = await r.rows()
        assert rows["a"][:3] == ("sent", "wamid.A", 1)
        assert rows["b"][:3] == ("sent", None, 1)
        assert rows["c"][0] == rows["d"][0] == "sending"
        assert not dead.exists() and fresh.exists() and alive.exists()
        assert outbox.recovered_from_journal == 2
        assert await outbox.adopt_orphans() == 0  # once
        assert outbox._recovery is None
        assert await outbox.run_due() == 0  # the others' leases still hold
        await outbox.close()
        assert r.sent_to_graph() == []


async def test_a_poll_looks_for_dead_servers_journals_every_orphan_interval(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    async with rig(fresh_postgres, graph, SentJournal(journals / f"{os.getpid()}.sent")) as r:
        r.clock = StoppedClock(T0)  # a slow poll (a loaded machine) must not be "time again"
        outbox = r.outbox(lease_ms=16_000)
        assert outbox.orphan_seconds == 2.0
        assert r.outbox().orphan_seconds == ORPHAN_GRACE_SECONDS  # a long lease
        lease = r.clock.now_ms() + 60_000
        await r.store("first", claimed_until=lease)
        await r.store("second", claimed_until=lease)
        gone = dead_pid()
        left_by_the_dead(journals, gone, {"first": "wamid.1"})
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 1
        left_by_the_dead(journals, dead_pid(), {"second": "wamid.2"})  # gone + 1 may be alive
        r.clock.advance(seconds=1.9)
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 1  # not yet time
        r.clock.advance(seconds=0.2)
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 2
        assert (await r.rows())["second"][:2] == ("sent", "wamid.2")
        r.clock.advance(minutes=-5)  # the clock went back: look again at once
        left_by_the_dead(journals, dead_pid(), {"third": "wamid.3"})
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 3
        await outbox.close()


async def test_adopting_is_for_postgresql_with_a_journal_only(
        sqlite_url: str, fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    dead = left_by_the_dead(journals, dead_pid(), {"a": "wamid.A"})
    async with rig(sqlite_url, graph, SentJournal(journals / f"{os.getpid()}.sent")) as r:
        assert await r.outbox().adopt_orphans() == 0
    async with rig(fresh_postgres, graph, None) as r:
        assert await r.outbox().adopt_orphans() == 0
    assert dead.exists()


async def test_a_clean_shutdown_removes_a_postgresql_servers_journal_and_empty_folder(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path) -> None:
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    alone.mkdir()
    shared.mkdir()
    neighbour = left_by_the_dead(shared, os.getppid(), {"x": "wamid.X"})
    for directory in (alone, shared):
        journal = SentJournal(directory / f"{os.getpid()}.sent")
        async with rig(fresh_postgres, graph, journal) as r:
            outbox = r.outbox()
            item = await r.store(f"row-{directory.name}")
            outbox.submit([item])
            await outbox.drain()
            assert journal.path.exists()  # the send is in it
            journal.close()
            await outbox.close()
            assert not journal.path.exists()
    assert not alone.exists()
    assert shared.exists() and neighbour.exists()  # another server's journal stays


async def test_a_postgresql_journal_with_an_unrecorded_send_survives_shutdown(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path) -> None:
    journal = SentJournal(tmp_path / f"{os.getpid()}.sent")
    async with rig(fresh_postgres, graph, journal) as r:
        outbox = r.outbox(record_delay=0.05)
        item = await r.store("locked")
        graph.hold_next(1)
        outbox.submit([item])
        await until(lambda: graph.holding == 1, "the send is at the channel")
        other = await asyncpg.connect(fresh_postgres.replace("postgresql+asyncpg://",
                                                             "postgresql://"))
        try:
            locking = other.transaction()
            await locking.start()
            await other.execute("SELECT 1 FROM outbound_messages WHERE id = 'locked' "
                                "FOR UPDATE")
            graph.release()
            await until(lambda: outbox.record_retries >= 1, "the record failed")
            await asyncio.wait_for(outbox.close(), 20)
            await locking.rollback()
        finally:
            await other.close()
        assert outbox.unrecorded_at_close == 1
        assert journal.read() == {"locked": "wamid.FAKE000001"}  # for whoever adopts it
        journal.close()


async def test_two_servers_adopting_one_dead_servers_journal_at_once_both_go_on(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    async with rig(fresh_postgres, graph, SentJournal(journals / f"{os.getpid()}.sent")) as r:
        await r.store("a", claimed_until=r.clock.now_ms() + 60_000)
        dead = left_by_the_dead(journals, dead_pid(), {"a": "wamid.A"})
        # both read it before either removes it: the second removal finds it gone
        adopted = await asyncio.gather(r.outbox().adopt_orphans(), r.outbox().adopt_orphans())
        assert list(adopted) == [1, 1]  # recording is idempotent
        assert (await r.rows())["a"][:3] == ("sent", "wamid.A", 1)
        assert not dead.exists()


class StoppedClock(Clock):
    """A clock that moves only when the test moves it (advance): an exact interval."""

    def now_ms(self) -> int:
        return self.offset_ms


async def test_a_poll_looks_again_exactly_one_orphan_interval_later(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    async with rig(fresh_postgres, graph, SentJournal(journals / f"{os.getpid()}.sent")) as r:
        r.clock = StoppedClock(T0)
        outbox = r.outbox(lease_ms=16_000)  # every 2 s
        await r.store("late", claimed_until=T0 + 60_000)
        await outbox.poll_once()  # the first look, at T0: nothing there yet
        left_by_the_dead(journals, dead_pid(), {"late": "wamid.L"})
        await outbox.poll_once()  # the same instant: not time again
        assert outbox.recovered_from_journal == 0
        r.clock.advance(seconds=1.999)
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 0
        r.clock.advance(seconds=0.001)  # 2 s to the millisecond
        await outbox.poll_once()
        assert outbox.recovered_from_journal == 1
        assert (await r.rows())["late"][:2] == ("sent", "wamid.L")
        await outbox.close()


async def test_the_poller_goes_on_after_a_failed_poll_and_says_why(
        fresh_postgres: str, graph: FakeGraphApi, caplog: pytest.LogCaptureFixture) -> None:
    async with rig(fresh_postgres, graph, None) as r:
        outbox = r.outbox(poll_seconds=0.02)
        await r.db.close()  # the database went away: every poll fails meanwhile
        with pytest.raises(Exception) as failing:  # whatever a poll raises
            await outbox.poll_once()
        with caplog.at_level(logging.WARNING, logger="webhooks.outbox"):
            poller = asyncio.create_task(outbox.poll_forever())
            try:
                await until(lambda: len(outbox_lines(caplog)) >= 2, "two polls failed")
                await r.db.start()
                await r.store("later")
                await until(lambda: r.sent_to_graph() == ["later"], "a poll sent it")
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
        # the reason is the error's type only: an error's text may quote what was sent
        assert set(outbox_lines(caplog)) == {
            f"outbox poll failed ({type(failing.value).__name__})"}
        await outbox.drain()
        await outbox.close()


def outbox_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The outbox's log lines, in order (none of these quotes a long number, so the log
    redaction of webhooks/redaction.py leaves them as they are)."""
    return [rec.getMessage() for rec in caplog.records if rec.name == "webhooks.outbox"]


def _sent(row_id: str, channel_id: str, r: Rig) -> WriteSet:
    writes = WriteSet()
    outgoing.mark_sent(writes, row_id, channel_id, r.clock.now_ms())
    return writes


# ---- a poll beside sends in flight, and several dead servers at once --------------------


@pytest.mark.sqlite_only  # another process's SQLite write lock
async def test_a_poll_keeps_the_journal_line_of_a_send_whose_record_is_still_failing(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    """The journal is emptied only with nothing in flight: a send the channel took whose
    record keeps failing keeps its line through a poll, so the next start records it and
    does not send it again."""
    journal = sqlite_journal(sqlite_url)
    async with rig(sqlite_url, graph, journal) as r:
        outbox = r.outbox(record_delay=0.05)
        item = await r.store("locked")
        graph.hold_next(1)
        outbox.submit([item])
        await until(lambda: graph.holding == 1, "the send is at the channel")
        locker = await asyncio.to_thread(hold_write_lock, Path(
            sqlite_url.removeprefix("sqlite:///")))
        try:
            graph.release()
            await until(lambda: outbox.record_retries >= 1, "the record failed", seconds=15)
            await outbox.poll_once()  # the row is due, but its send is in flight
            kept = journal.read()
            await asyncio.wait_for(outbox.close(), 15)
        finally:
            await asyncio.to_thread(release, locker)
        assert kept == {"locked": "wamid.FAKE000001"}
        assert outbox.unrecorded_at_close == 1
        assert (await r.rows())["locked"][0] == "pending"
        again = r.outbox()
        await again.recover()  # the journal's word: sent, nothing is in doubt
        assert (await r.rows())["locked"][:3] == ("sent", "wamid.FAKE000001", 1)
        assert again._recovery is None and again.recovered_from_journal == 1
        await again.close()
        assert r.sent_to_graph() == ["locked"]  # once


async def test_a_poll_passes_over_a_row_at_the_channel_and_sends_the_due_rows_after_it(
        sqlite_url: str, graph: FakeGraphApi) -> None:
    """One process: a due row whose send is still at the channel is skipped, not the rest
    of the batch (the rows due after it go at this poll, not after that send's answer)."""
    async with rig(sqlite_url, graph, None) as r:
        outbox = r.outbox()
        first = await r.store("first")
        r.clock.advance(seconds=1)
        await r.store("second")  # due after the first (a leftover, or a retry)
        graph.hold_next(1)
        outbox.submit([first])
        await until(lambda: graph.holding == 1, "the first send is at the channel")
        try:
            assert await outbox.run_due() == 1  # the second row: the first is in flight
            await until(lambda: r.sent_to_graph() == ["second"],
                        "the second row went while the first was at the channel")
        finally:
            graph.release()
            await asyncio.wait_for(outbox.drain(), 10)
        rows = await r.rows()
        assert rows["first"][:3] == ("sent", "wamid.FAKE000002", 1)
        assert rows["second"][:3] == ("sent", "wamid.FAKE000001", 1)
        assert r.sent_to_graph() == ["second", "first"]  # each once
        await outbox.close()


async def test_the_journals_of_two_dead_servers_are_adopted_in_one_look_and_counted_together(
        fresh_postgres: str, graph: FakeGraphApi, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """Every dead server's journal found in one look is recorded and removed, and the
    count returned (and kept for /metrics) is all their sends, not the last journal's."""
    journals = tmp_path / "journals"
    journals.mkdir()
    async with rig(fresh_postgres, graph, SentJournal(journals / f"{os.getpid()}.sent")) as r:
        lease = r.clock.now_ms() + 60_000
        for row_id in ("a", "b", "c"):
            await r.store(row_id, claimed_until=lease)
        one, other = dead_pid(), dead_pid()
        assert one != other
        two_sends = left_by_the_dead(journals, one, {"a": "wamid.A", "b": "wamid.B"})
        one_send = left_by_the_dead(journals, other, {"c": "wamid.C"})
        outbox = r.outbox()
        with caplog.at_level(logging.INFO, logger="webhooks.outbox"):
            adopted = await outbox.adopt_orphans()
        assert adopted == 3 and outbox.recovered_from_journal == 3
        assert sorted(outbox_lines(caplog)) == [
            f"outbox: {n} sends of a dead server recorded from its journal" for n in (1, 2)]
        rows = await r.rows()
        assert {k: rows[k][:3] for k in ("a", "b", "c")} == {
            "a": ("sent", "wamid.A", 1), "b": ("sent", "wamid.B", 1),
            "c": ("sent", "wamid.C", 1)}
        assert not two_sends.exists() and not one_send.exists()
        await outbox.close()
        assert r.sent_to_graph() == []
