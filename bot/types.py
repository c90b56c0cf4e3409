"""Channel-neutral message types: what every channel parses into and renders from.

Inbound messages are frozen and forward-compatible: a kind haat does not understand is
``MessageKind.UNKNOWN``, never an exception. Replies are small frozen values that each
channel renders as well as it can (buttons become numbered text where a channel lacks them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class MessageKind(StrEnum):
    TEXT = "text"
    BUTTON = "button"  # reply button, template quick reply, list row: carries a payload
    ORDER = "order"  # WhatsApp catalog cart
    LOCATION = "location"
    MEDIA = "media"  # image, document, audio, video, sticker
    REACTION = "reaction"
    ADDRESS = "address"  # WhatsApp's address form (India): fields in ``address_form``
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> MessageKind:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One line of a WhatsApp catalog cart; price as sent by the client, never trusted."""

    sku: str
    quantity: int
    item_price_minor: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    latitude: float  # coordinates, not money: floats are fine here
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    media_type: str  # image, document, audio, video, sticker
    url_or_id: str
    mime_type: str | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One shopper (or owner) message, after signature check and parsing.

    ``customer`` is the channel's stable user id (WhatsApp wa_id / WaId digits, or the
    business-scoped user id when no phone number is given) — never a formatted string.
    ``business`` is the shop's number the message was sent to, used to route to a shop.
    """

    channel: str
    message_id: str
    customer: str
    kind: MessageKind
    business: str = ""
    text: str = ""
    # a tap: the id the bot gave the button or row (what the router dispatches on) and
    # the title the shopper saw (kept for people: handoff history, logs; never for NLU)
    button_payload: str | None = None
    button_title: str | None = None
    order_items: tuple[OrderItem, ...] = ()
    location: Location | None = None
    media: tuple[Media, ...] = ()
    profile_name: str | None = None
    timestamp: int | None = None  # unix seconds from the channel, when it gives one
    reply_to: str | None = None  # message id being replied to
    raw_kind: str = ""  # the channel's own type name, for logs and UNKNOWN diagnostics
    phone: str | None = None  # the E.164 phone when the channel gives one
    # what the channel needs to answer from this business (Cloud API: phone_number_id);
    # empty when ``business`` itself serves (Twilio: the shop's WhatsApp number)
    reply_from: str = ""
    # the address form's fields (name, in_pin_code, city, …) when kind is ADDRESS
    address_form: tuple[tuple[str, str], ...] = ()


class StatusKind(StrEnum):
    """Delivery receipts. Ordered: a status is never downgraded (read may come first)."""

    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> StatusKind:
        return cls.UNKNOWN

    @property
    def rank(self) -> int:
        return _STATUS_RANK[self]


_STATUS_RANK = {
    StatusKind.UNKNOWN: -1,
    StatusKind.ACCEPTED: 0,
    StatusKind.SENT: 1,
    StatusKind.DELIVERED: 2,
    StatusKind.READ: 3,
    StatusKind.FAILED: 4,
}


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    channel: str
    message_id: str  # our outbound message's id at the channel (wamid / MessageSid)
    status: StatusKind
    recipient: str = ""
    error_code: str | None = None
    error_title: str | None = None
    timestamp: int | None = None


class MarketingPreference(StrEnum):
    """WhatsApp's own marketing switch (the Cloud API's ``user_preferences`` webhook)."""

    STOP = "stop"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class PreferenceUpdate:
    """A shopper stopped or resumed marketing messages in WhatsApp itself."""

    channel: str
    customer: str
    business: str  # the shop's number (E.164), as on messages
    preference: MarketingPreference
    timestamp: int | None = None  # unix seconds


# ---- replies ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button or list row: ``payload`` comes back when the shopper taps it."""

    payload: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One outbound message.

    ``type`` is one of: ``text``, ``buttons`` (≤3 reply buttons), ``list`` (rows in
    sections), ``image`` (``image_url`` + caption in ``text``), ``product`` (``skus``),
    ``payment`` (text + ``link`` + optional QR ``image_url`` + ``order_details``), ``template``
    (outside the 24-hour window: ``template`` name + ``params``).
    """

    type: str
    text: str = ""
    buttons: tuple[Button, ...] = ()
    rows: tuple[Button, ...] = ()
    list_button: str = ""
    header: str = ""
    footer: str = ""
    image_url: str | None = None
    link: str | None = None
    skus: tuple[str, ...] = ()
    template: str | None = None
    params: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The simulator's and outbox's JSON form (docs/DESIGN.md §1.3)."""
        data: dict[str, Any] = {"type": self.type, "text": self.text}
        if self.buttons:
            data["buttons"] = [_button_json(b) for b in self.buttons]
        if self.rows:
            data["rows"] = [_button_json(b) for b in self.rows]
            data["list_button"] = self.list_button
        if self.header:
            data["header"] = self.header
        if self.footer:
            data["footer"] = self.footer
        if self.image_url:
            data["image_url"] = self.image_url
        if self.link:
            data["link"] = self.link
        if self.skus:
            data["skus"] = list(self.skus)
        if self.template:
            data["template"] = self.template
            data["params"] = list(self.params)
        if self.extra:
            data["extra"] = self.extra
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            type=str(data["type"]),
            text=str(data.get("text", "")),
            buttons=tuple(_button_from(b) for b in data.get("buttons", ())),
            rows=tuple(_button_from(b) for b in data.get("rows", ())),
            list_button=str(data.get("list_button", "")),
            header=str(data.get("header", "")),
            footer=str(data.get("footer", "")),
            image_url=data.get("image_url"),
            link=data.get("link"),
            skus=tuple(data.get("skus", ())),
            template=data.get("template"),
            params=tuple(data.get("params", ())),
            extra=dict(data.get("extra", {})),
        )

    def as_text(self) -> str:
        """Plain-text rendering for channels without rich messages: numbered options."""
        parts = [p for p in (self.header, self.text) if p]
        options = self.buttons or self.rows
        if options:
            parts.append("\n".join(f"{i}. {b.title}" for i, b in enumerate(options, 1)))
        if self.link:
            parts.append(self.link)
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)


def _button_json(button: Button) -> dict[str, str]:
    data = {"payload": button.payload, "title": button.title}
    if button.description:
        data["description"] = button.description
    return data


def _button_from(data: dict[str, Any]) -> Button:
    return Button(str(data["payload"]), str(data["title"]), data.get("description"))


def text(body: str) -> Reply:
    return Reply(type="text", text=body)


class ChannelCapability(StrEnum):
    """What a channel declares about itself (webhooks/channels/): the app, the engine, the
    flows (``Turn.channel_can``) and the sender act on it. Here, below the channels, so
    that bot/ can read it."""

    # free-form messages only within 24 h of the customer's last message, else a template
    # (WhatsApp's customer-service window; the engine applies it to these channels only)
    SERVICE_WINDOW = "service_window"
    BUTTONS = "buttons"  # reply buttons the customer taps (else numbered text)
    LISTS = "lists"  # list messages (else numbered text)
    TEMPLATES = "templates"  # pre-approved templates outside the window
    DIRECT_REPLIES = "direct_replies"  # replies travel in the webhook's HTTP response
    REST_SENDS = "rest_sends"  # proactive sends call the partner's REST API (sender child)
    UNTRUSTED_SENDERS = "untrusted_senders"  # sender ids are what the caller says
    # a message to a number no shop serves is answered 404 (a test tool's caller learns it;
    # a real channel would only deliver it again), instead of a 200 that drops it
    REFUSES_UNSERVED = "refuses_unserved"
    ADDRESS_FORMS = "address_forms"  # WhatsApp's address_message form (a Reply "address")
    PRODUCT_MESSAGES = "product_messages"  # products from the shop's Meta catalog
