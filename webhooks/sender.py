"""How the outbox hands a message to a channel: in the event loop, or in a child process.

A REST send (the Cloud API's ``POST /messages``, Twilio's ``Messages.create``) costs the
event loop a few hundred microseconds of aiohttp client work (and TLS in production) for
every reply, which on the Cloud API is every message. :class:`ProcessSender` moves that
work to a child process (``python -m webhooks.sender``) that owns its own event loop and
HTTP session, so the server's loop spends its time on inbound messages. The outbox keeps
every decision (claims, retries, dead letters, status rows); the child only performs one
send and says what happened. Channels whose send is local state (the simulator) never
leave the server.

Parent and child speak length-prefixed pickle frames over the child's stdin/stdout, one
frame per event-loop tick in each direction. Both ends are this program, over a private
pipe; nothing from the network is ever unpickled. If the child dies, every send it held
fails as retryable (the outbox retries it with back-off) and the next send starts a new one.

Every send the channel accepted is also appended to the :class:`SentJournal` (a file beside
the SQLite database) the moment its answer arrives, before the outbox records it. If the
server is killed, its child finishes or abandons what it holds within
``ORPHAN_GRACE_SECONDS`` and exits, and the next server reads the journal before it sends
anything left over, so a send that was accepted is not sent again.

On PostgreSQL, where several servers share the outbox, each server process keeps a
journal of its own (``<pid>.sent`` in ``HAAT_SENT_JOURNAL_DIR``, by default a directory
per database under the system's temporary directory): a server on the same host adopts the
journal of one that died (:func:`orphaned_journals`) and records its accepted sends before
their lease runs out, so only a send still on the wire at the kill is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from bot.outgoing import OutboxItem
from bot.types import Reply
from config.settings import Settings
from storage.database import is_sqlite, sqlite_path
from webhooks.channels.base import ChannelAdapter, SendError
from webhooks.frames import (
    FrameBatch,
    child_start,
    frame,
    read_frame,
    run_child,
    spawn_child,
)

log = logging.getLogger(__name__)

# (request id, channel, business number, recipient, reply as JSON, idempotency key)
Request = tuple[int, str, str, str, dict[str, Any], str]
# (request id, channel message id or None, (message, retryable, status, code) or None)
Result = tuple[int, str | None, tuple[str, bool, int | None, str | None] | None]


# a child whose server went away finishes its sends for this long, then abandons the rest
ORPHAN_GRACE_SECONDS = 3.0


class SentJournal:
    """Append-only lines ``row id<TAB>channel message id``: sends the channel accepted.

    One ``write`` on an ``O_APPEND`` descriptor per send, so a line is in the kernel the
    moment the send's answer is in, whichever process dies next; the outbox reads it at
    start-up (:meth:`webhooks.outbox.Outbox.recover`) and empties it when nothing is in
    flight. Not synced to disk: it guards against a crashed process, not a power cut.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def append(self, row_id: str, channel_id: str) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        clean = channel_id.replace("\t", " ").replace("\n", " ")
        os.write(self._fd, f"{row_id}\t{clean}\n".encode())

    def read(self) -> dict[str, str]:
        try:
            text = self.path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return {}
        found: dict[str, str] = {}
        for line in text.split("\n")[:-1]:  # a last line without its newline is unfinished
            row_id, sep, channel_id = line.partition("\t")
            if sep and row_id:
                found[row_id] = channel_id
        return found

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def reset(self) -> None:
        """Empty it (only when every send it names is recorded and none is in flight)."""
        with contextlib.suppress(FileNotFoundError):
            os.truncate(self.path, 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def journal_for(settings: Settings, owner_pid: int | None = None) -> SentJournal | None:
    """The journal beside an SQLite file (``haat.db-sent``), none for memory; on
    PostgreSQL the journal of the server process ``owner_pid`` (this one by default; the
    sender child passes its parent's) in :func:`journal_dir`."""
    if not is_sqlite(settings.database_url):
        directory = journal_dir(settings)
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("no sent journal (%s): a kill may send accepted replies again",
                        type(exc).__name__)
            return None
        return SentJournal(directory / f"{owner_pid or os.getpid()}.sent")
    path = sqlite_path(settings.database_url)
    return None if path == ":memory:" else SentJournal(Path(path + "-sent"))


def journal_dir(settings: Settings) -> Path:
    """Where the servers of one PostgreSQL database on this host keep their journals."""
    given = settings.env.get("HAAT_SENT_JOURNAL_DIR")
    if given:
        return Path(given)
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"haat-sent-{digest}"


def orphaned_journals(directory: Path, grace_seconds: float = ORPHAN_GRACE_SECONDS,
                      ) -> list[Path]:
    """Journals of server processes that are gone (their sender child, if any, had its
    grace to finish): ``<pid>.sent`` whose pid is not alive and that changed more than
    ``grace_seconds`` ago."""
    found = []
    now = time.time()
    try:
        paths = list(directory.glob("*.sent"))
    except OSError:
        return []
    for path in paths:
        try:
            pid = int(path.stem)
            if pid == os.getpid() or _alive(pid) or now - path.stat().st_mtime < grace_seconds:
                continue
        except (ValueError, OSError):
            continue
        found.append(path)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Sender(Protocol):
    """One attempt at one message: the channel's message id, or :class:`SendError`."""

    async def send(self, item: OutboxItem) -> str: ...

    async def close(self) -> None: ...


class InlineSender:
    """Sends in the server's own event loop (the simulator; ``HAAT_OUTBOX_SENDER=inline``)."""

    def __init__(self, channels: Mapping[str, ChannelAdapter],
                 session_factory: Callable[[], aiohttp.ClientSession],
                 journal: SentJournal | None = None) -> None:
        self.channels = channels
        self.session_factory = session_factory
        self.journal = journal

    async def send(self, item: OutboxItem) -> str:
        return await _send_one(self.channels, self.session_factory(), item.channel,
                               item.business, item.customer, item.reply, item.id,
                               self.journal)

    async def close(self) -> None:
        """The session belongs to the app; the journal's descriptor is ours."""
        if self.journal is not None:
            self.journal.close()


async def _send_one(channels: Mapping[str, ChannelAdapter], session: aiohttp.ClientSession,
                    channel_name: str, business: str, to: str, reply: Reply,
                    idempotency_key: str, journal: SentJournal | None = None) -> str:
    channel = channels.get(channel_name)
    if channel is None:
        raise SendError(f"no channel {channel_name}", retryable=False)
    try:
        message_id = await channel.send(session, business=business, to=to, reply=reply,
                                        idempotency_key=idempotency_key)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise SendError(type(exc).__name__, retryable=True) from exc
    except SendError:
        raise
    except Exception as exc:  # a bug in an adapter: retried, then dead-lettered
        log.exception("send failed unexpectedly")
        raise SendError(f"internal error: {type(exc).__name__}", retryable=True) from exc
    if journal is not None:
        try:
            journal.append(idempotency_key, message_id)  # before anything else can fail
        except OSError as exc:  # the send was accepted all the same: it is recorded
            log.warning("the sent journal could not be written (%s); a crash before "
                        "this send is recorded would send it again",
                        type(exc).__name__)
    return message_id


class ProcessSender:
    """Sends REST channels' messages from a child process; see the module docstring."""

    restart_delay = 1.0  # a child that dies young is not restarted in a tight loop
    start_timeout = 30.0

    def __init__(self, settings: Settings, inline: InlineSender,
                 remote: frozenset[str]) -> None:
        """``remote``: the channels whose sends run in the child (those that declare
        ``ChannelCapability.REST_SENDS``)."""
        self.settings = settings
        self.inline = inline
        self.remote = remote
        self.started = 0  # children started so far (observed by tests)
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[asyncio.subprocess.Process] | None = None
        self._prestarted: asyncio.Task[asyncio.subprocess.Process] | None = None
        self._pending: dict[int, asyncio.Future[str]] = {}
        self._out: FrameBatch | None = None  # requests to the running child
        self._next_id = 0
        self._last_start = 0.0
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def send(self, item: OutboxItem) -> str:
        if item.channel not in self.remote:
            return await self.inline.send(item)
        if self._closed:
            raise SendError("server shutting down", retryable=True)
        await self.start()
        assert self._out is not None
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._next_id += 1
        self._pending[self._next_id] = future
        request: Request = (self._next_id, item.channel, item.business, item.customer,
                            item.reply.to_json(), item.id)
        self._out.add(request)
        return await future

    def _dropped(self, requests: list[Request]) -> None:
        self._fail([request[0] for request in requests], "the sender process stopped")

    def prestart(self) -> None:
        """Start the child in the background now, so the first reply does not wait for it."""
        def done(task: asyncio.Task[asyncio.subprocess.Process]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.warning("outbox sender process did not start: %s", task.exception())

        self._prestarted = asyncio.create_task(self.start())
        self._prestarted.add_done_callback(done)

    async def start(self) -> asyncio.subprocess.Process:
        """The running child, started (or restarted) if need be; concurrent callers share one."""
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        if self._starting is None:
            self._starting = asyncio.create_task(self._spawn())
        try:
            return await asyncio.shield(self._starting)
        finally:
            if self._starting is not None and self._starting.done():
                self._starting = None

    async def _spawn(self) -> asyncio.subprocess.Process:
        wait = self._last_start + self.restart_delay - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_start = time.monotonic()
        try:
            proc = await spawn_child("webhooks.sender", (self.settings, sorted(self.remote)),
                                     ready_within=self.start_timeout)
        except OSError as exc:  # no process or pipe to be had now (EMFILE, EAGAIN, ENOMEM)
            raise SendError(f"the sender process did not start ({type(exc).__name__})",
                            retryable=True) from exc
        if proc is None:
            raise SendError("the sender process did not start", retryable=True)
        assert proc.stdin is not None
        self._proc = proc
        self._out = FrameBatch(proc.stdin, self._dropped)
        self.started += 1
        self._reader = asyncio.create_task(self._read_results(proc))
        log.info("outbox sender process started (pid %d)", proc.pid)
        return proc

    async def _read_results(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            results: list[Result] | None = await read_frame(proc.stdout)
            if results is None:
                break
            for request_id, channel_id, error in results:
                future = self._pending.pop(request_id, None)
                if future is None or future.done():
                    continue
                if error is None and channel_id is not None:
                    future.set_result(channel_id)
                else:
                    message, retryable, status, code = error or ("no message id", True,
                                                                 None, None)
                    future.set_exception(SendError(message, retryable=retryable,
                                                   status=status, code=code))
        returncode = await proc.wait()
        if self._proc is proc:
            self._proc = None
        if self._pending:
            log.warning("outbox sender process exited (%s) with %d sends in flight; they "
                        "will be retried", returncode, len(self._pending))
            self._fail(list(self._pending), "the sender process stopped")

    def _fail(self, request_ids: list[int], message: str) -> None:
        for request_id in request_ids:
            future = self._pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_exception(SendError(message, retryable=True))

    async def close(self) -> None:
        """Let the child finish what it holds (its sends time out after 15 s), then stop it."""
        self._closed = True
        if self._prestarted is not None:
            with contextlib.suppress(Exception):
                await self._prestarted
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        proc = self._proc
        if proc is not None and proc.stdin is not None and self._out is not None:
            self._out.flush()
            proc.stdin.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), 20)
            except TimeoutError:
                if proc is not None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                await self._reader
        self._fail(list(self._pending), "server shutting down")
        await self.inline.close()


# ---- the child ------------------------------------------------------------------------


async def _child_main() -> None:
    reader, writer, hello = await child_start("sender")
    if hello is None:
        return
    settings, names = hello
    from webhooks.channels.registry import build_channel_states, build_channels

    states = build_channel_states(settings, names)  # this process's own, closed below
    channels: dict[str, ChannelAdapter] = build_channels(settings, states)
    journal = journal_for(settings, owner_pid=os.getppid())
    results = FrameBatch(writer)
    tasks: set[asyncio.Task[None]] = set()

    async def one(session: aiohttp.ClientSession, request: Request) -> None:
        request_id, channel, business, to, reply_json, key = request
        result: Result
        try:
            message_id = await _send_one(channels, session, channel, business, to,
                                         Reply.from_json(reply_json), key, journal)
            result = (request_id, message_id, None)
        except SendError as exc:
            result = (request_id, None, (str(exc), exc.retryable, exc.status, exc.code))
        except Exception as exc:  # a bug in an adapter: retried, then dead-lettered
            log.exception("send failed unexpectedly")
            result = (request_id, None, (f"internal error: {type(exc).__name__}", True,
                                         None, None))
        results.add(result)

    writer.write(frame("ready"))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        while True:
            batch: list[Request] | None = await read_frame(reader)
            if batch is None:
                break  # the server closed our stdin: finish what we hold, then exit
            for request in batch:
                task = asyncio.create_task(one(session, request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        # the server stopped (it drained first: nothing is held) or died: finish what we
        # hold for a short while, then abandon it; the next server waits that long
        # before it reads the journal (an abandoned send is in doubt: sent again)
        if tasks:
            _, abandoned = await asyncio.wait(list(tasks), timeout=ORPHAN_GRACE_SECONDS)
            for task in abandoned:
                task.cancel()
            await asyncio.gather(*abandoned, return_exceptions=True)
    if journal is not None:
        journal.close()
    for state in states.values():  # the Twilio client keeps a session of its own
        await state.close()
    results.flush()
    await writer.drain()
    writer.close()


def main() -> None:
    # the server stops this child by closing its stdin once its own sends are handed over;
    # if the server dies, stdin ends as well
    run_child(_child_main())


if __name__ == "__main__":
    main()
