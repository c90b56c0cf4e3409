"""Checkout: address, summary, confirm, order, and the payment step. See checkout.mmd.

The total is computed on the server from the catalog at the moment of the order (prices
snapshotted into the order lines); stock is held at confirmation and given back on
cancellation or payment expiry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot import order_card
from bot.filters import Filter, button, intent, kind, state
from bot.flows import cod
from bot.flows.cart import cart_summary, show_cart
from bot.flows.common import available
from bot.flows.consent import ask_after_order
from bot.nlu.transaction_id import find_transaction_id
from bot.reminders import schedule_payment_nudge
from bot.replies import shop_name, text_for, transfer_amount
from bot.router import UNHANDLED, Blueprint, Turn
from bot.state import ConversationState
from bot.templates import event_template, with_fallback
from bot.types import Button, ChannelCapability, MessageKind, Reply
from catalog.cart import Cart, CartProblem, price_cart
from catalog.message_templates import TemplateEvent
from catalog.models import Shop
from catalog.money import Money
from payments.providers.base import TransferPayee, UpiPayee
from payments.repository import Order, OrderLine, PaymentRequest
from payments.service import PaymentError, PaymentPlan
from payments.status import OPEN_FOR_PAYMENT, OrderStatus
from payments.upi import is_valid_vpa

if TYPE_CHECKING:
    from bot.consent import ConsentService
    from bot.inventory import Inventory
    from payments.service import PaymentService

log = logging.getLogger(__name__)

router = Blueprint("checkout")
# answers to a question we asked (an address, a UPI id) come before every other intent
pending_router = Blueprint("checkout-pending")
S = ConversationState


def plan_for(shop: Shop) -> PaymentPlan:
    upi = shop.payments.upi
    payee = UpiPayee(vpa=upi.vpa, name=upi.payee_name, mcc=upi.mcc) if upi else None
    transfers = {method: TransferPayee(
        method=a.method, number=a.number, name=a.name, kind=a.kind, bank=a.bank,
        branch=a.branch, ifsc=a.ifsc, routing=a.routing, swift=a.swift,
        expiry_minutes=a.expiry_minutes)
        for method, a in shop.payments.transfers.items()}
    return PaymentPlan(provider=shop.payments.provider, payee=payee,
                       link_expiry_minutes=shop.payments.link_expiry_minutes,
                       collect_expiry_minutes=shop.payments.collect_expiry_minutes,
                       transfers=transfers)


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
        ask_address(turn)
    turn.conversation = turn.conversation.with_(state=S.AWAITING_ADDRESS)
    return None


def ask_address(turn: Turn) -> None:
    """On a channel with address forms (the Cloud API) between an Indian shop and an Indian
    number, WhatsApp's own address form (``address_message``); elsewhere, and whenever Meta
    refuses the form, the text question (the form's fallback is that same text:
    webhooks/channels/whatsapp_outbound.py)."""
    shop = turn.shop
    phone = turn.message.phone or ""
    if (ChannelCapability.ADDRESS_FORMS in turn.channel_can and shop.whatsapp.address_form
            and shop.phone.startswith("+91") and phone.startswith("+91")):
        values = {"phone_number": phone}
        if turn.message.profile_name:
            values["name"] = turn.message.profile_name[:100]
        turn.reply(Reply(type="address", text=turn.t("ask_address"),
                         extra={"country": "IN", "values": values}))
        return
    turn.say("ask_address")


@router.on(button("address:saved") & state(S.AWAITING_ADDRESS))
async def saved_address(turn: Turn) -> None:
    await summary(turn)


@router.on(button("address:new") & state(S.AWAITING_ADDRESS))
async def new_address(turn: Turn) -> None:
    ask_address(turn)


def _is_address(turn: Turn) -> bool:
    if turn.conversation.state is not S.AWAITING_ADDRESS or turn.payload:
        return False
    if turn.message.kind in (MessageKind.LOCATION, MessageKind.ADDRESS):
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
    form = dict(turn.message.address_form) if turn.message.kind is MessageKind.ADDRESS else {}
    delivery = turn.shop.delivery
    if delivery is not None and delivery.areas and location is None:
        lowered = address.casefold()
        if not any(area.casefold() in lowered for area in delivery.areas):
            turn.say("area_not_served", areas=", ".join(delivery.areas))
            return
    # the form's fields go on the order card as its beneficiary (bot/order_card.py)
    turn.conversation = turn.conversation.with_data(address=address,
                                                    address_fields=form or None)
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
async def confirm(turn: Turn, payments: PaymentService, inventory: Inventory,
                  consent: ConsentService) -> object:
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
    await inventory.refresh(shop.id)  # other servers may have sold some (shared mode only)
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
        _drop_sold_out(turn, gone)
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
    wanted = [(line.sku, line.quantity) for line in priced.lines]
    short, undo = inventory.hold(shop.id, shop.catalog, wanted, turn.writes, turn.now_ms)
    if short:
        _cut_to_stock(turn, short)
        return None
    turn.rollbacks.append(undo)
    lines = [OrderLine(sku=line.sku, name=line.name.get(turn.language, shop.default_language),
                       quantity=line.quantity, unit_price=line.unit_price)
             for line in priced.lines]
    order = await payments.place_order(
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
    # should this answer only go out after the window closed, its template goes instead
    turn.replies[-1] = with_fallback(turn.replies[-1], event_template(
        shop, TemplateEvent.ORDER_PLACED, turn.language, {
            "order": order.label, "total": order.total.format(),
            "shop": shop_name(shop, turn.language)}))
    turn.outgoing_to_owners(f"🆕 New order {order.label}: {order.total.format()} "
                            f"({len(lines)} lines) — waiting for payment")
    await ask_after_order(turn, consent)  # marketing consent, as the shop collects it
    method = (shop.payments.prepaid_methods or ("upi_link",))[0]
    if method == "collect":
        turn.say("ask_vpa")
        turn.conversation = turn.conversation.with_(state=S.AWAITING_VPA)
        return None
    await offer_payment(turn, payments, order, method, lines=lines)
    return None


def _drop_sold_out(turn: Turn, gone: Sequence[CartProblem]) -> None:
    """Say which products sold out under the summary, take them out, show the cart."""
    shop = turn.shop
    fixed = dict(turn.conversation.cart)
    for problem in gone:
        fixed.pop(problem.sku, None)
        name = problem.name.get(turn.language, shop.default_language) \
            if problem.name else problem.sku
        turn.say("sold_out", name=name)
    turn.conversation = turn.conversation.with_(cart=fixed, state=S.IDLE)
    show_cart(turn)


def _cut_to_stock(turn: Turn, short: Sequence[tuple[str, int]]) -> None:
    """Say how many are left of what could not be held, keep those, show the cart."""
    shop = turn.shop
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


async def offer_payment(turn: Turn, payments: PaymentService, order: Order, method: str, *,
                        vpa: str | None = None, amount: Money | None = None,
                        lines: Sequence[OrderLine] | None = None) -> bool:
    """Ask for money with ``method`` and show it; False when it could not be done."""
    shop = turn.shop
    plan = plan_for(shop)
    try:
        request = await payments.request_payment(
            turn.writes, order, method=method, plan=plan, vpa=vpa, amount=amount,
            description=f"{order.label} {shop_name(shop, 'en')}"[:80],
            customer_phone=turn.message.phone)
    except PaymentError as exc:
        log.warning("payment request failed: %s", exc.code)
        turn.say("payment_unavailable")
        return False
    schedule_payment_nudge(turn.writes, shop_id=shop.id, channel=turn.message.channel,
                           customer=turn.message.customer, request_id=request.id,
                           order_label=order.label, link=request.link_url,
                           expires_at=request.expires_at, now_ms=turn.now_ms)
    if method in plan.transfers:
        show_transfer(turn, order, method, request.amount, plan.transfers[method],
                      request.id)
        return True
    money = request.amount.format()
    if method == "collect":
        turn.say("collect_sent", amount=money, vpa=vpa or "",
                 minutes=plan.collect_expiry_minutes)
        return True
    buttons = _other_ways(turn, method)
    card = order_card.card_sent(shop, method, request.upi_link)
    if request.upi_link and method in ("upi_link", "tip"):
        text = turn.t("tip_prompt", amount=money, link=request.link_url) if method == "tip" \
            else turn.t("pay_prompt", amount=money, order=order.label,
                        minutes=plan.link_expiry_minutes)
        extra: dict[str, object] = {"upi_link": request.upi_link}
        if card:  # a tip is not the order: no order_details card for it
            if lines is None:
                lines = await payments.lines(order.id)
            extra["order_details"] = await _order_details(turn, order, lines, request)
        turn.reply(Reply(type="payment", text=text, link=request.link_url,
                         image_url=f"{request.link_url}/qr.png", extra=extra))
        if buttons:  # a Cloud order_details card or QR image holds no buttons: they follow
            turn.buttons(turn.t("other_ways_prompt"), buttons)
        return True
    text = turn.t("tip_prompt", amount=money, link=request.link_url) if method == "tip" \
        else turn.t("pay_link_prompt", amount=money, order=order.label, link=request.link_url,
                    minutes=plan.link_expiry_minutes)
    if card:  # the shop's card pays by gateway or link: the card, its link as the fallback
        if lines is None:
            lines = await payments.lines(order.id)
        turn.reply(Reply(type="payment", text=text, link=request.link_url, extra={
            "order_details": await _order_details(turn, order, lines, request)}))
        if buttons:
            turn.buttons(turn.t("other_ways_prompt"), buttons)
    else:
        turn.reply(Reply(type="text", text=text, link=request.link_url,
                         buttons=tuple(buttons)))
    return True


# ---- manual transfers (bKash, Nagad, Rocket, UPI to a personal VPA, bank) -------------


def _other_ways(turn: Turn, method: str) -> list[Button]:
    """Buttons for the shop's other ways to pay than ``method``."""
    others = [m for m in turn.shop.payments.methods if m != method]
    buttons = _transfer_buttons(turn, others)
    if "payment_link" in others:
        buttons.append(Button("pay:payment_link", turn.t("other_ways_button")))
    if "collect" in others:
        buttons.append(Button("pay:collect", turn.t("collect_button")))
    return buttons


def _transfer_buttons(turn: Turn, methods: Sequence[str]) -> list[Button]:
    return [Button(f"pay:{m}", turn.t(f"method_{m}")) for m in methods
            if m in turn.shop.payments.transfers][:2]


def show_transfer(turn: Turn, order: Order, method: str, amount: Money,
                  payee: TransferPayee, request_id: str) -> None:
    """Where to send the money and what to reply; the request is remembered so that the
    transaction id in the shopper's next message is recorded against it."""
    values = {"order": order.label, "amount": transfer_amount(amount, turn.language),
              "name": payee.name, "number": payee.number,
              "wallet": turn.t(f"method_{method}")}
    if method == "upi_transfer":
        text = turn.t("transfer_upi", **values)
    elif method == "bank_transfer":
        code = " · ".join(f"{label} {value}" for label, value in (
            ("IFSC", payee.ifsc), ("Routing", payee.routing), ("SWIFT", payee.swift))
            if value)
        branch = f", {payee.branch}" if payee.branch else ""
        text = turn.t("transfer_bank", bank=f"{payee.bank}{branch}", code=code, **values)
    else:
        text = turn.t("transfer_wallet", how=turn.t(f"wallet_{payee.kind}"), **values)
    others = [m for m in turn.shop.payments.methods if m != method]
    buttons = _transfer_buttons(turn, others)
    if "payment_link" in others:
        buttons.append(Button("pay:payment_link", turn.t("other_ways_button")))
    turn.reply(Reply(type="buttons" if buttons else "text", text=text,
                     buttons=tuple(buttons[:3])))
    turn.conversation = turn.conversation.with_(state=S.AWAITING_PAYMENT).with_data(
        transfer={"order": order.id, "request": request_id, "method": method})


def _transfer_reply(turn: Turn) -> bool:
    """A message that carries a transaction id while a manual transfer waits for one."""
    waiting = turn.conversation.data.get("transfer")
    if not isinstance(waiting, dict) or turn.payload or not turn.message.text:
        return False
    found = find_transaction_id(turn.message.text, str(waiting.get("method", "")))
    return found.id is not None or found.asked


@pending_router.on(Filter(_transfer_reply, "transaction_id"))
async def transaction_id_given(turn: Turn, payments: PaymentService) -> object:
    waiting = turn.conversation.data.get("transfer")
    assert isinstance(waiting, dict)
    order = await payments.order(str(waiting.get("order")))
    requests = {r.id: r for r in await payments.requests_for_order(order.id)} if order else {}
    request = requests.get(str(waiting.get("request")))
    if order is None or request is None or order.status is not OrderStatus.PENDING_PAYMENT:
        turn.conversation = turn.conversation.with_data(transfer=None)
        return UNHANDLED  # paid or closed since: the message means something else
    method = request.method
    account = turn.shop.payments.transfers.get(method)
    # the shop's own number and the shopper's are never the id
    exclude = {turn.message.customer, *([account.number] if account else [])}
    found = find_transaction_id(turn.message.text, method, exclude=exclude)
    if found.id is None:
        turn.say("transfer_id_unclear", wallet=turn.t(f"method_{method}"),
                 example=_EXAMPLE_IDS.get(method, "8N7A6D5EE7"))
        return None
    if not await payments.record_transfer_claim(turn.writes, request, found.id):
        turn.say("transfer_id_again", trx=found.id, order=order.label)
        return None
    turn.say("transfer_id_noted", trx=found.id, order=order.label)
    turn.outgoing_to_owners(
        f"💬 {order.label}: the shopper says they sent {request.amount.format()} by "
        f"{text_for(turn.shop, f'method_{method}', 'en')}, transaction id {found.id}. Check "
        f"your account, then reply `paid {order.label} {found.id}` (or `cancel "
        f"{order.label}` if it never came).")
    return None


_EXAMPLE_IDS = {"bkash": "8N7A6D5EE7", "nagad": "7A6B5C4D", "rocket": "1234567890",
                "upi_transfer": "412345678901", "bank_transfer": "NEFT12345678"}


async def _order_details(turn: Turn, order: Order, lines: Sequence[OrderLine],
                         request: PaymentRequest) -> dict[str, object]:
    """The Cloud API ``order_details`` parameters, as Meta documents them (bot/order_card.py)."""
    catalogs = turn.services.catalogs if turn.services is not None else None
    synced = await catalogs.synced(turn.shop) if catalogs is not None else frozenset()
    fields = turn.conversation.data.get("address_fields")
    return order_card.order_details(
        turn.shop, order, lines, reference=request.id, expires_at_ms=request.expires_at,
        now_ms=turn.now_ms, upi_link=request.upi_link, link_url=request.link_url,
        synced_skus=synced, address_fields=fields if isinstance(fields, dict) else None,
        customer_name=turn.message.profile_name)


# ---- paying later, other methods, collect -------------------------------------------


async def latest_unpaid(turn: Turn, payments: PaymentService) -> Order | None:
    # a cash-on-delivery order before dispatch too: its shopper may switch to prepaid
    orders = await payments.orders(
        turn.shop.id, customer=turn.message.customer, statuses=sorted(OPEN_FOR_PAYMENT),
        limit=1)
    return orders[0] if orders else None


@router.on(button("pay:") | intent("pay"))
async def pay(turn: Turn, payments: PaymentService) -> object:
    order = await latest_unpaid(turn, payments)
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
    await offer_payment(turn, payments, order, method, vpa=vpa)
    return None


_VPA = re.compile(r"(?<![\w.@-])[A-Za-z0-9._-]{2,256}@[A-Za-z]{2,64}(?![\w@])")


def _vpa_text(turn: Turn) -> bool:
    return turn.conversation.state is S.AWAITING_VPA and "@" in turn.message.text \
        and not turn.payload


@pending_router.on(Filter(_vpa_text, "vpa"))
async def vpa_given(turn: Turn, payments: PaymentService) -> None:
    found = _VPA.search(turn.message.text)
    vpa = found.group(0) if found else turn.message.text.strip().split()[0]
    if not is_valid_vpa(vpa):
        turn.say("bad_vpa")
        return
    order = await latest_unpaid(turn, payments)
    turn.conversation = turn.conversation.with_(state=S.AWAITING_PAYMENT)
    if order is None:
        turn.say("no_pending_order")
        return
    await offer_payment(turn, payments, order, "collect", vpa=vpa)


@router.on(kind(MessageKind.LOCATION, MessageKind.ADDRESS) & state(S.IDLE))
async def location_outside_checkout(turn: Turn) -> None:
    """A location (or an address form) shared before checkout is remembered as the
    delivery address."""
    location = turn.message.location
    form = dict(turn.message.address_form)
    if location is not None:
        address = location.address or location.name or \
            f"{location.latitude:.5f},{location.longitude:.5f}"
    elif form:
        address = turn.message.text
    else:
        return
    turn.conversation = turn.conversation.with_data(address=address,
                                                    address_fields=form or None)
    turn.say("order_summary_address", address=address)
