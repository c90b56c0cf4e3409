"""Meta WhatsApp Cloud API, outbound: a :class:`Reply` as a Graph API ``/messages``
payload, and what a Graph error answer means for a retry."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any, Final

from bot.order_card import without_card
from bot.types import Reply
from webhooks.channels import limits
from webhooks.channels.whatsapp_inbound import int_value, str_value

# Graph error codes worth retrying even when the HTTP status is a 4xx: temporary API
# errors (1, 2), app/account rate limits (4, 80007), throughput (130429), pair rate (131056).
RETRYABLE_CODES: Final = frozenset({1, 2, 4, 80007, 130429, 131056})
# a card refused for what it is, not for whom or when: invalid parameter (100), required
# parameter missing or invalid (131008, 131009), message type unsupported (131051),
# WhatsApp Payments not set up for the number (134011). Its fallback_message goes instead.
CARD_REFUSED_CODES: Final = frozenset({100, 131008, 131009, 131051, 134011})


def _is_bsuid(customer: str) -> bool:
    """Business-scoped user ids look like ``US.13491208655302741918``."""
    return "." in customer and not customer.replace(".", "").isdigit()


def _envelope(to: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    recipient = to.removeprefix("+")
    message: dict[str, Any] = {"messaging_product": "whatsapp",
                               "recipient_type": "individual"}
    # Meta takes a BSUID in "recipient" instead of the phone in "to" (YCloud's BSUID doc)
    message["recipient" if _is_bsuid(recipient) else "to"] = recipient
    message["type"] = kind
    message[kind] = content
    return message


def _text(to: str, body: str, preview: bool = False) -> dict[str, Any]:
    return _envelope(to, "text", {"body": limits.trim(body or " ", limits.TEXT_BODY),
                                  "preview_url": preview})


def _body_text(reply: Reply) -> str:
    """Interactive bodies are required: the text, plus the link that has nowhere else to go."""
    parts = [p for p in (reply.text, reply.link) if p]
    return limits.trim("\n".join(parts) or reply.header or "-", limits.INTERACTIVE_BODY)


def _decorate(interactive: dict[str, Any], reply: Reply, header: bool = True) -> None:
    if header and reply.header:
        interactive["header"] = {"type": "text",
                                 "text": limits.trim(reply.header, limits.HEADER_TEXT)}
    if reply.footer:
        interactive["footer"] = {"text": limits.trim(reply.footer, limits.FOOTER_TEXT)}


def _buttons(to: str, reply: Reply) -> dict[str, Any]:
    titles = limits.unique_titles([b.title for b in reply.buttons], limits.BUTTON_TITLE)
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": _body_text(reply)},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": limits.trim_id(b.payload, limits.BUTTON_ID),
                                        "title": title}}
            for b, title in zip(reply.buttons, titles, strict=True)]},
    }
    _decorate(interactive, reply)
    return _envelope(to, "interactive", interactive)


def _list(to: str, reply: Reply, rows: Sequence[Any]) -> dict[str, Any]:
    titles = limits.unique_titles([r.title for r in rows], limits.ROW_TITLE)
    out_rows = []
    for row, title in zip(rows, titles, strict=True):
        item = {"id": limits.trim_id(row.payload, limits.ROW_ID), "title": title}
        if row.description:
            item["description"] = limits.trim(row.description, limits.ROW_DESCRIPTION)
        out_rows.append(item)
    section: dict[str, Any] = {"rows": out_rows}
    if section_title := reply.extra.get("section_title"):
        section["title"] = limits.trim(str(section_title), limits.SECTION_TITLE)
    interactive: dict[str, Any] = {
        "type": "list",
        "body": {"text": _body_text(reply)},
        "action": {"button": limits.trim(reply.list_button or "Options", limits.LIST_BUTTON),
                   "sections": [section]},
    }
    _decorate(interactive, reply)
    return _envelope(to, "interactive", interactive)


def _products(to: str, reply: Reply) -> dict[str, Any]:
    catalog_id = str_value(reply.extra.get("catalog_id"))
    if catalog_id is None or not reply.skus:
        return _text(to, reply.as_text(), preview=bool(reply.link))
    if len(reply.skus) == 1:
        single: dict[str, Any] = {
            "type": "product",
            "action": {"catalog_id": catalog_id, "product_retailer_id": reply.skus[0]},
        }
        if reply.text:
            single["body"] = {"text": limits.trim(reply.text, limits.INTERACTIVE_BODY)}
        _decorate(single, reply, header=False)  # single-product messages take no header
        return _envelope(to, "interactive", single)
    # sections: extra["sections"] = [{"title", "skus"}], else one section of reply.skus;
    # Meta's limits: at most 10 sections and 30 products in all, a title ≤ 24 in each
    section_title = str(reply.extra.get("section_title") or reply.header or "Products")
    raw = reply.extra.get("sections")
    groups = [(str(g.get("title") or section_title), [str(s) for s in g.get("skus", ())])
              for g in raw if isinstance(g, dict)] if isinstance(raw, list) else [
        (section_title, list(reply.skus))]
    sections: list[dict[str, Any]] = []
    room = limits.MAX_PRODUCTS
    for title, skus in groups[: limits.MAX_PRODUCT_SECTIONS]:
        kept = skus[:room]
        if not kept:
            continue
        room -= len(kept)
        sections.append({"title": limits.trim(title, limits.SECTION_TITLE),
                         "product_items": [{"product_retailer_id": sku} for sku in kept]})
    multi: dict[str, Any] = {
        "type": "product_list",
        "header": {"type": "text",
                   "text": limits.trim(reply.header or section_title, limits.HEADER_TEXT)},
        "body": {"text": _body_text(reply)},
        "action": {"catalog_id": catalog_id, "sections": sections},
    }
    _decorate(multi, reply, header=False)
    return _envelope(to, "interactive", multi)


def _image(to: str, reply: Reply) -> dict[str, Any]:
    if not reply.image_url:
        return _text(to, reply.as_text(), preview=bool(reply.link))
    image: dict[str, Any] = {"link": reply.image_url}
    caption = "\n".join(p for p in (reply.text, reply.link) if p)
    if caption:
        image["caption"] = limits.trim(caption, limits.CAPTION)
    return _envelope(to, "image", image)


def _details(params: dict[str, Any]) -> dict[str, Any]:
    """Meta's length rules on what the flow built (bot/order_card.py): reference ≤ 35 of
    ``[A-Za-z0-9_.-]``, item names ≤ 60, amount descriptions ≤ 60, expiry text ≤ 120."""
    out = copy.deepcopy(params)
    if isinstance(ref := out.get("reference_id"), str):
        out["reference_id"] = re.sub(r"[^A-Za-z0-9_.-]", "-", ref)[: limits.REFERENCE_ID]
    order = out.get("order")
    if isinstance(order, dict):
        for item in order.get("items") or ():
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                item["name"] = limits.trim(item["name"], limits.ORDER_ITEM_NAME)
        for key in ("tax", "shipping", "discount"):
            part = order.get(key)
            if isinstance(part, dict) and isinstance(part.get("description"), str):
                part["description"] = limits.trim(part["description"], limits.ORDER_ITEM_NAME)
        expiry = order.get("expiration")
        if isinstance(expiry, dict) and isinstance(expiry.get("description"), str):
            expiry["description"] = limits.trim(expiry["description"],
                                                limits.ORDER_DESCRIPTION)
    return out


def _payment(to: str, reply: Reply) -> dict[str, Any]:
    details = reply.extra.get("order_details")
    status = reply.extra.get("order_status")
    if isinstance(details, dict):
        interactive: dict[str, Any] = {
            "type": "order_details",
            "body": {"text": limits.trim(reply.text or "-", limits.INTERACTIVE_BODY)},
            "action": {"name": "review_and_pay", "parameters": _details(details)},
        }
        _decorate(interactive, reply, header=False)
        return _envelope(to, "interactive", interactive)
    if isinstance(status, dict):
        return _envelope(to, "interactive", {
            "type": "order_status",
            "body": {"text": limits.trim(reply.text or "-", limits.INTERACTIVE_BODY)},
            "action": {"name": "review_order", "parameters": status},
        })
    if reply.image_url:  # the UPI QR with the link and text as its caption
        return _image(to, reply)
    return _text(to, reply.as_text(), preview=bool(reply.link))


def _address(to: str, reply: Reply) -> dict[str, Any]:
    """WhatsApp's native address form (India): ``interactive.type`` and ``action.name``
    ``address_message``, ``parameters.country`` required, ``values`` prefilled; the answer
    comes back as an ``nfm_reply`` named ``address_message`` (whatsapp_inbound.py)."""
    parameters: dict[str, Any] = {"country": str(reply.extra.get("country") or "IN")}
    values = reply.extra.get("values")
    if isinstance(values, dict) and values:
        parameters["values"] = {str(k): str(v) for k, v in values.items()}
    return _envelope(to, "interactive", {
        "type": "address_message",
        "body": {"text": limits.trim(reply.text or "-", limits.INTERACTIVE_BODY)},
        "action": {"name": "address_message", "parameters": parameters},
    })


def fallback_message(to: str, reply: Reply) -> dict[str, Any] | None:
    """What goes instead when Meta refuses a card that needs commerce set-up (an order
    card without WhatsApp Payments, a product the catalog does not hold, the address form
    outside India): the same words as text, the link, and the UPI QR as an image."""
    if (plain := without_card(reply)) is not None:
        return _payment(to, plain)
    if reply.type == "product":
        rows = reply.rows or reply.buttons
        if 0 < len(rows) <= limits.MAX_LIST_ROWS:
            return _list(to, reply, rows)
        return _text(to, reply.as_text(), preview=bool(reply.link))
    if reply.type == "address":
        return _text(to, reply.as_text())
    return None


def _template(to: str, reply: Reply) -> dict[str, Any]:
    """A template message (bot/templates.py): named body parameters when the template
    has names (``parameter_format: named``, as ``haat templates export`` submits them),
    else positional; the language code as Meta lists it."""
    template: dict[str, Any] = {
        "name": reply.template or reply.text,
        "language": {"code": str(reply.extra.get("language") or "en")},
    }
    names = reply.extra.get("param_names")
    if reply.params:
        # names "1", "2"…: a positional template (``{{1}}``), sent without names
        named = (isinstance(names, list) and len(names) == len(reply.params)
                 and not any(str(n).isdigit() for n in names))
        template["components"] = [{"type": "body", "parameters": [
            {"type": "text", "parameter_name": str(names[i]), "text": str(p)} if named
            and isinstance(names, list) else {"type": "text", "text": str(p)}
            for i, p in enumerate(reply.params)]}]
    return _envelope(to, "template", template)


def build_message(to: str, reply: Reply) -> dict[str, Any]:
    """The Graph ``/messages`` JSON for one reply, every field within Meta's limits.

    What a Cloud message cannot hold degrades instead of failing: more than 3 buttons
    become a list, more than 10 rows become numbered text, products without a
    ``extra["catalog_id"]`` become text.
    """
    kind = reply.type
    if kind == "buttons":
        if 0 < len(reply.buttons) <= limits.MAX_BUTTONS:
            return _buttons(to, reply)
        if 0 < len(reply.buttons) <= limits.MAX_LIST_ROWS:
            return _list(to, reply, reply.buttons)
    elif kind == "list":
        rows = reply.rows or reply.buttons
        if 0 < len(rows) <= limits.MAX_LIST_ROWS:
            return _list(to, reply, rows)
    elif kind == "image":
        return _image(to, reply)
    elif kind == "product":
        return _products(to, reply)
    elif kind == "payment":
        return _payment(to, reply)
    elif kind == "address":
        return _address(to, reply)
    elif kind == "template" and reply.template:
        return _template(to, reply)
    return _text(to, reply.as_text(), preview=bool(reply.link))


def error_info(payload: Any) -> tuple[int | None, str]:
    if isinstance(payload, dict) and isinstance(err := payload.get("error"), dict):
        code = err.get("code")
        return (code if isinstance(code, int) else int_value(code)), str(err.get("message", ""))
    return None, ""

