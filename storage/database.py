"""The storage engine under every repository: lean statements, group commit, fail loud.

docs/DESIGN.md §4a measured the per-message cost of each storage path on this machine; the
async ORM is ~2 ms a message, plain sqlite3 with one writer and group commit ~85 µs. So sqlmodel
defines the tables and serves cold paths, and the hot path uses this module:

* SQLite: one writer thread owns the write connection. Callers hand it a *write set* (a list
  of statements) and await a future; the writer drains every pending write set into one
  transaction, commits once, then resolves all their futures. A caller therefore learns
  "stored" only after the commit that contains its rows — the rule "a 200 means stored"
  holds while hundreds of messages share one fsync. Point reads run inline on a separate
  read connection (WAL lets readers and the writer overlap; an indexed read is ~10 µs).
* PostgreSQL: an asyncpg pool with group commit as well: the write sets handed over while
  the previous group commits share one transaction, their statements pipelined (one round
  trip per group of same-SQL statements); see :class:`PostgresDatabase`.

Statements are written once with ``?`` placeholders; the PostgreSQL backend renumbers them.
Amounts of any size (config/amounts.py): on SQLite an int beyond 64 bits is bound as wide
text where sqlite3 refuses it (a zero-cost ``except``, never taken for ordinary amounts) and
``SUM`` is exact over both forms; on PostgreSQL, NUMERIC values come back as ``int``.
A write set may carry *guards*: statements whose rowcount must be 1 (an insert that must not
conflict). A failed guard rolls back just that write set (SAVEPOINT) and raises
:class:`Conflict` to its caller, so one duplicate never fails the whole group.

Any other failure of one write set, of whatever type (text that cannot be encoded, an
integer out of range, a constraint), also fails that write set alone: its caller gets
:class:`UnstorableWrite` and its neighbours commit. Failures of the storage itself (locked by
another process, disk full, I/O errors, the database unreachable, a wait past its bound) are
:class:`StorageUnavailable`, which the webhooks answer with a 503 and ``Retry-After``. Every
wait is bounded: SQLite's busy timeout, the time a write set may wait for the writer, the
writer's queue; on PostgreSQL the pool acquire and the statement timeouts. docs/RELIABILITY.md
has the measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from storage.amounts import ExactSum, to_sqlite

log = logging.getLogger(__name__)

Params = Sequence[Any]
Row = tuple[Any, ...]
_Item = TypeVar("_Item")


class Conflict(Exception):
    """A guarded statement hit an existing row (for example a duplicate message id)."""


class StorageError(Exception):
    """A write set (or a read) did not reach the database; nothing of it was stored."""


class StorageUnavailable(StorageError):
    """The storage cannot take writes now (locked, full, unreachable, overloaded): retry later."""


class UnstorableWrite(StorageError):
    """This write set cannot be stored as it is (its data, or a statement, fails); retrying
    the same write set will not help. Its neighbours in the group commit are unaffected."""


# SQLite result codes (the primary code, ``sqlite_errorcode & 0xff``) that mean the storage,
# not the write set, is at fault: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def _sqlite_outcome(exc: BaseException) -> BaseException:
    """What the caller of a failed SQLite write set is told (the cause stays attached)."""
    if isinstance(exc, (Conflict, StorageError)):
        return exc
    outcome: Exception
    if isinstance(exc, sqlite3.IntegrityError):
        outcome = Conflict(str(exc))
    elif isinstance(exc, MemoryError) or (
            isinstance(exc, sqlite3.Error)
            and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_UNAVAILABLE):
        name = getattr(exc, "sqlite_errorname", type(exc).__name__)
        outcome = StorageUnavailable(f"sqlite: {name}")
    else:
        # only the type: the message of an encoding error quotes the offending text
        outcome = UnstorableWrite(f"write set not storable: {type(exc).__name__}")
    outcome.__cause__ = exc
    return outcome


@dataclass(slots=True)
class Statement:
    sql: str
    params: Params = ()
    must_change: bool = False  # guard: raise Conflict unless exactly one row changed


@dataclass(slots=True)
class WriteSet:
    statements: list[Statement] = field(default_factory=list)

    def add(self, sql: str, params: Params = (), *, must_change: bool = False) -> None:
        self.statements.append(Statement(sql, params, must_change))

    def extend(self, other: WriteSet) -> None:
        self.statements.extend(other.statements)

    def __bool__(self) -> bool:
        return bool(self.statements)


class Database(Protocol):
    """What repositories need: point reads and durable, group-committed write sets."""

    dialect: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def write(self, writes: WriteSet) -> None: ...

    async def ping(self) -> bool: ...


def sqlite_path(url: str) -> str:
    """The file path in ``sqlite:///haat.db`` / ``sqlite+aiosqlite:///…`` (":memory:" too)."""
    for prefix in ("sqlite+aiosqlite:///", "sqlite+pysqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix):]
            return path or ":memory:"
    raise ValueError(f"not an SQLite URL: {url.split(':', 1)[0]}")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sync_url(url: str) -> str:
    """The synchronous SQLAlchemy URL for migrations and cold-path sessions."""
    if url.startswith("sqlite+aiosqlite:"):
        return "sqlite:" + url.split(":", 1)[1]
    return url  # postgresql+asyncpg stays: migrations drive asyncpg through run_sync


# ---------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    writes: WriteSet
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop
    deadline: float  # time.monotonic() after which the writer refuses to start it


_STOP = object()


class SqliteDatabase:
    """SQLite with a single writer thread doing group commit; see the module docstring."""

    dialect = "sqlite"

    def __init__(self, path: str, *, synchronous: str = "NORMAL", max_batch: int = 512,
                 busy_timeout_ms: int = 1000, queue_timeout: float = 1.0,
                 max_queue: int = 20_000, max_pages: int | None = None) -> None:
        if synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
        self.path = path
        self.synchronous = synchronous
        self.max_batch = max_batch
        # bounds, so that a locked or stalled database is a fast 503, never a 40 s wait: the
        # writer waits at most busy_timeout_ms for another process's lock; a write set that
        # waited queue_timeout seconds for the writer is refused before it starts; at most
        # max_queue write sets wait at all. Worst answer: ~queue_timeout + busy_timeout.
        self.busy_timeout_ms = busy_timeout_ms
        self.queue_timeout = queue_timeout
        self.max_queue = max_queue
        self.max_pages = max_pages  # HAAT_SQLITE_MAX_PAGES: a size cap (writes past it: 503)
        self._submitted = 0  # write sets handed over (event-loop thread only)
        self._taken = 0  # write sets the writer took (writer thread only)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._memory_uri: str | None = None
        self._tick_batch: list[_Pending] = []
        self._checkpoints: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self.checkpoint_seconds = 1.0
        self.commits = 0  # observed by tests and /metrics
        self.observe_commit: Callable[[float], None] | None = None
        self.batched = 0  # write sets stored (a refused one in a committed group is not)

    def _connect(self) -> sqlite3.Connection:
        if self.path == ":memory:":
            # a shared in-memory database so the reader sees the writer's commits
            if self._memory_uri is None:
                self._memory_uri = f"file:haat-mem-{id(self)}?mode=memory&cache=shared"
            conn = sqlite3.connect(self._memory_uri, uri=True, check_same_thread=False,
                                   isolation_level=None)
        else:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=self.busy_timeout_ms / 1000)
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        conn.create_aggregate("sum", 1, ExactSum)  # exact over wide amounts as well
        return conn

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._queue = queue.SimpleQueue()  # nothing of a start that failed is left in it
        self._reader = self._connect()
        # reads run on the event loop: in WAL mode they do not wait for writers, and in the
        # rare case they would (another process's exclusive lock), better a fast 503
        self._reader.execute("PRAGMA busy_timeout=100")
        try:
            # opened here, not in its thread: a checkpoint connection that cannot open fails
            # the start instead of a thread that dies unseen while the log grows without end
            # (the writer never checkpoints)
            checkpoints = None if self.path == ":memory:" else sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except BaseException:
            self._reader.close()
            self._reader = None
            raise
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def signal(exc: BaseException | None) -> None:
            if exc is None:
                ready.set_result(None)
            else:
                ready.set_exception(exc)

        self._thread = threading.Thread(
            target=self._run, args=(loop, signal), name="haat-sqlite-writer", daemon=True
        )
        self._thread.start()
        try:
            await ready
        except BaseException:  # the writer could not open (or the start was cancelled)
            self._queue.put(_STOP)  # a writer that did open stops; one that could not ended
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            self._reader.close()
            self._reader = None
            if checkpoints is not None:
                checkpoints.close()
            raise
        if checkpoints is not None:
            self._stop_checkpoints.clear()  # set by an earlier close()
            self._checkpoints = threading.Thread(target=self._checkpoint_loop,
                                                 args=(checkpoints,),
                                                 name="haat-sqlite-checkpoint", daemon=True)
            self._checkpoints.start()

    def _checkpoint_loop(self, conn: sqlite3.Connection) -> None:
        """Copy the WAL into the database from a thread of its own.

        SQLite's automatic checkpoint runs inside a committing transaction: the writer would
        stall on the checkpoint's fsync for tens of milliseconds every thousand pages, and
        every message waiting for that commit with it. A PASSIVE checkpoint here never
        blocks the writer or readers.
        """
        try:
            while not self._stop_checkpoints.wait(self.checkpoint_seconds):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.warning("background WAL checkpoint failed; will retry")
        finally:
            conn.close()

    async def close(self) -> None:
        if self._thread is not None:
            self._flush_tick()  # write sets handed over this tick go before the stop
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._checkpoints is not None:
            self._stop_checkpoints.set()
            await asyncio.to_thread(self._checkpoints.join)
            self._checkpoints = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        assert self._reader is not None, "database not started"
        rows = self._read(sql, params, one=True)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        assert self._reader is not None, "database not started"
        return self._read(sql, params, one=False)

    def _read(self, sql: str, params: Params, *, one: bool) -> list[Row]:
        """A read on the reader connection (the first row only, with ``one``): wide amounts
        as text, a refused read (locked, I/O) as :class:`StorageUnavailable`."""
        assert self._reader is not None, "database not started"
        try:
            try:
                cursor = self._reader.execute(sql, params)
            except OverflowError:  # an amount beyond 64 bits
                cursor = self._reader.execute(sql, _wide(params))
            if one:
                row: Row | None = cursor.fetchone()
                return [] if row is None else [row]
            rows: list[Row] = cursor.fetchall()
            return rows
        except sqlite3.OperationalError as exc:
            if (refused := _read_failed(exc)) is not None:
                raise refused from exc
            raise

    async def ping(self) -> bool:
        if self._reader is None:  # closed (or never started): not healthy, not an error
            return False
        try:
            await self.fetchone("SELECT 1")
        except (sqlite3.Error, StorageError):
            return False
        return self._thread is not None and self._thread.is_alive()

    async def write(self, writes: WriteSet) -> None:
        if not writes:
            return
        if self._thread is None:
            raise RuntimeError("database not started")
        if self._submitted - self._taken >= self.max_queue:
            raise StorageUnavailable("sqlite: the writer's queue is full")
        self._submitted += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        # hand the writer one list per event-loop tick, not one item per write set: every
        # put wakes the writer thread, and each wake-up costs a GIL hand-over
        self._tick_batch.append(_Pending(writes, future, loop,
                                         time.monotonic() + self.queue_timeout))
        if len(self._tick_batch) == 1:
            loop.call_soon(self._flush_tick)
        started = time.perf_counter()
        await future
        if self.observe_commit is not None:
            self.observe_commit(time.perf_counter() - started)

    def _flush_tick(self) -> None:
        batch, self._tick_batch = self._tick_batch, []
        if batch:
            self._queue.put(batch)

    # writer thread ----------------------------------------------------------------------
    def _run(self, loop: asyncio.AbstractEventLoop,
             signal: Any) -> None:
        try:
            conn = self._connect()
            conn.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoint_loop
            if self.max_pages is not None:
                conn.execute(f"PRAGMA max_page_count={int(self.max_pages)}")
        except BaseException as exc:
            loop.call_soon_threadsafe(signal, exc)
            return
        loop.call_soon_threadsafe(signal, None)
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch: list[_Pending] = list(first) if isinstance(first, list) else []
                stop = False
                while len(batch) < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop = True
                        break
                    if isinstance(item, list):
                        batch.extend(item)
                if batch:
                    self._commit_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _commit_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        self._taken += len(batch)
        outcomes: list[BaseException | None] = [None] * len(batch)
        now = time.monotonic()
        live = [i for i, pending in enumerate(batch) if pending.deadline >= now]
        if len(live) < len(batch):
            for i, pending in enumerate(batch):
                if pending.deadline < now:  # waited too long: refused before it starts
                    outcomes[i] = StorageUnavailable("sqlite: timed out waiting for the writer")
        if live:
            try:
                self._commit_live(conn, batch, live, outcomes)
            except BaseException as exc:  # the writer must answer every future, whatever
                log.exception("sqlite group commit failed; %d write sets rolled back", len(live))
                _rollback(conn)
                for i in live:
                    outcomes[i] = _sqlite_outcome(exc)
        # one wake-up per event loop for the whole batch, not one per write set: each
        # call_soon_threadsafe is a syscall made while holding the GIL
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None],
                                                            BaseException | None]]] = {}
        for pending, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.future, outcome))
        for loop, resolved in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, resolved)

    def _commit_live(self, conn: sqlite3.Connection, batch: list[_Pending], live: list[int],
                     outcomes: list[BaseException | None]) -> None:
        """One transaction for every live write set; a failing one fails alone.

        The fast path runs the write sets back to back with no savepoints. A write set whose
        first statement fails has changed nothing (SQLite undoes the failed statement), so
        it simply fails. One that fails later, or a failure that cost the transaction itself
        (SQLite may roll everything back on FULL, IOERR, NOMEM, BUSY), sends the batch to
        :meth:`_commit_isolated`.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # another process holds the write lock, or worse
            for i in live:
                outcomes[i] = _sqlite_outcome(exc)
            self._count_failure(exc, len(live))
            return
        try:
            for i in live:
                outcomes[i] = self._apply_fast(conn, batch[i].writes)
            conn.execute("COMMIT")
        except _Redo:
            _rollback(conn)
            self._commit_isolated(conn, batch, live, outcomes)
            return
        except sqlite3.Error as exc:  # COMMIT failed (disk full, I/O): nothing is stored
            _rollback(conn)
            for i in live:
                outcomes[i] = _sqlite_outcome(exc)
            self._count_failure(exc, len(live))
            return
        self.commits += 1
        self.batched += sum(outcomes[i] is None for i in live)  # stored, not refused

    def _commit_isolated(self, conn: sqlite3.Connection, batch: list[_Pending],
                         live: list[int], outcomes: list[BaseException | None]) -> None:
        """The slow path: a savepoint around every write set, so only a failing one is undone.

        If a failure costs the whole transaction, that write set is failed and the others are
        applied again in a new one (at most three times, then they fail as unavailable).
        """
        remaining = list(live)
        for _round in range(3):
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                for i in remaining:
                    outcomes[i] = _sqlite_outcome(exc)
                return
            lost: int | None = None
            for i in remaining:
                outcomes[i] = self._apply_one(conn, batch[i].writes)
                if outcomes[i] is not None and not conn.in_transaction:
                    lost = i
                    break
            if lost is not None:
                remaining.remove(lost)  # its outcome stands; the others go again
                for i in remaining:
                    outcomes[i] = None
                continue
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                for i in remaining:
                    outcomes[i] = _sqlite_outcome(exc)
                return
            self.commits += 1
            self.batched += sum(outcomes[i] is None for i in remaining)
            return
        for i in remaining:
            outcomes[i] = StorageUnavailable("sqlite: the transaction was lost three times")

    def _count_failure(self, exc: BaseException, count: int) -> None:
        log.warning("sqlite: %d write sets refused (%s)", count,
                    getattr(exc, "sqlite_errorname", type(exc).__name__))

    @classmethod
    def _apply_fast(cls, conn: sqlite3.Connection, writes: WriteSet) -> BaseException | None:
        """Most write sets have one guard (the inbound message's unique id): run it first,
        and when it holds, the rest cannot conflict — no savepoint needed. Two guards or
        more take the savepoint path. Raises :class:`_Redo` when a failure left part of
        this write set (or the transaction) behind."""
        statements = writes.statements
        guards = [s for s in statements if s.must_change]
        if len(guards) > 1:
            return cls._apply_one(conn, writes)
        if guards:
            guard = guards[0]
            try:
                cursor = conn.execute(guard.sql, guard.params)
            except OverflowError as exc:  # an amount beyond 64 bits: the savepoint path
                raise _Redo from exc
            except Exception as exc:
                if not conn.in_transaction:
                    raise _Redo from exc
                return _sqlite_outcome(exc)  # the write set's first statement: nothing done
            if cursor.rowcount != 1:
                return Conflict(guard.sql.split("(", 1)[0].strip())
            try:
                for stmt in statements:
                    if not stmt.must_change:
                        conn.execute(stmt.sql, stmt.params)
            except Exception as exc:  # the guard's row is in: only a savepoint can undo it
                raise _Redo from exc
            return None
        for n, stmt in enumerate(statements):
            try:
                conn.execute(stmt.sql, stmt.params)
            except Exception as exc:
                if n == 0 and conn.in_transaction and not isinstance(exc, OverflowError):
                    return _sqlite_outcome(exc)
                raise _Redo from exc
        return None

    @staticmethod
    def _apply_one(conn: sqlite3.Connection, writes: WriteSet) -> BaseException | None:
        conn.execute("SAVEPOINT ws")
        try:
            for stmt in writes.statements:
                try:
                    cursor = conn.execute(stmt.sql, stmt.params)
                except OverflowError:  # an amount beyond 64 bits
                    cursor = conn.execute(stmt.sql, _wide(stmt.params))
                if stmt.must_change and cursor.rowcount != 1:
                    raise Conflict(stmt.sql.split("(", 1)[0].strip())
        except Exception as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK TO ws")
                    conn.execute("RELEASE ws")
                except sqlite3.Error:
                    _rollback(conn)  # the savepoint is gone with the transaction
            return _sqlite_outcome(exc)
        conn.execute("RELEASE ws")
        return None


def _wide(params: Params) -> list[Any]:
    return [to_sqlite(p) for p in params]


class _Redo(Exception):
    """The fast path met a failure it cannot undo alone; the batch is redone with savepoints."""


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _read_failed(exc: sqlite3.OperationalError) -> StorageUnavailable | None:
    if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_UNAVAILABLE:
        return StorageUnavailable(f"sqlite: {getattr(exc, 'sqlite_errorname', 'error')}")
    return None


def _resolve_all(resolved: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for future, outcome in resolved:
        if future.done():
            continue
        if outcome is None:
            future.set_result(None)
        else:
            future.set_exception(outcome)


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------


def _renumber(sql: str) -> str:
    """``?`` placeholders → ``$1, $2, …`` (haat's SQL never has a literal ``?``)."""
    out: list[str] = []
    for n, chunk in enumerate(sql.split("?"), 1):
        out.append(chunk)
        out.append(f"${n}")
    return "".join(out[:-1])


# SQLSTATE classes that mean the server, not the write set, is at fault: connection (08),
# transaction rollback such as serialization or deadlock (40), insufficient resources such
# as disk full (53), operator intervention such as statement_timeout or shutdown (57),
# system errors (58), and lock_timeout (55P03)
_PG_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def _pg_outcome(exc: BaseException) -> BaseException:
    """What the caller of a failed PostgreSQL write set (or read) is told."""
    if isinstance(exc, (Conflict, StorageError)):
        return exc
    state = str(getattr(exc, "sqlstate", "") or "")
    outcome: Exception
    if not isinstance(exc, Exception):  # cancelled (a shutdown): retry later
        outcome = StorageUnavailable("postgresql: cancelled")
    elif state.startswith("23"):
        outcome = Conflict(type(exc).__name__)
    elif (state[:2] in _PG_UNAVAILABLE_CLASSES or state == "55P03"
          or isinstance(exc, (OSError, TimeoutError, MemoryError))
          or type(exc).__name__ == "InterfaceError"):  # a lost connection is class 08
        outcome = StorageUnavailable(f"postgresql: {type(exc).__name__}")
    else:
        outcome = UnstorableWrite(f"write set not storable: {type(exc).__name__}")
    outcome.__cause__ = exc
    return outcome


class _TickBatcher(Generic[_Item]):
    """What one event-loop tick hands over goes to ``run`` as one batch, in a task.

    At most ``limit`` batches run at once; what gathers while they run goes next, as one
    batch (the larger the batch, the fewer round trips an item costs). PostgreSQL's write
    groups and read groups are both this (:class:`PostgresDatabase`).
    """

    __slots__ = ("_pending", "_run", "_running", "limit")

    def __init__(self, run: Callable[[list[_Item]], Awaitable[None]], limit: int) -> None:
        self._run = run
        self.limit = limit
        self._pending: list[_Item] = []
        self._running: set[asyncio.Future[None]] = set()

    def add(self, item: _Item) -> None:
        self._pending.append(item)
        if len(self._pending) == 1 and len(self._running) < self.limit:
            asyncio.get_running_loop().call_soon(self.flush)

    def take(self) -> list[_Item]:
        """What was handed over since the last batch started, now (a batch that is
        still open takes it in: :meth:`PostgresDatabase._commit_group`)."""
        taken, self._pending = self._pending, []
        return taken

    def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.ensure_future(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[None]) -> None:
        self._running.discard(task)
        if self._pending and len(self._running) < self.limit:
            self.flush()

    async def drain(self) -> None:
        """Run what was handed over, and wait for every batch in flight."""
        self.flush()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


async def _keep_session(conn: Any) -> None:
    """The pool's reset for a connection handed back: nothing beyond asyncpg's own rollback
    of a transaction left open. haat sets no session state on pooled connections (no SET,
    LISTEN, cursors or session advisory locks; the migration lock is transaction-scoped on
    a connection of its own), so asyncpg's default reset (``UNLISTEN *; CLOSE ALL; RESET
    ALL; SELECT pg_advisory_unlock_all()``, one more round trip a checkout, 0.2 a message
    under load) buys nothing; docs/BENCHMARKS.md has what it cost."""


class PostgresDatabase:
    """asyncpg pool with group commit: one transaction, and few round trips, per tick.

    The write sets handed over in one event-loop tick share one connection and one
    transaction (:meth:`_commit_group`), and their statements are *pipelined*: every write
    set keeps its own order, and the next statement of all the write sets whose next
    statement is the same SQL goes to the server in one ``executemany`` (one round trip for
    the whole group; guards go through ``fetchmany`` with ``RETURNING`` the write set's
    index, so each guard is checked). A tick of 32 turns of 4 statements is then ~6 round
    trips instead of 32 × 6 (BEGIN, 4 statements, COMMIT) and one pool checkout instead of
    32; docs/BENCHMARKS.md has the measurements.

    A failed guard rolls the group back and runs it again without that write set (which
    gets :class:`Conflict`); any other failure rolls it back and runs every write set in a
    transaction of its own, as a lone write set always is, so a failing write set never
    touches another one. Every wait is bounded: taking a connection from the pool
    (``acquire_timeout``), any statement (``statement_timeout`` on the server and
    asyncpg's ``command_timeout``), a row lock (``lock_timeout``).
    """

    dialect = "postgresql"

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 16,
                 acquire_timeout: float = 1.0, statement_timeout_ms: int = 1500,
                 lock_timeout_ms: int = 1000, group_commit: bool = True,
                 max_groups: int = 2) -> None:
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.min_size = min_size
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.statement_timeout_ms = statement_timeout_ms
        self.lock_timeout_ms = lock_timeout_ms
        self.group_commit = group_commit
        self._pool: Any = None
        self._sql_cache: dict[str, str] = {}
        self._guard_cache: dict[str, str] = {}
        # max_groups: write groups (and read groups) in flight at once; while they run,
        # the next one gathers (the larger the group, the fewer round trips a write set costs)
        self._writes: _TickBatcher[tuple[WriteSet, asyncio.Future[None]]] = _TickBatcher(
            self._commit_group, max_groups)
        self._reads: _TickBatcher[tuple[str, Params, asyncio.Future[Row | None]]] = \
            _TickBatcher(self._read_group, max_groups)
        self._read_cache: dict[str, str] = {}
        self.commits = 0
        self.batched = 0
        self.round_trips = 0  # statements' round trips to the server (tests, /metrics)
        # point reads' round trips: the reads of one SQL in one tick share one (/metrics)
        self.read_round_trips = 0
        self.joined = 0  # write sets that joined a group after its BEGIN (tests)
        self.observe_commit: Callable[[float], None] | None = None

    def _sql(self, sql: str) -> str:
        cached = self._sql_cache.get(sql)
        if cached is None:
            cached = self._sql_cache[sql] = _renumber(sql)
        return cached

    def _guard_sql(self, sql: str) -> str:
        """The guard returning its write set's index, bound as one more parameter."""
        cached = self._guard_cache.get(sql)
        if cached is None:
            index = sql.count("?") + 1
            cached = self._guard_cache[sql] = (
                _renumber(sql).rstrip().rstrip(";") + f" RETURNING ${index}::int")
        return cached

    async def start(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=self.min_size, max_size=self.max_size,
            command_timeout=self.statement_timeout_ms / 1000 + 0.5,
            # every statement is prepared once per connection and kept: the hot path's
            # statements, their guard (RETURNING) and indexed-read forms, with room to spare
            statement_cache_size=1024,
            reset=_keep_session,
            server_settings={"statement_timeout": str(self.statement_timeout_ms),
                             "lock_timeout": str(self.lock_timeout_ms)},
        )

    async def close(self) -> None:
        # what was handed over goes first
        await asyncio.gather(self._writes.drain(), self._reads.drain())
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """A point read; with group commit, the point reads of one tick share a pool
        checkout, and those of the same SQL one round trip (:meth:`_read_group`)."""
        if not self.group_commit:
            return await self._fetchone_alone(sql, params)
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._reads.add((sql, params, future))
        return await future

    async def _fetchone_alone(self, sql: str, params: Params) -> Row | None:
        try:
            async with self._pool.acquire(timeout=self.acquire_timeout) as conn:
                self.read_round_trips += 1
                record = await conn.fetchrow(self._sql(sql), *params)
        except Exception as exc:
            raise _pg_read_outcome(exc) from exc
        return None if record is None else _pg_row(record)

    async def _read_group(self, batch: list[tuple[str, Params,
                                                  asyncio.Future[Row | None]]]) -> None:
        """Answer every read of the batch on one connection: reads of the same SQL as one
        round trip (:meth:`_read_indexed`), else each alone (:meth:`_read_each`)."""
        by_sql: dict[str, list[tuple[Params, asyncio.Future[Row | None]]]] = {}
        for sql, params, future in batch:
            by_sql.setdefault(sql, []).append((params, future))
        try:
            async with self._pool.acquire(timeout=self.acquire_timeout) as conn:
                for sql, reads in by_sql.items():
                    if len(reads) == 1 or not await self._read_indexed(conn, sql, reads):
                        await self._read_each(conn, sql, reads)
        except BaseException as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(_pg_read_outcome(exc))
            if not isinstance(exc, Exception):
                raise

    async def _read_indexed(self, conn: Any, sql: str,
                            reads: list[tuple[Params, asyncio.Future[Row | None]]]) -> bool:
        """Reads of one SQL as one ``fetchmany`` whose rows carry the read's index (``SELECT
        $n::int, …``); False (nothing answered) when the SQL cannot carry the index or the
        batch fails, so that each read alone finds out which one failed."""
        indexed = self._indexed_read(sql)
        if indexed is None:
            return False
        rows_in = [(*params, n) for n, (params, _) in enumerate(reads)]
        self.read_round_trips += 1
        try:
            records = await conn.fetchmany(indexed, rows_in)
        except Exception as exc:
            if str(getattr(exc, "sqlstate", "")).startswith("42"):
                self._read_cache[sql] = ""  # the index does not fit this SQL
            return False
        first: dict[int, Row] = {}
        for record in records:
            first.setdefault(int(record[0]), _pg_row(record)[1:])
        for n, (_, future) in enumerate(reads):
            if not future.done():
                future.set_result(first.get(n))
        return True

    async def _read_each(self, conn: Any, sql: str,
                         reads: list[tuple[Params, asyncio.Future[Row | None]]]) -> None:
        """Each read alone; a failed one fails alone, unless the storage itself is gone."""
        for params, future in reads:
            self.read_round_trips += 1
            try:
                record = await conn.fetchrow(self._sql(sql), *params)
            except Exception as exc:
                if not future.done():
                    future.set_exception(_pg_read_outcome(exc))
                if isinstance(_pg_outcome(exc), StorageUnavailable):
                    raise
                continue
            if not future.done():
                future.set_result(None if record is None else _pg_row(record))

    def _indexed_read(self, sql: str) -> str | None:
        """``SELECT $n::int, …`` for a plain SELECT (its index is the last parameter), or
        None for SQL where a leading column would change the meaning."""
        cached = self._read_cache.get(sql)
        if cached is None:
            head = sql.lstrip()
            upper = head.upper()
            plain = upper.startswith("SELECT ") and not upper.startswith("SELECT DISTINCT") \
                and not any(word in upper for word in (" UNION ", " INTERSECT ", " EXCEPT ",
                                                       " FOR UPDATE", " FOR SHARE"))
            cached = (f"SELECT ${sql.count('?') + 1}::int, " + _renumber(head[7:])) \
                if plain else ""
            self._read_cache[sql] = cached
        return cached or None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            async with self._pool.acquire(timeout=self.acquire_timeout) as conn:
                records = await conn.fetch(self._sql(sql), *params)
        except Exception as exc:
            raise _pg_read_outcome(exc) from exc
        return [_pg_row(r) for r in records]

    async def ping(self) -> bool:
        try:
            async with self._pool.acquire(timeout=self.acquire_timeout) as conn:
                await conn.fetchval("SELECT 1")
        except Exception:
            return False
        return True

    async def write(self, writes: WriteSet) -> None:
        if not writes:
            return
        if self._pool is None:
            raise RuntimeError("database not started")
        started = time.perf_counter()
        if self.group_commit:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._writes.add((writes, future))
            await future
        else:
            await self._write_alone(writes)
        if self.observe_commit is not None:
            self.observe_commit(time.perf_counter() - started)

    async def _commit_group(self, batch: list[tuple[WriteSet, asyncio.Future[None]]]) -> None:
        """Store one tick's write sets and answer every future, whatever happens."""
        outcomes: list[BaseException | None] = [None] * len(batch)
        sets = [w for w, _ in batch]

        def join() -> list[WriteSet]:
            # the write sets handed over while this group's BEGIN was in flight would
            # otherwise wait for a free group: they join this one (their futures with them)
            more = self._writes.take()
            batch.extend(more)
            outcomes.extend([None] * len(more))
            joined = [w for w, _ in more]
            sets.extend(joined)
            self.joined += len(joined)
            return joined

        try:
            await self._store_group(sets, outcomes, join)
        except BaseException as exc:  # every future gets an answer, even on cancellation
            for i, outcome in enumerate(outcomes):
                if outcome is None:
                    outcomes[i] = _pg_outcome(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

    async def _store_group(self, sets: list[WriteSet], outcomes: list[BaseException | None],
                           join: Callable[[], list[WriteSet]] | None = None) -> None:
        """``join`` (the first attempt only) takes in the write sets handed over meanwhile;
        they are appended to ``sets`` and ``outcomes``, and stored as part of the group."""
        live = list(range(len(sets)))
        for _round in range(3):
            if len(live) <= 1:
                break
            known = len(sets)
            try:
                missed = await self._pipelined([sets[i] for i in live], join)
            except Exception as exc:
                live.extend(range(known, len(sets)))
                if isinstance(_pg_outcome(exc), StorageUnavailable) and \
                        not _pg_in_statement(exc):
                    for i in live:  # no connection, or the server is gone: all alike
                        outcomes[i] = _pg_outcome(exc)
                    return
                break  # a statement failed: each write set alone finds out which
            join = None
            live.extend(range(known, len(sets)))
            if not missed:
                self.commits += 1
                self.batched += len(live)
                return
            for position in sorted(missed, reverse=True):
                i = live.pop(position)
                outcomes[i] = Conflict("guard")
        results = await asyncio.gather(*(self._write_alone(sets[i]) for i in live),
                                       return_exceptions=True)
        for i, result in zip(live, results, strict=True):
            if isinstance(result, BaseException):
                outcomes[i] = result

    async def _pipelined(self, sets: list[WriteSet],
                         join: Callable[[], list[WriteSet]] | None = None) -> list[int]:
        """Run ``sets`` in one transaction, pipelined; the positions whose guard failed
        (then nothing is committed), or [] when all of them are stored. Once ``BEGIN``
        has returned, ``join`` may append more write sets to ``sets``: they run with the
        rest, from their first statement (which most share: the inbound guard)."""
        async with self._pool.acquire(timeout=self.acquire_timeout) as conn:
            transaction = conn.transaction()
            await transaction.start()
            if join is not None:
                sets.extend(join())
            try:
                missed = await self._run_heads(conn, sets)
            except BaseException:
                await _pg_rollback(transaction)
                raise
            if missed:
                await _pg_rollback(transaction)
                return missed
            await transaction.commit()
            return []

    async def _run_heads(self, conn: Any, sets: list[WriteSet]) -> list[int]:
        """Each write set's statements in its own order; the write sets whose next
        statement is the same SQL send it together (the largest such group first)."""
        cursors = [0] * len(sets)
        while True:
            heads: dict[tuple[str, bool], list[int]] = {}
            for i, ws in enumerate(sets):
                if cursors[i] < len(ws.statements):
                    stmt = ws.statements[cursors[i]]
                    heads.setdefault((stmt.sql, stmt.must_change), []).append(i)
            if not heads:
                return []
            (sql, guard), members = max(heads.items(), key=lambda kv: len(kv[1]))
            self.round_trips += 1
            if guard:
                rows = await conn.fetchmany(self._guard_sql(sql), [
                    (*sets[i].statements[cursors[i]].params, n)
                    for n, i in enumerate(members)])
                held = [int(r[0]) for r in rows]
                if sorted(held) != list(range(len(members))):
                    return sorted({members[n] for n in range(len(members))
                                   if held.count(n) != 1})
            elif len(members) == 1:
                stmt = sets[members[0]].statements[cursors[members[0]]]
                await conn.execute(self._sql(sql), *stmt.params)
            else:
                await conn.executemany(self._sql(sql), [
                    sets[i].statements[cursors[i]].params for i in members])
            for i in members:
                cursors[i] += 1

    async def _write_alone(self, writes: WriteSet) -> None:
        """One write set in a transaction of its own (a statement at a time)."""
        try:
            async with self._pool.acquire(timeout=self.acquire_timeout) as conn, \
                    conn.transaction():
                for stmt in writes.statements:
                    self.round_trips += 1
                    status = await conn.execute(self._sql(stmt.sql), *stmt.params)
                    if stmt.must_change and not str(status).endswith(" 1"):
                        raise Conflict(stmt.sql.split("(", 1)[0].strip())
        except Conflict:
            raise
        except Exception as exc:
            raise _pg_outcome(exc) from exc
        self.commits += 1
        self.batched += 1


def _pg_in_statement(exc: BaseException) -> bool:
    """A server error raised by one statement (it names an SQLSTATE), not a lost
    connection or an exhausted pool."""
    return bool(getattr(exc, "sqlstate", None)) and not str(
        getattr(exc, "sqlstate", "")).startswith(("08", "57"))


async def _pg_rollback(transaction: Any) -> None:
    with contextlib.suppress(Exception):
        await transaction.rollback()


def _pg_read_outcome(exc: BaseException) -> BaseException:
    """A failed read: unavailable storage (or a cancelled read) is a 503; anything else
    stays what it was."""
    outcome = _pg_outcome(exc)
    return outcome if isinstance(outcome, StorageUnavailable) else exc


def _pg_row(record: Any) -> Row:
    """A record as a tuple, NUMERIC amounts (and SUMs, which PostgreSQL types NUMERIC)
    as ``int``: haat keeps no fractional NUMERIC anywhere."""
    return tuple(int(v) if type(v) is Decimal else v for v in record)


def open_database(url: str, *, sqlite_synchronous: str = "NORMAL",
                  sqlite_max_pages: int | None = None, pg_group_commit: bool = True,
                  observe_commit: Callable[[float], None] | None = None) -> Database:
    """``observe_commit`` is told how long each stored write set waited for its commit;
    ``pg_group_commit=False`` (``HAAT_PG_GROUP_COMMIT=0``) gives every PostgreSQL write
    set a transaction of its own, as before group commit (a fallback, and the benchmark's
    comparison)."""
    db: SqliteDatabase | PostgresDatabase
    if is_sqlite(url):
        db = SqliteDatabase(sqlite_path(url), synchronous=sqlite_synchronous,
                            max_pages=sqlite_max_pages)
    elif url.startswith(("postgresql+asyncpg://", "postgresql://", "postgres://")):
        db = PostgresDatabase(url, group_commit=pg_group_commit)
    else:
        raise ValueError("HAAT_DATABASE_URL must be sqlite:///… or postgresql+asyncpg://…")
    db.observe_commit = observe_commit
    return db


def now_ms() -> int:
    return int(time.time() * 1000)
