"""A loopback stand-in for Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

It checks HTTP basic auth (Account SID + Auth Token), records the form fields (repeated
keys such as ``MediaUrl`` keep every value), answers a Message resource with a fresh
``SM…`` sid, and can be scripted to fail (429/500/400…), hang, answer slowly or drop the
connection, for the next requests or by a pattern (see :class:`ScriptedServer`).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.fakes.graph_api import Recorded, ScriptedServer

ACCOUNT_SID = "ACtest"
AUTH_TOKEN = "test-auth-token"


class FakeTwilioApi(ScriptedServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                 ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._messages)
        return app

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return (request.match_info["sid"] == self.account_sid
                and request.headers.get("Authorization") == f"Basic {expected}")

    async def _messages(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if not self._authorised(request):
            return _twilio_error(401, 20003, "Authenticate")
        failure = await self._scripted(request)
        if failure is not None:
            return _twilio_error(failure.status, failure.code or 20500, failure.message)
        form = await request.post()
        fields: dict[str, list[str]] = {}
        for key, value in form.items():
            fields.setdefault(key, []).append(str(value))
        self.received.append(Recorded(request.path, dict(request.headers), form=fields))
        sid = f"SM{next(self._ids):032x}"
        return web.json_response({
            "sid": sid, "account_sid": self.account_sid, "status": "queued",
            "to": form.get("To"), "from": form.get("From"), "body": form.get("Body"),
            "num_media": str(len(fields.get("MediaUrl", []))), "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }, status=201)


def _twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                             status=status)


@asynccontextmanager
async def run_fake_twilio_api(account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                              ) -> AsyncIterator[FakeTwilioApi]:
    """``async with run_fake_twilio_api() as fake:`` → ``fake.url``, ``fake.received``."""
    fake = FakeTwilioApi(account_sid, auth_token)
    async with fake.running():
        yield fake
