"""What the shopper and the merchant are told when money moves. See payment_updates.mmd.

Called by the payment service *inside* the transaction that applies a provider event, so a
receipt is stored (as an outbox row) exactly when the payment is, and never twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.inventory import Inventory
from bot.order_card import card_sent
from bot.outgoing import outbox_statement
from bot.receipts import IssuedReceipt, ReceiptError, Receipts
from bot.replies import shop_name, text_for
from bot.state import StateStore
from bot.templates import proactive_item
from bot.types import Reply
from catalog.message_templates import TemplateEvent
from catalog.models import Shop
from catalog.money import Money
from payments.book import COD
from payments.invoices import InvoiceNumberError
from payments.providers.manual import ManualTransferProvider
from payments.repository import Order
from payments.service import PaymentService, PaymentUpdate, RefundUpdate
from payments.status import (
    OPEN_REQUEST,
    WHATSAPP_ORDER_STATUS,
    OrderStatus,
    PaymentEventKind,
    RefundStatus,
)
from storage.database import WriteSet

log = logging.getLogger(__name__)


def order_status_reply(text: str, reference: str, status: OrderStatus, *,
                       card: bool = True) -> Reply:
    """A receipt that WhatsApp also shows as the order card's new status (``order_status``);
    channels without order cards send its text, and so does a payment whose reference
    never went out on an ``order_details`` card (``card`` False)."""
    if not card:
        return Reply(type="text", text=text)
    return Reply(type="payment", text=text, extra={"order_status": {
        "reference_id": reference,
        "order": {"status": WHATSAPP_ORDER_STATUS[status], "description": text[:120]}}})


# a shopper's message: its text (or card), and the template it goes out as outside the
# 24-hour window with that template's values (none: recorded as undeliverable there)
Notice = tuple[str | Reply, TemplateEvent | None, dict[str, str]]


@dataclass
class PaymentNotifier:
    shop_for: Callable[[str], Shop | None]
    store: StateStore
    inventory: Inventory
    payments: PaymentService
    now_ms: Callable[[], int]
    channel_business: Callable[[str], str] = lambda channel: ""
    # the channels with a customer-service window (declared by the channels themselves)
    windowed_channels: frozenset[str] = frozenset()
    receipts: Receipts | None = None  # None: no receipts (tests that build a bare notifier)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        order = update.order
        shop = self.shop_for(order.shop_id)
        if shop is None:
            return
        language = shop.language_for(order.language)
        now = self.now_ms()

        def t(key: str, **values: str) -> str:
            return text_for(shop, key, language, order=order.label, **values)

        def notice(body: str | Reply, event: TemplateEvent | None = None,
                   **values: str) -> Notice:
            return body, event, {"order": order.label, "shop": shop_title, **values}

        shop_title = shop_name(shop, language)
        to_shopper: list[Notice] = []
        to_owners: list[str] = []
        captured = Money(update.after.captured.minor - update.before.captured.minor,
                         order.currency)
        refunded = Money(update.after.refunded.minor - update.before.refunded.minor,
                         order.currency)
        kind = update.event.kind
        excess = update.new_excess
        if update.rejected is not None:
            to_owners.append(f"⚠️ A {update.event.provider} payment callback for {order.label} "
                             f"was rejected and not applied: {update.rejected}. Check it in "
                             "the provider's dashboard.")
        elif update.request.method == "tip":
            if captured.minor > 0:
                to_shopper.append(notice(t("tip_thanks", amount=captured.format())))
                to_owners.append(f"💝 Tip {captured.format()} on {order.label}")
        elif excess.minor > 0:
            # paid twice, or paid after the order closed: more than the order keeps
            late = update.late_money.minor > 0
            to_shopper.append(notice(t("late_payment" if late else "overpaid",
                                       amount=excess.format())))
            why = (f"after it closed ({update.order_status_after})" if late
                   else "beyond its total (paid twice)")
            to_owners.append(f"⚠️ {excess.format()} arrived for {order.label} {why}. "
                             f"{self._excess_action(update)}")
        elif update.request.method == COD and captured.minor > 0:
            # the merchant recorded the cash (deliver / paid ORD-…): only now is it "paid"
            delivered = update.order_status_after == OrderStatus.DELIVERED
            text = t("cod_cash_received" if delivered else "paid_receipt",
                     amount=captured.format())
            # its receipt (after delivery, for COD) in the same transaction and message
            settled = replace(order, status=OrderStatus(update.order_status_after))
            # no reference: cash has none (the event's id, ``cash:ORD-…``, is haat's dedupe key)
            text += await self._receipt_line(shop, settled, writes, to_owners, t, method="cod",
                                             reference=None, now=now)
            event = TemplateEvent.ORDER_DELIVERED if delivered else TemplateEvent.ORDER_PAID
            to_shopper.append(notice(text, event, amount=captured.format()))
        elif update.newly_paid:
            paid = update.after.captured.format()
            text = t("paid_receipt", amount=paid)
            # the receipt in the same transaction, its link in the same message: one
            # message cannot arrive before the other (the outbox sends rows concurrently)
            request = update.request
            text += await self._receipt_line(
                shop, order, writes, to_owners, t, method=request.method,
                reference=ManualTransferProvider.shown_reference(
                    update.event.payment_id or request.provider_ref or ""), now=now)
            # the card moves only if one went out for this request (bot/order_card.py)
            to_shopper.append(notice(order_status_reply(
                text, request.id, OrderStatus.PAID,
                card=card_sent(shop, request.method, request.upi_link)),
                TemplateEvent.ORDER_PAID, amount=paid))
            to_owners.append(await self._paid_alert(update))
        elif captured.minor > 0 and update.after.outstanding.minor > 0:
            to_shopper.append(notice(t("partial_receipt", amount=captured.format(),
                                       left=update.after.outstanding.format()),
                                     TemplateEvent.ORDER_PAID, amount=captured.format()))
        elif kind is PaymentEventKind.FAILED and update.after.is_open:
            to_shopper.append(notice(t("payment_failed")))
        elif (kind is PaymentEventKind.EXPIRED and order.status == OrderStatus.PENDING_PAYMENT
              and update.after.captured.minor == 0
              and await self._expire_order(update, writes, now)):
            to_shopper.append(notice(t("payment_expired")))
        if refunded.minor > 0:
            _refunded(update, refunded, t, notice, to_shopper, to_owners)
        if update.refund is not None and update.refund.status == RefundStatus.FAILED:
            to_owners.append(self._failed_alert(order.label, update.refund.amount,
                                                update.refund.last_error,
                                                update.refund.next_attempt_at))
        await self._send(shop, order, to_shopper, to_owners, writes, now)

    def _excess_action(self, update: PaymentUpdate) -> str:
        """What happens to money beyond what the order keeps, told to the merchant."""
        excess, order = update.new_excess, update.order
        if not self.payments.can_refund(update.request.provider):
            # plain UPI: no provider can send it back, only the merchant can
            # (a manual transfer: from the wallet or bank account it was sent to)
            where, ref = ("the account it was sent to", "<reference>") if \
                self.payments.is_transfer(update.request) \
                else ("your UPI app", "<UPI reference>")
            return (f"This shop's payments cannot be refunded automatically: send "
                    f"{excess.format()} back from {where}, then `refunded "
                    f"{order.label} {excess.to_decimal_string()} {ref}` so "
                    f"haat books it and tells the shopper.")
        if update.excess_policy == "refund":
            return ("haat will ask the provider to refund exactly that; you will hear "
                    "when the provider accepts it or if it fails.")
        return (f"It is held. Send `refund {order.label} excess` to return exactly "
                f"that (never the order's own payment).")

    async def _receipt_line(self, shop: Shop, order: Order, writes: WriteSet,
                            to_owners: list[str], t: Callable[..., str], *, method: str,
                            reference: str | None, now: int) -> str:
        """The receipt issued in this transaction, as a line for the message it joins."""
        issued = await self._issue_receipt(shop, order, writes, to_owners, method=method,
                                           reference=reference, now=now)
        return "" if issued is None else "\n" + t("receipt_line", link=issued.url)

    async def _issue_receipt(self, shop: Shop, order: Order, writes: WriteSet,
                             to_owners: list[str], *, method: str, reference: str | None,
                             now: int) -> IssuedReceipt | None:
        """The receipt, or None; a receipt that cannot be issued never blocks the payment
        (or delivery) it belongs to: the merchant is told why instead."""
        if self.receipts is None:
            return None
        try:
            return await self.receipts.issue(writes, order, method=method,
                                             reference=reference, now_ms=now)
        except (ReceiptError, InvoiceNumberError) as exc:
            log.warning("no receipt for an order of shop %s: %s", shop.id, exc)
            to_owners.append(f"⚠️ No receipt could be issued for {order.label}: {exc}.")
            return None

    async def refund_changed(self, update: RefundUpdate, writes: WriteSet) -> None:
        """A refund was accepted by the provider (only now is the shopper told it is on
        its way) or failed (the merchant is told, with the scheduled retry)."""
        order = update.order
        shop = self.shop_for(order.shop_id)
        if shop is None:
            return
        amount = update.refund.amount.format()
        language = shop.language_for(order.language)
        to_shopper: list[Notice] = []
        to_owners: list[str] = []
        if update.after is RefundStatus.PENDING:
            to_shopper.append((text_for(shop, "refund_started", language, order=order.label,
                                        amount=amount), TemplateEvent.REFUND,
                               {"order": order.label, "amount": amount,
                                "shop": shop_name(shop, language)}))
            to_owners.append(f"↩️ Refund of {amount} on {order.label} accepted by the provider "
                             f"(pending).")
        elif update.after is RefundStatus.FAILED:
            to_owners.append(self._failed_alert(order.label, update.refund.amount,
                                                update.refund.last_error, update.retry_at))
        await self._send(shop, order, to_shopper, to_owners, writes, self.now_ms())

    @staticmethod
    def _failed_alert(label: str, amount: Money, error: str, retry_at: int) -> str:
        when = (f"haat retries it automatically at "
                f"{time.strftime('%H:%M UTC', time.gmtime(retry_at / 1000))}."
                if retry_at else
                f"This provider cannot refund: return it from your UPI app, then send "
                f"`refunded {label} {amount.to_decimal_string()} <UPI reference>`.")
        return f"❗ Refund of {amount.format()} on {label} FAILED at the provider " \
               f"({error[:80] or 'no reason given'}). {when}"

    async def _send(self, shop: Shop, order: Order, to_shopper: list[Notice],
                    to_owners: list[str], writes: WriteSet, now: int) -> None:
        found = await self.store.find(shop.id, order.customer)
        conversation = next((c for c in found if c.key.channel == order.channel), None)
        business = conversation.business if conversation else self.channel_business(order.channel)
        windowed = order.channel in self.windowed_channels
        language = shop.language_for(order.language)
        for body, event, values in to_shopper:
            outbox_statement(writes, proactive_item(
                shop, conversation, body, now, event, values, channel=order.channel,
                customer=order.customer, business=business, language=language,
                windowed=windowed), now)
        shop_title = shop_name(shop, "en")
        for owner in shop.owners if to_owners else ():
            digits = "".join(ch for ch in owner if ch.isdigit())
            theirs = next((c for c in await self.store.find(shop.id, digits)
                           if c.key.channel == order.channel), None)
            for body in to_owners:
                outbox_statement(writes, proactive_item(
                    shop, theirs, body, now, TemplateEvent.MERCHANT_ALERT,
                    {"shop": shop_title, "alert": body}, channel=order.channel,
                    customer=digits, business=business, language="en",
                    windowed=windowed), now)

    async def _paid_alert(self, update: PaymentUpdate) -> str:
        order = update.order
        lines = await self.payments.lines(order.id)
        body = [f"💰 {order.label} paid: {update.after.captured.format()}"]
        body += [f"• {ln.quantity} × {ln.name}" for ln in lines]
        if order.address:
            body.append(f"📍 {order.address}")
        body.append(f"Reply `ship {order.label}` when it leaves.")
        return "\n".join(body)

    async def _expire_order(self, update: PaymentUpdate, writes: WriteSet, now: int) -> bool:
        """The only payment request expired unpaid: cancel the order and free its stock."""
        order = update.order
        others = [r for r in await self.payments.requests_for_order(order.id)
                  if r.id != update.request.id and r.method != "tip"
                  and r.status in OPEN_REQUEST]
        if others:
            return False  # another way to pay is still open
        shop = self.shop_for(order.shop_id)
        if shop is None:
            return False
        self.payments.cancel_unpaid(writes, order, now)
        lines = await self.payments.lines(order.id)
        self.inventory.release(shop.id, shop.catalog, [(ln.sku, ln.quantity) for ln in lines],
                               writes, now)
        return True


def _refunded(update: PaymentUpdate, refunded: Money, t: Callable[..., str],
              notice: Callable[..., Notice], to_shopper: list[Notice],
              to_owners: list[str]) -> None:
    """Money went back: the shopper's receipt and the merchant's note."""
    order = update.order
    if update.refund is not None and (update.refund.provider_ref or "").startswith("manual:"):
        # the merchant says they paid it back by hand: say exactly that, nothing more
        reference = str(update.refund.provider_ref).split(":")[1]
        to_shopper.append(notice(t("refund_manual", amount=refunded.format(),
                                   reference=reference), TemplateEvent.REFUND,
                                 amount=refunded.format()))
        to_owners.append(f"↩️ Booked your refund of {refunded.format()} on {order.label} "
                         f"(ref {reference}); the order is now "
                         f"{update.order_status_after}.")
        return
    to_shopper.append(notice(t("refund_receipt", amount=refunded.format()),
                             TemplateEvent.REFUND, amount=refunded.format()))
    if update.provider_refund is not None:
        to_owners.append(f"↩️ The provider refunded {refunded.format()} on "
                         f"{order.label} by itself; the order is now "
                         f"{update.order_status_after}.")
    else:
        to_owners.append(f"↩️ Refunded {refunded.format()} on {order.label}")
