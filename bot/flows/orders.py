"""After the order: status, history, cancel, "same again", tips, human handoff. See orders.mmd."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.filters import Filter, intent
from bot.flows.cart import show_cart
from bot.flows.checkout import latest_unpaid, offer_payment
from bot.flows.cod import drop_jobs
from bot.router import Blueprint, Turn
from bot.state import ConversationState
from catalog.message_templates import TemplateEvent
from catalog.money import Money, MoneyError
from payments.repository import Order
from payments.status import InvalidTransition, OrderEvent, OrderStatus

if TYPE_CHECKING:
    from bot.inventory import Inventory
    from bot.services import Conversations
    from payments.service import PaymentService

router = Blueprint("orders")
# "same again" is a plain-text signal the intent model often reads as checkout or goodbye
# ("फिर से", "আবার একই অর্ডার"): it is routed before the intents
reorder_router = Blueprint("reorder")

REORDER = re.compile(r"\b(same again|reorder|repeat (my )?(last )?order|order again|"
                     r"phir se|dobara)\b|फिर से|दोबारा|আবার|আগের মতো|نفس الطلب|كرر الطلب",
                     re.IGNORECASE)
HANDOFF_HISTORY = 5


def status_text(turn: Turn, order: Order) -> str:
    return turn.t("order_status_line", order=order.label,
                  status=turn.t(f"status_{order.status}"), total=order.total.format())


async def find_order(turn: Turn, service: PaymentService, label: str | None) -> Order | None:
    """The shopper's order named ORD-n, or their latest."""
    if label:
        number = "".join(ch for ch in label if ch.isdigit())
        if number:
            order = await service.order(f"{turn.shop.id}/ORD-{int(number)}")
            if order is not None and order.customer == turn.message.customer:
                return order
    orders = await service.orders(turn.shop.id, customer=turn.message.customer, limit=1)
    return orders[0] if orders else None


@router.on(intent("order_status"))
async def order_status(turn: Turn, payments: PaymentService) -> None:
    label = turn.understanding.entity("order_id") if turn.understanding else None
    if label:
        order = await find_order(turn, payments, label)
        orders = [order] if order else []
    else:
        orders = await payments.orders(turn.shop.id, customer=turn.message.customer,
                                           limit=3)
    if not orders:
        turn.say("no_orders")
        return
    turn.reply_text("\n".join(status_text(turn, o) for o in orders))


@router.on(intent("cancel_order"))
async def cancel(turn: Turn, payments: PaymentService, inventory: Inventory) -> None:
    label = turn.understanding.entity("order_id") if turn.understanding else None
    order = await find_order(turn, payments, label)
    if turn.conversation.state in (ConversationState.AWAITING_ADDRESS,
                                   ConversationState.CONFIRMING_ORDER) and (
            order is None or order.status is not OrderStatus.PENDING_PAYMENT):
        # cancelling a checkout in progress: nothing was ordered yet
        turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)
        show_cart(turn)
        return
    if order is None or order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED,
                                         OrderStatus.DELIVERED, OrderStatus.RETURNED):
        turn.say("nothing_to_cancel")
        return
    try:
        await cancel_order(turn, payments, inventory, order)
    except InvalidTransition:
        book = await payments.book(order)
        if book.cash_due and order.status is OrderStatus.SHIPPED:
            # cash on delivery on its way: nothing was paid, so never "already paid"
            turn.say("cod_cannot_cancel_shipped", order=order.label)
            turn.outgoing_to_owners(f"🙋 The customer of {order.label} ({order.total.format()}"
                                    f", cash on delivery, shipped) asks to cancel. If it comes "
                                    f"back, send `returned {order.label}`.")
            return
        turn.say("cannot_cancel_paid", order=order.label)
        turn.outgoing_to_owners(f"🙋 The customer of {order.label} ({order.total.format()}, "
                                f"{order.status}) asks to cancel. Reply `refund "
                                f"{order.label}` to refund it.")
        return
    turn.say("order_cancelled", order=order.label)
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)


async def cancel_order(turn: Turn, service: PaymentService, inventory: Inventory,
                       order: Order) -> OrderStatus:
    """Cancel (raises InvalidTransition once money moved) and give the stock back."""
    new = await service.change_order(turn.writes, order, OrderEvent.CANCEL)
    drop_jobs(turn.writes, order)  # a cash-on-delivery order's reminder and auto-cancel
    lines = await service.lines(order.id)
    inventory.release(turn.shop.id, turn.shop.catalog, [(ln.sku, ln.quantity) for ln in lines],
                      turn.writes, turn.now_ms)
    return new


def _is_reorder(turn: Turn) -> bool:
    if turn.is_owner or turn.payload or not REORDER.search(turn.message.text or ""):
        return False
    understanding = turn.understanding
    # "2 samosa again" is an add, not a reorder
    return understanding is None or not (understanding.intent == "add_to_cart"
                                         and understanding.confidence >= 0.8)


@reorder_router.on(Filter(_is_reorder, "reorder"))
async def same_again(turn: Turn, payments: PaymentService) -> None:
    orders = await payments.orders(turn.shop.id, customer=turn.message.customer, limit=1)
    if not orders:
        turn.say("no_orders")
        return
    cart = dict(turn.conversation.cart)
    for line in await payments.lines(orders[0].id):
        if turn.shop.catalog.find_sku(line.sku) is not None:
            cart[line.sku] = cart.get(line.sku, 0) + line.quantity
    turn.conversation = turn.conversation.with_(cart=cart)
    turn.say("reordered", order=orders[0].label)
    show_cart(turn)


@router.on(intent("tip"))
async def tip(turn: Turn, payments: PaymentService) -> None:
    if not turn.shop.payments.tips:
        turn.say("tips_off")
        return
    amount_text = turn.understanding.entity("amount") if turn.understanding else None
    quantity = turn.understanding.entity("quantity") if turn.understanding else None
    try:
        if amount_text is not None:
            amount = Money(int(amount_text), turn.shop.currency)
        elif quantity is not None:
            amount = Money.parse(quantity, turn.shop.currency)
        else:
            amount = None
    except (ValueError, MoneyError):
        amount = None
    orders = await payments.orders(turn.shop.id, customer=turn.message.customer, limit=1)
    if amount is None or amount.minor <= 0 or not orders:
        turn.say("tip_how" if orders else "no_orders")
        return
    await offer_payment(turn, payments, orders[0], "tip", amount=amount)


@router.on(intent("human_handoff"))
async def handoff(turn: Turn, conversations: Conversations) -> None:
    quiet = turn.shop.handoff_quiet_minutes * 60_000
    turn.conversation = turn.conversation.with_(
        handoff_until=turn.now_ms + quiet, state=ConversationState.HANDOFF)
    turn.say("handoff_started")
    recent = await conversations.recent_messages(
        turn.shop.id, turn.message.channel, turn.message.customer, HANDOFF_HISTORY)
    history = "\n".join(f"> {text[:200]}" for text in [*recent, turn.message.text] if text)
    who = turn.message.phone or f"+{turn.message.customer}"
    turn.outgoing_to_owners(f"🙋 {who} asked for a person:\n{history}\n"
                            f"Reply to them directly; send `resume {who}` to hand back to "
                            "the bot.", TemplateEvent.HANDOFF_ALERT, customer=who,
                            message=turn.message.text or "-")


__all__ = ["cancel_order", "find_order", "latest_unpaid", "status_text"]
