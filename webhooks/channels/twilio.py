"""Twilio WhatsApp (Programmable Messaging): signed form posts in, TwiML or REST out.

Direct replies travel back in the webhook's HTTP response as TwiML; proactive messages
(order alerts, payment receipts, reminders) go through Twilio's REST API with the
``twilio`` package's async client. WhatsApp buttons and lists need Twilio's Content API
templates, so here they degrade to numbered text (``Reply.as_text()``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final
from urllib.parse import urlsplit

import aiohttp
from multidict import MultiDict
from twilio.twiml.messaging_response import MessagingResponse

from bot.types import (
    ChannelCapability,
    InboundMessage,
    Location,
    Media,
    MessageKind,
    Reply,
    StatusKind,
    StatusUpdate,
)
from config import wire
from config.plugins import Option, load, option, options
from config.settings import Settings
from security.signatures import header
from webhooks.channels import limits
from webhooks.channels.base import (
    BadPayload,
    ChannelState,
    Delivery,
    DirectResponse,
    ExtraRoute,
    SendError,
    own_state,
    webhook_path,
)
from webhooks.security import verify_twilio_signature

if TYPE_CHECKING:
    from twilio.rest import Client

    from webhooks.channels.twilio_rest import AiohttpTwilioClient

__all__ = ["TwilioAdapter", "public_request_url", "render_twiml"]

log = logging.getLogger(__name__)

CHANNEL: Final = "twilio"
SIGNATURE_HEADER: Final = "X-Twilio-Signature"
SEND_TIMEOUT_SECONDS: Final = 15.0
_PREFIX: Final = "whatsapp:"
_STATUS: Final = {
    "accepted": StatusKind.ACCEPTED, "queued": StatusKind.ACCEPTED,
    "scheduled": StatusKind.ACCEPTED, "sending": StatusKind.ACCEPTED,
    "sent": StatusKind.SENT, "delivered": StatusKind.DELIVERED, "read": StatusKind.READ,
    "failed": StatusKind.FAILED, "undelivered": StatusKind.FAILED,
    "canceled": StatusKind.FAILED,
}
_INBOUND_STATUSES: Final = frozenset({"received", "receiving"})
_MEDIA_KINDS: Final = {"image": "image", "audio": "audio", "video": "video"}
_EMPTY_TWIML: Final = str(MessagingResponse()).encode()
# a Twilio webhook has ~40 fields (plus two per media item, at most 10): more is not Twilio,
# and every field costs the signature check a sort and a concatenation
_MAX_FIELDS: Final = 256
_MAX_VALUE: Final = 4096  # Body is at most 1,600 characters
_MAX_ID: Final = 128  # inbound_messages.message_id (bot/models.py)
_MAX_USER: Final = 64  # customer and business numbers


def public_request_url(public_base: str, url: str) -> str:
    """The URL Twilio signed: the configured public scheme and host + the request's path.

    ``url`` is what the server saw (absolute, or just ``request.raw_path``); behind a TLS
    proxy its scheme and host are wrong, so only its path and raw query are kept. A path
    prefix in HAAT_PUBLIC_URL is added when the proxy stripped it.
    """
    seen = urlsplit(url)
    public = urlsplit(public_base)
    prefix = public.path.rstrip("/")
    path = seen.path or "/"
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        path = prefix + path
    query = f"?{seen.query}" if seen.query else ""
    return f"{public.scheme}://{public.netloc}{path}{query}"


def _strip(address: str) -> str:
    return address.removeprefix(_PREFIX).strip()


def _identity(form: Mapping[str, str]) -> tuple[str, str | None]:
    """(customer, phone): WaId digits when there is a phone, else the BSUID."""
    sender = _strip(form.get("From", ""))[:_MAX_USER]
    wa_id = wire.digits(form.get("WaId", "").strip().removeprefix("+"), 20)
    if not wa_id and sender.startswith("+"):
        wa_id = wire.digits(sender[1:], 20)
    if wa_id:
        return wa_id, "+" + wa_id
    bsuid = _strip(form.get("ExternalUserId", ""))[:_MAX_USER] or sender
    return bsuid, None


def _location(form: Mapping[str, str]) -> Location | None:
    try:
        lat, lon = float(form["Latitude"][:64]), float(form["Longitude"][:64])
    except (KeyError, ValueError):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also refuses nan and inf
        return None
    return Location(lat, lon, form.get("Label") or None, form.get("Address") or None)


def _media(form: Mapping[str, str]) -> tuple[Media, ...]:
    count = wire.bounded_int(form.get("NumMedia") or 0, lo=0, hi=10)
    if count is None:
        return ()
    items = []
    for i in range(min(count, 10)):
        url = form.get(f"MediaUrl{i}")
        if not url:
            continue
        mime = form.get(f"MediaContentType{i}") or None
        major = (mime or "").split("/", 1)[0]
        items.append(Media(_MEDIA_KINDS.get(major, "document"), url, mime))
    return tuple(items)


def _inbound(form: Mapping[str, str], message_id: str) -> InboundMessage | None:
    customer, phone = _identity(form)
    if not customer:
        return None
    body = form.get("Body", "")
    fields: dict[str, Any] = {"text": body}
    payload = form.get("ButtonPayload") or form.get("ListId")
    label = form.get("ButtonText") or form.get("ListTitle")
    location = _location(form)
    media = _media(form)
    if payload or label:
        kind, raw = MessageKind.BUTTON, "button"
        fields = {"text": label or body, "button_payload": payload or label,
                  "button_title": label or None}
    elif location is not None:
        kind, raw = MessageKind.LOCATION, "location"
        fields["location"] = location
    elif media:
        kind, raw = MessageKind.MEDIA, "media"
        fields["media"] = media
    elif body:
        kind, raw = MessageKind.TEXT, "text"
    else:
        kind, raw = MessageKind.UNKNOWN, form.get("MessageType", "")
    return InboundMessage(
        channel=CHANNEL,
        message_id=message_id,
        customer=customer,
        kind=kind,
        business=_strip(form.get("To", ""))[:_MAX_USER],
        profile_name=form.get("ProfileName") or None,
        reply_to=form.get("OriginalRepliedMessageSid") or None,
        raw_kind=form.get("MessageType") or raw,
        phone=phone,
        **fields,
    )


def parse_form(form: Mapping[str, str], *, checked: bool = False) -> Delivery:
    """A decoded Twilio webhook form → Delivery (one message or one status).

    Every value is made storable first (``%00`` decodes to NUL; config/wire.py) and cut to
    a bounded length, unless the caller ``checked`` that the body holds no NUL and no value
    that long: the signature was checked on the values as sent.
    """
    if not checked:
        form = _storable(form)
    message_id = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
    if not message_id:
        raise BadPayload("no MessageSid: not a Twilio messaging webhook")
    if len(message_id) > _MAX_ID:
        raise BadPayload("MessageSid is too long")
    status = form.get("MessageStatus", "").lower()
    if status and status not in _INBOUND_STATUSES:
        return Delivery(statuses=(StatusUpdate(
            channel=CHANNEL, message_id=message_id,
            status=_STATUS.get(status, StatusKind.UNKNOWN),
            recipient=_strip(form.get("To", "")),
            error_code=form.get("ErrorCode") or None,
            error_title=form.get("ErrorMessage") or None,
        ),))
    message = _inbound(form, message_id)
    if message is None:
        log.warning("twilio message without a sender skipped")
        return Delivery()
    return Delivery(messages=(message,))


def _storable(form: Mapping[str, str]) -> Mapping[str, str]:
    """The first value of each field, storable and bounded (config/wire.py).

    Percent-decoding replaces invalid UTF-8 (no surrogates can appear), so only NUL and
    length need looking at.
    """
    out: dict[str, str] = {}
    for key, value in form.items():
        out.setdefault(wire.clean(key)[:_MAX_ID], wire.clean(value)[:_MAX_VALUE])
    return out


def _form(body: bytes) -> MultiDict[str]:
    """The fields as ``parse_qsl`` decodes them (the signature is over those), at C speed."""
    try:
        return MultiDict(wire.form_pairs(body, max_fields=_MAX_FIELDS))
    except UnicodeDecodeError as exc:
        raise BadPayload("form body is not UTF-8") from exc
    except wire.TooManyFields as exc:  # more fields than any Twilio webhook has
        raise BadPayload("too many form fields") from exc


def render_twiml(replies: Sequence[Reply]) -> bytes:
    """TwiML with one ``<Message>`` per reply; images and QR codes as ``<Media>``."""
    if not replies:
        return _EMPTY_TWIML
    response = MessagingResponse()
    for reply in replies:
        message = response.message(limits.trim(reply.as_text(), limits.TWILIO_BODY))
        if reply.image_url and reply.type in ("image", "payment", "product"):
            message.media(reply.image_url)
    return str(response).encode()


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    account_sid: str | None = option("TWILIO_ACCOUNT_SID", doc="the account (AC…)")
    auth_token: str | None = option("TWILIO_AUTH_TOKEN", secret=True,
                                    doc="verifies X-Twilio-Signature; REST basic auth")
    api_base_url: str | None = option("TWILIO_API_BASE_URL",
                                      doc="tests point it at tests/fakes/twilio_api.py")


class TwilioState(ChannelState):
    """The REST client, made on the first proactive send and closed with the app, and the
    last request's decoded form: verify() and parse() of one request run back to back
    with no await between them, so the form is decoded once, not twice."""

    __slots__ = ("client", "http", "last_form")

    def __init__(self) -> None:
        self.client: Client | None = None
        self.http: AiohttpTwilioClient | None = None
        self.last_form: tuple[bytes, Any] | None = None

    def form_once(self, body: bytes) -> Any:
        last = self.last_form
        if last is not None and last[0] is body:
            return last[1]
        form = _form(body)
        self.last_form = (body, form)
        return form

    def rest(self, account_sid: str | None, auth_token: str | None, api_base: str | None,
             timeout: float) -> Client:
        if self.client is None:
            # the REST client (~16 MB of imports) loads on the first proactive send: a
            # server whose sends run in the outbox's child process never needs it
            from twilio.rest import Client

            from webhooks.channels.twilio_rest import AiohttpTwilioClient

            self.http = AiohttpTwilioClient(api_base, timeout)
            # environment= keeps the client from reading os.environ (TWILIO_EDGE/REGION)
            self.client = Client(account_sid, auth_token, http_client=self.http,
                                 environment={"HAAT": "1"})
        return self.client

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        self.client = None
        self.http = None


@dataclass(frozen=True, slots=True, init=False)
class TwilioAdapter:
    """Channel adapter for Twilio WhatsApp (docs/DESIGN.md §1.3 ``/webhooks/twilio``)."""

    name: ClassVar[str] = CHANNEL
    capabilities: ClassVar[frozenset[ChannelCapability]] = frozenset({
        ChannelCapability.SERVICE_WINDOW, ChannelCapability.TEMPLATES,
        ChannelCapability.DIRECT_REPLIES, ChannelCapability.REST_SENDS})
    options: ClassVar[tuple[Option, ...]] = options(TwilioConfig)
    direct_replies = True
    response_content_type = "application/xml"
    _account_sid: str | None
    _auth_token: str | None
    _api_base: str | None
    _public_base: str
    _status_callback: str | None
    _timeout: float
    state: TwilioState

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        return True

    @classmethod
    def live(cls, settings: Settings) -> str | None:
        config = load(TwilioConfig, settings.env)
        if config.account_sid or config.auth_token:  # either one: warn, never miss
            return "Twilio (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)"
        return None

    @classmethod
    def new_state(cls, settings: Settings) -> TwilioState:
        return TwilioState()

    def __init__(self, settings: Settings, *, timeout: float = SEND_TIMEOUT_SECONDS,
                 state: ChannelState | None = None) -> None:
        config = load(TwilioConfig, settings.env)
        set_ = object.__setattr__  # frozen: set once, here
        set_(self, "_account_sid", config.account_sid)
        set_(self, "_auth_token", config.auth_token)
        set_(self, "_api_base", config.api_base_url)
        set_(self, "_public_base", settings.public_base)
        set_(self, "_status_callback", settings.public_base + webhook_path(self.name)
             if settings.public_base.startswith("https://") else None)
        set_(self, "_timeout", timeout)
        set_(self, "state", own_state(state, TwilioState))

    def extra_routes(self) -> Sequence[ExtraRoute]:
        return ()

    # inbound ---------------------------------------------------------------------------
    def verify(self, *, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Signature over HAAT_PUBLIC_URL + the request path and every POSTed field."""
        signature = header(headers, SIGNATURE_HEADER)
        if not self._auth_token or not signature:
            return False
        content_type = header(headers, "Content-Type") or ""
        params: Any
        if content_type.startswith("application/json"):
            try:
                params = body.decode("utf-8")  # the bodySHA256 variant
            except UnicodeDecodeError:
                return False
        else:
            try:
                params = self.state.form_once(body)
            except BadPayload:
                return False
        return verify_twilio_signature(public_request_url(self._public_base, url), params,
                                       signature, self._auth_token)

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        content_type = header(headers, "Content-Type") or ""
        if content_type and not content_type.startswith("application/x-www-form-urlencoded"):
            raise BadPayload("Twilio webhooks are form posts")
        # NUL can only come from "%00" (or a raw NUL), a long value only from a long body:
        # an ordinary body skips the per-field pass
        ordinary = len(body) <= _MAX_VALUE and b"%00" not in body and b"\x00" not in body
        return parse_form(self.state.form_once(body), checked=ordinary)

    def render_response(self, replies: Sequence[Reply]) -> DirectResponse:
        return DirectResponse(render_twiml(replies), self.response_content_type)

    # outbound --------------------------------------------------------------------------
    def _message_args(self, business: str, to: str, reply: Reply) -> dict[str, Any]:
        args: dict[str, Any] = {"to": _PREFIX + _address(to)}
        if business.startswith("MG"):  # a Messaging Service picks the sender itself
            args["messaging_service_sid"] = business
        else:
            args["from_"] = _PREFIX + _address(business)
        # Twilio names approved templates by Content SID (HX…, per language: shop.yaml
        # ``templates: {event: {twilio: …}}``); its variables are named as the event's are
        # (``haat templates export`` defines them so), else numbered
        content_sid = reply.extra.get("content_sid") or (
            reply.template if reply.template and reply.template.startswith("HX") else None)
        if reply.type == "template" and content_sid:
            names = reply.extra.get("param_names")
            keys = ([str(n) for n in names] if isinstance(names, list)
                    and len(names) == len(reply.params)
                    else [str(i) for i in range(1, len(reply.params) + 1)])
            args["content_sid"] = str(content_sid)
            args["content_variables"] = json.dumps(
                dict(zip(keys, (str(p) for p in reply.params), strict=True)),
                ensure_ascii=False)
        elif reply.type == "template":
            # free text here would only come back as 63016: the outbox marks it instead
            raise SendError("no Twilio Content SID for this template (shop.yaml templates: "
                            "EVENT: {twilio: HX…})", retryable=False, code="no_content_sid")
        else:
            args["body"] = limits.trim(reply.as_text(), limits.TWILIO_BODY)
            if reply.image_url and reply.type in ("image", "payment", "product"):
                args["media_url"] = [reply.image_url]
        if self._status_callback:
            args["status_callback"] = self._status_callback
        return args

    async def send(self, session: aiohttp.ClientSession, *, business: str, to: str,
                   reply: Reply, idempotency_key: str) -> str:
        """Create one message through the REST API; returns its MessageSid.

        Twilio has no idempotency key for messages, so ``idempotency_key`` is unused and
        the outbox is what prevents duplicates: it retries only on ``retryable`` errors.
        ``code="connect"`` means the request never left (always safe to retry);
        ``code="timeout"`` means the answer was lost and Twilio may have accepted the
        message. ``session`` is unused: the twilio client keeps its own pooled session.
        """
        if not self._account_sid or not self._auth_token:
            raise SendError("TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN are not set",
                            retryable=False, code="not_configured")
        if not business:
            raise SendError("no sender number for this business", retryable=False,
                            code="unknown_business")
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        args = self._message_args(business, to, reply)
        try:
            message = await self.state.rest(
                self._account_sid, self._auth_token, self._api_base,
                self._timeout).messages.create_async(**args)
        except TwilioRestException as exc:
            raise _api_error(int(exc.status), exc.msg, exc.code) from exc
        except TwilioServiceException as exc:  # an RFC 9457 problem body: Twilio's newer APIs
            raise _api_error(int(exc.status), exc.detail or exc.title, exc.code) from exc
        except aiohttp.ClientConnectorError as exc:
            raise SendError("cannot connect to Twilio", retryable=True,
                            code="connect") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SendError(f"Twilio call failed: {exc.__class__.__name__}",
                            retryable=True, code="timeout") from exc
        return str(message.sid)

    async def close(self) -> None:
        """Its state's (the app closes the state itself; twice is harmless)."""
        await self.state.close()


def _api_error(status: int, message: str, code: object) -> SendError:
    """Twilio's answer to a refused send: retried on 429 and 5xx, with Twilio's own text."""
    return SendError(f"Twilio API {status}: {message}"[:300],
                     retryable=status == 429 or status >= 500, status=status,
                     code=str(code) if code is not None else None)


def _address(number: str) -> str:
    """``"+9198…"``/``"9198…"`` → ``"+9198…"``; a BSUID (``"US.1234"``) stays as it is."""
    number = _strip(number)
    digits = number.removeprefix("+")
    return "+" + digits if digits.isdigit() else number
