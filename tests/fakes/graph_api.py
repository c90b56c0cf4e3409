"""A loopback stand-in for the Graph API ``POST /{phone_number_id}/messages``.

It checks the Bearer token, records every JSON body, answers like Meta (a wamid, or
Meta's error envelope) and can be scripted to fail or hang the next requests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ACCESS_TOKEN = "test-access-token"


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Failure:
    status: int  # 0 = hang until the client gives up
    code: int | None = None
    message: str = "scripted failure"


class ScriptedServer:
    """Shared plumbing: a script of failures, a record of requests, a URL on 127.0.0.1."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[Recorded] = []
        self.attempts = 0  # every request, including failed and rejected ones
        self._script: list[Failure] = []
        self._closing = asyncio.Event()

    def fail_next(self, count: int = 1, *, status: int = 500, code: int | None = None,
                  message: str = "scripted failure") -> None:
        """The next ``count`` authorised requests answer ``status`` (with ``code``)."""
        self._script.extend(Failure(status, code, message) for _ in range(count))

    def hang_next(self, count: int = 1) -> None:
        """The next ``count`` requests never answer (until the server stops)."""
        self._script.extend(Failure(0) for _ in range(count))

    async def _scripted(self) -> Failure | None:
        if not self._script:
            return None
        failure = self._script.pop(0)
        if failure.status == 0:
            await self._closing.wait()
        return failure

    def app(self) -> web.Application:
        raise NotImplementedError

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ScriptedServer]:
        runner = web.AppRunner(self.app(), shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        try:
            yield self
        finally:
            self._closing.set()
            await runner.cleanup()


class FakeGraphApi(ScriptedServer):
    def __init__(self, access_token: str = ACCESS_TOKEN) -> None:
        super().__init__()
        self.access_token = access_token
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{number_id}/messages", self._messages)
        app.router.add_post("/{version}/{number_id}/messages", self._messages)
        return app

    async def _messages(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return _graph_error(401, 190, "Invalid OAuth access token.")
        failure = await self._scripted()
        if failure is not None:
            return _graph_error(failure.status, failure.code or 131000, failure.message)
        payload = await request.json()
        self.received.append(Recorded(request.path, dict(request.headers), json=payload))
        to = payload.get("to") or payload.get("recipient") or ""
        return web.json_response({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": f"wamid.FAKE{next(self._ids):06d}"}],
        })


def _graph_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"error": {
        "message": f"(#{code}) {message}", "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": "AFakeTrace"}}, status=status)


@asynccontextmanager
async def run_fake_graph_api(access_token: str = ACCESS_TOKEN,
                             ) -> AsyncIterator[FakeGraphApi]:
    """``async with run_fake_graph_api() as fake:`` → ``fake.url``, ``fake.received``."""
    fake = FakeGraphApi(access_token)
    async with fake.running():
        yield fake
