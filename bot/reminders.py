"""Durable reminders: an abandoned-cart nudge, a payment-link-about-to-expire nudge, and
the confirmation reminder and auto-cancel of a cash-on-delivery order (bot/flows/cod.py).

A reminder is a ``scheduled_jobs`` row with a unique key. It is written in the same
transaction as the turn that made it due, and fired by flipping ``pending → fired`` with a
compare-and-set in the same transaction as the outbox row of its message: it survives
restarts and can never fire twice. Inside the 24-hour window it is text; outside only the
shop's template for the event (cart_reminder is a marketing template, payment_reminder a
utility one: bot/templates.py). The cart nudge, being marketing, goes only to shoppers who
opted in (bot/consent.py); the payment nudge is about their own order and always goes.
See reminders.mmd.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot import consent
from bot.flows.cod import AUTO_CANCEL, REMIND, confirm_buttons_for, drop_jobs
from bot.inventory import Inventory
from bot.outgoing import OutboxItem, outbox_statement
from bot.replies import local_digits, shop_name, text_for, transfer_amount
from bot.router import Turn
from bot.state import ConversationKey, StateStore
from bot.templates import proactive_item
from bot.types import Reply
from catalog.message_templates import TemplateEvent
from catalog.models import Shop
from payments.repository import PaymentsRepository
from payments.service import PaymentService
from payments.status import (
    OPEN_REQUEST,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
)
from storage import jobs
from storage.database import Conflict, Database, WriteSet

log = logging.getLogger(__name__)

CART_NUDGE_MINUTES = 60
PAYMENT_NUDGE_BEFORE_MINUTES = 10
# the kinds of scheduled_jobs rows (storage/jobs.py) that are reminders
CART = "cart"
PAYMENT = "payment"


def cart_key(key: ConversationKey) -> str:
    return f"cart:{key.shop_id}:{key.channel}:{key.customer}"


def schedule_for_turn(turn: Turn, cart_before: dict[str, int]) -> None:
    """(Re)arm or disarm the cart nudge when the cart changed in this turn."""
    cart = dict(turn.conversation.cart)
    if cart == cart_before:
        return
    key = turn.conversation.key
    if cart:
        due = turn.now_ms + CART_NUDGE_MINUTES * 60_000
        jobs.schedule(turn.writes, cart_key(key), shop_id=key.shop_id, kind=CART,
                      channel=key.channel, customer=key.customer, due_at=due, payload="{}",
                      now_ms=turn.now_ms)
    else:
        jobs.cancel(turn.writes, cart_key(key))


def schedule_payment_nudge(writes: WriteSet, *, shop_id: str, channel: str, customer: str,
                           request_id: str, order_label: str, link: str, expires_at: int,
                           now_ms: int) -> None:
    due = expires_at - PAYMENT_NUDGE_BEFORE_MINUTES * 60_000
    if due <= now_ms:
        return
    payload = json.dumps({"request": request_id, "order": order_label, "link": link})
    jobs.schedule(writes, f"pay:{request_id}", shop_id=shop_id, kind=PAYMENT, channel=channel,
                  customer=customer, due_at=due, payload=payload, now_ms=now_ms)


@dataclass
class Reminders:
    db: Database
    store: StateStore
    shop_for: Callable[[str], Shop | None]
    now_ms: Callable[[], int]
    # the channels with a customer-service window (declared by the channels themselves)
    windowed_channels: frozenset[str] = frozenset()
    # for the auto-cancel of an unconfirmed cash-on-delivery order
    payments: PaymentService | None = None
    inventory: Inventory | None = None

    async def run_due(self) -> int:
        """Fire every due reminder once; returns how many messages were queued."""
        now = self.now_ms()
        fired = 0
        # other kinds (cancel_link) belong to payments/service.py
        for key, shop_id, kind, channel, customer, payload in await jobs.due(
                self.db, (CART, PAYMENT, REMIND, AUTO_CANCEL), now, 200):
            shop = self.shop_for(shop_id)
            writes = WriteSet()
            jobs.finish(writes, key)
            data = json.loads(payload)
            if kind == AUTO_CANCEL:
                message = await self._auto_cancel(shop, channel, customer, data, writes,
                                                  now) if shop else None
            else:
                message = await self._message(shop, kind, channel, customer, data,
                                              now) if shop else None
            if message is not None:
                outbox_statement(writes, message, now)
            try:
                await self.db.write(writes)
            except Conflict:
                continue  # fired by someone else meanwhile
            fired += message is not None
        return fired

    async def _message(self, shop: Shop, kind: str, channel: str, customer: str,
                       data: dict[str, str], now: int) -> OutboxItem | None:
        key = ConversationKey(shop.id, channel, customer)
        conversation = await self.store.load(key)
        language = shop.language_for(conversation.language)
        shop_title = shop_name(shop, language)
        event: TemplateEvent | None
        body: str | Reply
        if kind == CART:
            # a cart nudge is marketing (Meta's category too): only to shoppers who opted in
            if not conversation.cart or not await consent.may_market(
                    self.db, shop.id, channel, customer):
                return None
            names = []
            for sku, qty in conversation.cart.items():
                hit = shop.catalog.find_sku(sku)
                if hit is not None:
                    names.append(f"{qty} × {hit[0].name.get(language, shop.default_language)}")
            body = text_for(shop, "cart_reminder", language, items=", ".join(names))
            event, values = TemplateEvent.CART_REMINDER, {"shop": shop_title,
                                                          "items": ", ".join(names)}
        elif kind == PAYMENT:
            request = await PaymentsRepository(self.db).request(data.get("request", ""))
            if request is None or request.status not in OPEN_REQUEST:
                return None
            minutes = max(1, -(-(request.expires_at - now) // 60_000))  # rounded up
            account = shop.payments.transfers.get(request.method)
            if account is not None:  # a manual transfer: asked for its transaction id
                events = await PaymentsRepository(self.db).events_for(request)
                if any(e.kind is PaymentEventKind.AUTHORIZED for e in events):
                    return None  # the shopper gave one: the merchant decides, not the clock
                body = text_for(shop, "transfer_reminder", language,
                                order=data.get("order", ""),
                                minutes=local_digits(str(minutes), language),
                                amount=transfer_amount(request.amount, language),
                                number=account.number,
                                wallet=text_for(shop, f"method_{request.method}", language))
            else:
                body = text_for(shop, "payment_reminder", language,
                                order=data.get("order", ""), minutes=str(minutes),
                                link=data.get("link", ""))
            event, values = TemplateEvent.PAYMENT_REMINDER, {
                "order": data.get("order", ""), "shop": shop_title, "minutes": str(minutes),
                "link": data.get("link", "")}
        elif kind == REMIND:
            order = await PaymentsRepository(self.db).order(data.get("order", ""))
            if order is None or order.status is not OrderStatus.AWAITING_CONFIRMATION:
                return None  # confirmed, paid or cancelled meanwhile
            due = order.created_at + shop.payments.cod.confirm_minutes * 60_000
            minutes = max(1, -(-(due - now) // 60_000))
            text = text_for(shop, "cod_reminder", language, order=order.label,
                            total=order.total.format(), minutes=str(minutes))
            body = Reply(type="buttons", text=text,
                         buttons=tuple(confirm_buttons_for(shop, language, order,
                                                           confirmed=False)))
            # no template of its own: the order was placed minutes ago, inside the window
            event, values = None, {"order": order.label, "shop": shop_title}
        else:
            log.warning("unknown reminder kind %s", kind)
            return None
        return proactive_item(shop, conversation, body, now, event, values, channel=channel,
                              customer=customer, business=conversation.business,
                              language=language, windowed=channel in self.windowed_channels)

    async def _auto_cancel(self, shop: Shop, channel: str, customer: str,
                           data: dict[str, str], writes: WriteSet, now: int
                           ) -> OutboxItem | None:
        """A cash-on-delivery order still unconfirmed when its time ran out: cancelled, its
        stock released and the shopper told, in the job's own transaction."""
        if self.payments is None or self.inventory is None:
            return None
        order = await self.payments.order(data.get("order", ""))
        if order is None or order.status is not OrderStatus.AWAITING_CONFIRMATION:
            return None
        try:
            await self.payments.change_order(writes, order, OrderEvent.CANCEL)
        except InvalidTransition:
            return None  # money arrived for it meanwhile (a prepaid switch)
        lines = await self.payments.lines(order.id)
        self.inventory.release(shop.id, shop.catalog, [(ln.sku, ln.quantity) for ln in lines],
                               writes, now)
        drop_jobs(writes, order)  # its reminder (the auto-cancel is this job)
        alert = (f"⌛ {order.label} ({order.total.format()}, cash on delivery) was never "
                 "confirmed and is cancelled; its stock is released.")
        values = {"shop": shop_name(shop, "en"), "alert": alert}
        for owner in shop.owners:
            digits = "".join(ch for ch in owner if ch.isdigit())
            if not digits:
                continue
            theirs = next((c for c in await self.store.find(shop.id, digits)
                           if c.key.channel == channel), None)
            outbox_statement(writes, proactive_item(
                shop, theirs, alert, now, TemplateEvent.MERCHANT_ALERT, values,
                channel=channel, customer=digits, business=theirs.business if theirs else "",
                language="en", windowed=channel in self.windowed_channels), now)
        key = ConversationKey(shop.id, channel, customer)
        conversation = await self.store.load(key)
        language = shop.language_for(order.language)
        body = text_for(shop, "cod_auto_cancelled", language, order=order.label)
        # no template of its own: inside the window (the order is hours old) as text
        return proactive_item(shop, conversation, body, now, None,
                              {"order": order.label,
                               "shop": shop_name(shop, language)},
                              channel=channel, customer=customer,
                              business=conversation.business, language=language,
                              windowed=channel in self.windowed_channels)
