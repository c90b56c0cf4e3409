"""The paranoid edge every inbound webhook shares: read, verify, parse. No state.

It is used by the server's routes, which hand the parsed :class:`Delivery` to the engine;
it imports nothing but the channels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from webhooks.channels.base import BadPayload, ChannelAdapter, Delivery

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # WhatsApp payloads are a few KB; anything larger is refused
# parsers are total (config/wire.py); if one still raises on a body, it is that body's 400
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError,
                 RecursionError)
RETRY_AFTER_SECONDS = "2"


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to one webhook request, as plain data (it crosses processes)."""

    status: int
    body: bytes
    content_type: str

    def response(self) -> web.Response:
        # a 503 is a refusal to come back later (storage locked or full, server restarting)
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if self.status == 503 else None
        return web.Response(status=self.status, body=self.body, headers=headers,
                            content_type=self.content_type, charset="utf-8")


def error_answer(status: int, message: str) -> Answer:
    return Answer(status, json.dumps({"error": message}).encode(), "application/json")


async def verified_delivery(request: web.Request, channel: ChannelAdapter,
                            public_base: str) -> Delivery | Answer:
    """The parsed delivery, or the 403/400 answer for a bad signature or body.

    The signature is checked on the raw bytes before anything is parsed (fail closed).
    """
    body = await request.read()  # size-capped by the app's client_max_size (413)
    url = public_base + str(request.rel_url)
    if not channel.verify(url=url, headers=request.headers, body=body):
        return error_answer(403, "signature check failed")
    try:
        return channel.parse(body, request.headers)
    except BadPayload as exc:
        return error_answer(400, str(exc))
    except _PARSE_ERRORS as exc:  # a parser bug on a hostile body: still the body's fault
        log.warning("unexpected %s parsing a %s body; answered 400", type(exc).__name__,
                    channel.name)
        return error_answer(400, "malformed body")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# what only a hostile or broken input can raise past the parsers (text no codec can encode,
# a number no column can hold, nesting no stack can walk): the safety net answers 400, so a
# channel does not retry a poison body for days. Parsers refuse these first (config/wire.py);
# reaching here is logged as a bug all the same.
_INPUT_ERRORS = (UnicodeError, OverflowError, RecursionError)


def route_name(request: web.Request) -> str:
    """The route template (``/pay/{token}``), never the path: paths carry tokens and phones."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


Refusal = Callable[[web.Request, Exception], web.StreamResponse]


def error_middleware(on_error: Callable[[web.Request], None] | None = None, *,
                     refusals: tuple[type[Exception], ...] = (),
                     refuse: Refusal | None = None) -> Middleware:
    """Every bad input gets a clean 4xx; an unexpected error is a logged JSON 500.

    The JSON says nothing about the error; the log names the route template and the
    exception type, and its traceback has no exception messages (webhooks/redaction.py).
    Exceptions of the ``refusals`` types are answered by ``refuse`` instead (the server's
    storage refusals: webhooks/routes.py), in this one middleware: each layer of middleware
    costs every request ~3 µs (bench/README.md).
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:
            if refuse is not None and isinstance(exc, refusals):
                return refuse(request, exc)
            if on_error is not None:
                on_error(request)
            log.exception("unhandled %s on %s %s", type(exc).__name__, request.method,
                          route_name(request))
            if isinstance(exc, _INPUT_ERRORS):
                return error_answer(400, "the request cannot be processed").response()
            return error_answer(500, "internal error").response()

    return middleware
