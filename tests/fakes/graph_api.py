"""A loopback stand-in for the Graph API ``POST /{phone_number_id}/messages``.

It checks the Bearer token, records every JSON body, answers like Meta (a wamid, or
Meta's error envelope) and can be scripted to fail, hang, answer slowly or drop the
connection: for the next requests, or by a pattern over the request number (``pattern``).

It enforces WhatsApp's rules with Meta's error codes (docs/CHANNELS.md cites them):

- template parameters: a newline, a tab or more than 4 consecutive spaces → 132018;
  once templates are registered (:meth:`FakeGraphApi.approve`, from ``haat templates
  export``), an unknown name or language → 132001, parameters that do not match the
  approved ones (count or names) → 132000;
- ``closed`` recipients (their 24-hour window is closed): free-form → 131047, answered at
  once, or (``window_receipts``) accepted and then reported as a failed status, as Meta
  does, kept in ``failed_statuses`` for the test to post as Meta's webhook would;
- ``undeliverable`` recipients → 131026; ``marketing_capped`` recipients and a marketing
  template → 131049; throughput (130429) through :meth:`ScriptedServer.fail_next`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
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
    delay: float = 0.0  # seconds to wait before answering (with status 200: a slow success)
    drop: bool = False  # close the connection without an answer, before processing
    held: bool = False  # with status 200: answer normally once the test calls release()
    page: str | None = None  # answer this text/html body instead of Graph's JSON error
    body: dict[str, Any] | None = None  # answer this JSON error body as given


SLOW_OK = 200  # a Failure with this status and a delay is a slow success


def slow(seconds: float) -> Failure:
    return Failure(SLOW_OK, delay=seconds)


def dropped() -> Failure:
    """The connection is cut before the request is processed (nothing was accepted)."""
    return Failure(0, drop=True)


class ScriptedServer:
    """Shared plumbing: a script of failures, a record of requests, a URL on 127.0.0.1."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[Recorded] = []
        self.attempts = 0  # every request, including failed and rejected ones
        self._script: list[Failure] = []
        self._pattern: Callable[[int], Failure | None] | None = None
        self._numbered = 0
        self._closing = asyncio.Event()
        self._released = asyncio.Event()
        self.holding = 0  # requests waiting for release() now
        self.faults: dict[str, int] = {}  # what was injected, by kind (tests report it)

    def fail_next(self, count: int = 1, *, status: int = 500, code: int | None = None,
                  message: str = "scripted failure") -> None:
        """The next ``count`` authorised requests answer ``status`` (with ``code``)."""
        self._script.extend(Failure(status, code, message) for _ in range(count))

    def proxy_error_next(self, status: int = 502) -> None:
        """The next request gets an HTML error page, as a proxy in front of the API answers:
        a status and no error code."""
        self._script.append(Failure(status, page=f"<html><h1>{status}</h1></html>"))

    def hang_next(self, count: int = 1) -> None:
        """The next ``count`` requests never answer (until the server stops)."""
        self._script.extend(Failure(0) for _ in range(count))

    def hold_next(self, count: int = 1) -> None:
        """The next ``count`` requests wait for :meth:`release`, then answer normally (a
        slow API whose answer comes exactly when the test says)."""
        self._script.extend(Failure(SLOW_OK, held=True) for _ in range(count))

    def release(self) -> None:
        self._released.set()

    def pattern(self, choose: Callable[[int], Failure | None] | None) -> None:
        """From now on, request number ``n`` (1-based, authorised ones) gets ``choose(n)``:
        a :class:`Failure` (or :func:`slow` / :func:`dropped`) or None for a normal answer."""
        self._pattern = choose
        self._numbered = 0

    async def _scripted(self, request: web.Request) -> Failure | None:
        failure: Failure | None = None
        if self._script:
            failure = self._script.pop(0)
        elif self._pattern is not None:
            self._numbered += 1
            failure = self._pattern(self._numbered)
        if failure is None:
            return None
        kind = ("drop" if failure.drop else "hang" if failure.status == 0 else
                "held" if failure.held else
                "slow" if failure.status == SLOW_OK else str(failure.status))
        self.faults[kind] = self.faults.get(kind, 0) + 1
        if failure.drop:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("scripted drop")
        if failure.status == 0:
            await self._closing.wait()
        if failure.held:
            self.holding += 1
            try:
                await self._released.wait()
            finally:
                self.holding -= 1
        if failure.delay:
            await asyncio.sleep(failure.delay)
        return None if failure.status == SLOW_OK else failure

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


@dataclass(frozen=True)
class ApprovedTemplate:
    params: tuple[str, ...]  # named parameters, in body order
    category: str = "UTILITY"


class FakeGraphApi(ScriptedServer):
    def __init__(self, access_token: str = ACCESS_TOKEN) -> None:
        super().__init__()
        self.access_token = access_token
        self._ids = itertools.count(1)
        self.templates: dict[tuple[str, str], ApprovedTemplate] = {}
        self.closed: set[str] = set()
        self.window_receipts = False
        self.failed_statuses: list[tuple[str, str, int]] = []  # (wamid, recipient, code)
        self.undeliverable: set[str] = set()
        self.marketing_capped: set[str] = set()
        # a request whose client went away during a scripted delay is still processed, as
        # the real API does (tests/e2e/test_16_sends_across_kill.py); off by default
        self.takes_abandoned = False
        # the ids the next accepted messages are answered with, before the numbered wamids
        # (an id haat cannot store: tests/contract/test_outbox_recovery.py)
        self.message_ids: list[str] = []

    def approve(self, exported: list[dict[str, Any]]) -> None:
        """Register ``message_templates`` bodies (``haat templates export``) as approved."""
        for template in exported:
            body = next(c for c in template["components"] if c["type"] == "body")
            names = tuple(p["param_name"] for p in body.get("example", {}).get(
                "body_text_named_params", ()))
            self.templates[(template["name"], template["language"])] = ApprovedTemplate(
                names, template["category"])

    def _refusal(self, payload: dict[str, Any], to: str) -> tuple[int, int, str] | None:
        """Meta's answer to a message that breaks its rules: (HTTP status, code, text)."""
        if to in self.undeliverable:
            return 400, 131026, "Message undeliverable"
        if payload.get("type") != "template":
            if to in self.closed and not self.window_receipts:
                return 400, 131047, "Re-engagement message"
            return None
        template = payload.get("template") or {}
        params = [p for c in template.get("components", ()) if c.get("type") == "body"
                  for p in c.get("parameters", ())]
        for param in params:
            text = str(param.get("text", ""))
            if "\n" in text or "\t" in text or "     " in text or not text.strip():
                return 400, 132018, "There was an issue with the parameters in your template."
        if not self.templates:
            return None
        key = (str(template.get("name")), str((template.get("language") or {}).get("code")))
        approved = self.templates.get(key)
        if approved is None:
            return 404, 132001, "Template name does not exist in the translation"
        if sorted(str(p.get("parameter_name")) for p in params) != sorted(approved.params):
            return 400, 132000, "Number of parameters does not match the expected number"
        if approved.category == "MARKETING" and to in self.marketing_capped:
            return 400, 131049, "This message was not delivered to maintain healthy ecosystem"
        return None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{number_id}/messages", self._messages)
        app.router.add_post("/{version}/{number_id}/messages", self._messages)
        return app

    async def _messages(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return _graph_error(401, 190, "Invalid OAuth access token.")
        # with takes_abandoned, the body is read first: a slow answer's request is then
        # processed even when the client is gone before the answer (a send in doubt)
        payload = await request.json() if self.takes_abandoned else None
        failure = await self._scripted(request)
        if failure is not None and failure.page is not None:
            return web.Response(status=failure.status, text=failure.page,
                                content_type="text/html")
        if failure is not None:
            return _graph_error(failure.status, failure.code or 131000, failure.message)
        if payload is None:
            payload = await request.json()
        to = payload.get("to") or payload.get("recipient") or ""
        refusal = self._refusal(payload, to)
        if refusal is not None:
            return _graph_error(*refusal)
        self.received.append(Recorded(request.path, dict(request.headers), json=payload))
        wamid = (self.message_ids.pop(0) if self.message_ids
                 else f"wamid.FAKE{next(self._ids):06d}")
        if payload.get("type") != "template" and to in self.closed:
            self.failed_statuses.append((wamid, to, 131047))  # accepted, then refused
        return web.json_response({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid}],
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
