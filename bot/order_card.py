"""WhatsApp's ``order_details`` parameters for an order, as Meta documents them.

Sources: Meta's "Payments API India" pages (UPI intent, payment gateway, payment links)
and the two example messages in tests/fixtures/channels/outbound_order_details_*.json;
the field rules are summarised in docs/CHANNELS.md "Catalog sync and order cards".

- ``type`` is the shop's (``whatsapp_commerce.goods_type``): physical goods unless the
  merchant sells digital ones;
- ``order.catalog_id`` only when the shop's Meta catalog holds every line's sku (a sync
  accepted them): then each item is a catalog ``retailer_id``;
- the delivery address goes in as the one ``beneficiaries`` entry;
- tax, shipping and discount are itemised; the arithmetic Meta checks holds
  (``subtotal = Σ amount × quantity``, ``total = subtotal + tax + shipping − discount``);
- ``payment_settings`` is the shop's ``card_payment``: ``upi_intent_link``,
  ``payment_gateway`` (Razorpay, PayU) or ``payment_link``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final

from bot.replies import shop_name
from bot.types import Reply
from catalog.models import CardPayment, Shop
from catalog.money import currency_code, exponent
from payments.repository import Order, OrderLine
from payments.upi import UpiError, UpiLink

REFERENCE_MAX: Final = 35
ITEM_NAME_MAX: Final = 60
DESCRIPTION_MAX: Final = 60
EXPIRY_MIN_SECONDS: Final = 300  # Meta refuses an expiration sooner than 5 minutes ahead
_REFERENCE_BAD = re.compile(r"[^A-Za-z0-9_.-]")
_PIN = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def without_card(reply: Reply) -> Reply | None:
    """The same payment message without its order card (``order_details`` or
    ``order_status``): its words, the pay link and the UPI QR, for when Meta refuses the
    card, at once or in a later status; None when ``reply`` carries no card."""
    if reply.type == "payment" and (reply.extra.get("order_details")
                                    or reply.extra.get("order_status")):
        return Reply(type="payment", text=reply.text, link=reply.link,
                     image_url=reply.image_url)
    return None


def card_sent(shop: Shop, method: str, upi_link: str) -> bool:
    """Whether a payment request of ``method`` goes out on an ``order_details`` card (on the
    Cloud API): a UPI link always (with its QR), a payment link when the shop's card pays
    by gateway or link; never a tip or a collect request. Receipts move the card only then
    (bot/flows/payment_updates.py)."""
    if method == "upi_link" and upi_link:
        return True
    return method in ("upi_link", "payment_link") and \
        shop.whatsapp.card_payment is not CardPayment.UPI_INTENT


def reference_id(value: str) -> str:
    """≤ 35 characters of ``[A-Za-z0-9_.-]``, as Meta requires of ``reference_id``."""
    return _REFERENCE_BAD.sub("-", value)[:REFERENCE_MAX]


def _amount(minor: int, offset: int) -> dict[str, int]:
    return {"value": minor, "offset": offset}


def beneficiary(address: str, fields: Mapping[str, str] | None,
                name: str | None) -> dict[str, str] | None:
    """The ``beneficiaries`` entry: from the address form when the shopper used it, else
    the typed address as its first lines (with the PIN code when it has one)."""
    if fields:
        line1 = ", ".join(p for p in (fields.get("house_number"), fields.get("floor_number"),
                                      fields.get("tower_number"), fields.get("building_name"))
                          if p) or fields.get("address", "")
        line2 = ", ".join(p for p in (fields.get("address") if line1 != fields.get("address")
                                      else "", fields.get("landmark_area")) if p)
        entry = {"name": (fields.get("name") or name or "")[:200],
                 "address_line1": line1[:100], "address_line2": line2[:100],
                 "city": fields.get("city", "")[:100], "state": fields.get("state", "")[:100],
                 "country": "India", "postal_code": fields.get("in_pin_code", "")[:6]}
        return {k: v for k, v in entry.items() if v}
    text = " ".join(address.split())
    if not text:
        return None
    entry = {"name": (name or "")[:200], "address_line1": text[:100],
             "address_line2": text[100:200], "country": "India"}
    if pin := _PIN.search(text):
        entry["postal_code"] = pin.group(1)
    return {k: v for k, v in entry.items() if v}


def payment_settings(shop: Shop, order: Order, *, reference: str, upi_link: str,
                     link_url: str) -> list[dict[str, Any]]:
    commerce = shop.whatsapp
    if commerce.card_payment is CardPayment.PAYMENT_GATEWAY and commerce.gateway:
        gateway: dict[str, Any] = {"type": commerce.gateway,
                                   "configuration_name": commerce.gateway_configuration or ""}
        if commerce.gateway == "razorpay":
            # Razorpay's webhooks carry receipt and notes back: haat_ref is how haat's
            # razorpay provider finds the payment request (payments/providers/razorpay.py)
            gateway["razorpay"] = {"receipt": reference,
                                   "notes": {"haat_ref": reference, "order": order.label}}
        return [{"type": "payment_gateway", "payment_gateway": gateway}]
    if commerce.card_payment is CardPayment.PAYMENT_LINK or not upi_link:
        return [{"type": "payment_link", "payment_link": {"uri": link_url}}]
    try:
        link = UpiLink.parse(upi_link).for_whatsapp_order_details().to_uri()
    except UpiError:
        link = upi_link  # a PSP-signed link goes whole
    return [{"type": "upi_intent_link", "upi_intent_link": {"link": link}}]


def order_details(shop: Shop, order: Order, lines: Sequence[OrderLine], *, reference: str,
                  expires_at_ms: int, now_ms: int, upi_link: str, link_url: str,
                  synced_skus: Collection[str] = (), address_fields: Mapping[str, str] |
                  None = None, customer_name: str | None = None) -> dict[str, Any]:
    """The ``action.parameters`` of an ``order_details`` card for ``order``."""
    offset = 10 ** exponent(order.currency)
    catalog_id = shop.whatsapp.catalog_id
    subtotal = sum(ln.unit_price.minor * ln.quantity for ln in lines)
    tax = 0  # catalog prices include taxes
    shipping = order.delivery_minor
    rest = order.total_minor - (subtotal + tax + shipping)
    # catalog items only: a line of other charges has no retailer id
    in_catalog = bool(catalog_id) and bool(lines) and rest <= 0 and all(
        ln.sku in synced_skus for ln in lines)
    items: list[dict[str, Any]] = []
    for ln in lines:
        item: dict[str, Any] = {"name": ln.name[:ITEM_NAME_MAX] or ln.sku,
                                "amount": _amount(ln.unit_price.minor, offset),
                                "quantity": ln.quantity}
        if in_catalog:
            item["retailer_id"] = ln.sku
        items.append(item)
    discount = 0
    if rest > 0:  # a tip or a charge beyond the lines: its own line, so the sums hold
        items.append({"name": "Other charges", "amount": _amount(rest, offset), "quantity": 1})
        subtotal += rest
    elif rest < 0:
        discount = -rest
    if not in_catalog and (where := shop.whatsapp.business_address) is not None:
        # without a catalog Meta asks, per item, where it comes from and who imports it
        importer = {"address_line1": where.address_line1, "city": where.city,
                    "zone_code": where.zone_code, "postal_code": where.postal_code,
                    "country_code": "IN"}
        if where.address_line2:
            importer["address_line2"] = where.address_line2
        for item in items:
            item.update(country_of_origin="India",
                        importer_name=shop_name(shop, shop.default_language)[:ITEM_NAME_MAX],
                        importer_address=dict(importer))
    details_order: dict[str, Any] = {"status": "pending"}
    if in_catalog:
        details_order["catalog_id"] = catalog_id
    if expires_at_ms // 1000 - now_ms // 1000 >= EXPIRY_MIN_SECONDS:
        details_order["expiration"] = {"timestamp": str(expires_at_ms // 1000),
                                       "description": "The payment link expires."}
    details_order["items"] = items
    details_order["subtotal"] = _amount(subtotal, offset)
    details_order["tax"] = {**_amount(tax, offset), "description": "Prices include taxes"}
    details_order["shipping"] = {**_amount(shipping, offset), "description": "Delivery"}
    if discount:
        details_order["discount"] = {**_amount(discount, offset), "description": "Discount"}
    params: dict[str, Any] = {
        "reference_id": reference_id(reference),
        "type": shop.whatsapp.goods_type.value,
    }
    if shop.whatsapp.goods_type.value == "physical-goods" and (
            who := beneficiary(order.address, address_fields, customer_name)):
        params["beneficiaries"] = [who]
    params["payment_settings"] = payment_settings(shop, order, reference=reference,
                                                  upi_link=upi_link, link_url=link_url)
    params["currency"] = currency_code(order.currency)
    params["total_amount"] = _amount(order.total_minor, offset)
    params["order"] = details_order
    return params
