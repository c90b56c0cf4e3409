"""Merchant commands from an owner number (shop.yaml ``owners``). See merchant.mmd.

``orders``, ``order ORD-7``, ``ship ORD-7``, ``deliver ORD-7``, ``paid ORD-7``,
``cancel ORD-7``, ``refund ORD-7 [amount | excess | <payment id>]``,
``refunded ORD-7 <amount> <UPI reference>`` (a refund the merchant made by hand: plain UPI
has no provider that can refund), ``returned ORD-7`` (a cash-on-delivery order refused at
the door), ``stock SKU N``, ``resume PHONE``, ``help``. On a cash-on-delivery order
``deliver`` (or ``paid``) records the cash collected: bot/flows/cod.py.
Every change that concerns a shopper is told to the shopper in the language of their order.
Merchant-facing texts are in English: short, and the same commands in every shop.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.filters import Filter
from bot.flows.orders import cancel_order
from bot.flows.payment_updates import order_status_reply
from bot.order_card import card_sent
from bot.replies import shop_name, text_for
from bot.router import Blueprint, Outgoing, Turn, call_injected
from bot.state import ConversationState
from bot.types import Reply
from catalog.message_templates import TemplateEvent
from catalog.money import Money, MoneyError
from payments.book import COD
from payments.providers.base import ProviderEvent
from payments.repository import Order, PaymentRequest
from payments.service import PaymentError

if TYPE_CHECKING:
    from bot.flows.payment_updates import PaymentNotifier
    from bot.inventory import Inventory
    from bot.services import Conversations
    from payments.service import PaymentService
from payments.status import (
    SHIPPABLE,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    RefundStatus,
)

router = Blueprint("merchant")

HELP = ("Commands:\n"
        "• orders — recent orders (cancelled and refunded ones too)\n"
        "• order ORD-7 — one order\n"
        "• ship ORD-7 / deliver ORD-7 — on a cash-on-delivery order, deliver records "
        "the cash you collected\n"
        "• paid ORD-7 [transaction id] — you received the money yourself (UPI, bKash, "
        "Nagad, Rocket, bank, or the COD cash)\n"
        "• returned ORD-7 — a cash-on-delivery order refused at the door: stock back\n"
        "• cancel ORD-7\n"
        "• refund ORD-7 [amount] — or `excess` (only what was paid beyond the total), "
        "or a payment id\n"
        "• refunded ORD-7 <amount> <UPI ref> — you paid it back from your UPI app "
        "(plain UPI cannot refund by itself)\n"
        "• stock SKU N — set what is on the shelf\n"
        "• resume +91… — hand a conversation back to the bot")

_COMMAND = re.compile(
    r"^\s*(?P<verb>orders|order|ship|deliver|paid|cancel|refunded|refund|returned|rto|stock|"
    r"resume|help)\b"
    r"\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_ORDER_REF = re.compile(r"(?:ORD[-\s]?)?#?(\d{1,9})", re.IGNORECASE)

# (turn, rest, the services it names: bot/router.py:call_injected)
Command = Callable[..., Awaitable[None]]


def _is_command(turn: Turn) -> bool:
    # an owner tapping the shop's own buttons is a shopper: a tap is never a command
    return turn.is_owner and not turn.payload and bool(_COMMAND.match(turn.message.text or ""))


async def _order(turn: Turn, rest: str, payments: PaymentService) -> Order | None:
    match = _ORDER_REF.search(rest)
    if match is None:
        turn.reply_text("Which order? e.g. ORD-1042")
        return None
    order = await payments.order(f"{turn.shop.id}/ORD-{int(match.group(1))}")
    if order is None:
        turn.reply_text(f"No order ORD-{int(match.group(1))}.")
    return order


async def _tell_shopper(turn: Turn, payments: PaymentService, order: Order, key: str,
                        status: str | None = None, **values: str) -> None:
    """The shopper hears of the change in their order's language; on WhatsApp the order
    card's status moves too (``order_status`` against the payment's reference)."""
    text = text_for(turn.shop, key, turn.shop.language_for(order.language), order=order.label,
                    **values)
    reply = Reply(type="text", text=text)
    # the card that moves is the one a request went out on (bot/order_card.py)
    requests = [r for r in await payments.requests_for_order(order.id)
                if card_sent(turn.shop, r.method, r.upi_link)]
    if status is not None and requests:
        reply = order_status_reply(text, requests[0].id, OrderStatus(status))
    language = turn.shop.language_for(order.language)
    turn.outgoing.append(Outgoing(
        customer=order.customer, channel=order.channel, reply=reply,
        event=_EVENT_OF.get(key), language=language,
        variables={"order": order.label, "shop": shop_name(turn.shop, language),
                   "total": order.total.format(), **values}))


# the template each shopper message goes out as outside the 24-hour window (none for the
# rest: they are then recorded as undeliverable, see bot/templates.py)
_EVENT_OF = {"order_shipped": TemplateEvent.ORDER_SHIPPED,
             "order_delivered": TemplateEvent.ORDER_DELIVERED}


async def _describe(service: PaymentService, order: Order) -> str:
    lines = await service.lines(order.id)
    book = await service.book(order)
    body = [f"{order.label} — {order.status} — {order.total.format()} "
            f"(paid {book.money(book.captured).format()})"]
    body += [f"• {ln.quantity} × {ln.name} — {ln.total.format()}" for ln in lines]
    if book.excess:
        body.append(f"⚠️ {book.money(book.excess).format()} held beyond the total: "
                    f"`refund {order.label} excess`")
    for refund in book.refunds:
        body.append(f"↩️ refund {refund.amount.format()} — {refund.status} ({refund.reason})")
    for capture in book.captures():
        flag = " (after close)" if capture.after_close else ""
        body.append(f"💳 {capture.payment_id}: {book.money(capture.amount).format()}{flag}")
    if order.status is OrderStatus.PENDING_PAYMENT:
        for request in book.requests:
            for claim in await service.transfer_claims(request):
                body.append(f"🧾 shopper says {request.method} transaction {claim}: check, then "
                            f"`paid {order.label} {claim}`")
    if order.address:
        body.append(f"📍 {order.address}")
    body.append(f"📞 +{order.customer}" if order.customer.isdigit() else order.customer)
    return "\n".join(body)


async def cmd_orders(turn: Turn, rest: str, payments: PaymentService) -> None:
    """Recent orders with their status: cancelled and refunded ones are listed too (money
    can still arrive for them), with any money held beyond what the order keeps."""
    service = payments
    orders = await service.orders(turn.shop.id, limit=20)
    if not orders:
        turn.reply_text("No orders yet.")
        return
    rows = []
    for o in orders:
        row = f"• {o.label} — {o.status} — {o.total.format()}"
        if o.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.DELIVERED):
            book = await service.book(o)
            if book.excess:
                row += f" — ⚠️ {book.money(book.excess).format()} held"
            refunds = book.refunds_committed
            if refunds and o.status is not OrderStatus.REFUNDED:
                row += f" — refunds {book.money(refunds).format()}"
        rows.append(row)
    turn.reply_text("Orders:\n" + "\n".join(rows))


async def cmd_order(turn: Turn, rest: str, payments: PaymentService) -> None:
    if (order := await _order(turn, rest, payments)) is not None:
        turn.reply_text(await _describe(payments, order))


async def _move(turn: Turn, payments: PaymentService, order: Order, event: OrderEvent,
                shopper_key: str) -> None:
    try:
        new = await payments.change_order(turn.writes, order, event)
    except InvalidTransition:
        turn.reply_text(f"{order.label} is {order.status}: cannot {event.value} it.")
        return
    turn.reply_text(f"{order.label} is now {new}.")
    if new != order.status:
        await _tell_shopper(turn, payments, order, shopper_key, new)


async def cmd_ship(turn: Turn, rest: str, payments: PaymentService) -> None:
    if (order := await _order(turn, rest, payments)) is not None:
        await _move(turn, payments, order, OrderEvent.SHIP, "order_shipped")


async def _collect_cash(turn: Turn, service: PaymentService, notify: PaymentNotifier,
                        order: Order, *, deliver: bool) -> bool:
    """A cash-on-delivery order with cash still due: record it (False: not such an order).
    The shopper hears of it from the payment notifier, in the commit that records it."""
    book = await service.book(order)
    if book.cash_request is None or not book.cash_due:
        return False
    due = book.money(book.cash_due)
    try:
        update = await service.collect_cash(order, deliver=deliver, notify=notify)
    except PaymentError as exc:
        hint = (f" Ask the shopper to confirm it first, or `cancel {order.label}`."
                if exc.code == "not_confirmed" else "")
        turn.reply_text(f"Cannot record cash for {order.label}: {exc}.{hint}")
        return True
    if update is None:
        turn.reply_text(f"The cash for {order.label} was already recorded.")
        return True
    turn.reply_text(f"💵 {due.format()} cash recorded for {order.label}; it is now "
                    f"{update.order_status_after}.")
    return True


async def cmd_deliver(turn: Turn, rest: str, payments: PaymentService,
                      payment_notify: PaymentNotifier) -> None:
    order = await _order(turn, rest, payments)
    if order is None:
        return
    if await _collect_cash(turn, payments, payment_notify, order, deliver=True):
        return
    if order.status in SHIPPABLE:  # handed over without a separate ship step
        shipped = await payments.change_order(turn.writes, order, OrderEvent.SHIP)
        order = replace(order, status=shipped)
    await _move(turn, payments, order, OrderEvent.DELIVER, "order_delivered")


async def cmd_cancel(turn: Turn, rest: str, payments: PaymentService,
                     inventory: Inventory) -> None:
    order = await _order(turn, rest, payments)
    if order is None:
        return
    try:
        new = await cancel_order(turn, payments, inventory, order)
    except InvalidTransition:
        turn.reply_text(f"{order.label} has money in it ({order.status}): use "
                        f"`refund {order.label}`.")
        return
    turn.reply_text(f"{order.label} is now {new}.")
    await _tell_shopper(turn, payments, order, "order_cancelled_by_shop", new)


async def cmd_paid(turn: Turn, rest: str, payments: PaymentService,
                   payment_notify: PaymentNotifier) -> None:
    """Manual confirmation: the merchant saw the money (plain UPI, a manual transfer).

    ``paid ORD-7``: the rest of a waiting order. ``paid ORD-7 <transaction id>`` (a manual
    transfer): the same, checked against the id the shopper gave (a different one is
    refused). ``paid ORD-7 <amount> <UPI ref>``: a transfer they saw, even on an order that
    has closed (cancelled, already paid): that is money after close or beyond the total,
    refunded by hand and booked with ``refunded``. The ids are deterministic: the same
    command twice is one capture."""
    order = await _order(turn, rest, payments)
    if order is None:
        return
    service = payments
    words = _ORDER_REF.sub("", rest, count=1).split()
    if not words and await _collect_cash(turn, service, payment_notify, order, deliver=False):
        return  # the cash of a cash-on-delivery order, taken at the door (or the shop)
    requests = [r for r in await service.requests_for_order(order.id)
                if r.method not in ("tip", COD)]
    if not requests or (order.status is not OrderStatus.PENDING_PAYMENT and len(words) != 2):
        more = (f" If money arrived for it anyway: `paid {order.label} <amount> "
                f"<UPI reference>`." if requests else "")
        turn.reply_text(f"{order.label} is {order.status}; nothing to confirm.{more}")
        return
    request = requests[-1]
    asked = await _paid_amount(turn, service, order, request, requests, words)
    if asked is None:
        return
    left, transaction = asked
    event = service.transfer_confirmation(request, left, transaction, turn.now_ms)
    if event is None:
        payment_id = f"manual:{request.id}:{transaction}" if len(words) == 2 \
            else f"manual:{request.id}"
        event = ProviderEvent(provider=request.provider, event_id=payment_id,
                              kind=PaymentEventKind.CAPTURED,
                              provider_ref=request.provider_ref or request.id, amount=left,
                              occurred_at=turn.now_ms // 1000, payment_id=payment_id,
                              reference=request.id, refs=(request.id,))
    update = await service.apply_event(request.provider, event, payment_notify)
    if update is None:
        turn.reply_text(f"{order.label} was already confirmed.")
        return
    if update.new_excess.minor > 0:
        by_transfer = service.is_transfer(request)
        where, ref = ("your own account", "<reference>") if by_transfer else (
            "your UPI app", "<UPI reference>")
        turn.reply_text(f"{left.format()} recorded for {order.label}, beyond what it keeps "
                        f"({update.order_status_after}): send it back from {where}, then "
                        f"`refunded {order.label} {update.new_excess.to_decimal_string()} "
                        f"{ref}`.")
        return
    checked = f", transaction {transaction}" if transaction else ""
    turn.reply_text(f"{order.label} marked paid ({left.format()}{checked}). The shopper is "
                    f"told.")


async def _paid_amount(turn: Turn, service: PaymentService, order: Order,
                       request: PaymentRequest, requests: Sequence[PaymentRequest],
                       words: list[str]) -> tuple[Money, str | None] | None:
    """``paid``'s amount and transaction id: the rest of the order and the shopper's claim,
    or the merchant's own; None once the merchant was told what is wrong."""
    transaction: str | None = None
    claims = await service.transfer_claims(request)
    if len(words) == 1:
        transaction = words[0].upper()
        if not service.is_transfer(request):
            turn.reply_text(f"Usage: paid {order.label} [<amount> <UPI reference>]")
            return None
        if claims and transaction not in claims:
            turn.reply_text(f"{order.label}: the shopper gave transaction id "
                            f"{', '.join(claims)}, not {transaction}. Check your account; "
                            f"`paid {order.label} {claims[-1]}` confirms theirs.")
            return None
    elif claims and not words:
        transaction = claims[-1]
    if len(words) == 2:
        left = _amount_and_reference(turn, order, words,
                                     f"Usage: paid {order.label} [<amount> <UPI reference>]")
        if left is None:
            return None
        if not 0 < left.minor <= request.amount_minor:
            turn.reply_text(f"One payment for {order.label} is at most "
                            f"{request.amount.format()}.")
            return None
        transaction = words[1][:60]
    elif len(words) > 2:
        turn.reply_text(f"Usage: paid {order.label} [<transaction id>] or "
                        f"paid {order.label} <amount> <reference>")
        return None
    else:
        left = Money(max(order.total_minor - sum(r.captured_minor for r in requests), 0),
                     order.currency)
    return left, transaction


async def cmd_refund(turn: Turn, rest: str, payments: PaymentService,
                     payment_notify: PaymentNotifier) -> None:
    order = await _order(turn, rest, payments)
    if order is None:
        return
    amount: Money | None = None
    excess_only = False
    payment_id: str | None = None
    tail = _ORDER_REF.sub("", rest, count=1).strip().lstrip("₹").strip()
    words = tail.split()
    if words and words[0].lower() == "excess":
        excess_only = True
    elif words and not words[0][:1].isdigit():
        payment_id = words[0]  # a payment id from the late-money alert or `order ORD-7`
        words = words[1:]
    if words and not excess_only:
        try:
            amount = Money.parse(words[0].lstrip("₹"), order.currency)
        except MoneyError:
            turn.reply_text(f"Refund amount {words[0]!r} is not an amount like 50 or 49.50.")
            return
    try:
        result = await payments.refund_order(
            order, amount, reason="merchant", notify=payment_notify,
            excess_only=excess_only, payment_id=payment_id)
    except PaymentError as exc:
        turn.reply_text(f"Cannot refund {order.label}: {exc}")
        return
    # say only what the provider said: processed, accepted (pending) or failed
    parts = []
    by_hand = [r for r in result.refunds
               if r.status == RefundStatus.FAILED and not r.next_attempt_at]
    for status, words_for in ((RefundStatus.PROCESSED, "refunded"),
                              (RefundStatus.PENDING, "accepted by the provider (pending)"),
                              (RefundStatus.FAILED, "FAILED at the provider, haat retries it"),
                              (RefundStatus.REQUESTED, "not answered yet, haat retries it")):
        done = [r for r in result.refunds if r.status == status and r not in by_hand]
        if done:
            total = Money(sum(r.amount_minor for r in done), order.currency)
            parts.append(f"{total.format()} {words_for}")
    if by_hand:
        total = Money(sum(r.amount_minor for r in by_hand), order.currency)
        transfer = any(payments.is_transfer(r)
                       for r in await payments.requests_for_order(order.id))
        where, ref = ("your own account (the app you were paid in)", "<reference>") \
            if transfer else ("your UPI app", "<UPI reference>")
        parts.append(f"{total.format()} NOT refunded: this shop's payments cannot be refunded "
                     f"automatically. Send it back from {where}, then `refunded "
                     f"{order.label} {total.to_decimal_string()} {ref}`")
    turn.reply_text(f"Refund of {result.amount.format()} for {order.label}: "
                    + "; ".join(parts) + ".")


async def cmd_refunded(turn: Turn, rest: str, payments: PaymentService,
                       payment_notify: PaymentNotifier) -> None:
    """``refunded ORD-7 <amount> <UPI reference>``: the merchant paid money back by hand
    (plain UPI has no provider API that can refund). Booked like any refund, never beyond
    what was captured; the shopper is told the shop says so, with the reference."""
    order = await _order(turn, rest, payments)
    if order is None:
        return
    words = _ORDER_REF.sub("", rest, count=1).split()
    usage = (f"Usage: refunded {order.label} <amount> <UPI reference>, e.g. "
             f"`refunded {order.label} 150 412345678901`")
    amount = _amount_and_reference(turn, order, words, usage)
    if amount is None:
        return
    before = {r.id: r.status for r in await payments.refunds_for_order(order.id)}
    try:
        result = await payments.record_manual_refund(order, amount, words[1],
                                                     notify=payment_notify)
    except PaymentError as exc:
        turn.reply_text(f"Cannot record a refund for {order.label}: {exc}")
        return
    if all(before.get(r.id) == RefundStatus.PROCESSED for r in result.refunds):
        turn.reply_text(f"That refund ({words[1]}) was already recorded for {order.label}.")
        return
    fresh = await payments.order(order.id) or order
    turn.reply_text(f"Recorded: you refunded {amount.format()} on {order.label} "
                    f"(ref {words[1]}). The shopper is told. {order.label} is now "
                    f"{fresh.status}.")


async def cmd_returned(turn: Turn, rest: str, payments: PaymentService,
                       inventory: Inventory) -> None:
    """``returned ORD-7``: a cash-on-delivery order came back (refused at the door, nobody
    home): its stock is released, its sale reversed, and it counts as returned to origin."""
    order = await _order(turn, rest, payments)
    if order is None:
        return
    if order.status in (OrderStatus.AWAITING_CONFIRMATION, OrderStatus.CONFIRMED):
        turn.reply_text(f"{order.label} has not left the shop ({order.status}): use "
                        f"`cancel {order.label}`.")
        return
    service = payments
    try:
        new = await service.change_order(turn.writes, order, OrderEvent.RETURN)
    except InvalidTransition:
        turn.reply_text(f"{order.label} is {order.status}: only a shipped cash-on-delivery "
                        f"order with no money taken can be returned (money in it: `refund "
                        f"{order.label}`).")
        return
    if new != order.status:
        lines = await service.lines(order.id)
        inventory.release(turn.shop.id, turn.shop.catalog,
                          [(ln.sku, ln.quantity) for ln in lines], turn.writes, turn.now_ms)
        await _tell_shopper(turn, payments, order, "cod_returned", new)
    turn.reply_text(f"{order.label} is now {new} (returned to origin); its stock is back.")


async def cmd_stock(turn: Turn, rest: str, inventory: Inventory) -> None:
    parts = rest.split()
    if len(parts) != 2 or not parts[1].isdigit():
        turn.reply_text("Usage: stock SKU N (e.g. stock SAMOSA 40)")
        return
    sku = parts[0].upper()
    hit = turn.shop.catalog.find_sku(sku)
    if hit is None:
        turn.reply_text(f"No product with sku {sku}.")
        return
    inventory.set_stock(turn.shop.id, sku, int(parts[1]), turn.writes, turn.now_ms)
    turn.reply_text(f"{sku}: {int(parts[1])} in stock.")


async def cmd_resume(turn: Turn, rest: str, conversations: Conversations) -> None:
    digits = "".join(ch for ch in rest if ch.isdigit())
    if not digits:
        turn.reply_text("Usage: resume +91…")
        return
    resumed: list[Outgoing] = await conversations.resume(turn.shop, digits)
    turn.outgoing.extend(resumed)
    turn.reply_text(f"Bot resumed for +{digits}." if resumed
                    else f"No paused chat with +{digits}.")


async def cmd_help(turn: Turn, rest: str) -> None:
    turn.reply_text(HELP)


COMMANDS: dict[str, Command] = {
    "orders": cmd_orders, "order": cmd_order, "ship": cmd_ship, "deliver": cmd_deliver,
    "paid": cmd_paid, "cancel": cmd_cancel, "refund": cmd_refund, "refunded": cmd_refunded,
    "returned": cmd_returned, "rto": cmd_returned,
    "stock": cmd_stock,
    "resume": cmd_resume, "help": cmd_help,
}


@router.on(Filter(_is_command, "merchant_command"))
async def merchant_command(turn: Turn) -> None:
    match = _COMMAND.match(turn.message.text)
    assert match is not None
    verb = match.group("verb").lower()
    await call_injected(COMMANDS[verb], turn, rest=match.group("rest").strip())
    turn.conversation = turn.conversation.with_(state=ConversationState.IDLE)


def _amount_and_reference(turn: Turn, order: Order, words: list[str],
                          usage: str) -> Money | None:
    """``<amount> <reference>`` of ``paid``/``refunded``: the amount, or None (answered)."""
    if len(words) != 2:
        turn.reply_text(usage)
        return None
    try:
        return Money.parse(words[0].lstrip("₹"), order.currency)
    except MoneyError:
        turn.reply_text(f"{words[0]!r} is not an amount like 150 or 149.50. {usage}")
        return None
