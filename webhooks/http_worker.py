"""An HTTP worker process for ``haat serve --workers N`` (``python -m webhooks.http_worker``).

It accepts connections on the listening socket the server passes it, and does the edge of
every inbound webhook (HTTP parsing, the size cap, the signature check on the raw bytes,
parsing into frozen types) in its own interpreter. The parsed :class:`Delivery` goes to the
server in a frame; the server runs the turn (dedupe, storage, NLU, the conversation) and
frames back the :class:`Answer`, which becomes the HTTP response, so a 200 still means
stored. Every other route (health, admin, payments, pages) is passed through unchanged to
the server's full app on a private Unix socket.

The worker keeps no state. It stops when the server tells it to (it closes its listener and
finishes the requests it holds), and at once if the server goes away (its stdin ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import sys
from functools import partial

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from config.settings import Settings
from webhooks.channels.base import Delivery, webhook_path
from webhooks.channels.registry import build_channels
from webhooks.cli import SERVER_GC_THRESHOLDS
from webhooks.frames import FrameBatch, child_start, frame, read_frame, run_child
from webhooks.inbound import (
    MAX_BODY_BYTES,
    Answer,
    error_answer,
    error_middleware,
    verified_delivery,
)

# server → worker: (Settings, server socket path) once, then [(id, Answer), ...] or "stop"
# worker → server: "ready" once, then [("turn", id, channel, Delivery) | ("rejected",), ...]

# headers that belong to one hop, not to the request or response being passed on
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                         "proxy-authorization", "te", "trailer", "trailers",
                         "transfer-encoding", "upgrade", "content-length"})


class ServerLink:
    """Turns in flight to the server: one frame per event-loop tick each way."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.out = FrameBatch(writer)  # dropped if the server is gone: lost() answers them
        self.pending: dict[int, asyncio.Future[Answer]] = {}
        self.next_id = 0
        self.closed = False

    async def turn(self, channel: str, delivery: Delivery) -> Answer:
        if self.closed:
            return error_answer(503, "server restarting; deliver again")
        self.next_id += 1
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.out.add(("turn", self.next_id, channel, delivery))
        return await future

    def rejected(self) -> None:
        self.out.add(("rejected",))

    def answered(self, answers: list[tuple[int, Answer]]) -> None:
        for request_id, answer in answers:
            future = self.pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result(answer)

    def lost(self) -> None:
        """The server went away: whatever it held is answered 503, so the sender retries."""
        self.closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_result(error_answer(503, "server restarting; deliver again"))
        self.pending.clear()


def build_worker_app(settings: Settings, link: ServerLink,
                     proxy_session: aiohttp.ClientSession) -> web.Application:
    channels = build_channels(settings)
    public_base = settings.public_base

    async def inbound(name: str, request: web.Request) -> web.Response:
        delivery = await verified_delivery(request, channels[name], public_base)
        if isinstance(delivery, Answer):
            link.rejected()
            return delivery.response()
        return (await link.turn(name, delivery)).response()

    async def pass_through(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = CIMultiDict((key, value) for key, value in request.headers.items()
                              if key.lower() not in _HOP_BY_HOP)
        try:
            async with proxy_session.request(
                    request.method, "http://haat" + request.path_qs, headers=headers,
                    data=body, allow_redirects=False) as upstream:
                payload = await upstream.read()
                answer_headers = CIMultiDict(
                    (key, value) for key, value in upstream.headers.items()
                    if key.lower() not in _HOP_BY_HOP)
                return web.Response(status=upstream.status, headers=answer_headers,
                                    body=payload)
        except aiohttp.ClientError:
            return error_answer(503, "server restarting; try again").response()

    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[error_middleware()])
    for name in channels:
        app.router.add_post(webhook_path(name), partial(inbound, name))
    app.router.add_route("*", "/{tail:.*}", pass_through)
    return app


async def _worker_main(listen_fd: int) -> None:
    reader, writer, hello = await child_start("worker")
    if hello is None:
        return
    settings, server_path = hello
    link = ServerLink(writer)
    listener = socket.socket(fileno=listen_fd)
    proxy_session = aiohttp.ClientSession(
        connector=aiohttp.UnixConnector(path=server_path), auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=60))
    runner = web.AppRunner(build_worker_app(settings, link, proxy_session), access_log=None,
                           shutdown_timeout=20.0)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()

    async def read_server() -> None:
        while True:
            message = await read_frame(reader)
            if message is None:  # the server is gone: nobody can answer what we hold
                link.lost()
                stop.set()
                return
            if message == "stop":
                stop.set()
            else:
                link.answered(message)

    reading = asyncio.create_task(read_server())
    writer.write(frame("ready"))
    await stop.wait()
    # stop accepting and finish the requests in flight (the server still answers them)
    await runner.cleanup()
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reading
    await proxy_session.close()
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    writer.close()


def main() -> None:
    # the server stops a worker with a "stop" frame (after Ctrl-C or SIGTERM reached it);
    # if the server dies, stdin ends and the worker exits
    gc.set_threshold(*SERVER_GC_THRESHOLDS)  # as the server
    run_child(_worker_main(int(sys.argv[1])))


if __name__ == "__main__":
    main()
