"""Cash on delivery (shop.yaml ``payments.methods: [cod, …]``). See cod.mmd.

A COD order is placed ``awaiting_confirmation`` with its cash request open (method ``cod``,
payments/service.py ``place_order``). The shopper confirms or cancels it with buttons whose
payloads carry the order number (``cod:confirm:1001``, ``cod:cancel:1001``,
``cod:prepaid:1001``), so a tap on an old message acts on that order or, once its moment
passed, on nothing (the stale re-prompt). A reminder and an auto-cancel are durable jobs
(bot/reminders.py, kinds ``cod_remind`` and ``cod_cancel``) written with the order. Until the
order leaves the shop the shopper may switch to a prepaid method; the cash itself is
recorded only by the merchant (``deliver ORD-…`` / ``paid ORD-…``), never assumed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bot.filters import button
from bot.replies import text_for
from bot.router import UNHANDLED, Blueprint, Turn
from bot.state import ConversationState
from bot.types import Button
from catalog.models import Shop
from catalog.money import Money
from payments.repository import Order
from payments.status import InvalidTransition, OrderEvent, OrderStatus
from storage import jobs
from storage.database import WriteSet

if TYPE_CHECKING:
    from bot.inventory import Inventory
    from payments.service import PaymentService

router = Blueprint("cod")

REMIND = "cod_remind"  # scheduled_jobs kinds (fired by bot/reminders.py)
AUTO_CANCEL = "cod_cancel"


def remind_key(order: Order) -> str:
    return f"cod-remind:{order.id}"


def cancel_key(order: Order) -> str:
    return f"cod-cancel:{order.id}"


def cod_allowed(shop: Shop, total: Money, address: str) -> bool:
    """The shop offers COD and this order fits its limit and areas."""
    return "cod" in shop.payments.methods and shop.payments.cod.allows(total, address)


def schedule_jobs(writes: WriteSet, order: Order, shop: Shop, now_ms: int) -> None:
    """The reminder and the auto-cancel of an unconfirmed COD order, in the order's own
    transaction (they survive restarts and fire once)."""
    cod = shop.payments.cod
    payload = json.dumps({"order": order.id})
    for key, kind, minutes in ((remind_key(order), REMIND, cod.remind_minutes),
                               (cancel_key(order), AUTO_CANCEL, cod.confirm_minutes)):
        jobs.schedule(writes, key, shop_id=order.shop_id, kind=kind, channel=order.channel,
                      customer=order.customer, due_at=now_ms + minutes * 60_000,
                      payload=payload, now_ms=now_ms, rearm=False)


def drop_jobs(writes: WriteSet, order: Order) -> None:
    """The order was confirmed, cancelled or paid: neither job is wanted any more."""
    jobs.cancel(writes, remind_key(order))
    jobs.cancel(writes, cancel_key(order))


def confirm_buttons_for(shop: Shop, language: str, order: Order, *,
                        confirmed: bool) -> list[Button]:
    """Confirm (until confirmed), Pay now instead (when the shop has a prepaid method),
    Cancel: each payload names the order."""
    number = order.number

    def t(key: str) -> str:
        return text_for(shop, key, language)

    out: list[Button] = []
    if not confirmed:
        out.append(Button(f"cod:confirm:{number}", t("cod_confirm_button")))
    if shop.payments.prepaid_methods:
        out.append(Button(f"cod:prepaid:{number}", t("cod_prepaid_button")))
    out.append(Button(f"cod:cancel:{number}", t("cod_cancel_button")))
    return out


def confirm_buttons(turn: Turn, order: Order, *, confirmed: bool) -> list[Button]:
    return confirm_buttons_for(turn.shop, turn.language, order, confirmed=confirmed)


def placed(turn: Turn, order: Order) -> None:
    """What the shopper and the owners hear when a COD order is placed (nothing is paid)."""
    turn.buttons(turn.t("order_placed_cod", order=order.label, total=order.total.format(),
                        minutes=turn.shop.payments.cod.confirm_minutes),
                 confirm_buttons(turn, order, confirmed=False))
    schedule_jobs(turn.writes, order, turn.shop, turn.now_ms)
    turn.outgoing_to_owners(f"🆕 New COD order {order.label}: {order.total.format()} cash on "
                            "delivery — waiting for the shopper to confirm it")


async def _tapped_order(turn: Turn, payments: PaymentService, prefix: str) -> Order | None:
    """The shopper's own order named by the tapped payload (``cod:confirm:1001``)."""
    number = (turn.payload or "")[len(prefix):]
    if not number.isdigit() or not number.isascii():
        return None
    order = await payments.order(f"{turn.shop.id}/ORD-{int(number)}")
    if order is None or order.customer != turn.message.customer:
        return None
    return order


@router.on(button("cod:confirm:"))
async def confirm(turn: Turn, payments: PaymentService) -> object:
    order = await _tapped_order(turn, payments, "cod:confirm:")
    if order is None or order.status is not OrderStatus.AWAITING_CONFIRMATION:
        return UNHANDLED  # confirmed, paid, cancelled since: the stale re-prompt
    await payments.change_order(turn.writes, order, OrderEvent.CONFIRM)
    drop_jobs(turn.writes, order)
    turn.say("cod_confirmed", order=order.label, total=order.total.format())
    if turn.shop.payments.prepaid_methods:
        turn.buttons(turn.t("cod_prepaid_offer"), confirm_buttons(turn, order, confirmed=True))
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)
    turn.outgoing_to_owners(f"✅ {order.label} confirmed by the shopper: "
                            f"{order.total.format()} cash on delivery. Reply `ship "
                            f"{order.label}` when it leaves, `deliver {order.label}` when the "
                            "cash is in hand.")
    return None


@router.on(button("cod:cancel:"))
async def cancel(turn: Turn, payments: PaymentService, inventory: Inventory) -> object:
    from bot.flows.orders import cancel_order  # orders imports checkout, which imports this

    order = await _tapped_order(turn, payments, "cod:cancel:")
    if order is None or order.status not in (OrderStatus.AWAITING_CONFIRMATION,
                                             OrderStatus.CONFIRMED):
        return UNHANDLED
    try:
        await cancel_order(turn, payments, inventory, order)
    except InvalidTransition:  # money arrived meanwhile (a prepaid switch): not here
        return UNHANDLED
    turn.say("order_cancelled", order=order.label)  # cancel_order dropped its jobs
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)
    turn.outgoing_to_owners(f"❌ {order.label} ({order.total.format()}, cash on delivery) "
                            "was cancelled by the shopper; its stock is released.")
    return None


@router.on(button("cod:prepaid:"))
async def prepaid(turn: Turn, payments: PaymentService) -> object:
    """The switch to a prepaid method, offered until the order leaves the shop."""
    from bot.flows.checkout import offer_payment

    order = await _tapped_order(turn, payments, "cod:prepaid:")
    methods = turn.shop.payments.prepaid_methods
    if order is None or not methods or order.status not in (
            OrderStatus.AWAITING_CONFIRMATION, OrderStatus.CONFIRMED):
        return UNHANDLED
    method = methods[0]
    if method == "collect":
        turn.conversation = turn.conversation.with_(state=ConversationState.AWAITING_VPA)
        turn.say("ask_vpa")
        return None
    await offer_payment(turn, payments, order, method)
    return None
