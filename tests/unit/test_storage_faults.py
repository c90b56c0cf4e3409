"""The storage engine under poison and faults: a failing write set fails alone, of whatever
type its failure; a locked, full or overloaded database refuses fast and recovers by itself.

Poison here is crafted at the engine level (write sets the edge would never build), so these
tests keep holding whatever the HTTP edge learns to refuse before storage.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.amounts import minor
from storage.database import (
    _STOP,  # the writer's stop sentinel
    Conflict,
    Database,
    PostgresDatabase,
    SqliteDatabase,
    StorageUnavailable,
    UnstorableWrite,
    WriteSet,
    open_database,
)
from webhooks.migrate import upgrade

INSERT = ("INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, body, "
          "received_at, status, response) VALUES (?, ?, 'shop', 'c', 'text', ?, 0, "
          "'processed', 'r') ON CONFLICT (channel, message_id) DO NOTHING")
TOUCH = "UPDATE inbound_messages SET received_at = ? WHERE channel = 'sim' AND message_id = ?"
_ids = itertools.count()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await db.start()
    yield db
    await db.close()


def honest(message_id: str) -> WriteSet:
    """Like a turn: the guarded inbound row first, then more statements."""
    writes = WriteSet()
    writes.add(INSERT, ("sim", message_id, "hello"), must_change=True)
    writes.add(TOUCH, (1, message_id))
    return writes


def poison(kind: str, message_id: str) -> WriteSet:
    writes = WriteSet()
    if kind == "surrogate":  # a lone surrogate in the guarded row itself: UnicodeEncodeError
        writes.add(INSERT, ("sim", message_id, "caf\ud800"), must_change=True)
    elif kind == "overflow":  # fails after its guard succeeded: OverflowError / DataError
        writes.add(INSERT, ("sim", message_id, "x"), must_change=True)
        writes.add(TOUCH, (10**40, message_id))
    elif kind == "not_null":  # a constraint after the guard: IntegrityError
        writes.add(INSERT, ("sim", message_id, "x"), must_change=True)
        writes.add("INSERT INTO inbound_messages (channel) VALUES (?)", ("sim",))
    elif kind == "bad_type":  # no guard, a parameter no driver can bind
        writes.add(TOUCH, (1, message_id))
        writes.add(TOUCH, (object(), message_id))
    elif kind == "bad_sql":  # a statement that cannot run at all, after a good one
        writes.add(INSERT, ("sim", message_id, "x"), must_change=True)
        writes.add("UPDATE no_such_table SET x = ?", (1,))
    else:
        raise AssertionError(kind)
    return writes


POISON = ("surrogate", "overflow", "not_null", "bad_type", "bad_sql")


async def _stored(db: Database, ids: list[str]) -> set[str]:
    rows = await db.fetchall("SELECT message_id, received_at FROM inbound_messages")
    found = {str(r[0]): r[1] for r in rows}
    assert all(found[i] == 1 for i in ids if i in found)  # every statement of it applied
    return {i for i in ids if i in found}


async def test_poison_of_every_kind_fails_alone_and_forty_neighbours_commit(
        database: Database) -> None:
    honest_ids = [f"h{next(_ids)}" for _ in range(40)]
    poison_ids = {kind: f"p{next(_ids)}" for kind in POISON}
    write_sets = [honest(i) for i in honest_ids[:20]]
    write_sets += [poison(kind, i) for kind, i in poison_ids.items()]
    write_sets += [honest(i) for i in honest_ids[20:]]
    results = await asyncio.gather(*(database.write(w) for w in write_sets),
                                   return_exceptions=True)  # one tick: one group commit
    assert results[:20] == [None] * 20 and results[25:] == [None] * 20
    outcomes = dict(zip(POISON, results[20:25], strict=True))
    assert isinstance(outcomes["surrogate"], UnstorableWrite)
    assert isinstance(outcomes["overflow"], UnstorableWrite)
    assert isinstance(outcomes["not_null"], Conflict)
    assert isinstance(outcomes["bad_type"], UnstorableWrite)
    assert isinstance(outcomes["bad_sql"], UnstorableWrite)
    if database.dialect == "sqlite":  # what the caller's log line says: the kind, no text
        assert {kind: str(outcome) for kind, outcome in outcomes.items()} == {
            "surrogate": "write set not storable: UnicodeEncodeError",
            "overflow": "write set not storable: AmountTooLarge",
            "not_null": "NOT NULL constraint failed: inbound_messages.message_id",
            "bad_type": "write set not storable: ProgrammingError",
            "bad_sql": "write set not storable: OperationalError",
        }
    assert await _stored(database, honest_ids) == set(honest_ids)
    assert await _stored(database, list(poison_ids.values())) == set()  # nothing half-stored
    await database.write(honest("after"))  # and the engine keeps working
    assert await _stored(database, ["after"]) == {"after"}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.sampled_from(("honest", *POISON)), min_size=1, max_size=40))
async def test_any_mix_of_poison_and_honest_stores_exactly_the_honest(
        tmp_path: Path, plan: list[str]) -> None:
    path = tmp_path / "mix.sqlite"
    if not path.exists():
        await asyncio.to_thread(upgrade, f"sqlite:///{path}")
    db = SqliteDatabase(str(path))
    await db.start()
    try:
        ids = [f"m{next(_ids)}" for _ in plan]
        results = await asyncio.gather(*(
            db.write(honest(i) if kind == "honest" else poison(kind, i))
            for kind, i in zip(plan, ids, strict=True)), return_exceptions=True)
        for kind, result in zip(plan, results, strict=True):
            assert (result is None) == (kind == "honest"), (kind, result)
            assert result is None or isinstance(result, (UnstorableWrite, Conflict))
        expected = {i for kind, i in zip(plan, ids, strict=True) if kind == "honest"}
        assert await _stored(db, ids) == expected
    finally:
        await db.close()


async def test_the_counters_count_the_commits_and_only_the_write_sets_stored(
        database: Database) -> None:
    """``haat_db_commits`` and ``haat_db_write_sets`` (/metrics): a group with poison in it
    is one commit on SQLite (savepoints) and a transaction per write set on PostgreSQL (each
    alone after the failed group); either way the write sets counted are the stored ones."""
    assert isinstance(database, (SqliteDatabase, PostgresDatabase))
    honest_ids = [f"c{next(_ids)}" for _ in range(12)]
    write_sets = [honest(i) for i in honest_ids[:6]]
    write_sets += [poison(kind, f"p{next(_ids)}") for kind in POISON]
    write_sets += [honest(i) for i in honest_ids[6:]]
    await database.write(honest(f"c{next(_ids)}"))  # the counters start above zero
    commits, batched = database.commits, database.batched
    await asyncio.gather(*(database.write(w) for w in write_sets), return_exceptions=True)
    assert await _stored(database, honest_ids) == set(honest_ids)
    assert database.batched - batched == 12
    assert database.commits - commits == (1 if database.dialect == "sqlite" else 12)
    duplicate = [honest(honest_ids[0]), honest(f"c{next(_ids)}")]  # fast path: a failed guard
    commits, batched = database.commits, database.batched
    results = await asyncio.gather(*(database.write(w) for w in duplicate),
                                   return_exceptions=True)
    assert isinstance(results[0], Conflict) and results[1] is None
    assert database.batched - batched == 1
    if database.dialect == "sqlite":
        assert database.commits - commits == 1


# ---- SQLite: locked by another process, disk full, overloaded --------------------------

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


def hold_write_lock(path: Path) -> subprocess.Popen[str]:
    """Another process takes SQLite's write lock and keeps it until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path)],  # noqa: S603
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(timeout=10)
    proc.stdout.close()


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "faults.sqlite"
    await asyncio.to_thread(upgrade, f"sqlite:///{path}")
    return path


@pytest.fixture
async def lite(sqlite_file: Path) -> AsyncIterator[SqliteDatabase]:
    """A started SqliteDatabase on a migrated file, with the default settings."""
    db = SqliteDatabase(str(sqlite_file))
    await db.start()
    yield db
    await db.close()


async def test_a_lock_held_by_another_process_is_a_fast_refusal_then_recovers(
        sqlite_file: Path) -> None:
    db = SqliteDatabase(str(sqlite_file))
    await db.start()
    locker = await asyncio.to_thread(hold_write_lock, sqlite_file)
    try:
        started = time.monotonic()
        results = await asyncio.gather(*(db.write(honest(f"l{i}")) for i in range(30)),
                                       return_exceptions=True)
        waited = time.monotonic() - started
        assert all(isinstance(r, StorageUnavailable) for r in results), results
        assert waited < 2.5  # bounded: busy timeout + queue deadline, not 30 s
        # reads still answer while the lock is held (WAL)
        assert await db.fetchone("SELECT COUNT(*) FROM inbound_messages") == (0,)
    finally:
        await asyncio.to_thread(release, locker)
    try:
        await asyncio.gather(*(db.write(honest(f"l{i}")) for i in range(30)))
        assert await db.fetchone("SELECT COUNT(*) FROM inbound_messages") == (30,)
    finally:
        await db.close()


async def test_a_refused_group_is_logged_once_with_its_size_and_the_reason(
        sqlite_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The writer cannot begin (another process holds the lock): one warning for the whole
    group, with how many write sets it refused and SQLite's name for why."""
    db = SqliteDatabase(str(sqlite_file), busy_timeout_ms=100)
    await db.start()
    locker = await asyncio.to_thread(hold_write_lock, sqlite_file)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.database"):
            results = await asyncio.gather(*(db.write(honest(f"w{i}")) for i in range(5)),
                                           return_exceptions=True)
        assert [str(r) for r in results] == ["sqlite: SQLITE_BUSY"] * 5
        assert [r.getMessage() for r in caplog.records] == [
            "sqlite: 5 write sets refused (SQLITE_BUSY)"]
    finally:
        await asyncio.to_thread(release, locker)
        await db.close()


def _add_deferred_tables(path: Path) -> None:
    """Tables whose foreign key is checked only at COMMIT (haat's schema has none: here
    they are the way to make the database refuse a COMMIT)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) "
                 "DEFERRABLE INITIALLY DEFERRED)")
    conn.close()


@pytest.mark.parametrize("path", ["fast", "savepoints"])
async def test_a_refused_commit_stores_nothing_and_tells_every_caller_why(
        sqlite_file: Path, caplog: pytest.LogCaptureFixture, path: str) -> None:
    """When the COMMIT itself fails (here a deferred foreign key; in production a full
    disk or an I/O error), nothing of the group is stored and every write set of it is
    told so, with the database's error as the cause, on the fast path and on the
    savepoint path; the writer then goes on."""
    await asyncio.to_thread(_add_deferred_tables, sqlite_file)
    db = SqliteDatabase(str(sqlite_file))
    await db.start()
    try:
        orphan = WriteSet()
        orphan.add("INSERT INTO child (parent_id) VALUES (?)", (7,))
        ids = [f"r{next(_ids)}" for _ in range(4)]
        write_sets = [honest(i) for i in ids] + [orphan]
        if path == "savepoints":  # fails after its guard: the group goes to the savepoints
            write_sets.append(poison("overflow", f"p{next(_ids)}"))
        commits, batched = db.commits, db.batched
        with caplog.at_level(logging.WARNING, logger="storage.database"):
            results = await asyncio.gather(*(db.write(w) for w in write_sets),
                                           return_exceptions=True)
        for result in results:  # the poison too: the refused COMMIT is what it is told last
            assert isinstance(result, Conflict), results
            assert isinstance(result.__cause__, sqlite3.IntegrityError)
            assert result.__cause__.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY"
        assert await _stored(db, ids) == set()
        assert await db.fetchone("SELECT COUNT(*) FROM child") == (0,)
        assert (db.commits, db.batched) == (commits, batched)
        if path == "fast":
            assert [r.getMessage() for r in caplog.records] == [
                "sqlite: 5 write sets refused (SQLITE_CONSTRAINT_FOREIGNKEY)"]
        await asyncio.gather(*(db.write(honest(i)) for i in ids))
        assert await _stored(db, ids) == set(ids)
    finally:
        await db.close()


async def test_amounts_beyond_64_bits_are_stored_exactly_on_every_path(
        sqlite_file: Path) -> None:
    """sqlite3 refuses an int beyond 64 bits; the engine then binds it as wide text
    (storage/amounts.py), on the fast path (one guard), the savepoint path (two guards),
    and in a group a neighbour's poison sent to the savepoints: every amount reads back
    exactly, and SUM over them is exact."""
    conn = sqlite3.connect(sqlite_file, isolation_level=None)
    conn.execute("CREATE TABLE wide_amounts (id TEXT PRIMARY KEY, amount INTEGER)")
    conn.close()
    db = SqliteDatabase(str(sqlite_file))
    await db.start()
    put = "INSERT INTO wide_amounts (id, amount) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"
    try:
        amounts = {f"a{n}": 10**30 + n for n in range(6)} | {"small": 5, "neg": -(10**25)}

        def guarded(*ids: str) -> WriteSet:
            writes = WriteSet()
            for i in ids:
                writes.add(put, (i, amounts[i]), must_change=True)
            return writes

        unguarded = WriteSet()
        unguarded.add(put, ("a5", amounts["a5"]))
        await db.write(guarded("a0"))  # fast path, its guard overflows
        await db.write(guarded("a1", "small"))  # savepoint path
        await db.write(unguarded)
        results = await asyncio.gather(  # a poison neighbour: the whole group on savepoints
            db.write(guarded("a2")), db.write(poison("overflow", f"p{next(_ids)}")),
            db.write(guarded("a3", "neg")), db.write(guarded("a4")), return_exceptions=True)
        assert [results[0], *results[2:]] == [None, None, None]
        rows = await db.fetchall("SELECT id, amount FROM wide_amounts")
        assert {i: minor(v) for i, v in rows} == amounts
        total = await db.fetchone("SELECT SUM(amount) FROM wide_amounts")
        assert total is not None and minor(total[0]) == sum(amounts.values())
    finally:
        await db.close()


def _fill(path: Path, until_full_of: int) -> None:
    """Another connection grows the file to the writer's page cap with junk."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS junk (x BLOB)")
    while conn.execute("PRAGMA page_count").fetchone()[0] < until_full_of:
        conn.execute("INSERT INTO junk VALUES (zeroblob(3000))")
    conn.close()


def _free(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM junk")  # pages go to the free list, reusable by any table
    conn.close()


async def test_a_full_disk_refuses_fast_and_every_write_set_alone(sqlite_file: Path) -> None:
    conn = sqlite3.connect(sqlite_file)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    cap = pages + 40
    db = SqliteDatabase(str(sqlite_file), max_pages=cap)
    await db.start()
    try:
        await asyncio.to_thread(_fill, sqlite_file, cap)
        big = "x" * 3000  # each needs a page of its own: none fits any more
        writes = []
        for i in range(20):
            ws = WriteSet()
            ws.add(INSERT, ("sim", f"f{i}", big), must_change=True)
            writes.append(ws)
        started = time.monotonic()
        results = await asyncio.gather(*(db.write(w) for w in writes), return_exceptions=True)
        assert time.monotonic() - started < 2.5
        assert all(isinstance(r, StorageUnavailable) for r in results), results
        assert await db.fetchone("SELECT COUNT(*) FROM inbound_messages") == (0,)
        await asyncio.to_thread(_free, sqlite_file)  # space is freed: recovery, no restart
        await asyncio.gather(*(db.write(w) for w in writes))
        assert await db.fetchone("SELECT COUNT(*) FROM inbound_messages") == (20,)
    finally:
        await db.close()


async def test_an_overloaded_writer_refuses_instead_of_queueing_without_bound(
        sqlite_file: Path) -> None:
    db = SqliteDatabase(str(sqlite_file), max_queue=50)
    await db.start()
    locker = await asyncio.to_thread(hold_write_lock, sqlite_file)
    try:
        results = await asyncio.gather(*(db.write(honest(f"q{i}")) for i in range(120)),
                                       return_exceptions=True)
        refused = [r for r in results if isinstance(r, StorageUnavailable)]
        assert len(refused) == 120  # 50 waited (then timed out), 70 were refused at once
        assert [str(r) for r in results[50:]] == ["sqlite: the writer's queue is full"] * 70
        assert all("queue is full" not in str(r) for r in results[:50])
    finally:
        await asyncio.to_thread(release, locker)
    try:  # the queue drained: the next write sets are taken again, as many as before
        for round_ in range(3):
            ids = [f"r{round_}-{i}" for i in range(50)]
            await asyncio.gather(*(db.write(honest(i)) for i in ids))
            assert len(await _stored(db, ids)) == 50
    finally:
        await db.close()


async def test_sqlite_a_write_before_start_says_so(sqlite_file: Path) -> None:
    with pytest.raises(RuntimeError, match=r"^database not started$"):
        await SqliteDatabase(str(sqlite_file)).write(honest("early"))


# ---- PostgreSQL: a lock held by another session ------------------------------------------


async def test_postgres_a_held_lock_is_a_fast_refusal_then_recovers(
        fresh_postgres: str) -> None:
    import asyncpg

    db = open_database(fresh_postgres)
    await db.start()
    other = await asyncpg.connect(fresh_postgres.replace("postgresql+asyncpg://",
                                                         "postgresql://"))
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("LOCK TABLE inbound_messages IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        results = await asyncio.gather(*(db.write(honest(f"g{i}")) for i in range(10)),
                                       return_exceptions=True)
        assert time.monotonic() - started < 2.5
        assert all(isinstance(r, StorageUnavailable) for r in results), results
        await transaction.rollback()
        await asyncio.gather(*(db.write(honest(f"g{i}")) for i in range(10)))
        assert await db.fetchone("SELECT COUNT(*) FROM inbound_messages") == (10,)
    finally:
        await other.close()
        await db.close()


async def test_postgres_a_row_lock_past_its_timeout_fails_only_its_write_set(
        fresh_postgres: str) -> None:
    """A lock timeout (SQLSTATE 55P03) is one statement's failure, not the server's: the
    group is rolled back and each write set runs alone, so the one that waited for the
    locked row is told StorageUnavailable and its neighbours commit."""
    import asyncpg

    db = PostgresDatabase(fresh_postgres, lock_timeout_ms=200)
    await db.start()
    other = await asyncpg.connect(fresh_postgres.replace("postgresql+asyncpg://",
                                                         "postgresql://"))
    try:
        await db.write(honest("held"))
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT 1 FROM inbound_messages WHERE message_id = 'held' "
                            "FOR UPDATE")
        ids = [f"k{next(_ids)}" for _ in range(6)]
        touch_held = WriteSet()
        touch_held.add(TOUCH, (2, "held"))
        write_sets = [honest(i) for i in ids[:3]] + [touch_held] + [honest(i) for i in ids[3:]]
        commits = db.commits
        results = await asyncio.gather(*(db.write(w) for w in write_sets),
                                       return_exceptions=True)
        assert isinstance(results[3], StorageUnavailable), results
        assert str(results[3]) == "postgresql: LockNotAvailableError"
        assert results[:3] + results[4:] == [None] * 6
        assert db.commits - commits == 6  # each alone
        await transaction.rollback()
        assert await _stored(db, ids) == set(ids)
    finally:
        await other.close()
        await db.close()


async def test_postgres_a_group_past_the_statement_timeout_is_refused_as_a_whole(
        fresh_postgres: str) -> None:
    """A statement the server cancels for its timeout (SQLSTATE 57014) says the server is
    overloaded, not that one write set is bad: every write set of the group is told
    StorageUnavailable at once, nothing is stored, and none is retried alone (which would
    only add load); the next group is stored as usual."""
    db = PostgresDatabase(fresh_postgres, statement_timeout_ms=150)
    await db.start()
    try:
        ids = [f"s{next(_ids)}" for _ in range(4)]
        slow = WriteSet()
        slow.add("SELECT pg_sleep(?::float)", (1,))
        write_sets = [honest(i) for i in ids[:2]] + [slow] + [honest(i) for i in ids[2:]]
        trips, commits = db.round_trips, db.commits
        results = await asyncio.gather(*(db.write(w) for w in write_sets),
                                       return_exceptions=True)
        assert db.commits == commits
        assert db.round_trips - trips <= 3  # the group's statements, and no write set alone
        await _refused_then_stored(db, ids, results, "postgresql: QueryCanceledError")
    finally:
        await db.close()


async def test_postgres_a_session_the_server_ends_fails_the_group_as_unavailable(
        fresh_postgres: str) -> None:
    """The server ends the group's session mid-transaction (what a restart or
    ``pg_terminate_backend`` does: SQLSTATE 57P01): nothing of the group is stored, every
    write set of it is told StorageUnavailable, and the pool's next connection stores the
    next group."""
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    try:
        ids = [f"e{next(_ids)}" for _ in range(4)]
        ended = WriteSet()
        ended.add("SELECT pg_terminate_backend(pg_backend_pid())")
        write_sets = [honest(i) for i in ids[:2]] + [ended] + [honest(i) for i in ids[2:]]
        commits = db.commits
        results = await asyncio.gather(*(db.write(w) for w in write_sets),
                                       return_exceptions=True)
        assert all(isinstance(r, StorageUnavailable) for r in results), results
        assert db.commits == commits
        assert await _stored(db, ids) == set()
        await asyncio.gather(*(db.write(honest(i)) for i in ids))
        assert await _stored(db, ids) == set(ids)
    finally:
        await db.close()


async def test_postgres_guards_written_with_a_trailing_semicolon_share_one_round_trip(
        fresh_postgres: str) -> None:
    """A guard's SQL as a person writes it (a newline, a semicolon, spaces) still takes the
    pipelined path: one round trip for the tick's guards, one commit, every row stored, and
    a duplicate among them told Conflict."""
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    try:
        await db.write(honest("first"))
        written = INSERT + ";\n  "
        ids = [f"g{next(_ids)}" for _ in range(5)]

        def guarded(message_id: str) -> WriteSet:
            writes = WriteSet()
            writes.add(written, ("sim", message_id, "hello"), must_change=True)
            return writes

        trips, commits = db.round_trips, db.commits
        await asyncio.gather(*(db.write(guarded(i)) for i in ids))
        assert (db.round_trips - trips, db.commits - commits) == (1, 1)
        rows = await db.fetchall("SELECT message_id FROM inbound_messages WHERE body = 'hello'")
        assert sorted(r[0] for r in rows) == sorted([*ids, "first"])
        results = await asyncio.gather(db.write(guarded("first")), db.write(guarded("late")),
                                       return_exceptions=True)
        assert isinstance(results[0], Conflict) and results[1] is None
    finally:
        await db.close()


class _OutOfMemory:
    """A parameter whose binding runs out of memory: sqlite3 lets the MemoryError of an
    adaptation through as it is, as it does SQLite's own SQLITE_NOMEM."""

    def __conform__(self, protocol: object) -> object:
        raise MemoryError


async def test_sqlite_out_of_memory_is_storage_unavailable_and_the_rest_commit(
        lite: SqliteDatabase) -> None:
    db = lite
    starved = WriteSet()
    starved.add(INSERT, ("sim", "oom", "x"), must_change=True)
    starved.add(TOUCH, (_OutOfMemory(), "oom"))
    results = await asyncio.gather(db.write(honest("before")), db.write(starved),
                                   db.write(honest("after")), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StorageUnavailable)
    assert str(results[1]) == "sqlite: MemoryError"
    assert isinstance(results[1].__cause__, MemoryError)
    assert await _stored(db, ["before", "oom", "after"]) == {"before", "after"}


# ---- SQLite: a write set that costs the whole transaction, two guards, wide reads ------

_ROLLBACK_TRIGGER = """CREATE TRIGGER poison_rollback BEFORE INSERT ON inbound_messages
WHEN NEW.body = 'rollback' BEGIN SELECT RAISE(ROLLBACK, 'poisoned'); END"""


def rollback_poison(message_id: str) -> WriteSet:
    """A write set whose guard rolls back the whole transaction (a trigger's RAISE(ROLLBACK)),
    as SQLite itself does on FULL, IOERR or NOMEM: no savepoint survives it."""
    writes = WriteSet()
    writes.add(INSERT, ("sim", message_id, "rollback"), must_change=True)
    return writes


@pytest.fixture
async def rollback_db(lite: SqliteDatabase) -> SqliteDatabase:
    trigger = WriteSet()
    trigger.add(_ROLLBACK_TRIGGER)
    await lite.write(trigger)
    return lite


async def test_sqlite_a_write_set_that_costs_the_transaction_fails_alone_in_one_commit(
        rollback_db: SqliteDatabase) -> None:
    db = rollback_db
    await db.write(honest("warm"))
    commits, batched = db.commits, db.batched
    ids = [f"t{next(_ids)}" for _ in range(10)]
    plan = [honest(i) for i in ids[:5]] + [rollback_poison("lost")]
    plan += [honest(i) for i in ids[5:]]
    results = await asyncio.gather(*(db.write(w) for w in plan), return_exceptions=True)
    assert results[:5] == [None] * 5 and results[6:] == [None] * 5
    assert isinstance(results[5], Conflict) and str(results[5]) == "poisoned"
    assert await _stored(db, [*ids, "lost"]) == set(ids)
    assert (db.commits - commits, db.batched - batched) == (1, 10)


async def test_sqlite_a_transaction_lost_three_times_refuses_the_rest_as_unavailable(
        rollback_db: SqliteDatabase) -> None:
    """Each lost round fails the write set that lost it and redoes the others; after three,
    the rest are refused (retry later) rather than redone without end."""
    db = rollback_db
    plan = [honest("keep1")] + [rollback_poison(f"lost{n}") for n in range(4)]
    plan += [honest("keep2")]
    results = await asyncio.gather(*(db.write(w) for w in plan), return_exceptions=True)
    assert [str(r) for r in results[1:4]] == ["poisoned"] * 3
    assert all(isinstance(r, Conflict) for r in results[1:4])
    for refused in (results[0], results[4], results[5]):
        assert isinstance(refused, StorageUnavailable)
        assert str(refused) == "sqlite: the transaction was lost three times"
    assert await _stored(db, ["keep1", "keep2", "lost0", "lost3"]) == set()
    await db.write(honest("keep1"))  # refused, not stored: the same write set goes later
    assert await _stored(db, ["keep1"]) == {"keep1"}


async def test_sqlite_a_write_set_with_two_guards_stores_both_or_neither(
        lite: SqliteDatabase) -> None:
    db = lite
    both = WriteSet()
    both.add(INSERT, ("sim", "g1", "hello"), must_change=True)
    both.add(INSERT, ("sim", "g2", "hello"), must_change=True)
    both.add(TOUCH, (1, "g1"))
    both.add(TOUCH, (1, "g2"))
    await db.write(both)
    assert await _stored(db, ["g1", "g2"]) == {"g1", "g2"}
    second_taken = WriteSet()
    second_taken.add(INSERT, ("sim", "g3", "hello"), must_change=True)
    second_taken.add(INSERT, ("sim", "g1", "hello"), must_change=True)
    with pytest.raises(Conflict) as conflict:
        await db.write(second_taken)
    assert str(conflict.value) == "INSERT INTO inbound_messages"  # the statement, no data
    assert await _stored(db, ["g3"]) == set()


async def test_sqlite_a_read_by_an_amount_beyond_64_bits_finds_its_row(
        lite: SqliteDatabase) -> None:
    db = lite
    writes = WriteSet()
    writes.add("CREATE TABLE wide_amounts (id TEXT PRIMARY KEY, amount INTEGER)")
    for n in range(3):
        writes.add("INSERT INTO wide_amounts (id, amount) VALUES (?, ?)",
                   (f"w{n}", 10**30 + n))
    await db.write(writes)
    query = "SELECT id FROM wide_amounts WHERE amount = ?"
    assert await db.fetchone(query, (10**30 + 1,)) == ("w1",)
    assert await db.fetchall(query, (10**30 + 2,)) == [("w2",)]
    assert await db.fetchone(query, (10**30 + 7,)) is None


async def test_sqlite_reads_before_start_say_so(sqlite_file: Path) -> None:
    db = SqliteDatabase(str(sqlite_file))
    with pytest.raises(AssertionError, match=r"^database not started$"):
        await db.fetchone("SELECT 1")
    with pytest.raises(AssertionError, match=r"^database not started$"):
        await db.fetchall("SELECT 1")
    assert await db.ping() is False


async def test_sqlite_ping_is_false_when_reads_fail_or_the_writer_has_stopped(
        sqlite_file: Path) -> None:
    db = SqliteDatabase(str(sqlite_file))
    await db.start()
    try:
        assert await db.ping() is True
        reader = db._reader
        assert reader is not None
        reader.close()  # the reader connection gone under the engine: reads raise
        assert await db.ping() is False
        db._reader = db._connect()
        assert await db.ping() is True
        writer = db._thread
        assert writer is not None
        db._queue.put(_STOP)  # the writer thread ends, the reader still answers
        await asyncio.to_thread(writer.join, 10)
        assert await db.fetchone("SELECT 1") == (1,)
        assert await db.ping() is False
    finally:
        db._thread = None
        await db.close()


async def test_sqlite_the_fast_paths_refusals_say_what_they_are_and_undo_their_part(
        lite: SqliteDatabase) -> None:
    """A group with no failure past a write set's first statement stays on the fast path
    (no savepoints); each refusal still names its kind, and a write set whose second
    statement fails leaves nothing of its first behind."""
    db = lite
    await db.write(honest("kept"))
    unbindable_first = WriteSet()  # no guard, the first statement cannot be bound
    unbindable_first.add(TOUCH, (object(), "kept"))
    results = await asyncio.gather(
        db.write(honest("f1")), db.write(poison("surrogate", "f2")),
        db.write(unbindable_first), db.write(honest("kept")), db.write(honest("f3")),
        return_exceptions=True)
    assert [str(r) if r is not None else None for r in results] == [
        None, "write set not storable: UnicodeEncodeError",
        "write set not storable: ProgrammingError", "INSERT INTO inbound_messages", None]
    assert isinstance(results[3], Conflict)
    half = WriteSet()  # no guard: its first statement changes a stored row, then fails
    half.add(TOUCH, (99, "kept"))
    half.add(TOUCH, (object(), "kept"))
    for first_statement_fails in (False, True):
        plan = [half] if not first_statement_fails else [unbindable_first, half]
        outcomes = await asyncio.gather(db.write(honest(f"n{next(_ids)}")),
                                       *(db.write(w) for w in plan),
                                       return_exceptions=True)
        assert outcomes[0] is None
        assert all(isinstance(r, UnstorableWrite) for r in outcomes[1:])
        assert await db.fetchone(
            "SELECT received_at FROM inbound_messages WHERE message_id = 'kept'") == (1,)


async def test_open_database_gives_each_url_its_engine_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "open.sqlite"
    sqlite_db = open_database(f"sqlite:///{path}", sqlite_synchronous="FULL",
                              sqlite_max_pages=4096)
    assert isinstance(sqlite_db, SqliteDatabase)
    assert (sqlite_db.path, sqlite_db.synchronous, sqlite_db.max_pages) == (
        str(path), "FULL", 4096)
    plain = open_database(f"sqlite:///{path}")
    assert isinstance(plain, SqliteDatabase) and plain.max_pages is None
    for scheme in ("postgresql+asyncpg", "postgresql", "postgres"):
        pg = open_database(f"{scheme}://u@127.0.0.1:1/haat")
        assert isinstance(pg, PostgresDatabase) and pg.group_commit is True
        assert pg.dsn.startswith(("postgresql://", "postgres://"))
    solo = open_database("postgresql://u@127.0.0.1:1/haat", pg_group_commit=False)
    assert isinstance(solo, PostgresDatabase) and solo.group_commit is False
    with pytest.raises(ValueError, match=(r"^HAAT_DATABASE_URL must be sqlite:///… or "
                                          r"postgresql\+asyncpg://…$")):
        open_database("mysql://u@127.0.0.1/haat")


async def test_sqlite_a_caller_that_gives_up_waiting_does_not_stop_the_others_answers(
        sqlite_file: Path) -> None:
    """A request cancelled while its write set waits for the writer (a client gone, a
    timeout): the writer still stores and answers every other write set of the group."""
    db = SqliteDatabase(str(sqlite_file), busy_timeout_ms=5000, queue_timeout=5.0)
    await db.start()
    locker: subprocess.Popen[str] | None = await asyncio.to_thread(hold_write_lock,
                                                                   sqlite_file)
    try:
        ids = [f"w{next(_ids)}" for _ in range(4)]
        waiting = [asyncio.create_task(db.write(honest(i))) for i in ids]
        await asyncio.sleep(0.2)  # the group is with the writer, waiting for the lock
        waiting[0].cancel()
        assert locker is not None
        await asyncio.to_thread(release, locker)
        locker = None
        done = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 10)
        assert isinstance(done[0], asyncio.CancelledError) and done[1:] == [None] * 3
        assert await _stored(db, ids) == set(ids)  # stored before the waiter was gone
    finally:
        if locker is not None:
            await asyncio.to_thread(release, locker)
        await db.close()


async def test_sqlite_a_write_set_that_waited_past_its_deadline_is_refused_unstarted(
        sqlite_file: Path) -> None:
    """While the writer waits for another process's lock, the write sets queued behind
    it wait at most ``queue_timeout``: when the writer reaches them they are refused
    before they start (a 503 now beats an answer later than the platform's timeout)."""
    db = SqliteDatabase(str(sqlite_file), busy_timeout_ms=5000, queue_timeout=0.2)
    await db.start()
    locker: subprocess.Popen[str] | None = await asyncio.to_thread(hold_write_lock,
                                                                   sqlite_file)
    try:
        first = asyncio.create_task(db.write(honest("first")))
        await asyncio.sleep(0.1)  # the writer has it and waits for the lock
        late = [asyncio.create_task(db.write(honest(i))) for i in ("late1", "late2")]
        await asyncio.sleep(0.5)  # past their deadline, the writer still waiting
        assert locker is not None
        await asyncio.to_thread(release, locker)
        locker = None
        await first  # stored: it was taken before its deadline
        refused = await asyncio.gather(*late, return_exceptions=True)
        assert [str(r) for r in refused] == ["sqlite: timed out waiting for the writer"] * 2
        assert all(isinstance(r, StorageUnavailable) for r in refused)
        assert await _stored(db, ["first", "late1", "late2"]) == {"first"}
        await db.write(honest("late1"))  # refused unstarted: the same write set goes later
        assert await _stored(db, ["late1"]) == {"late1"}
    finally:
        if locker is not None:
            await asyncio.to_thread(release, locker)
        await db.close()


class _Interrupt(BaseException):
    """Not an Exception: what no handler of a single write set catches (a bug, a signal)."""


class _Interrupting:
    def __conform__(self, protocol: object) -> object:
        raise _Interrupt


async def test_sqlite_whatever_escapes_a_group_every_caller_is_told_and_the_writer_goes_on(
        sqlite_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = SqliteDatabase(str(sqlite_file))
    await db.start()
    try:
        broken = WriteSet()
        broken.add(INSERT, ("sim", "broken", "x"), must_change=True)
        broken.add(TOUCH, (_Interrupting(), "broken"))
        with caplog.at_level(logging.ERROR, logger="storage.database"):
            results = await asyncio.wait_for(asyncio.gather(
                db.write(honest("n1")), db.write(broken), db.write(honest("n2")),
                return_exceptions=True), 10)
        assert [str(r) for r in results] == ["write set not storable: _Interrupt"] * 3
        assert all(isinstance(r, UnstorableWrite) for r in results)
        assert [r.getMessage() for r in caplog.records] == [
            "sqlite group commit failed; 3 write sets rolled back"]
        assert await _stored(db, ["n1", "n2", "broken"]) == set()  # rolled back, all of it
        await db.write(honest("n1"))  # the writer thread lives on
        assert await _stored(db, ["n1"]) == {"n1"}
    finally:
        await db.close()


async def test_sqlite_the_background_checkpoint_moves_the_log_into_the_database_file(
        sqlite_file: Path) -> None:
    """The writer never checkpoints (wal_autocheckpoint=0); the checkpoint thread does,
    every ``checkpoint_seconds``, so the main file takes the committed pages."""
    db = SqliteDatabase(str(sqlite_file))
    db.checkpoint_seconds = 0.05
    await db.start()
    try:
        def size() -> int:
            return sqlite_file.stat().st_size

        before = await asyncio.to_thread(size)
        for n in range(20):
            writes = WriteSet()
            for k in range(50):
                writes.add(INSERT, ("sim", f"ck{n}-{k}", "x" * 400))
            await db.write(writes)
        for _ in range(100):
            if await asyncio.to_thread(size) > before + 200_000:
                break
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(size) > before + 200_000
    finally:
        await db.close()


async def test_sqlite_in_memory_databases_are_each_their_own_and_leave_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first, second = SqliteDatabase(":memory:"), SqliteDatabase(":memory:")
    await first.start()
    await second.start()
    try:
        for db, value in ((first, "one"), (second, "two")):
            writes = WriteSet()
            writes.add("CREATE TABLE t (v TEXT)")
            writes.add("INSERT INTO t VALUES (?)", (value,))
            await db.write(writes)  # the writer's connection
        assert await first.fetchall("SELECT v FROM t") == [("one",)]  # the reader's
        assert await second.fetchall("SELECT v FROM t") == [("two",)]
        assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []
    finally:
        await first.close()
        await second.close()


async def test_sqlite_the_writer_is_a_named_daemon_thread_and_reports_each_commit_wait(
        sqlite_file: Path) -> None:
    """Named for py-spy and thread dumps; a daemon, so a process that never closed its
    database still exits. ``observe_commit`` gets each stored write set's wait, in s."""
    waits: list[float] = []
    db = open_database(f"sqlite:///{sqlite_file}", observe_commit=waits.append)
    assert isinstance(db, SqliteDatabase)
    await db.start()
    try:
        writer = db._thread
        assert writer is not None
        assert (writer.name, writer.daemon) == ("haat-sqlite-writer", True)
        checkpoints = db._checkpoints
        assert checkpoints is not None and checkpoints.is_alive()
        assert (checkpoints.name, checkpoints.daemon) == ("haat-sqlite-checkpoint", True)
        await asyncio.gather(db.write(honest("o1")), db.write(honest("o2")))
        assert len(waits) == 2 and all(0 < w < 5 for w in waits)
    finally:
        await db.close()


async def test_sqlite_a_group_takes_whole_ticks_up_to_max_batch_and_no_further(
        sqlite_file: Path) -> None:
    """``max_batch`` bounds a group in write sets: ticks that queued behind a busy writer
    are taken while the group is still short of it, and the next tick waits for the next
    commit. With ``max_batch=2`` and three one-set ticks queued: two commits, not one."""
    db = SqliteDatabase(str(sqlite_file), busy_timeout_ms=5000, queue_timeout=5.0,
                        max_batch=2)
    await db.start()
    locker: subprocess.Popen[str] | None = await asyncio.to_thread(hold_write_lock,
                                                                   sqlite_file)
    try:
        first = asyncio.create_task(db.write(honest("mb-a")))  # the writer waits with it
        await asyncio.sleep(0.1)
        queued = []
        for name in ("mb-b", "mb-c", "mb-d"):  # one tick each: three lists in the queue
            queued.append(asyncio.create_task(db.write(honest(name))))
            await asyncio.sleep(0.02)
        before = db.commits
        assert locker is not None
        await asyncio.to_thread(release, locker)
        locker = None
        assert await asyncio.wait_for(asyncio.gather(first, *queued), 10) == [None] * 4
        assert db.commits - before == 3  # {a}, {b, c}, {d}
        assert await _stored(db, ["mb-a", "mb-b", "mb-c", "mb-d"]) == {
            "mb-a", "mb-b", "mb-c", "mb-d"}
    finally:
        if locker is not None:
            await asyncio.to_thread(release, locker)
        await db.close()


def _pages_written(db: SqliteDatabase, prefix: str, sets: int) -> list[WriteSet]:
    out = []
    for n in range(sets):
        writes = WriteSet()
        for k in range(20):
            writes.add(INSERT, ("sim", f"{prefix}{n}-{k}", "x" * 3000))  # a page each
        out.append(writes)
    return out


async def test_sqlite_a_failed_background_checkpoint_is_a_warning_and_is_tried_again(
        sqlite_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The checkpoint copies the log into the database file, so the file grows. With the
    file-size limit (RLIMIT_FSIZE) at the file's size, that copy fails with an I/O error:
    a warning, and the next round, with the limit lifted, checkpoints as usual."""
    import resource
    import signal

    db = SqliteDatabase(str(sqlite_file))
    db.checkpoint_seconds = 0.05
    await db.start()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a killed process
    try:
        def size() -> int:
            return sqlite_file.stat().st_size

        async def grown_past(limit: int) -> bool:
            for _ in range(100):
                if await asyncio.to_thread(size) > limit:
                    return True
                await asyncio.sleep(0.05)
            return False

        start_size = await asyncio.to_thread(size)
        for writes in _pages_written(db, "big", 10):  # 200 pages, checkpointed into the file
            await db.write(writes)
        assert await grown_past(start_size + 600_000)
        await asyncio.sleep(0.2)  # the last rounds copy the rest: the log starts over
        full = await asyncio.to_thread(size)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="storage.database"):
            resource.setrlimit(resource.RLIMIT_FSIZE, (full, hard))
            try:
                for writes in _pages_written(db, "small", 2):  # 40 pages: the log has room
                    await db.write(writes)
                for _ in range(100):
                    if caplog.records:
                        break
                    await asyncio.sleep(0.02)
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            warned = [(r.levelno, r.getMessage()) for r in caplog.records]
        assert warned and set(warned) == {
            (logging.WARNING, "background WAL checkpoint failed; will retry")}
        assert await asyncio.to_thread(size) == full  # nothing copied while it failed
        assert await grown_past(full)  # the next round, with room again
        assert await db.fetchone(
            "SELECT COUNT(*) FROM inbound_messages WHERE message_id LIKE 'small%'") == (40,)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
        await db.close()


async def test_sqlite_a_start_out_of_file_descriptors_fails_whole_and_can_start_again(
        sqlite_file: Path) -> None:
    """Out of file descriptors (RLIMIT_NOFILE) at each step of a start in turn, the reader,
    the checkpoint connection, then the writer: start() raises the error and leaves nothing
    half-started, and starts whole once there is room. A start that returns has a writer
    that stores (one that returned with a dead writer would leave every write waiting)."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    failures = 0

    def writers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "haat-sqlite-writer"]

    try:
        for free in range(1, 16):
            used = {int(fd) for fd in os.listdir("/proc/self/fd")}
            limit = next(n for n in itertools.count(1)
                         if sum(1 for fd in range(n) if fd not in used) == free)
            db = SqliteDatabase(str(sqlite_file))
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
            try:
                await asyncio.wait_for(db.start(), 5)
            except sqlite3.OperationalError as exc:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
                failures += 1
                assert "unable to open database file" in str(exc)
                assert (db._thread, db._checkpoints, db._reader) == (None, None, None)
                assert writers() == [] and await db.ping() is False
                await db.start()  # whole, now that there is room
                await asyncio.wait_for(db.write(honest(f"nofile-{free}")), 5)
                assert await _stored(db, [f"nofile-{free}"]) == {f"nofile-{free}"}
                await db.close()
                continue
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            try:
                await asyncio.wait_for(db.write(honest("nofile-started")), 5)
                assert await _stored(db, ["nofile-started"]) == {"nofile-started"}
            finally:
                await db.close()
            break
        assert failures >= 3  # the reader's step, the checkpoint connection's, the writer's
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---- PostgreSQL: a busy pool, a conflict alone, the order of a group's statements -------


@pytest.fixture
async def pg(fresh_postgres: str) -> AsyncIterator[PostgresDatabase]:
    """A started PostgresDatabase with the default settings, closed after the test."""
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    yield db
    await db.close()


async def _refused_then_stored(db: Database, ids: list[str], results: Sequence[object],
                               told: str) -> None:
    """Every write set of the group was refused as ``told`` (unavailable: retry later),
    nothing of ``ids`` is stored, and the same write sets delivered again are all stored."""
    assert [str(r) for r in results] == [told] * len(results), results
    assert all(isinstance(r, StorageUnavailable) for r in results)
    assert await _stored(db, ids) == set()
    await asyncio.gather(*(db.write(honest(i)) for i in ids))
    assert await _stored(db, ids) == set(ids)


async def group_in_flight(running: set[asyncio.Future[None]]) -> asyncio.Future[None]:
    """The one read or write group of ``running`` (``db._reads._running`` or
    ``db._writes._running``), once it is inside its round trip."""
    for _ in range(500):
        if running:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    (group,) = running
    return group


async def pool_taken(db: PostgresDatabase, seconds: float) -> asyncio.Task[list[Any]]:
    """A read that holds the pool's only connection for ``seconds``."""
    busy = asyncio.create_task(db.fetchall(f"SELECT pg_sleep({seconds})"))
    for _ in range(500):
        if not db._pool.get_idle_size():
            break
        await asyncio.sleep(0.01)
    return busy


@pytest.mark.parametrize("group_commit", [True, False])
async def test_postgres_writes_that_find_the_pool_busy_are_refused_after_their_wait(
        fresh_postgres: str, group_commit: bool) -> None:
    """A tick's write sets (a group, or each alone) wait ``acquire_timeout`` for a
    connection, no longer: each is told the storage is unavailable, nothing is stored."""
    db = PostgresDatabase(fresh_postgres, min_size=1, max_size=1, acquire_timeout=0.2,
                          group_commit=group_commit)
    await db.start()
    try:
        busy = await pool_taken(db, 1.2)
        ids = [f"b{next(_ids)}" for _ in range(3)]
        started = time.monotonic()
        results = await asyncio.gather(*(db.write(honest(i)) for i in ids),
                                       return_exceptions=True)
        assert time.monotonic() - started < 0.8  # their own wait, not the busy read's
        await busy
        await _refused_then_stored(db, ids, results, "postgresql: TimeoutError")
    finally:
        await db.close()


async def test_postgres_a_guard_conflict_alone_names_its_statement_not_its_data(
        fresh_postgres: str) -> None:
    db = PostgresDatabase(fresh_postgres, group_commit=False)
    await db.start()
    try:
        await db.write(honest("once"))
        with pytest.raises(Conflict) as conflict:
            await db.write(honest("once"))
        assert str(conflict.value) == "INSERT INTO inbound_messages"
    finally:
        await db.close()


async def test_postgres_a_group_sends_the_statement_most_of_it_shares_first(
        pg: PostgresDatabase) -> None:
    """Each write set keeps its own order; among the statements due next, the one most
    write sets share goes first, so they share the later ones too: two round trips for
    [INSERT, UPDATE] twice beside [UPDATE], where the alphabet's order would take three."""
    db = pg
    add = INSERT.replace("'processed'", "'pending'")  # unguarded, its own SQL
    ids = [f"o{next(_ids)}" for _ in range(2)]

    def insert_then_touch(message_id: str) -> WriteSet:
        writes = WriteSet()
        writes.add(add, ("sim", message_id, "x"))
        writes.add(TOUCH, (1, message_id))
        return writes

    touch_only = WriteSet()
    touch_only.add(TOUCH, (1, "nobody"))
    trips = db.round_trips
    await asyncio.gather(db.write(touch_only),
                         *(db.write(insert_then_touch(i)) for i in ids))
    assert db.round_trips - trips == 2
    assert await _stored(db, ids) == set(ids)


async def test_postgres_a_group_undone_by_a_conflict_is_rolled_back_before_its_connection_returns(
        fresh_postgres: str, caplog: pytest.LogCaptureFixture) -> None:
    """A group whose guard finds a duplicate is rolled back on its own connection; the
    pool never gets a connection back with a transaction open (asyncpg would complain
    and roll it back for us)."""
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    try:
        await db.write(honest("dup"))
        with caplog.at_level(logging.WARNING):
            results = await asyncio.gather(db.write(honest("dup")),
                                           db.write(honest("fresh1")),
                                           db.write(poison("bad_sql", "fresh2")),
                                           return_exceptions=True)
            await asyncio.sleep(0.1)
        assert isinstance(results[0], Conflict) and results[1] is None
        assert isinstance(results[2], UnstorableWrite)
        assert [r.getMessage() for r in caplog.records
                if "active transaction" in r.getMessage()] == []
        assert await _stored(db, ["fresh1", "fresh2"]) == {"fresh1"}
    finally:
        await db.close()


def slow(message_id: str, seconds: float) -> WriteSet:
    """An honest write set that takes ``seconds`` inside its group's transaction."""
    writes = honest(message_id)
    writes.add("SELECT pg_sleep(?::float)", (seconds,))
    return writes


async def test_postgres_a_write_group_cancelled_in_flight_is_retry_later_for_every_writer(
        pg: PostgresDatabase) -> None:
    """A shutdown that cancels a write group mid-transaction: each writer is told the
    storage is unavailable (a 503, so the platform delivers again), never that its
    message cannot be stored (a 400 that would lose it); nothing of the group is kept."""
    db = pg
    ids = [f"x{next(_ids)}" for _ in range(3)]
    writers = [asyncio.create_task(db.write(slow(i, 0.5))) for i in ids]
    group = await group_in_flight(db._writes._running)
    group.cancel()
    results = await asyncio.gather(*writers, return_exceptions=True)
    assert group.cancelled()
    await _refused_then_stored(db, ids, results, "postgresql: cancelled")


async def test_postgres_a_writer_that_gives_up_does_not_stop_the_groups_other_answers(
        pg: PostgresDatabase) -> None:
    db = pg
    ids = [f"y{next(_ids)}" for _ in range(4)]
    writers = [asyncio.create_task(db.write(slow(i, 0.3))) for i in ids]
    await asyncio.sleep(0.1)
    writers[0].cancel()
    done = await asyncio.wait_for(asyncio.gather(*writers, return_exceptions=True), 10)
    assert isinstance(done[0], asyncio.CancelledError) and done[1:] == [None] * 3
    assert await _stored(db, ids) == set(ids)


async def test_postgres_two_duplicates_in_one_group_fail_alone_and_the_rest_commit(
        pg: PostgresDatabase) -> None:
    """The group is undone and run again without the write sets whose guard found a row:
    exactly those are told Conflict, whatever their positions."""
    db = pg
    await asyncio.gather(db.write(honest("d1")), db.write(honest("d3")))
    ids = ["d0", "d1", "d2", "d3", "d4", "d5"]
    batched = db.batched
    results = await asyncio.gather(*(db.write(honest(i)) for i in ids),
                                   return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "NoneType", "Conflict", "NoneType", "Conflict", "NoneType", "NoneType"]
    assert [str(results[1]), str(results[3])] == ["guard", "guard"]
    assert db.batched - batched == 4
    assert await _stored(db, ids) == set(ids)


async def test_postgres_numeric_sums_read_back_as_integers(pg: PostgresDatabase) -> None:
    """PostgreSQL types SUM over BIGINT as NUMERIC; haat keeps no fractional NUMERIC, so
    every read gives ``int`` (never ``Decimal``), beyond 64 bits as well."""
    db = pg
    query = "SELECT SUM(v), 'x' FROM (VALUES (?::bigint), (?::bigint)) AS t(v)"
    big = 2**62
    for row in (await db.fetchone(query, (big, big)),
                (await db.fetchall(query, (big, big)))[0]):
        assert row is not None
        assert row == (2**63, "x") and type(row[0]) is int


async def test_postgres_a_write_before_start_says_so_and_commit_waits_are_reported(
        fresh_postgres: str) -> None:
    waits: list[float] = []
    db = open_database(fresh_postgres, observe_commit=waits.append)
    assert isinstance(db, PostgresDatabase)
    with pytest.raises(RuntimeError, match=r"^database not started$"):
        await db.write(honest("early"))
    await db.start()
    try:
        await asyncio.gather(db.write(honest("w1")), db.write(honest("w2")))
        assert len(waits) == 2 and all(0 < w < 5 for w in waits)
    finally:
        await db.close()


# ---- both engines' life cycle: the writer's queue, close, counters ----------------------


async def test_sqlite_ticks_queued_behind_a_busy_writer_and_a_close_all_commit_in_order(
        sqlite_file: Path) -> None:
    """While the writer waits for another process's lock, two more ticks and then close()
    queue up behind it: the writer takes both ticks as one group, stores it, and only then
    stops; close() returns once everything handed over before it is stored."""
    db = SqliteDatabase(str(sqlite_file), busy_timeout_ms=5000, queue_timeout=5.0)
    await db.start()
    locker: subprocess.Popen[str] | None = await asyncio.to_thread(hold_write_lock,
                                                                   sqlite_file)
    try:
        first = asyncio.create_task(db.write(honest("q-a")))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(db.write(honest("q-b")))
        await asyncio.sleep(0.05)
        third = [asyncio.create_task(db.write(honest(i))) for i in ("q-c", "q-d")]
        await asyncio.sleep(0.05)
        closing = asyncio.create_task(db.close())
        await asyncio.sleep(0.1)
        assert locker is not None
        await asyncio.to_thread(release, locker)
        locker = None
        assert await asyncio.wait_for(asyncio.gather(first, second, *third, closing), 10) \
            == [None] * 5
    finally:
        if locker is not None:
            await asyncio.to_thread(release, locker)
        await db.close()
    reopened = SqliteDatabase(str(sqlite_file))
    await reopened.start()
    try:
        assert await _stored(reopened, ["q-a", "q-b", "q-c", "q-d"]) == {
            "q-a", "q-b", "q-c", "q-d"}
    finally:
        await reopened.close()


async def test_sqlite_an_idle_database_costs_no_cpu(lite: SqliteDatabase) -> None:
    """The writer and the checkpoint thread sleep while there is nothing to do."""
    import resource

    db = lite
    await db.write(honest("idle"))
    before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(0.5)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert used < 0.15  # a spinning thread would take the whole 0.5 s


def test_sqlite_takes_the_durability_modes_it_knows_and_refuses_the_rest(
        tmp_path: Path) -> None:
    for mode in ("NORMAL", "FULL", "EXTRA"):
        assert SqliteDatabase(str(tmp_path / "d.sqlite"), synchronous=mode).synchronous == mode
    for mode in ("OFF", "extra", ""):
        with pytest.raises(ValueError, match=f"^unknown SQLite synchronous mode '{mode}'$"):
            SqliteDatabase(str(tmp_path / "d.sqlite"), synchronous=mode)


async def test_a_closed_database_says_so_and_closes_again_quietly(database_url: str) -> None:
    db = open_database(database_url)
    assert isinstance(db, (SqliteDatabase, PostgresDatabase))
    assert (db.commits, db.batched) == (0, 0)  # /metrics counts from zero
    await db.start()
    await db.write(honest("c1"))
    assert (db.commits, db.batched) == (1, 1)
    await db.close()
    with pytest.raises(RuntimeError, match=r"^database not started$"):
        await db.write(honest("c2"))
    if isinstance(db, SqliteDatabase):
        with pytest.raises(AssertionError, match=r"^database not started$"):
            await db.fetchone("SELECT 1")
    assert await db.ping() is False
    await db.close()  # twice: nothing left to close, no error


async def test_postgres_close_stores_and_answers_what_its_tick_handed_over(
        fresh_postgres: str) -> None:
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    await db.write(honest("seen"))
    ids = [f"z{next(_ids)}" for _ in range(3)]
    writes = [asyncio.create_task(db.write(honest(i))) for i in ids]
    reads = [asyncio.create_task(db.fetchone("SELECT ?::int", (n,))) for n in range(3)]
    await asyncio.sleep(0)  # handed over, not yet sent
    await db.close()
    assert await asyncio.gather(*writes) == [None] * 3
    assert await asyncio.gather(*reads) == [(0,), (1,), (2,)]
    reopened = PostgresDatabase(fresh_postgres)
    await reopened.start()
    try:
        assert await _stored(reopened, ids) == set(ids)
    finally:
        await reopened.close()


async def test_every_wait_is_bounded_as_documented(sqlite_file: Path, fresh_postgres: str) -> None:
    """docs/ARCHITECTURE.md and docs/RELIABILITY.md promise these bounds (so a refusal is
    a fast 503): read here from the live connections, not from the constructor's text."""
    lite = SqliteDatabase(str(sqlite_file))
    assert (lite.queue_timeout, lite.max_queue, lite.checkpoint_seconds) == (1.0, 20_000, 1.0)
    assert lite.max_batch == 512  # write sets a group commit takes at most
    await lite.start()
    try:
        assert lite._reader is not None
        assert lite._reader.execute("PRAGMA busy_timeout").fetchone() == (100,)  # reads
        writer = lite._connect()  # as the writer's own connection is made
        try:
            assert writer.execute("PRAGMA busy_timeout").fetchone() == (1000,)
        finally:
            writer.close()
    finally:
        await lite.close()
    pg = PostgresDatabase(fresh_postgres)
    assert pg.acquire_timeout == 1.0
    await pg.start()
    try:
        assert await pg.fetchall("SHOW statement_timeout") == [("1500ms",)]
        assert await pg.fetchall("SHOW lock_timeout") == [("1s",)]
        assert pg._pool._connect_kwargs["command_timeout"] == 2.0  # the client's backstop
        assert pg._pool._connect_kwargs["statement_cache_size"] == 1024
    finally:
        await pg.close()


@pytest.mark.parametrize("slow_side", ["writes", "reads", "both"])
async def test_postgres_close_waits_for_what_queued_behind_a_full_set_of_groups(
        fresh_postgres: str, slow_side: str) -> None:
    """With every group slot taken (a slow write group, or a slow read group), what is
    handed over next waits for a slot; close() sends it at once and returns only when all
    of it is stored or answered, before the pool goes."""
    db = PostgresDatabase(fresh_postgres, max_groups=1)
    await db.start()
    await db.write(honest("seen"))
    slow_ones: list[asyncio.Task[Any]] = []
    if slow_side in ("writes", "both"):
        slow_ones.append(asyncio.create_task(db.write(slow(f"s{next(_ids)}", 0.4))))
    if slow_side in ("reads", "both"):
        slow_ones.append(asyncio.create_task(db.fetchone("SELECT pg_sleep(0.4), 1")))
    for _ in range(500):
        if (db._writes._running or slow_side == "reads") and \
                (db._reads._running or slow_side == "writes"):
            break
        await asyncio.sleep(0.01)
    ids = [f"q{next(_ids)}" for _ in range(3)]
    waiting = [asyncio.create_task(db.write(honest(i))) for i in ids]
    reads = [asyncio.create_task(db.fetchone("SELECT ?::int", (n,))) for n in range(3)]
    await asyncio.sleep(0.05)  # handed over; the slow side's waiting for a free slot
    await db.close()
    assert await asyncio.gather(*waiting) == [None] * 3
    assert await asyncio.gather(*reads) == [(0,), (1,), (2,)]
    await asyncio.gather(*slow_ones)
    reopened = PostgresDatabase(fresh_postgres)
    await reopened.start()
    try:
        assert await _stored(reopened, ids) == set(ids)
    finally:
        await reopened.close()


async def test_postgres_a_close_right_after_a_group_is_cancelled_still_closes(
        fresh_postgres: str) -> None:
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    writer = asyncio.create_task(db.write(slow(f"k{next(_ids)}", 0.5)))
    (await group_in_flight(db._writes._running)).cancel()
    await db.close()  # the cancelled group is waited for, its cancellation not raised here
    result = (await asyncio.gather(writer, return_exceptions=True))[0]
    assert isinstance(result, StorageUnavailable) and str(result) == "postgresql: cancelled"
