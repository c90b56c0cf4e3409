"""Reads of the storage engine as the turns make them: many point reads in one tick, SQL
that cannot share a round trip, a read that fails among good ones, a server that stops
answering, and the health check. On both databases unless the path is PostgreSQL's own."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import AsyncIterator

import pytest

from storage.database import (
    Database,
    PostgresDatabase,
    SqliteDatabase,
    StorageError,
    StorageUnavailable,
    WriteSet,
    open_database,
)
from tests.unit.test_storage_faults import group_in_flight, pool_taken

INSERT = ("INSERT INTO inbound_messages (channel, message_id, shop_id, customer, kind, body, "
          "received_at, status, response) VALUES (?, ?, 'shop', ?, 'text', '', ?, "
          "'processed', ?)")
BY_ID = "SELECT response, received_at FROM inbound_messages WHERE message_id = ?"


async def _seed(db: Database, count: int) -> None:
    writes = WriteSet()
    for n in range(count):
        writes.add(INSERT, ("sim", f"m{n}", f"c{n % 3}", n * 10, f"answer {n}"))
    await db.write(writes)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = open_database(database_url)
    await db.start()
    await _seed(db, 30)
    yield db
    await db.close()


async def test_many_point_reads_in_one_tick_each_get_their_own_row(database: Database) -> None:
    """The reads of one tick share a connection and, for the same SQL, one round trip:
    every caller still gets its own row, in any order, and a missing row is None."""
    wanted = [f"m{n}" for n in range(30)] + ["absent", "m3", "also-absent"]
    random.Random(7).shuffle(wanted)
    rows = await asyncio.gather(*(database.fetchone(BY_ID, (key,)) for key in wanted))
    for key, row in zip(wanted, rows, strict=True):
        if key.startswith("m"):
            n = int(key[1:])
            assert row == (f"answer {n}", n * 10), key
        else:
            assert row is None, key


async def test_reads_of_different_sql_in_one_tick_do_not_mix(database: Database) -> None:
    by_customer = "SELECT COUNT(*) FROM inbound_messages WHERE customer = ?"
    latest = ("SELECT message_id FROM inbound_messages WHERE customer = ? "
              "ORDER BY received_at DESC LIMIT 1")
    calls = [database.fetchone(by_customer, (f"c{k}",)) for k in range(3)]
    calls += [database.fetchone(latest, (f"c{k}",)) for k in range(3)]
    calls += [database.fetchone(BY_ID, ("m5",)), database.fetchone(BY_ID, ("m6",))]
    got = await asyncio.gather(*calls)
    assert got[:3] == [(10,), (10,), (10,)]
    assert got[3:6] == [("m27",), ("m28",), ("m29",)]
    assert got[6:] == [("answer 5", 50), ("answer 6", 60)]


@pytest.mark.parametrize("sql", [
    "SELECT DISTINCT customer FROM inbound_messages WHERE message_id = ?",
    "SELECT response FROM inbound_messages WHERE message_id = ? "
    "UNION SELECT 'never' WHERE false",
    "SELECT response FROM inbound_messages WHERE message_id = ? "
    "INTERSECT SELECT response FROM inbound_messages",
    "SELECT response FROM inbound_messages WHERE message_id = ? "
    "EXCEPT SELECT 'never'",
    "  select response from inbound_messages where message_id = ?",
    "WITH r AS (SELECT response FROM inbound_messages WHERE message_id = ?) SELECT * FROM r",
])
async def test_sql_that_cannot_carry_an_index_is_still_answered_per_read(
        database: Database, sql: str) -> None:
    """A leading index column would change what DISTINCT, set operations and row locks
    mean; such reads (and SQL that is not a plain SELECT) go one by one, rightly."""
    keys = ["m1", "m2", "absent", "m4"]
    for _ in range(2):  # the second tick reads the remembered decision
        rows = await asyncio.gather(*(database.fetchone(sql, (k,)) for k in keys))
        expected = [(f"answer {k[1:]}",) for k in keys if k != "absent"]
        if "DISTINCT" in sql:
            expected = [(f"c{int(k[1:]) % 3}",) for k in keys if k != "absent"]
        assert [r for r in rows if r is not None] == expected
        assert rows[2] is None


@pytest.mark.parametrize("lock", ["FOR UPDATE", "FOR SHARE"])
async def test_postgres_row_lock_reads_are_answered_per_read(
        fresh_postgres: str, lock: str) -> None:
    """A row lock with a leading index column would still lock, but the reads go one by
    one all the same; each gets its own row."""
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    try:
        await _seed(db, 5)
        sql = f"SELECT response FROM inbound_messages WHERE message_id = ? {lock}"
        rows = await asyncio.gather(*(db.fetchone(sql, (k,)) for k in ("m1", "absent", "m3")))
        assert rows == [("answer 1",), None, ("answer 3",)]
    finally:
        await db.close()


async def test_a_failing_read_fails_alone_among_the_reads_of_its_tick(
        database: Database) -> None:
    """One caller's bad parameter fails that caller only; the others of the same SQL in
    the same tick get their rows, and the next tick works as before."""
    keys: list[object] = ["m1", "m2", 12345, "m4"]
    results = await asyncio.gather(*(database.fetchone(BY_ID, (k,)) for k in keys),
                                   return_exceptions=True)
    if database.dialect == "postgresql":
        assert isinstance(results[2], Exception)
        assert not isinstance(results[2], StorageUnavailable)  # the read's fault, not the server's
    else:
        assert results[2] is None  # SQLite compares text with a number: no row
    assert results[0] == ("answer 1", 10)
    assert results[1] == ("answer 2", 20)
    assert results[3] == ("answer 4", 40)
    again = await asyncio.gather(*(database.fetchone(BY_ID, (k,)) for k in ("m7", "m8")))
    assert again == [("answer 7", 70), ("answer 8", 80)]


async def test_sql_the_server_refuses_with_an_index_falls_back_to_plain_reads(
        database: Database) -> None:
    """SQL whose indexed form the server refuses as a statement (GROUP BY its first output
    column) is remembered as not indexable, and answered per read."""
    # with the index in front, GROUP BY 1 groups by the index: SQLSTATE 42803
    sql = "SELECT response FROM inbound_messages WHERE message_id = ? GROUP BY 1"
    for _ in range(2):
        rows = await asyncio.gather(*(database.fetchone(sql, (k,)) for k in ("m1", "m9")))
        assert rows == [("answer 1",), ("answer 9",)]


async def test_the_health_check_says_yes_while_open_and_no_after_close(
        database_url: str) -> None:
    db = open_database(database_url)
    await db.start()
    assert await db.ping() is True
    await db.close()
    assert await db.ping() is False


async def test_postgres_reads_without_group_commit_are_answered_alone(
        fresh_postgres: str) -> None:
    db = PostgresDatabase(fresh_postgres, group_commit=False)
    await db.start()
    try:
        await _seed(db, 5)
        rows = await asyncio.gather(*(db.fetchone(BY_ID, (f"m{n}",)) for n in range(5)),
                                    db.fetchone(BY_ID, ("absent",)))
        assert rows == [(f"answer {n}", n * 10) for n in range(5)] + [None]
        with pytest.raises(Exception) as refused:
            await db.fetchone(BY_ID, (12345,))
        assert not isinstance(refused.value, StorageUnavailable)
    finally:
        await db.close()


@pytest.mark.parametrize("group_commit", [True, False])
async def test_postgres_a_read_past_the_statement_timeout_is_storage_unavailable(
        fresh_postgres: str, group_commit: bool) -> None:
    """A server that does not answer in time (statement_timeout, SQLSTATE 57014) is the
    storage's fault: the caller is told StorageUnavailable (a 503 upstream), for point
    reads alone, in a tick's group, and for fetchall."""
    db = PostgresDatabase(fresh_postgres, statement_timeout_ms=100, group_commit=group_commit)
    await db.start()
    try:
        slow = "SELECT pg_sleep(?::float) IS NULL"
        with pytest.raises(StorageUnavailable):
            await db.fetchone(slow, (1,))
        results = await asyncio.gather(db.fetchone(slow, (1,)), db.fetchone(slow, (1,)),
                                       return_exceptions=True)
        assert all(isinstance(r, StorageUnavailable) for r in results), results
        with pytest.raises(StorageUnavailable):
            await db.fetchall(slow, (1,))
        assert await db.fetchone(slow, (0,)) == (False,)  # and it answers again
        assert await db.ping() is True
    finally:
        await db.close()


async def test_sqlite_a_read_refused_by_a_writers_lock_is_storage_unavailable() -> None:
    """In-memory SQLite shares one cache between its connections, and there a table a
    writer is changing is locked for readers (SQLITE_LOCKED, not waited for). A second
    connection to the same in-memory database holds such a write open, as the writer does
    during its transaction: that read is the storage's fault, StorageUnavailable (a 503
    upstream), and once the write ends the same read answers."""
    db = SqliteDatabase(":memory:")
    await db.start()
    try:
        create = WriteSet()
        create.add("CREATE TABLE inbound_messages (message_id TEXT, response TEXT, "
                   "received_at INTEGER)")
        create.add("INSERT INTO inbound_messages VALUES ('m1', 'answer 1', 10)")
        await db.write(create)
        assert db._memory_uri is not None  # the URI the writer and reader share
        other = sqlite3.connect(db._memory_uri, uri=True, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO inbound_messages VALUES ('m2', 'answer 2', 20)")
            with pytest.raises(StorageUnavailable) as refused:
                await db.fetchone(BY_ID, ("m1",))
            assert str(refused.value) == "sqlite: SQLITE_LOCKED_SHAREDCACHE"
            assert isinstance(refused.value.__cause__, sqlite3.OperationalError)
            with pytest.raises(StorageUnavailable):
                await db.fetchall("SELECT message_id FROM inbound_messages")
            other.execute("COMMIT")
        finally:
            other.close()
        assert await db.fetchone(BY_ID, ("m2",)) == ("answer 2", 20)
    finally:
        await db.close()


async def test_a_read_of_sql_that_cannot_run_is_not_storage_unavailable(
        database: Database) -> None:
    """A read the database refuses for its SQL (a missing table) is the caller's bug: it
    stays the driver's error, never a 503 that would make the sender retry forever."""
    with pytest.raises(Exception) as refused:
        await database.fetchone("SELECT x FROM no_such_table WHERE x = ?", (1,))
    with pytest.raises(Exception) as refused_all:
        await database.fetchall("SELECT x FROM no_such_table")
    for error in (refused.value, refused_all.value):
        assert not isinstance(error, StorageError)  # not a 503, nor a refused write set
        assert type(error).__module__.split(".")[0] in ("sqlite3", "asyncpg")
    assert await database.fetchone(BY_ID, ("m1",)) == ("answer 1", 10)


# --- how many round trips the reads of a tick cost (PostgreSQL) -------------------------
# The reads above get the right rows whichever way they go; these pin the way: one round
# trip for the reads of one plain SELECT in a tick, one each where an index would change
# the meaning, and a refused indexed form remembered, not tried again every tick.
LOCKS = ["SELECT response FROM inbound_messages WHERE message_id = ? FOR UPDATE",
         "SELECT response FROM inbound_messages WHERE message_id = ? FOR SHARE"]
NOT_INDEXED = [
    "SELECT DISTINCT customer FROM inbound_messages WHERE message_id = ?",
    "SELECT response FROM inbound_messages WHERE message_id = ? "
    "UNION SELECT 'never' WHERE false",
    "SELECT response FROM inbound_messages WHERE message_id = ? "
    "INTERSECT SELECT response FROM inbound_messages",
    "SELECT response FROM inbound_messages WHERE message_id = ? "
    "EXCEPT SELECT 'never'",
    "WITH r AS (SELECT response FROM inbound_messages WHERE message_id = ?) SELECT * FROM r",
    *LOCKS,
]
INDEXED = [
    BY_ID,
    "  select response from inbound_messages where message_id = ?",  # case and blanks
    "SELECT response FROM inbound_messages WHERE message_id = ? AND customer <> ?",
]


@pytest.fixture
async def postgres(fresh_postgres: str) -> AsyncIterator[PostgresDatabase]:
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    await _seed(db, 10)
    yield db
    await db.close()


async def _trips(db: PostgresDatabase, sql: str, keys: list[str]) -> tuple[int, list[object]]:
    before = db.read_round_trips
    extra = ("nobody",) if sql.count("?") == 2 else ()
    rows = await asyncio.gather(*(db.fetchone(sql, (key, *extra)) for key in keys))
    return db.read_round_trips - before, [r[0] if r else None for r in rows]


@pytest.mark.parametrize("sql", INDEXED)
async def test_postgres_reads_of_one_plain_select_in_a_tick_are_one_round_trip(
        postgres: PostgresDatabase, sql: str) -> None:
    keys = ["m1", "m2", "absent", "m4", "m2"]
    for _ in range(2):
        trips, rows = await _trips(postgres, sql, keys)
        assert (trips, rows) == (1, ["answer 1", "answer 2", None, "answer 4", "answer 2"])


@pytest.mark.parametrize("sql", NOT_INDEXED)
async def test_postgres_reads_that_cannot_carry_an_index_go_one_round_trip_each(
        postgres: PostgresDatabase, sql: str) -> None:
    for _ in range(2):  # never tried indexed first, not even once
        trips, rows = await _trips(postgres, sql, ["m1", "absent", "m3"])
        assert trips == 3
        assert rows[1] is None and rows[0] is not None and rows[2] is not None


async def test_postgres_an_indexed_form_the_server_refuses_is_tried_once_only(
        postgres: PostgresDatabase) -> None:
    sql = "SELECT response FROM inbound_messages WHERE message_id = ? GROUP BY 1"
    assert await _trips(postgres, sql, ["m1", "m9"]) == (3, ["answer 1", "answer 9"])
    for _ in range(2):  # remembered: each alone from now on
        assert await _trips(postgres, sql, ["m1", "m9"]) == (2, ["answer 1", "answer 9"])


async def test_postgres_a_read_alone_is_one_round_trip(postgres: PostgresDatabase) -> None:
    assert await _trips(postgres, BY_ID, ["m5"]) == (1, ["answer 5"])
    alone = PostgresDatabase(postgres.dsn, group_commit=False)
    await alone.start()
    try:
        assert await _trips(alone, BY_ID, ["m5", "m6"]) == (2, ["answer 5", "answer 6"])
    finally:
        await alone.close()


@pytest.mark.parametrize("read", ["fetchall", "fetchone"])
async def test_postgres_a_read_that_finds_the_pool_busy_is_refused_after_its_wait(
        fresh_postgres: str, read: str) -> None:
    """A read waits ``acquire_timeout`` for a connection, no longer: a 503 for that one
    read, not a request that hangs for as long as the pool stays busy."""
    db = PostgresDatabase(fresh_postgres, min_size=1, max_size=1, acquire_timeout=0.2,
                          group_commit=False)
    await db.start()
    try:
        busy = await pool_taken(db, 0.8)
        with pytest.raises(StorageUnavailable):  # waiting on, it would get it in 0.8 s
            await getattr(db, read)("SELECT 1")
        await busy
        assert await getattr(db, read)("SELECT 1") in ([(1,)], (1,))
    finally:
        await db.close()


async def test_postgres_ping_on_a_busy_pool_answers_false_after_its_wait(
        fresh_postgres: str) -> None:
    """/readyz's ping waits ``acquire_timeout`` for a connection, then says not ready,
    rather than holding the probe for as long as the pool stays busy."""
    db = PostgresDatabase(fresh_postgres, min_size=1, max_size=1, acquire_timeout=0.2,
                          group_commit=False)
    await db.start()
    try:
        assert await db.ping() is True
        busy = await pool_taken(db, 1.2)
        started = time.monotonic()
        assert await db.ping() is False
        assert time.monotonic() - started < 0.8  # its own wait, not the busy read's
        await busy
        assert await db.ping() is True
    finally:
        await db.close()


async def test_postgres_a_tick_of_reads_that_finds_the_pool_busy_is_refused_after_its_wait(
        fresh_postgres: str) -> None:
    """With group commit, a tick's point reads wait for one connection together, no
    longer than ``acquire_timeout``; each is told the storage is unavailable."""
    db = PostgresDatabase(fresh_postgres, min_size=1, max_size=1, acquire_timeout=0.2)
    await db.start()
    try:
        busy = await pool_taken(db, 1.2)
        started = time.monotonic()
        results = await asyncio.gather(*(db.fetchone(BY_ID, (f"m{n}",)) for n in range(3)),
                                       return_exceptions=True)
        assert time.monotonic() - started < 0.8
        assert [str(r) for r in results] == ["postgresql: TimeoutError"] * 3
        assert all(isinstance(r, StorageUnavailable) for r in results)
        await busy
        assert await db.fetchone("SELECT 1") == (1,)
    finally:
        await db.close()


async def test_postgres_a_read_group_cancelled_in_flight_tells_its_readers_and_stays_cancelled(
        fresh_postgres: str) -> None:
    """A shutdown that cancels a read group mid-read: every reader waiting on it is told
    the storage is unavailable (never left waiting), and the cancellation goes on up."""
    db = PostgresDatabase(fresh_postgres)
    await db.start()
    try:
        readers = [asyncio.create_task(db.fetchone("SELECT pg_sleep(0.5), ?::int", (n,)))
                   for n in range(3)]
        group = await group_in_flight(db._reads._running)
        group.cancel()
        results = await asyncio.gather(*readers, return_exceptions=True)
        assert [str(r) for r in results] == ["postgresql: cancelled"] * 3
        assert all(isinstance(r, StorageUnavailable) for r in results)
        assert group.cancelled()
        assert await db.fetchone("SELECT 2") == (2,)
    finally:
        await db.close()
