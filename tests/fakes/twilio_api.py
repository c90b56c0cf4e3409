"""A loopback stand-in for Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

It checks HTTP basic auth (Account SID + Auth Token), records the form fields (repeated
keys such as ``MediaUrl`` keep every value), answers a Message resource with a fresh
``SM…`` sid, and can be scripted to fail (429/500/400…), hang, answer slowly or drop the
connection, for the next requests or by a pattern (see :class:`ScriptedServer`).

It enforces the WhatsApp rules with Twilio's error codes: a ``ContentSid`` not approved
(:meth:`FakeTwilioApi.approve`, from ``haat templates export``) → 21655; ``ContentVariables``
that are not JSON, do not match the approved variables, or hold a newline, a tab or more
than 4 consecutive spaces (WhatsApp's rule, which Twilio passes on) → 21656. Free-form
``Body`` to a ``closed`` recipient is accepted (201, queued), then fails with 63016, as
Twilio reports it: the failed status callback is kept in ``callbacks`` for the test to
post, signed, as Twilio would.
"""

from __future__ import annotations

import base64
import itertools
import json
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
        self.contents: dict[str, tuple[str, ...]] = {}  # Content SID → variable keys
        self.closed: set[str] = set()  # "+E.164" of recipients outside their window
        self.callbacks: list[dict[str, str]] = []  # status callbacks Twilio would post

    def approve(self, sid: str, variables: tuple[str, ...]) -> None:
        self.contents[sid] = variables

    def _refusal(self, form: dict[str, list[str]]) -> tuple[int, int, str] | None:
        sid = (form.get("ContentSid") or [""])[0]
        if not sid:
            return None
        if self.contents and sid not in self.contents:
            return 400, 21655, "The ContentSid is Invalid"
        try:
            variables = json.loads((form.get("ContentVariables") or ["{}"])[0])
        except ValueError:
            return 400, 21656, "The Content Variables parameter is invalid"
        if not isinstance(variables, dict) or (
                sid in self.contents and tuple(variables) != self.contents[sid]):
            return 400, 21656, "The Content Variables parameter is invalid"
        for value in variables.values():
            text = str(value)
            if "\n" in text or "\t" in text or "     " in text or not text.strip():
                return 400, 21656, "The Content Variables parameter is invalid"
        return None

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
        refusal = self._refusal(fields)
        if refusal is not None:
            return _twilio_error(*refusal)
        self.received.append(Recorded(request.path, dict(request.headers), form=fields))
        sid = f"SM{next(self._ids):032x}"
        to = str(form.get("To", "")).removeprefix("whatsapp:")
        if "ContentSid" not in fields and to in self.closed:
            self.callbacks.append({
                "MessageSid": sid, "SmsSid": sid, "MessageStatus": "failed",
                "SmsStatus": "failed", "ErrorCode": "63016",
                "ErrorMessage": "Failed to send freeform message because you are outside the "
                                "allowed window.",
                "AccountSid": self.account_sid, "ApiVersion": "2010-04-01",
                "From": str(form.get("From", "")), "To": str(form.get("To", ""))})
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
