"""Webhook simulators: real, signed Twilio form posts and WhatsApp Cloud API envelopes.

The builders return the decoded payload (a Cloud envelope dict, a Twilio form dict) so a
test can tweak it; the ``signed_*`` helpers turn it into the exact bytes and headers the
provider would send. Prices in ``cloud_order`` are decimal strings and go on the wire as
JSON numbers in major units, exactly as WhatsApp sends them (never through float).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from webhooks.security import meta_signature, twilio_signature

BUSINESS = "+919800000000"
PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "919811111111"
TWILIO_BUSINESS = "+14155238886"

_NUMBER = re.compile(r'"__num__(-?\d+(?:\.\d+)?)__"')


# ---- signing -------------------------------------------------------------------------


def dumps(payload: Any) -> bytes:
    """Compact JSON with non-ASCII as ``\\uXXXX`` (as Meta sends) and decimals as numbers."""

    def number(obj: object) -> str:
        if isinstance(obj, Decimal):
            return f"__num__{obj}__"
        raise TypeError(f"cannot serialise {type(obj).__name__}")

    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, default=number)
    return _NUMBER.sub(r"\1", text).encode("ascii")


def signed_cloud_request(app_secret: str, payload: Mapping[str, Any] | bytes,
                         ) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a Cloud API webhook POST signed with ``app_secret``."""
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return body, {"Content-Type": "application/json",
                  "X-Hub-Signature-256": meta_signature(body, app_secret)}


def signed_twilio_request(url: str, auth_token: str,
                          params: Mapping[str, str] | Sequence[tuple[str, str]],
                          ) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a Twilio webhook form post to the public ``url``."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    signature = twilio_signature(url, _MultiParams(grouped), auth_token)
    return urlencode(pairs).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }


class _MultiParams(dict[str, list[str]]):
    """What RequestValidator needs for repeated keys: a mapping with ``getall``."""

    def getall(self, key: str) -> list[str]:
        return self[key]


# ---- WhatsApp Cloud API builders -------------------------------------------------------


def _now() -> str:
    return str(int(time.time()))


def new_wamid() -> str:
    return "wamid.SIM" + uuid.uuid4().hex


def cloud_envelope(messages: Iterable[Mapping[str, Any]] = (),
                   statuses: Iterable[Mapping[str, Any]] = (), *,
                   business: str = BUSINESS, phone_number_id: str = PHONE_NUMBER_ID,
                   contacts: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """One entry with one ``messages`` change carrying the given messages/statuses."""
    messages, statuses = list(messages), list(statuses)
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business.removeprefix("+"),
                     "phone_number_id": phone_number_id},
    }
    if contacts is None:
        senders = dict.fromkeys(m["from"] for m in messages if "from" in m)
        contacts = [{"profile": {"name": "Sim Shopper"}, "wa_id": s} for s in senders]
    if contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398",
                       "changes": [{"value": value, "field": "messages"}]}]}


def cloud_message(kind: str, content: Mapping[str, Any], *, from_: str = CUSTOMER,
                  message_id: str | None = None, timestamp: int | None = None,
                  context_id: str | None = None, **envelope: Any) -> dict[str, Any]:
    """A full envelope holding one message of ``kind`` with ``content`` under that key."""
    message: dict[str, Any] = {
        "from": from_.removeprefix("+"), "id": message_id or new_wamid(),
        "timestamp": str(timestamp) if timestamp is not None else _now(),
        "type": kind, kind: dict(content),
    }
    if context_id:
        message["context"] = {"from": BUSINESS.removeprefix("+"), "id": context_id}
    return cloud_envelope([message], **envelope)


def cloud_text(text: str, **kw: Any) -> dict[str, Any]:
    return cloud_message("text", {"body": text}, **kw)


def cloud_button(payload: str, title: str = "", *, kind: str = "button_reply",
                 **kw: Any) -> dict[str, Any]:
    """A tap: ``kind`` is ``button_reply`` or ``list_reply`` (interactive) or
    ``quick_reply`` (a template button, ``type: "button"``)."""
    title = title or payload
    if kind == "quick_reply":
        return cloud_message("button", {"payload": payload, "text": title}, **kw)
    return cloud_message("interactive", {"type": kind, kind: {"id": payload, "title": title}},
                         **kw)


def cloud_order(items: Iterable[tuple[str, int, str, str]], *, text: str = "",
                catalog_id: str = "354160437058781", **kw: Any) -> dict[str, Any]:
    """A catalog cart: ``items`` are (sku, quantity, price in major units, currency)."""
    product_items = [{"product_retailer_id": sku, "quantity": qty,
                      "item_price": Decimal(price), "currency": currency}
                     for sku, qty, price, currency in items]
    return cloud_message("order", {"catalog_id": catalog_id, "text": text,
                                   "product_items": product_items}, **kw)


def cloud_location(latitude: str, longitude: str, *, name: str | None = None,
                   address: str | None = None, **kw: Any) -> dict[str, Any]:
    location: dict[str, Any] = {"latitude": Decimal(latitude), "longitude": Decimal(longitude)}
    if name:
        location["name"] = name
    if address:
        location["address"] = address
    return cloud_message("location", location, **kw)


def cloud_image(media_id: str = "1234567890", *, caption: str | None = None,
                **kw: Any) -> dict[str, Any]:
    image = {"id": media_id, "mime_type": "image/jpeg", "sha256": "c2ltdWxhdGVk"}
    if caption:
        image["caption"] = caption
    return cloud_message("image", image, **kw)


def cloud_reaction(message_id: str, emoji: str = "👍", **kw: Any) -> dict[str, Any]:
    return cloud_message("reaction", {"message_id": message_id, "emoji": emoji}, **kw)


def cloud_status(message_id: str, status: str, *, recipient: str = CUSTOMER,
                 error_code: int | None = None, error_title: str = "",
                 timestamp: int | None = None, **envelope: Any) -> dict[str, Any]:
    """A delivery receipt (``sent``/``delivered``/``read``/``failed``) for our message."""
    raw: dict[str, Any] = {"id": message_id, "status": status,
                           "timestamp": str(timestamp) if timestamp is not None else _now(),
                           "recipient_id": recipient.removeprefix("+")}
    if error_code is not None:
        raw["errors"] = [{"code": error_code, "title": error_title or "error"}]
    return cloud_envelope(statuses=[raw], contacts=(), **envelope)


# ---- Twilio builders -----------------------------------------------------------------------


def new_twilio_sid() -> str:
    return "SM" + uuid.uuid4().hex


def twilio_message(*, from_: str = CUSTOMER, to: str = TWILIO_BUSINESS,
                   sid: str | None = None, profile_name: str = "Sim Shopper",
                   **fields: str) -> dict[str, str]:
    """The form fields of an inbound WhatsApp message, as Twilio posts them."""
    sid = sid or new_twilio_sid()
    digits = from_.removeprefix("+")
    form = {
        "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
        "To": "whatsapp:" + ("+" + to.removeprefix("+")), "NumSegments": "1",
        "MessageSid": sid, "AccountSid": "ACtest", "From": f"whatsapp:+{digits}",
        "ApiVersion": "2010-04-01", "ProfileName": profile_name, "WaId": digits,
        "Body": "",
    }
    form.update(fields)
    return form


def twilio_text(body: str, **kw: Any) -> dict[str, str]:
    return twilio_message(Body=body, **kw)


def twilio_button(payload: str, text: str = "", **kw: Any) -> dict[str, str]:
    return twilio_message(Body=text or payload, ButtonText=text or payload,
                          ButtonPayload=payload, MessageType="button", **kw)


def twilio_location(latitude: str, longitude: str, *, address: str = "",
                    **kw: Any) -> dict[str, str]:
    extra = {"Address": address} if address else {}
    return twilio_message(Latitude=latitude, Longitude=longitude, MessageType="location",
                          **extra, **kw)


def twilio_media(urls: Sequence[tuple[str, str]], *, body: str = "",
                 **kw: Any) -> dict[str, str]:
    """``urls`` are (url, content type) pairs."""
    fields = {"NumMedia": str(len(urls)), "Body": body}
    for i, (url, mime) in enumerate(urls):
        fields[f"MediaUrl{i}"] = url
        fields[f"MediaContentType{i}"] = mime
    return twilio_message(**fields, **kw)


def twilio_status(sid: str, status: str, *, to: str = CUSTOMER,
                  from_: str = TWILIO_BUSINESS, error_code: str | None = None,
                  ) -> dict[str, str]:
    """A status callback for one of our outbound messages."""
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": "ACtest", "ApiVersion": "2010-04-01",
            "From": "whatsapp:+" + from_.removeprefix("+"),
            "To": "whatsapp:+" + to.removeprefix("+")}
    if error_code:
        form["ErrorCode"] = error_code
    return form
