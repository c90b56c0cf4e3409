"""A loopback stand-in for Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

It checks HTTP basic auth (Account SID + Auth Token), records the form fields (repeated
keys such as ``MediaUrl`` keep every value), answers a Message resource with a fresh
``SM…`` sid, and can be scripted to fail (429/500/400…), hang, answer slowly or drop the
connection, for the next requests or by a pattern (see :class:`ScriptedServer`).

Its errors are Twilio's REST error JSON (``code``, ``message``, ``more_info``, ``status``:
https://www.twilio.com/docs/usage/twilios-response), with any message
(``fail_next(message=…)``, long ones too).
Two answers carry no Twilio code: :meth:`FakeTwilioApi.codeless_error_next` (Twilio's
JSON with ``"code": null`` and no ``more_info``, an error Twilio has no code for) and
``proxy_error_next`` (an HTML page from a proxy in front of the API, not JSON at all).
:meth:`FakeTwilioApi.problem_next` answers an RFC 9457 problem body instead (``type``,
``title``, ``status``, ``code``: the error shape of Twilio's newer APIs).

It enforces the WhatsApp rules with Twilio's error codes: a ``ContentSid`` not approved
(:meth:`FakeTwilioApi.approve`, from ``haat templates export``) → 21655; ``ContentVariables``
that are not JSON, do not match the approved variables, or hold a newline, a tab or more
than 4 consecutive spaces (WhatsApp's rule, which Twilio passes on) → 21656. Free-form
``Body`` to a ``closed`` recipient is accepted (201, queued), then fails with 63016, as
Twilio reports it: the failed status callback is kept in ``callbacks`` for the test to
post, signed, as Twilio would.

Its Content API half, ``GET /v1/ContentAndApprovals`` (Twilio serves it on
content.twilio.com; here on the same loopback server), lists what :meth:`create_content`
made, each with its WhatsApp ``approval_requests``, ``PageSize`` pages (1 to 1000, else
400 / 20001) linked by ``meta.next_page_url``, behind the same basic auth (401 / 20003).
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.fakes.graph_api import Failure, Recorded, ScriptedServer

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
        self.content_list: list[dict[str, object]] = []  # the Content API's resources
        self.content_pages = 0  # ContentAndApprovals pages served

    def codeless_error_next(self, status: int = 503,
                            message: str = "Service Unavailable") -> None:
        """The next authorised request gets Twilio's error JSON with ``"code": null``."""
        self._script.append(Failure(status, message=message, body={
            "code": None, "message": message, "more_info": None, "status": status}))

    def problem_next(self, status: int = 400, code: int = 20001,
                     title: str = "Invalid parameter", detail: str | None = None) -> None:
        """The next authorised request gets an RFC 9457 problem body (``type``, ``title``,
        ``status``, ``code``, ``detail``), the error shape of Twilio's newer APIs; the twilio
        package raises ``TwilioServiceException`` for it, not ``TwilioRestException``."""
        self._script.append(Failure(status, message=title, body={
            "type": f"https://www.twilio.com/docs/errors/{code}", "title": title,
            "status": status, "code": code, "detail": detail,
            "instance": "/2010-04-01/Accounts/Messages.json"}))

    def approve(self, sid: str, variables: tuple[str, ...]) -> None:
        self.contents[sid] = variables

    def create_content(self, definition: dict[str, object], sid: str, *,
                       status: str = "approved", rejection_reason: str = "") -> None:
        """A Content made from a ``haat templates export`` definition (its ``content`` and
        ``whatsapp_approval``), in WhatsApp approval ``status``; approved: sendable too."""
        content = definition["content"]
        approval = definition["whatsapp_approval"]
        assert isinstance(content, dict) and isinstance(approval, dict)
        self.content_list.append({
            "sid": sid, "account_sid": self.account_sid,
            "friendly_name": content["friendly_name"], "language": content["language"],
            "variables": content["variables"], "types": content["types"],
            "url": f"https://content.twilio.com/v1/Content/{sid}",
            "date_created": "2026-11-01T10:00:00Z",
            "date_updated": f"2026-11-01T10:{len(self.content_list):02d}:00Z",
            "approval_requests": {
                "name": approval["name"], "category": approval["category"],
                "content_type": "twilio/text", "status": status,
                "rejection_reason": rejection_reason, "allow_category_change": True}})
        if status == "approved":
            variables = content["variables"]
            assert isinstance(variables, dict)
            self.approve(sid, tuple(variables))

    async def _content_and_approvals(self, request: web.Request) -> web.Response:
        self.attempts += 1
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _twilio_error(401, 20003, "Authenticate")
        try:
            size = int(request.query.get("PageSize", "50"))
            page = int(request.query.get("Page", "0"))
        except ValueError:
            return _twilio_error(400, 20001, "Invalid PageSize or Page")
        if not 1 <= size <= 1000 or page < 0:
            return _twilio_error(400, 20001, "PageSize must be between 1 and 1000")
        self.content_pages += 1
        chunk = self.content_list[page * size:(page + 1) * size]
        base = f"{self.url}/v1/ContentAndApprovals"
        following = (f"{base}?PageSize={size}&Page={page + 1}&PageToken=PT{page + 1}"
                     if (page + 1) * size < len(self.content_list) else None)
        return web.json_response({"contents": chunk, "meta": {
            "page": page, "page_size": size, "key": "contents",
            "first_page_url": f"{base}?PageSize={size}&Page=0",
            "previous_page_url": None if page == 0 else f"{base}?PageSize={size}&Page={page - 1}",
            "url": f"{base}?PageSize={size}&Page={page}", "next_page_url": following}})

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
        app.router.add_get("/v1/ContentAndApprovals", self._content_and_approvals)
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
        if failure is not None and failure.page is not None:
            return web.Response(status=failure.status, text=failure.page,
                                content_type="text/html")
        if failure is not None and failure.body is not None:
            return web.json_response(failure.body, status=failure.status)
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
