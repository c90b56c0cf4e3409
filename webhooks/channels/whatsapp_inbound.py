"""Meta WhatsApp Cloud API, inbound: signed webhook envelopes into frozen types.

Parsing is defensive (docs/DESIGN.md §5.5): unknown fields, message types and status keys are
skipped or become ``MessageKind.UNKNOWN``, never an exception, because a 500 makes Meta
retry the delivery for seven days. Only a body that is not a Cloud envelope at all raises
:class:`BadPayload`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, Final

from bot.types import (
    InboundMessage,
    Location,
    MarketingPreference,
    Media,
    MessageKind,
    OrderItem,
    PreferenceUpdate,
    StatusKind,
    StatusUpdate,
)
from catalog.money import Money, MoneyError
from config import wire
from webhooks.channels.base import BadPayload, Delivery

log = logging.getLogger(__name__)

CHANNEL: Final = "whatsapp"
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
SEND_TIMEOUT_SECONDS: Final = 15.0
_MEDIA_TYPES: Final = ("image", "document", "audio", "video", "sticker", "voice")
# the webhook fields read: messages (and statuses), and marketing stop / resume
_FIELDS: Final = ("messages", "user_preferences")
# Keys that identify a message's content when the ``type`` key is missing (pius fixture).
_CONTENT_KEYS: Final = ("text", "interactive", "button", "order", "location", "reaction",
                        *_MEDIA_TYPES)
_STATUS_ALIASES: Final = {"played": StatusKind.READ}
# Graph error codes worth retrying even when the HTTP status is a 4xx: temporary API
# errors (1, 2), app/account rate limits (4, 80007), throughput (130429), pair rate (131056).
_RETRYABLE_CODES: Final = frozenset({1, 2, 4, 80007, 130429, 131056})
_MAX_KNOWN_NUMBERS: Final = 1024
# bounds on what a validly signed body may carry (config/wire.py; docs/RELIABILITY.md)
_MAX_TEXT: Final = 4096  # Meta's own limit on a text body
# wamids are ~60 characters; a longer "id" is no id (inbound_messages.message_id is 128,
# and a customer id 64: bot/models.py)
_MAX_ID: Final = 128
_MAX_USER: Final = 64
_MAX_DIGITS: Final = 20  # phone numbers (E.164: 15), phone_number_ids, timestamps
_MAX_QUANTITY: Final = 2**31 - 1  # the cart caps quantities; this only keeps sums in 64 bits
_MAX_MINOR: Final = 10**30  # a client price beyond what money columns hold is not a price
_MAX_TIMESTAMP: Final = 10**11  # unix seconds (the year 5138); milliseconds are not seconds
_SKIPPABLE: Final = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


# ---- inbound -----------------------------------------------------------------------------


def load_body(body: bytes) -> Any:
    try:
        # Decimal keeps item_price exact ("12.35" must be 1235 minor units, not 1234.999…);
        # depth, number sizes and strings are bounded there (config/wire.py)
        return wire.loads(body)
    except wire.WireError as exc:
        raise BadPayload(str(exc)) from exc


def _array(value: Any) -> list[Any]:
    """A JSON array, or nothing: ``"messages": 5`` is skipped, not iterated."""
    return value if isinstance(value, list) else []


def _values(payload: Any) -> Iterator[dict[str, Any]]:
    """Each ``value`` object carrying messages or preferences (other fields are skipped)."""
    if not isinstance(payload, dict):
        raise BadPayload("envelope is not a JSON object")
    entries = payload.get("entry")
    if entries is None:
        # value-level payloads (360dialog / On-Premises shape) carry messages at the top
        if any(k in payload for k in ("messages", "statuses", "contacts",
                                      "user_preferences")):
            yield payload
            return
        raise BadPayload("not a WhatsApp Cloud envelope")
    if not isinstance(entries, list):
        raise BadPayload("entry is not a list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for change in _array(entry.get("changes")):
            if not isinstance(change, dict) or change.get("field", "messages") not in _FIELDS:
                continue
            value = change.get("value")
            if isinstance(value, dict):
                yield value


def str_value(value: Any, limit: int = _MAX_TEXT) -> str | None:
    """Storable text (config/wire.py), cut at ``limit``; containers and null are None."""
    return wire.text(value, limit)


def _id(value: Any) -> str | None:
    """An id as sent, or None when it is not one (too long, empty, a container)."""
    found = wire.text(value, _MAX_ID + 1)
    return found if found is not None and len(found) <= _MAX_ID else None


def _user(value: Any) -> str | None:
    """A sender id: a wa_id or a business-scoped user id, at most 64 characters."""
    found = _id(value)
    return found if found is not None and len(found) <= _MAX_USER else None


def int_value(value: Any, hi: int = wire.INT_MAX) -> int | None:
    """A non-negative integer (timestamps, amounts) from an int or ASCII digits, bounded."""
    return wire.bounded_int(value, lo=0, hi=hi)


def e164(number: Any) -> str:
    """``"+250 788 123 200"`` / ``"1-555-123-4567"`` → ``"+250788123200"``; "" if no digits."""
    digits = wire.ascii_digits(str(number or "") if not isinstance(number, dict | list) else "",
                               _MAX_DIGITS)
    return "+" + digits if digits else ""


def _first_error(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    errors = obj.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        err = errors[0]
        return (str_value(err.get("code"), 32),
                str_value(err.get("title") or err.get("message"), 256))
    return None, None


def _synthetic_id(msg: dict[str, Any]) -> str:
    """A stable id for a message that came without one, so redeliveries still dedupe."""
    canonical = json.dumps(msg, sort_keys=True, default=str, ensure_ascii=True)
    return "noid." + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _minor(price: Any, currency: str | None) -> int | None:
    """A major-unit client price as exact minor units, or None when it cannot be exact."""
    if currency is None or price is None or isinstance(price, bool):
        return None
    if isinstance(price, dict | list):
        return None
    try:
        minor = Money.parse(price if isinstance(price, int | Decimal) else str(price)[:64],
                            currency).minor
    except (MoneyError, ArithmeticError, ValueError):
        return None
    return minor if 0 <= minor <= _MAX_MINOR else None


def _order_items(order: dict[str, Any]) -> tuple[OrderItem, ...]:
    items = []
    for item in _array(order.get("product_items")):
        if not isinstance(item, dict):
            continue
        sku = _id(item.get("product_retailer_id"))
        quantity = int_value(item.get("quantity"), _MAX_QUANTITY)
        if sku is None or quantity is None or quantity <= 0:
            continue
        currency = str_value(item.get("currency"), 8)
        items.append(OrderItem(sku=sku, quantity=quantity,
                               item_price_minor=_minor(item.get("item_price"), currency),
                               currency=currency.upper() if currency else None))
    return tuple(items)


def _location(loc: Any) -> Location | None:
    if not isinstance(loc, dict):
        return None
    try:
        lat, lon = float(str(loc["latitude"])[:64]), float(str(loc["longitude"])[:64])
    except (KeyError, TypeError, ValueError):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also refuses nan and inf
        return None
    return Location(lat, lon, str_value(loc.get("name"), 1024),
                    str_value(loc.get("address"), 1024))


_ADDRESS_KEYS: Final = ("name", "phone_number", "in_pin_code", "house_number",
                        "floor_number", "tower_number", "building_name", "address",
                        "landmark_area", "city", "state")


# how the form's fields read as one address line (house first, PIN code last)
_ADDRESS_LINE: Final = ("house_number", "floor_number", "tower_number", "building_name",
                        "address", "landmark_area", "city", "state", "in_pin_code")


def _address_form(reply: dict[str, Any]) -> dict[str, Any]:
    """The India address form submitted (``nfm_reply`` named ``address_message``): its
    ``response_json`` is a JSON string holding ``values`` (Meta's address-messages page)."""
    try:  # bounded as the body is (config/wire.py): json.loads recursed past the stack
        data = wire.loads(str_value(reply.get("response_json")) or "")
    except ValueError:  # wire.WireError
        data = None
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        return {"kind": MessageKind.UNKNOWN, "raw_kind": "interactive.nfm_reply.address"}
    form = tuple((key, text) for key in _ADDRESS_KEYS
                 if (text := str_value(values.get(key), 200)))
    if not form:
        return {"kind": MessageKind.UNKNOWN, "raw_kind": "interactive.nfm_reply.address"}
    found = dict(form)
    shown = ", ".join(found[k] for k in _ADDRESS_LINE if k in found)
    return {"kind": MessageKind.ADDRESS, "raw_kind": "interactive.nfm_reply.address",
            "address_form": form, "text": shown[:300]}


def _content(msg: dict[str, Any], kind_name: str) -> dict[str, Any]:
    """The message's fields for a kind: text, button payload, items, location, media."""
    body = msg.get(kind_name)
    part: dict[str, Any] = body if isinstance(body, dict) else {}
    if kind_name == "text":
        return {"kind": MessageKind.TEXT, "text": str_value(part.get("body")) or ""}
    if kind_name == "interactive":
        sub = str_value(part.get("type")) or ""
        reply = part.get(sub)
        reply = reply if isinstance(reply, dict) else {}
        raw_kind = f"interactive.{sub}"
        if sub in ("button_reply", "list_reply"):
            return {"kind": MessageKind.BUTTON, "raw_kind": raw_kind,
                    "button_payload": str_value(reply.get("id")),
                    "button_title": str_value(reply.get("title")),
                    "text": str_value(reply.get("title")) or ""}
        if sub == "nfm_reply" and reply.get("name") == "address_message":
            return _address_form(reply)
        if sub == "nfm_reply":  # a WhatsApp Flow completed: response_json is a JSON string
            return {"kind": MessageKind.BUTTON, "raw_kind": raw_kind,
                    "button_payload": str_value(reply.get("response_json")),
                    "text": str_value(reply.get("body")) or ""}
        return {"kind": MessageKind.UNKNOWN, "raw_kind": raw_kind}
    if kind_name == "button":  # template quick reply; payload may be missing (360dialog)
        label = str_value(part.get("text")) or ""
        return {"kind": MessageKind.BUTTON,
                "button_payload": str_value(part.get("payload")) or label or None,
                "button_title": label or None, "text": label}
    if kind_name == "order":
        items = _order_items(part)
        return {"kind": MessageKind.ORDER if items else MessageKind.UNKNOWN,
                "order_items": items, "text": str_value(part.get("text")) or ""}
    if kind_name == "location":
        location = _location(part)
        if location is None:
            return {"kind": MessageKind.UNKNOWN}
        return {"kind": MessageKind.LOCATION, "location": location}
    if kind_name == "reaction":
        return {"kind": MessageKind.REACTION, "text": str_value(part.get("emoji")) or "",
                "reply_to": str_value(part.get("message_id"))}
    if kind_name in _MEDIA_TYPES:
        caption = str_value(part.get("caption"))
        ref = (str_value(part.get("id")) or str_value(part.get("url"))
               or str_value(part.get("link")))
        # a media message carrying errors[] has nothing to download (chatwoot fixture)
        media: tuple[Media, ...] = ()
        if ref is not None and "errors" not in msg:
            media = (Media("audio" if kind_name == "voice" else kind_name, ref,
                           str_value(part.get("mime_type")), caption),)
        return {"kind": MessageKind.MEDIA, "media": media, "text": caption or ""}
    return {"kind": MessageKind.UNKNOWN}


def _message(msg: dict[str, Any], contacts: Mapping[str, dict[str, Any]],
             only_contact: dict[str, Any] | None, business: str,
             number_id: str = "") -> InboundMessage | None:
    sender = _user(msg.get("from")) or _user(msg.get("from_user_id"))
    contact = (contacts.get(sender) if sender else None) or only_contact or {}
    if sender is None:
        sender = _user(contact.get("wa_id")) or _user(contact.get("user_id"))
    if sender is None:
        return None  # nobody to answer; the caller logs and skips it
    sender = sender.strip().removeprefix("+")
    if not sender:
        return None
    wa_id = wire.digits(sender, _MAX_DIGITS) or wire.digits(contact.get("wa_id"), _MAX_DIGITS)
    profile = contact.get("profile")
    kind_name = str_value(msg.get("type"), 64) or next((k for k in _CONTENT_KEYS if k in msg), "")
    fields = _content(msg, kind_name)
    context = msg.get("context")
    reply_to = _id(context.get("id")) if isinstance(context, dict) else None
    return InboundMessage(
        channel=CHANNEL,
        message_id=_id(msg.get("id")) or _synthetic_id(msg),
        customer=sender,
        kind=fields["kind"],
        business=business,
        text=fields.get("text", ""),
        button_payload=fields.get("button_payload"),
        button_title=fields.get("button_title"),
        order_items=fields.get("order_items", ()),
        location=fields.get("location"),
        media=fields.get("media", ()),
        profile_name=str_value(profile.get("name"), 256) if isinstance(profile, dict) else None,
        timestamp=int_value(msg.get("timestamp"), _MAX_TIMESTAMP),
        reply_to=fields.get("reply_to", reply_to),
        raw_kind=(fields.get("raw_kind") or kind_name)[:64],
        phone="+" + wa_id if wa_id else None,
        reply_from=number_id,
        address_form=fields.get("address_form", ()),
    )


def _status(raw: dict[str, Any]) -> StatusUpdate | None:
    message_id = _id(raw.get("id"))
    if message_id is None or raw.get("type") == "payment":
        return None
    name = str_value(raw.get("status"), 32) or ""
    code, title = _first_error(raw)
    return StatusUpdate(channel=CHANNEL, message_id=message_id,
                        status=_STATUS_ALIASES.get(name) or StatusKind(name),
                        recipient=_id(raw.get("recipient_id")) or "",
                        error_code=code, error_title=title,
                        timestamp=int_value(raw.get("timestamp"), _MAX_TIMESTAMP))


def _preference(raw: dict[str, Any], business: str) -> PreferenceUpdate | None:
    """One ``user_preferences`` entry: only the ``marketing_messages`` category counts."""
    if raw.get("category") != "marketing_messages":
        return None
    customer = _user(raw.get("wa_id"))
    value = str_value(raw.get("value"), 16)
    if customer is None or value not in ("stop", "resume"):
        return None
    customer = customer.strip().removeprefix("+")
    if not customer:
        return None
    return PreferenceUpdate(channel=CHANNEL, customer=customer, business=business,
                            preference=MarketingPreference(value),
                            timestamp=int_value(raw.get("timestamp"), _MAX_TIMESTAMP))


def parse_envelope(payload: Any) -> tuple[Delivery, dict[str, str]]:
    """A decoded envelope → (Delivery, {business E.164: phone_number_id}).

    The same message id twice in one POST (courier fixture) is kept once here; dedupe
    across deliveries is the storage layer's job. Statuses dedupe on (id, status).
    """
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    preferences: list[PreferenceUpdate] = []
    numbers: dict[str, str] = {}
    seen_messages: set[str] = set()
    seen_statuses: set[tuple[str, StatusKind]] = set()
    for value in _values(payload):
        business, number_id = _business_of(value, numbers)
        _add_messages(value, business, number_id, seen_messages, messages)
        _add_statuses(value, seen_statuses, statuses)
        for raw in _array(value.get("user_preferences")):
            preference = _preference(raw, business) if isinstance(raw, dict) else None
            if preference is not None and preference not in preferences:
                preferences.append(preference)
        if value.get("errors"):
            code, _ = _first_error(value)
            log.warning("cloud webhook error code=%s", code)
    return Delivery(tuple(messages), tuple(statuses), tuple(preferences)), numbers


def _business_of(value: dict[str, Any], numbers: dict[str, str]) -> tuple[str, str]:
    """The business number and phone_number_id a change is for (learned into ``numbers``)."""
    metadata = value.get("metadata")
    business = ""
    number_id = ""
    if isinstance(metadata, dict):
        business = e164(metadata.get("display_phone_number"))
        number_id = wire.digits(metadata.get("phone_number_id"), _MAX_DIGITS) or ""
        if business and number_id:
            numbers[business] = number_id
    return business, number_id


def _add_messages(value: dict[str, Any], business: str, number_id: str,
                  seen: set[str], messages: list[InboundMessage]) -> None:
    """A change's messages, each once, a malformed one skipped (its batch kept)."""
    contacts: dict[str, dict[str, Any]] = {}
    raw_contacts = [c for c in _array(value.get("contacts")) if isinstance(c, dict)]
    for contact in raw_contacts:
        for key in ("wa_id", "user_id"):
            if (ident := _id(contact.get(key))) is not None:
                contacts[ident] = contact
    only = raw_contacts[0] if len(raw_contacts) == 1 else None
    for msg in _array(value.get("messages")):
        if not isinstance(msg, dict):
            continue
        try:
            parsed = _message(msg, contacts, only, business, number_id)
        except _SKIPPABLE as exc:
            # one malformed message must not cost its batch (Meta retries a non-200
            # for seven days): skip it, keep the rest
            log.warning("malformed cloud message skipped (%s)", type(exc).__name__)
            continue
        if parsed is None:
            log.warning("cloud message without any sender id skipped")
        elif parsed.message_id not in seen:
            seen.add(parsed.message_id)
            messages.append(parsed)


def _add_statuses(value: dict[str, Any], seen: set[tuple[str, StatusKind]],
                  statuses: list[StatusUpdate]) -> None:
    """A change's statuses, each (id, status) once, a malformed one skipped."""
    for raw in _array(value.get("statuses")):
        try:
            status = _status(raw) if isinstance(raw, dict) else None
        except _SKIPPABLE as exc:
            log.warning("malformed cloud status skipped (%s)", type(exc).__name__)
            continue
        if status is not None:
            status_key = (status.message_id, status.status)
            if status_key not in seen:
                seen.add(status_key)
                statuses.append(status)
