"""Length-prefixed pickle frames between haat's own processes, over private pipes.

The server and its child (the outbox sender) are both this program; the pipes are
created at spawn and reach no one else, so nothing from the network is ever unpickled
here: the child parses the channels' answers before anything is framed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from webhooks.redaction import install_redaction, secrets_of

_HEADER = struct.Struct("!I")


def frame(payload: object) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next frame, or None at end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        # our own child (or parent) over a private pipe: never bytes from the network
        return pickle.loads(await reader.readexactly(size))  # noqa: S301
    except asyncio.IncompleteReadError:
        return None


class FrameBatch:
    """Items added during one event-loop tick, written as one frame when the tick ends.

    One pipe write (a syscall) and one frame for the other side to read per tick, however
    many items the tick produced. Items that find the stream closed go to ``on_dropped``.
    """

    def __init__(self, stream: asyncio.StreamWriter,
                 on_dropped: Callable[[list[Any]], None] | None = None) -> None:
        self.stream = stream
        self.on_dropped = on_dropped
        self._items: list[Any] = []

    def add(self, item: object) -> None:
        self._items.append(item)
        if len(self._items) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        items, self._items = self._items, []
        if not items:
            return
        if self.stream.is_closing():
            if self.on_dropped is not None:
                self.on_dropped(items)
            return
        self.stream.write(frame(items))  # buffered by the transport: never blocks the loop


async def stdio_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A child's stdin and stdout as asyncio streams (the frames' pipes)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


async def spawn_child(module: str, hello: object, *args: str, ready_within: float,
                      **kwargs: Any) -> asyncio.subprocess.Process | None:
    """``python -m module *args`` with frames on its stdin/stdout: sends ``hello`` and waits
    for its "ready" frame; None (and the child gone) when it is not ready in time."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=None, **kwargs)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(frame(hello))
    try:
        ready = await asyncio.wait_for(read_frame(proc.stdout), ready_within)
    except TimeoutError:
        ready = None
    if ready == "ready":
        return proc
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()
    return None


async def child_start(role: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Any]:
    """In a child: its frame streams and the parent's hello, ``(Settings, ...)``, with
    logging set up at the server's level; the hello is None if the parent went away."""
    reader, writer = await stdio_streams()
    hello = await read_frame(reader)
    if hello is not None:
        logging.basicConfig(level=hello[0].log_level, stream=sys.stderr,
                            format=f"%(asctime)s %(levelname)s {role} %(name)s: %(message)s")
        install_redaction(secrets_of(hello[0]))  # the children's logs are redacted too
    return reader, writer, hello


def run_child(main: Coroutine[Any, Any, None]) -> None:
    """Run a child's main coroutine on uvloop (asyncio if it is missing).

    Ctrl-C in a terminal (SIGINT) and a service manager's stop (SIGTERM to the whole group)
    reach the children too; they ignore both, because the server decides when each child
    stops (it says so over the pipe, or the pipe ends when the server is gone).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    runner(main)
