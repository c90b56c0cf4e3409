"""Checkout: address, summary, confirm, order, and the payment step. See checkout.mmd.

The total is computed on the server from the catalog at the moment of the order (prices
snapshotted into the order lines); stock is held at confirmation and given back on
cancellation or payment expiry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.filters import Filter, button, intent, kind, state
from bot.flows import cod
from bot.flows.cart import cart_summary, show_cart
from bot.flows.common import available, inventory_of, payments_service
from bot.reminders import schedule_payment_nudge
from bot.router import UNHANDLED, Blueprint, Turn
from bot.state import ConversationState
from bot.types import Button, MessageKind, Reply
from catalog.cart import Cart, price_cart
from catalog.models import Shop
from catalog.money import Money, exponent
from payments.providers.base import UpiPayee
from payments.repository import Order, OrderLine
from payments.service import PaymentError, PaymentPlan
from payments.status import OPEN_FOR_PAYMENT
from payments.upi import UpiError, UpiLink, is_valid_vpa

log = logging.getLogger(__name__)

router = Blueprint("checkout")
# answers to a question we asked (an address, a UPI id) come before every other intent
pending_router = Blueprint("checkout-pending")
S = ConversationState


def plan_for(shop: Shop) -> PaymentPlan:
    upi = shop.payments.upi
    payee = UpiPayee(vpa=upi.vpa, name=upi.payee_name, mcc=upi.mcc) if upi else None
    return PaymentPlan(provider=shop.payments.provider, payee=payee,
                       link_expiry_minutes=shop.payments.link_expiry_minutes,
                       collect_expiry_minutes=shop.payments.collect_expiry_minutes)


# ---- start ----------------------------------------------------------------------------


@router.on(intent("checkout") | button("checkout"))
async def checkout(turn: Turn) -> object:
    if turn.payload is None and turn.conversation.state is S.CONFIRMING_ORDER:
        return UNHANDLED  # "place the order" under the summary confirms it (below)
    if turn.shop.closed_for_orders:
        turn.say("not_taking_orders")
        return None
    if not turn.conversation.cart:
        turn.say("cart_empty")
        return None
    if turn.shop.delivery is None:
        await summary(turn)
        return None
    saved = turn.conversation.data.get("address")
    if saved:
        turn.buttons(turn.t("use_saved_address", address=saved), [
            Button("address:saved", turn.t("yes_button")),
            Button("address:new", turn.t("new_address_button")),
        ])
    else:
        turn.say("ask_address")
    turn.conversation = turn.conversation.with_(state=S.AWAITING_ADDRESS)
    return None


@router.on(button("address:saved") & state(S.AWAITING_ADDRESS))
async def saved_address(turn: Turn) -> None:
    await summary(turn)


@router.on(button("address:new") & state(S.AWAITING_ADDRESS))
async def new_address(turn: Turn) -> None:
    turn.say("ask_address")


def _is_address(turn: Turn) -> bool:
    if turn.conversation.state is not S.AWAITING_ADDRESS or turn.payload:
        return False
    if turn.message.kind is MessageKind.LOCATION:
        return True
    understanding = turn.understanding
    # "cancel", "menu", "cart" and the like still work while we wait for an address
    if understanding is not None and understanding.confidence >= 0.75 and understanding.intent in (
            "cancel_order", "browse_catalog", "view_cart", "human_handoff", "greet",
            "change_language"):
        return False
    return len(turn.message.text.strip()) >= 6


@pending_router.on(Filter(_is_address, "address"))
async def address_given(turn: Turn) -> None:
    location = turn.message.location
    if location is not None:
        address = location.address or location.name or \
            f"{location.latitude:.5f},{location.longitude:.5f}"
    else:
        address = " ".join(turn.message.text.split())[:300]
    delivery = turn.shop.delivery
    if delivery is not None and delivery.areas and location is None:
        lowered = address.casefold()
        if not any(area.casefold() in lowered for area in delivery.areas):
            turn.say("area_not_served", areas=", ".join(delivery.areas))
            return
    turn.conversation = turn.conversation.with_data(address=address)
    await summary(turn)


def _quote(turn: Turn) -> dict[str, object] | None:
    """What the shopper is shown and asked to confirm: lines, unit prices, delivery, total
    (integer minor units, JSON-safe for the conversation's data)."""
    cart = Cart.from_dict(dict(turn.conversation.cart))
    if not cart.lines:
        return None
    priced = price_cart(cart, turn.shop.catalog, turn.shop.delivery, turn.shop.currency,
                        available=lambda sku: available(turn, sku))
    return {"lines": [[line.sku, line.quantity, line.unit_price.minor]
                      for line in priced.lines],
            "delivery": priced.delivery_fee.minor, "total": priced.total.minor,
            "currency": priced.total.currency}


async def summary(turn: Turn, *, changed: bool = False) -> None:
    text = cart_summary(turn)
    if text is None:
        turn.conversation = turn.conversation.with_(state=S.IDLE)
        turn.say("cart_empty")
        return
    # remembered so that confirm charges exactly what was shown, or shows it again
    turn.conversation = turn.conversation.with_data(quote=_quote(turn))
    lines = [turn.t("prices_changed" if changed else "order_summary_header"), text]
    address = turn.conversation.data.get("address")
    if turn.shop.delivery is not None and address:
        lines.append(turn.t("order_summary_address", address=address))
    choices = [Button("confirm", turn.t("confirm_button"))]
    quote = turn.conversation.data.get("quote")
    methods = turn.shop.payments.methods
    if isinstance(quote, dict) and methods and methods[0] != "cod" and cod.cod_allowed(
            turn.shop, Money(int(str(quote["total"])), turn.shop.currency), str(address or "")):
        # cash on delivery as the shopper's other choice (it is the default when listed first)
        choices.append(Button("confirm:cod", turn.t("cod_button")))
    choices.append(Button("edit", turn.t("edit_button")))
    turn.buttons("\n".join(lines), choices)
    # what this summary showed: Confirm orders exactly that, not a cart changed since
    turn.conversation = turn.conversation.with_(state=S.CONFIRMING_ORDER).with_data(
        summarised=dict(turn.conversation.cart))


@router.on(state(S.CONFIRMING_ORDER) & (button("edit") | intent("deny")))
async def edit(turn: Turn) -> None:
    turn.conversation = turn.conversation.with_(state=S.IDLE)
    show_cart(turn)


# ---- confirm: the order and the payment step ----------------------------------------


# a tap on an earlier summary's button (the order placed, or the cart changed since)
# confirms nothing: it falls through to the re-prompt (support.stale_payload)
@router.on(state(S.CONFIRMING_ORDER) & (button("confirm") | intent("affirm", "checkout")))
async def confirm(turn: Turn) -> object:
    shop = turn.shop
    summarised = turn.conversation.data.get("summarised")
    if summarised is not None and summarised != dict(turn.conversation.cart):
        # items added or removed under the summary: a tap on its Confirm is stale (the
        # re-prompt shows the new summary), a typed "yes" gets the new summary to confirm
        if turn.payload is not None:
            return UNHANDLED
        await summary(turn)
        return None
    if shop.closed_for_orders:  # the merchant closed orders while this one was in progress
        turn.conversation = turn.conversation.with_(state=S.IDLE)
        turn.say("not_taking_orders")
        return None
    if turn.services is not None:  # other servers may have sold some (shared mode only)
        await turn.services.inventory.refresh(shop.id)
    cart = Cart.from_dict(dict(turn.conversation.cart))
    priced = price_cart(cart, shop.catalog, shop.delivery, shop.currency,
                        available=lambda sku: available(turn, sku))
    shown = turn.conversation.data.get("quote")
    if shown is not None and shown != _quote(turn) and not [
            p for p in priced.problems if p.kind in ("sold_out", "unknown")]:
        # a price, the delivery fee or what is in stock moved since the summary: the
        # shopper confirms what they saw, never a new total without being asked
        await summary(turn, changed=True)
        return None
    gone = [p for p in priced.problems if p.kind in ("sold_out", "unknown")]
    if gone:
        # someone else bought the last ones while this shopper was confirming
        fixed = dict(turn.conversation.cart)
        for problem in gone:
            fixed.pop(problem.sku, None)
            name = problem.name.get(turn.language, shop.default_language) \
                if problem.name else problem.sku
            turn.say("sold_out", name=name)
        turn.conversation = turn.conversation.with_(cart=fixed, state=S.IDLE)
        show_cart(turn)
        return None
    if not priced.lines:
        turn.conversation = turn.conversation.with_(state=S.IDLE)
        turn.say("cart_empty")
        return None
    address = str(turn.conversation.data.get("address", ""))
    methods = shop.payments.methods
    wants_cod = turn.payload == "confirm:cod" or (bool(methods) and methods[0] == "cod")
    use_cod = wants_cod and cod.cod_allowed(shop, priced.total, address)
    if wants_cod and not use_cod:
        if not shop.payments.prepaid_methods:
            turn.conversation = turn.conversation.with_(state=S.IDLE)
            turn.say("cod_unavailable_only")
            return None
        turn.say("cod_unavailable")
    inventory = inventory_of(turn)
    wanted = [(line.sku, line.quantity) for line in priced.lines]
    short, undo = inventory.hold(shop.id, shop.catalog, wanted, turn.writes, turn.now_ms)
    if short:
        fixed = dict(turn.conversation.cart)
        for sku, left in short:
            hit = shop.catalog.find_sku(sku)
            name = hit[0].name.get(turn.language, shop.default_language) if hit else sku
            turn.say("stock_short", available=left, name=name)
            if left > 0:
                fixed[sku] = left
            else:
                fixed.pop(sku, None)
        turn.conversation = turn.conversation.with_(cart=fixed, state=S.IDLE)
        show_cart(turn)
        return None
    turn.rollbacks.append(undo)
    lines = [OrderLine(sku=line.sku, name=line.name.get(turn.language, shop.default_language),
                       quantity=line.quantity, unit_price=line.unit_price)
             for line in priced.lines]
    service = payments_service(turn)
    order = await service.place_order(
        turn.writes, shop_id=shop.id, channel=turn.message.channel,
        customer=turn.message.customer, lines=lines, delivery=priced.delivery_fee,
        address=address, language=turn.language, cash_on_delivery=use_cod)
    turn.conversation = turn.conversation.with_data(last_order=order.id, summarised=None)
    if use_cod:
        turn.conversation = turn.conversation.with_(cart={}, state=S.IDLE)
        cod.placed(turn, order)
        return None
    turn.conversation = turn.conversation.with_(cart={}, state=S.AWAITING_PAYMENT)
    turn.say("order_placed", order=order.label, total=order.total.format())
    turn.outgoing_to_owners(f"🆕 New order {order.label}: {order.total.format()} "
                            f"({len(lines)} lines) — waiting for payment")
    method = (shop.payments.prepaid_methods or ("upi_link",))[0]
    if method == "collect":
        turn.say("ask_vpa")
        turn.conversation = turn.conversation.with_(state=S.AWAITING_VPA)
        return None
    await offer_payment(turn, order, method, lines=lines)
    return None


async def offer_payment(turn: Turn, order: Order, method: str, *, vpa: str | None = None,
                        amount: Money | None = None,
                        lines: Sequence[OrderLine] | None = None) -> bool:
    """Ask for money with ``method`` and show it; False when it could not be done."""
    shop = turn.shop
    plan = plan_for(shop)
    try:
        request = await payments_service(turn).request_payment(
            turn.writes, order, method=method, plan=plan, vpa=vpa, amount=amount,
            description=f"{order.label} {shop.name.get('en')}"[:80],
            customer_phone=turn.message.phone)
    except PaymentError as exc:
        log.warning("payment request failed: %s", exc.code)
        turn.say("payment_unavailable")
        return False
    schedule_payment_nudge(turn.writes, shop_id=shop.id, channel=turn.message.channel,
                           customer=turn.message.customer, request_id=request.id,
                           order_label=order.label, link=request.link_url,
                           expires_at=request.expires_at, now_ms=turn.now_ms)
    money = request.amount.format()
    if method == "collect":
        turn.say("collect_sent", amount=money, vpa=vpa or "",
                 minutes=plan.collect_expiry_minutes)
        return True
    others = [m for m in shop.payments.methods if m != method]
    buttons: list[Button] = []
    if "payment_link" in others:
        buttons.append(Button("pay:payment_link", turn.t("other_ways_button")))
    if "collect" in others:
        buttons.append(Button("pay:collect", turn.t("collect_button")))
    if request.upi_link and method in ("upi_link", "tip"):
        text = turn.t("tip_prompt", amount=money, link=request.link_url) if method == "tip" \
            else turn.t("pay_prompt", amount=money, order=order.label,
                        minutes=plan.link_expiry_minutes)
        extra: dict[str, object] = {"upi_link": request.upi_link}
        if method != "tip":  # a tip is not the order: no order_details card for it
            if lines is None:
                lines = await payments_service(turn).lines(order.id)
            extra["order_details"] = _order_details(order, lines, request.upi_link,
                                                    request.id, request.expires_at)
        turn.reply(Reply(type="payment", text=text, link=request.link_url,
                         image_url=f"{request.link_url}/qr.png", extra=extra))
        if buttons:  # a Cloud order_details card or QR image holds no buttons: they follow
            turn.buttons(turn.t("other_ways_prompt"), buttons)
    else:
        turn.reply(Reply(type="text", text=turn.t(
            "pay_link_prompt", amount=money, order=order.label, link=request.link_url,
            minutes=plan.link_expiry_minutes), link=request.link_url, buttons=tuple(buttons)))
    return True


def _order_details(order: Order, lines: Sequence[OrderLine], upi_link: str, reference: str,
                   expires_at_ms: int) -> dict[str, object]:
    """The Cloud API ``order_details`` parameters (docs/DESIGN.md §5.3): amounts are
    integer minor units with the currency's offset; the UPI link keeps only what WhatsApp
    accepts (``pa, pn, mc, purpose, tr``)."""
    offset = 10 ** exponent(order.currency)
    try:
        link = UpiLink.parse(upi_link).for_whatsapp_order_details().to_uri()
    except UpiError:
        link = upi_link  # a PSP-signed link goes whole
    return {
        "reference_id": reference,
        "type": "digital-goods",
        "payment_settings": [{"type": "upi_intent_link", "upi_intent_link": {"link": link}}],
        "currency": order.currency,
        "total_amount": {"value": order.total_minor, "offset": offset},
        "order": {
            "status": "pending",
            "expiration": {"timestamp": str(expires_at_ms // 1000),
                           "description": "The payment link expires."},
            "items": [{"retailer_id": ln.sku, "name": ln.name[:60],
                       "amount": {"value": ln.unit_price.minor, "offset": offset},
                       "quantity": ln.quantity} for ln in lines],
            "subtotal": {"value": order.subtotal_minor, "offset": offset},
            "tax": {"value": 0, "offset": offset, "description": "Prices include taxes"},
            "shipping": {"value": order.delivery_minor, "offset": offset},
        },
    }


# ---- paying later, other methods, collect -------------------------------------------


async def latest_unpaid(turn: Turn) -> Order | None:
    # a cash-on-delivery order before dispatch too: its shopper may switch to prepaid
    orders = await payments_service(turn).orders(
        turn.shop.id, customer=turn.message.customer, statuses=sorted(OPEN_FOR_PAYMENT),
        limit=1)
    return orders[0] if orders else None


@router.on(button("pay:") | intent("pay"))
async def pay(turn: Turn) -> object:
    order = await latest_unpaid(turn)
    if order is None:
        if turn.payload is not None:
            return UNHANDLED  # a pay button of an order paid or closed since: re-prompt
        turn.say("no_pending_order")
        return None
    method = (turn.payload or "")[4:] if (turn.payload or "").startswith("pay:") else ""
    vpa = turn.understanding.entity("vpa") if turn.understanding else None
    if not method:
        method = "collect" if vpa else (turn.shop.payments.prepaid_methods or ("upi_link",))[0]
    if method not in turn.shop.payments.prepaid_methods:
        turn.say("payment_unavailable")
        return None
    if method == "collect" and not vpa:
        turn.conversation = turn.conversation.with_(state=S.AWAITING_VPA)
        turn.say("ask_vpa")
        return None
    await offer_payment(turn, order, method, vpa=vpa)
    return None


_VPA = re.compile(r"(?<![\w.@-])[A-Za-z0-9._-]{2,256}@[A-Za-z]{2,64}(?![\w@])")


def _vpa_text(turn: Turn) -> bool:
    return turn.conversation.state is S.AWAITING_VPA and "@" in turn.message.text \
        and not turn.payload


@pending_router.on(Filter(_vpa_text, "vpa"))
async def vpa_given(turn: Turn) -> None:
    found = _VPA.search(turn.message.text)
    vpa = found.group(0) if found else turn.message.text.strip().split()[0]
    if not is_valid_vpa(vpa):
        turn.say("bad_vpa")
        return
    order = await latest_unpaid(turn)
    turn.conversation = turn.conversation.with_(state=S.AWAITING_PAYMENT)
    if order is None:
        turn.say("no_pending_order")
        return
    await offer_payment(turn, order, "collect", vpa=vpa)


@router.on(kind(MessageKind.LOCATION) & state(S.IDLE))
async def location_outside_checkout(turn: Turn) -> None:
    """A location shared before checkout is remembered as the delivery address."""
    location = turn.message.location
    if location is None:
        return
    address = location.address or location.name or \
        f"{location.latitude:.5f},{location.longitude:.5f}"
    turn.conversation = turn.conversation.with_data(address=address)
    turn.say("order_summary_address", address=address)
