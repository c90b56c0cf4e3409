"""Length-prefixed pickle frames between haat's own processes, over private pipes.

The server and its children (the outbox sender, HTTP workers) are all this program; the
pipes are created at spawn and reach no one else, so nothing from the network is ever
unpickled here: the children parse and verify network bytes before anything is framed.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
import sys
from typing import Any

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


async def stdio_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A child's stdin and stdout as asyncio streams (the frames' pipes)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer
