"""The storage engine: group commit, guards, durability across reopen, both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import (
    Conflict,
    Database,
    SqliteDatabase,
    StorageUnavailable,
    UnstorableWrite,
    WriteSet,
    _pg_outcome,
    _pg_read_outcome,
    now_ms,
    open_database,
    sqlite_path,
    sync_url,
)
from webhooks.migrate import upgrade

INSERT = ("INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, body, "
          "received_at, status, response) VALUES (?, ?, 'shop', 'c', 'text', '', 0, "
          "'processed', ?) ON CONFLICT (channel, message_id) DO NOTHING")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await db.start()
    yield db
    await db.close()


def _insert(message_id: str, response: str = "r") -> WriteSet:
    writes = WriteSet()
    writes.add(INSERT, ("sim", message_id, response), must_change=True)
    return writes


async def test_concurrent_write_sets_all_commit(database: Database) -> None:
    await asyncio.gather(*(database.write(_insert(f"m{i}")) for i in range(200)))
    rows = await database.fetchall("SELECT COUNT(*) FROM inbound_messages")
    assert rows == [(200,)]


async def test_sqlite_groups_many_write_sets_into_few_commits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    await asyncio.to_thread(upgrade, url)
    db = SqliteDatabase(str(tmp_path / "g.sqlite"))
    await db.start()
    try:
        await asyncio.gather(*(db.write(_insert(f"m{i}")) for i in range(300)))
        assert db.batched == 300
        assert db.commits < 300  # group commit: many write sets share a transaction
    finally:
        await db.close()


async def test_a_guard_conflict_fails_only_its_own_write_set(database: Database) -> None:
    await database.write(_insert("dup", "first"))
    results = await asyncio.gather(
        database.write(_insert("dup", "second")), database.write(_insert("other")),
        return_exceptions=True)
    assert isinstance(results[0], Conflict)
    assert results[1] is None
    rows = await database.fetchall(
        "SELECT message_id, response FROM inbound_messages ORDER BY message_id")
    assert rows == [("dup", "first"), ("other", "r")]


async def test_a_failing_statement_rolls_back_the_whole_write_set(database: Database) -> None:
    writes = _insert("partial")
    writes.add("INSERT INTO inbound_messages (channel) VALUES (?)", ("x",))  # NOT NULLs fail
    with pytest.raises(Exception):  # noqa: B017 - driver-specific error type
        await database.write(writes)
    assert await database.fetchone(
        "SELECT 1 FROM inbound_messages WHERE message_id = ?", ("partial",)) is None
    await database.write(_insert("after"))  # the engine keeps working
    assert await database.fetchone(
        "SELECT 1 FROM inbound_messages WHERE message_id = ?", ("after",)) == (1,)


async def test_sqlite_commit_is_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    await asyncio.to_thread(upgrade, f"sqlite:///{path}")
    first = SqliteDatabase(str(path))
    await first.start()
    await first.write(_insert("kept"))
    await first.close()
    second = SqliteDatabase(str(path))
    await second.start()
    try:
        assert await second.fetchone(
            "SELECT response FROM inbound_messages WHERE message_id = 'kept'") == ("r",)
        assert await second.ping()
    finally:
        await second.close()


async def test_the_sqlite_durability_mode_is_applied(tmp_path: Path) -> None:
    for mode, number in (("NORMAL", 1), ("FULL", 2)):
        db = SqliteDatabase(str(tmp_path / f"{mode}.sqlite"), synchronous=mode)
        await db.start()
        try:
            assert await db.fetchone("PRAGMA synchronous") == (number,)
            assert await db.fetchone("PRAGMA journal_mode") == ("wal",)
        finally:
            await db.close()
    with pytest.raises(ValueError):
        SqliteDatabase(str(tmp_path / "x.sqlite"), synchronous="OFF")


async def test_postgres_pipelines_a_ticks_write_sets_and_a_bad_one_fails_alone(
        fresh_postgres: str) -> None:
    """One tick's write sets share one transaction and one round trip per statement
    group; a failed guard and a failing statement each fail only their own write set."""
    from storage.database import PostgresDatabase

    db = PostgresDatabase(fresh_postgres)
    await db.start()
    try:
        await db.write(_insert("dup", "first"))
        trips = db.round_trips

        def turn(i: int) -> WriteSet:
            writes = _insert(f"t{i}")
            writes.add("UPDATE inbound_messages SET response = ? WHERE message_id = ?",
                       (f"answer {i}", f"t{i}"))
            return writes

        bad = _insert("bad")
        bad.add("INSERT INTO inbound_messages (channel) VALUES (?)", ("x",))  # NOT NULLs
        sets = [turn(i) for i in range(40)]
        sets[10:10] = [_insert("dup", "second")]
        sets[20:20] = [bad]
        results = await asyncio.gather(*(db.write(w) for w in sets), return_exceptions=True)
        outcomes = {i for i, r in enumerate(results) if r is not None}
        assert outcomes == {10, 20}, results
        assert isinstance(results[10], Conflict)
        assert isinstance(results[20], Conflict)  # NOT NULL: SQLSTATE class 23
        rows = await db.fetchall("SELECT message_id, response FROM inbound_messages "
                                 "WHERE message_id LIKE 't%' ORDER BY id")
        assert sorted(rows) == sorted((f"t{i}", f"answer {i}") for i in range(40))
        assert await db.fetchone("SELECT response FROM inbound_messages WHERE "
                                 "message_id = 'dup'") == ("first",)
        assert await db.fetchone("SELECT 1 FROM inbound_messages WHERE "
                                 "message_id = 'bad'") is None
        # the good write sets went in groups, not a statement at a time (82 statements);
        # the isolated retry after the bad statement accounts for the rest
        pipelined = db.round_trips - trips
        await db.write(turn(99))  # a lone write set: each statement is its own round trip
        assert db.round_trips - trips - pipelined == 2

        db.round_trips = 0
        await asyncio.gather(*(db.write(turn(100 + i)) for i in range(40)))
        assert db.batched >= 40 and db.round_trips <= 4, db.round_trips  # 80 statements
    finally:
        await db.close()


async def test_postgres_write_sets_handed_over_during_begin_join_the_group(
        fresh_postgres: str) -> None:
    """With every group slot taken, write sets handed over while a group's BEGIN is in
    flight join that group instead of waiting for the next one: one commit for all."""
    from storage.database import PostgresDatabase

    db = PostgresDatabase(fresh_postgres, max_groups=1)
    await db.start()
    try:
        await db.write(_insert("warm"))  # the pool holds an open connection now
        commits = db.commits
        first = [asyncio.ensure_future(db.write(_insert(f"a{i}"))) for i in range(3)]
        await asyncio.sleep(0)  # the tick ends: the group starts and sends BEGIN
        await asyncio.sleep(0)
        later = [asyncio.ensure_future(db.write(_insert(f"b{i}"))) for i in range(4)]
        later.append(asyncio.ensure_future(db.write(_insert("a0"))))  # a duplicate joins too
        results = await asyncio.gather(*first, *later, return_exceptions=True)
        assert results[:-1] == [None] * 7
        assert isinstance(results[-1], Conflict)
        assert db.joined == 5
        # the joined duplicate's failed guard reran the group without it: 2 pipelined tries,
        # one commit
        assert db.commits - commits == 1
        rows = await db.fetchall("SELECT message_id FROM inbound_messages ORDER BY message_id")
        assert [r[0] for r in rows] == ["a0", "a1", "a2", "b0", "b1", "b2", "b3", "warm"]
        # again: the counter adds up over groups (/metrics and the tests read its growth)
        first = [asyncio.ensure_future(db.write(_insert(f"c{i}"))) for i in range(2)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        later = [asyncio.ensure_future(db.write(_insert(f"d{i}"))) for i in range(3)]
        assert await asyncio.gather(*first, *later) == [None] * 5
        assert db.joined == 8
    finally:
        await db.close()


def test_migrations_get_the_synchronous_form_of_each_url() -> None:
    """Alembic runs on a synchronous SQLite URL; PostgreSQL's asyncpg URL goes as it is."""
    assert sync_url("sqlite+aiosqlite:///data/haat.db") == "sqlite:///data/haat.db"
    assert sync_url("sqlite:///data/haat.db") == "sqlite:///data/haat.db"
    assert sync_url("sqlite+aiosqlite:///data/10:30/haat.db") == "sqlite:///data/10:30/haat.db"
    pg = "postgresql+asyncpg://haat:pw@db:5432/haat"
    assert sync_url(pg) == pg
    assert sqlite_path("sqlite+aiosqlite:///data/haat.db") == "data/haat.db"
    assert sqlite_path("sqlite+pysqlite:///data/haat.db") == "data/haat.db"
    assert sqlite_path("sqlite:///") == ":memory:"
    with pytest.raises(ValueError, match=r"^not an SQLite URL: postgresql$"):
        sqlite_path("postgresql://u:secret@db/haat")  # names the scheme, never the password


def _asyncpg_errors() -> list[tuple[Exception, type[Exception], str]]:
    import asyncpg.exceptions as pg

    unavailable = "postgresql: "
    return [
        (pg.UniqueViolationError("dup"), Conflict, "UniqueViolationError"),
        (pg.NotNullViolationError("null"), Conflict, "NotNullViolationError"),
        (pg.SerializationError("x"), StorageUnavailable, unavailable + "SerializationError"),
        (pg.DeadlockDetectedError("x"), StorageUnavailable,
         unavailable + "DeadlockDetectedError"),
        (pg.DiskFullError("x"), StorageUnavailable, unavailable + "DiskFullError"),
        (pg.QueryCanceledError("x"), StorageUnavailable, unavailable + "QueryCanceledError"),
        (pg.AdminShutdownError("x"), StorageUnavailable, unavailable + "AdminShutdownError"),
        (pg.LockNotAvailableError("x"), StorageUnavailable,
         unavailable + "LockNotAvailableError"),
        (pg.ConnectionDoesNotExistError("x"), StorageUnavailable,
         unavailable + "ConnectionDoesNotExistError"),
        (pg.InterfaceError("x"), StorageUnavailable, unavailable + "InterfaceError"),
        (ConnectionResetError("x"), StorageUnavailable, unavailable + "ConnectionResetError"),
        (TimeoutError(), StorageUnavailable, unavailable + "TimeoutError"),
        (MemoryError(), StorageUnavailable, unavailable + "MemoryError"),
        (pg.UndefinedTableError("x"), UnstorableWrite,
         "write set not storable: UndefinedTableError"),
        (pg.NumericValueOutOfRangeError("x"), UnstorableWrite,
         "write set not storable: NumericValueOutOfRangeError"),
        (UnicodeEncodeError("utf-8", "x", 0, 1, "surrogate"), UnstorableWrite,
         "write set not storable: UnicodeEncodeError"),
    ]


def test_each_postgresql_failure_is_told_as_what_it_means_for_a_retry() -> None:
    """Integrity: a conflict. The server or the link at fault (classes 08, 40, 53, 57, 58,
    lock_timeout, a lost socket): unavailable, retry later. Anything else: this write set
    cannot be stored. The text names the type only (a driver's message may quote data),
    and the cause stays attached for the log."""
    for error, kind, text in _asyncpg_errors():
        outcome = _pg_outcome(error)
        assert (type(outcome), str(outcome)) == (kind, text), error
        assert outcome.__cause__ is error
        read = _pg_read_outcome(error)
        if kind is StorageUnavailable:
            assert (type(read), str(read)) == (StorageUnavailable, text)
        else:
            assert read is error  # a read's own failure stays the driver's error
    told = Conflict("already")
    assert _pg_outcome(told) is told
    refused = StorageUnavailable("postgresql: busy")
    assert _pg_outcome(refused) is refused and _pg_read_outcome(refused) is refused


def test_now_ms_is_the_wall_clock_in_whole_milliseconds() -> None:
    import time

    before = int(time.time() * 1000)
    now = now_ms()
    after = int(time.time() * 1000)
    assert type(now) is int and before <= now <= after
