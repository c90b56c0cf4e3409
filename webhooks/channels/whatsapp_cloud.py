"""Meta WhatsApp Cloud API: the channel adapter (verify, parse, send), over its inbound
(``whatsapp_inbound.py``) and outbound (``whatsapp_outbound.py``) halves.

Replies are never direct: every message goes out through the outbox and
:meth:`WhatsAppCloudAdapter.send`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import aiohttp
from aiohttp import web

from bot.types import ChannelCapability, Reply
from config import wire
from config.plugins import Option, load, option, options
from config.settings import Settings
from security.signatures import header
from webhooks.channels.base import (
    ChannelState,
    Delivery,
    DirectResponse,
    ExtraRoute,
    SendError,
    own_state,
    webhook_path,
)
from webhooks.channels.whatsapp_inbound import (
    CHANNEL,
    SEND_TIMEOUT_SECONDS,
    SIGNATURE_HEADER,
    e164,
    load_body,
    parse_envelope,
)
from webhooks.channels.whatsapp_outbound import (
    CARD_REFUSED_CODES,
    RETRYABLE_CODES,
    build_message,
    error_info,
    fallback_message,
)
from webhooks.partner_json import call_json
from webhooks.security import verify_meta_signature

__all__ = [
    "WhatsAppCloudAdapter",
    "build_message",
    "parse_envelope",
]

log = logging.getLogger(__name__)

_MAX_KNOWN_NUMBERS: Final = 1024


@dataclass(frozen=True, slots=True)
class WhatsAppConfig:
    app_secret: str | None = option("WHATSAPP_APP_SECRET", secret=True,
                                    doc="verifies X-Hub-Signature-256")
    verify_token: str | None = option("WHATSAPP_VERIFY_TOKEN", secret=True,
                                      doc="answers Meta's GET subscription handshake")
    access_token: str | None = option("WHATSAPP_ACCESS_TOKEN", secret=True,
                                      doc="Graph API bearer token for sends")
    api_base_url: str = option("WHATSAPP_API_BASE_URL", "https://graph.facebook.com/v21.0",
                               doc="tests point it at tests/fakes/graph_api.py")
    throughput: str = option("WHATSAPP_THROUGHPUT", "80",
                             doc="messages a second the number may send (its throughput "
                                 "tier: 80 by default, up to 1,000 once Meta upgrades it); "
                                 "broadcasts are paced to it")


def throughput(settings: Settings) -> int:
    """``WHATSAPP_THROUGHPUT`` as a number (``haat check`` reports a bad one)."""
    value = load(WhatsAppConfig, settings.env).throughput
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise ValueError("WHATSAPP_THROUGHPUT must be a whole number of messages a second "
                         f"from 1 to 10000, got {value[:20]!r}")
    return int(value)


class WhatsAppState(ChannelState):
    """Each business number's phone_number_id, learned from inbound metadata: a send names
    the "+E.164" number, the Graph API wants the id."""

    __slots__ = ("number_ids",)

    def __init__(self) -> None:
        self.number_ids: dict[str, str] = {}

    def learn(self, numbers: Mapping[str, str]) -> None:
        """Keep the first id seen for each number, up to ``_MAX_KNOWN_NUMBERS`` numbers."""
        known = self.number_ids
        for business, number_id in numbers.items():
            if business not in known and len(known) < _MAX_KNOWN_NUMBERS:
                known[business] = number_id


@dataclass(frozen=True, slots=True, init=False)
class WhatsAppCloudAdapter:
    """Channel adapter for the WhatsApp Cloud API (docs/DESIGN.md §1.3 ``/webhooks/whatsapp``)."""

    name: ClassVar[str] = CHANNEL
    capabilities: ClassVar[frozenset[ChannelCapability]] = frozenset({
        ChannelCapability.SERVICE_WINDOW, ChannelCapability.BUTTONS, ChannelCapability.LISTS,
        ChannelCapability.TEMPLATES, ChannelCapability.REST_SENDS,
        ChannelCapability.ADDRESS_FORMS, ChannelCapability.PRODUCT_MESSAGES})
    options: ClassVar[tuple[Option, ...]] = options(WhatsAppConfig)
    direct_replies = False
    response_content_type = "text/plain"

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        return True

    @classmethod
    def live(cls, settings: Settings) -> str | None:
        config = load(WhatsAppConfig, settings.env)
        if config.access_token or config.app_secret:
            return "Cloud API (WHATSAPP_ACCESS_TOKEN / WHATSAPP_APP_SECRET)"
        return None

    _app_secret: str | None
    _verify_token: str | None
    _access_token: str | None
    _base_url: str
    _timeout: aiohttp.ClientTimeout
    state: WhatsAppState

    @classmethod
    def new_state(cls, settings: Settings) -> WhatsAppState:
        return WhatsAppState()

    def __init__(self, settings: Settings, *, timeout: float = SEND_TIMEOUT_SECONDS,
                 state: ChannelState | None = None) -> None:
        config = load(WhatsAppConfig, settings.env)
        set_ = object.__setattr__  # frozen: set once, here
        set_(self, "_app_secret", config.app_secret)
        set_(self, "_verify_token", config.verify_token)
        set_(self, "_access_token", config.access_token)
        set_(self, "_base_url", config.api_base_url.rstrip("/"))
        set_(self, "_timeout", aiohttp.ClientTimeout(total=timeout))
        set_(self, "state", own_state(state, WhatsAppState))

    # inbound ---------------------------------------------------------------------------
    def verify(self, *, url: str, headers: Mapping[str, str], body: bytes) -> bool:
        return verify_meta_signature(body, header(headers, SIGNATURE_HEADER),
                                     self._app_secret)

    def extra_routes(self) -> Sequence[ExtraRoute]:
        """Meta's GET handshake on the webhook's own path."""
        return (ExtraRoute("GET", webhook_path(self.name), self._subscription),)

    async def _subscription(self, request: web.Request) -> web.Response:
        challenge = self.verify_subscription(request.query)
        if challenge is None:
            return web.Response(status=403, text="verification failed")
        # Meta's challenge is a number; an echo must at least be encodable (a query may
        # decode to a lone surrogate) and short
        return web.Response(text=wire.clean(challenge)[:256])

    def verify_subscription(self, params: Mapping[str, str]) -> str | None:
        """The ``hub.challenge`` to echo for Meta's GET handshake, or None (answer 403)."""
        token = params.get("hub.verify_token")
        if (not self._verify_token or token is None
                or params.get("hub.mode") != "subscribe"):
            return None
        if not hmac.compare_digest(token.encode(), self._verify_token.encode()):
            return None
        return params.get("hub.challenge")

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Delivery:
        delivery, numbers = parse_envelope(load_body(body))
        if numbers:
            self.state.learn(numbers)
        return delivery

    def render_response(self, replies: Sequence[Reply]) -> DirectResponse:
        """Meta only wants a fast 200; replies go out through the Graph API."""
        return DirectResponse(b"", self.response_content_type)

    # outbound --------------------------------------------------------------------------
    def phone_number_id_for(self, business: str) -> str | None:
        """``business`` as given to :meth:`send`: a phone_number_id, or the "+E.164" number
        seen in an inbound ``metadata.display_phone_number``."""
        if business.startswith("+"):
            return self.state.number_ids.get(e164(business))
        return business if business.isdigit() else None

    async def send(self, session: aiohttp.ClientSession, *, business: str, to: str,
                   reply: Reply, idempotency_key: str) -> str:
        """POST one message; returns the wamid.

        The Graph API has no idempotency key. The key travels as
        ``biz_opaque_callback_data`` so status webhooks echo it and a duplicate can be
        traced; a retry can only duplicate when a request was sent but its answer lost,
        which is reported as ``SendError(code="timeout")`` (``"connect"`` means nothing
        left this machine and a retry is always safe).
        """
        if not self._access_token:
            raise SendError("WHATSAPP_ACCESS_TOKEN is not set", retryable=False,
                            code="not_configured")
        number_id = self.phone_number_id_for(business)
        if number_id is None:
            raise SendError("unknown phone_number_id for this business number",
                            retryable=False, code="unknown_business")
        if reply.type == "template" and not reply.template:
            # a template mapped for Twilio only: free text would only come back as 131047
            raise SendError("no Cloud API name for this template (shop.yaml templates: "
                            "EVENT: {whatsapp: NAME})", retryable=False,
                            code="no_template_name")
        payload = build_message(to, reply)
        try:
            return await self._post(session, number_id, payload, idempotency_key)
        except SendError as exc:
            # a card Meta refused for its set-up (payments, catalog, address form): nothing
            # was sent, so the plain version goes now (whatsapp_outbound.fallback_message)
            fallback = fallback_message(to, reply)
            if exc.code is None or fallback is None or exc.retryable or \
                    not exc.code.isdigit() or int(exc.code) not in CARD_REFUSED_CODES:
                raise
            log.info("Graph refused a %s card (code %s); sending its plain version",
                     reply.type, exc.code)
            return await self._post(session, number_id, fallback, idempotency_key)

    async def _post(self, session: aiohttp.ClientSession, number_id: str,
                    payload: dict[str, Any], idempotency_key: str) -> str:
        if idempotency_key:
            payload["biz_opaque_callback_data"] = idempotency_key[:512]
        url = f"{self._base_url}/{number_id}/messages"
        headers = {"Authorization": f"Bearer {self._access_token}"}
        try:
            status, data = await call_json(session, "POST", url, json=payload, headers=headers,
                                           timeout=self._timeout)
        except aiohttp.ClientConnectorError as exc:
            raise SendError(f"cannot connect to Graph API: {exc.__class__.__name__}",
                            retryable=True, code="connect") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SendError(f"Graph API call failed: {exc.__class__.__name__}",
                            retryable=True, code="timeout") from exc
        if 200 <= status < 300:
            try:
                return str(data["messages"][0]["id"])
            except (TypeError, KeyError, IndexError) as exc:
                raise SendError("Graph API answered without a message id",
                                retryable=False, status=status) from exc
        code, message = error_info(data)
        retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
        raise SendError(f"Graph API {status}: {message}"[:300], retryable=retryable,
                        status=status, code=str(code) if code is not None else None)

    async def close(self) -> None:
        """Its state's (nothing to release: the shared ClientSession belongs to the app)."""
        await self.state.close()


