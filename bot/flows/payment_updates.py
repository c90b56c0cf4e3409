"""What the shopper and the merchant are told when money moves. See payment_updates.mmd.

Called by the payment service *inside* the transaction that applies a provider event, so a
receipt is stored (as an outbox row) exactly when the payment is, and never twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bot.inventory import Inventory
from bot.outgoing import OutboxItem, outbox_statement
from bot.replies import text_for
from bot.state import Conversation, StateStore
from bot.types import Reply
from catalog.models import Shop
from catalog.money import Money
from config.database import WriteSet
from payments.ledger import postings_for_cancel
from payments.service import PaymentError, PaymentService, PaymentUpdate
from payments.status import WHATSAPP_ORDER_STATUS, OrderStatus, PaymentEventKind

log = logging.getLogger(__name__)


def order_status_reply(text: str, reference: str, status: OrderStatus) -> Reply:
    """A receipt that WhatsApp also shows as the order card's new status (``order_status``);
    channels without order cards send its text."""
    return Reply(type="payment", text=text, extra={"order_status": {
        "reference_id": reference,
        "order": {"status": WHATSAPP_ORDER_STATUS[status], "description": text[:120]}}})


def proactive(shop: Shop, conversation: Conversation | None, body: str | Reply,
              now_ms: int, purpose: str = "payment_update") -> Reply | None:
    """Free-form inside the 24-hour window; outside it only the shop's template, or nothing.

    The template for ``purpose`` (shop.yaml ``templates:``) is sent with the text as its one
    body parameter; a shop without a matching template sends nothing outside the window.
    """
    reply = body if isinstance(body, Reply) else Reply(type="text", text=body)
    if conversation is not None and conversation.in_window(now_ms):
        return reply
    template = shop.templates.get(purpose) or shop.templates.get("default")
    if template is None:
        log.info("outside the 24-hour window and no %s template: message not sent", purpose)
        return None
    return Reply(type="template", text=reply.text, template=template,
                 params=(reply.text[:1000],))


@dataclass
class PaymentNotifier:
    shop_for: Callable[[str], Shop | None]
    store: StateStore
    inventory: Inventory
    payments: PaymentService
    now_ms: Callable[[], int]
    channel_business: Callable[[str], str] = lambda channel: ""

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        order = update.order
        shop = self.shop_for(order.shop_id)
        if shop is None:
            return
        language = shop.language_for(order.language)
        now = self.now_ms()
        found = await self.store.find(shop.id, order.customer)
        conversation = next((c for c in found if c.key.channel == order.channel), None)
        business = conversation.business if conversation else self.channel_business(order.channel)

        def t(key: str, **values: str) -> str:
            return text_for(shop, key, language, order=order.label, **values)

        to_shopper: list[str | Reply] = []
        to_owners: list[str] = []
        captured = Money(update.after.captured.minor - update.before.captured.minor,
                         order.currency)
        refunded = Money(update.after.refunded.minor - update.before.refunded.minor,
                         order.currency)
        kind = update.event.kind
        if update.rejected is not None:
            to_owners.append(f"⚠️ A {update.event.provider} payment callback for {order.label} "
                             f"was rejected and not applied: {update.rejected}. Check it in "
                             "the provider's dashboard.")
        elif update.request.method == "tip":
            if captured.minor > 0:
                to_shopper.append(t("tip_thanks", amount=captured.format()))
                to_owners.append(f"💝 Tip {captured.format()} on {order.label}")
        elif update.late_money.minor > 0 and update.order_status_after != OrderStatus.PAID:
            to_shopper.append(t("late_payment", amount=update.late_money.format()))
            action = ("It is being refunded automatically (payments.late_payment: refund)."
                      if self._auto_refund(shop, update) else
                      f"Send `refund {order.label}` to return it.")
            to_owners.append(f"⚠️ {update.late_money.format()} arrived for {order.label} "
                             f"after it closed ({update.order_status_after}). {action}")
        elif update.newly_paid:
            to_shopper.append(order_status_reply(
                t("paid_receipt", amount=update.after.captured.format()), update.request.id,
                OrderStatus.PAID))
            to_owners.append(await self._paid_alert(update))
        elif captured.minor > 0 and update.after.outstanding.minor > 0:
            to_shopper.append(t("partial_receipt", amount=captured.format(),
                                left=update.after.outstanding.format()))
        elif kind is PaymentEventKind.FAILED and update.after.is_open:
            to_shopper.append(t("payment_failed"))
        elif (kind is PaymentEventKind.EXPIRED and order.status == OrderStatus.PENDING_PAYMENT
              and update.after.captured.minor == 0
              and await self._expire_order(update, writes, now)):
            to_shopper.append(t("payment_expired"))
        if refunded.minor > 0:
            to_shopper.append(t("refund_receipt", amount=refunded.format()))
            to_owners.append(f"↩️ Refunded {refunded.format()} on {order.label}")
        for body in to_shopper:
            reply = proactive(shop, conversation, body, now)
            if reply is not None:
                outbox_statement(writes, OutboxItem(uuid.uuid4().hex, shop.id, order.channel,
                                                    order.customer, business, reply), now)
        for owner in shop.owners if to_owners else ():
            digits = "".join(ch for ch in owner if ch.isdigit())
            theirs = next((c for c in await self.store.find(shop.id, digits)
                           if c.key.channel == order.channel), None)
            for body in to_owners:
                alert = proactive(shop, theirs, body, now, purpose="merchant_alert")
                if alert is not None:
                    outbox_statement(writes, OutboxItem(uuid.uuid4().hex, shop.id,
                                                        order.channel, digits, business, alert),
                                     now)

    @staticmethod
    def _auto_refund(shop: Shop, update: PaymentUpdate) -> bool:
        return (shop.payments.late_payment == "refund" and update.late_money.minor > 0
                and update.order_status_after == OrderStatus.CANCELLED)

    async def after_commit(self, update: PaymentUpdate) -> None:
        """Money for a cancelled order goes back by itself when the shop says so."""
        shop = self.shop_for(update.order.shop_id)
        if shop is None or not self._auto_refund(shop, update):
            return
        order = await self.payments.repo.order(update.order.id) or update.order
        try:
            await self.payments.refund(order, update.late_money, reason="late payment",
                                       notify=self)
        except PaymentError as exc:
            log.warning("automatic refund of late money failed (%s); the merchant was told",
                        exc.code)

    async def _paid_alert(self, update: PaymentUpdate) -> str:
        order = update.order
        lines = await self.payments.repo.lines(order.id)
        body = [f"💰 {order.label} paid: {update.after.captured.format()}"]
        body += [f"• {ln.quantity} × {ln.name}" for ln in lines]
        if order.address:
            body.append(f"📍 {order.address}")
        body.append(f"Reply `ship {order.label}` when it leaves.")
        return "\n".join(body)

    async def _expire_order(self, update: PaymentUpdate, writes: WriteSet, now: int) -> bool:
        """The only payment request expired unpaid: cancel the order and free its stock."""
        order = update.order
        others = [r for r in await self.payments.repo.requests_for_order(order.id)
                  if r.id != update.request.id and r.method != "tip"
                  and r.status in ("issued", "partially_paid")]
        if others:
            return False  # another way to pay is still open
        shop = self.shop_for(order.shop_id)
        if shop is None:
            return False
        self.payments.repo.set_order_status(writes, order.id, order.status,
                                            OrderStatus.CANCELLED, now)
        postings = postings_for_cancel(order.label, order.total)
        self.payments.repo.insert_postings(writes, order.shop_id, postings, now)
        lines = await self.payments.repo.lines(order.id)
        self.inventory.release(shop.id, shop.catalog, [(ln.sku, ln.quantity) for ln in lines],
                               writes, now)
        return True
