"""The books account by account, written out by hand, not only "debits equal credits".

Issue 20: late money refunded after a cancel could be booked against revenue while the
books still balanced, and no test looked at the accounts. Each case here states, per
account, what the ledger must hold for one order (payments/ledger.py names the accounts).
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from catalog.money import Money
from payments.audit import order_balances
from payments.providers.base import (
    LinkRequest,
    PaymentProvider,
    ProviderEvent,
    ProviderLink,
    TransferPayee,
)
from payments.providers.manual import ManualTransferProvider
from payments.repository import Order, OrderLine
from payments.service import PaymentError, PaymentPlan, PaymentService
from payments.status import OrderEvent, PaymentEventKind, PaymentStatus, RefundStatus
from storage.database import WriteSet
from tests.contract.money_env import (
    T0,
    TOTAL,
    Env,
    ask,
    clean_books,
    event,
    fresh,
    late_money,
    new_order,
    pay,
)
from tests.fakes.psp import NAME

K = PaymentEventKind


async def _accounts(env: Env, label: str, shop: str) -> dict[str, int]:
    rows = await env.service.repo.ledger_rows(shop)
    return {a: v for a, v in order_balances(rows, shop, label).items() if v}


async def test_a_paid_order_is_revenue(env: Env) -> None:
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    assert await _accounts(env, order.label, order.shop_id) == {
        "merchant_revenue": -TOTAL, "psp_clearing": TOTAL}
    await clean_books(env)


async def test_late_money_after_a_cancel_goes_back_and_never_touches_revenue(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order, "payment_link")
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    await pay(env, link, TOTAL)
    assert await late_money(env, link) == TOTAL
    # every account of the order is back at zero: the money came in and went back out
    assert await _accounts(env, order.label, order.shop_id) == {}
    rows = await env.service.repo.ledger_rows(order.shop_id)
    revenue = [(ref.split(":")[0], amount) for _shop, ref, account, amount, _cur in rows
               if account == "merchant_revenue"]
    # revenue moved only by the sale and its cancel, never by the late capture or its refund
    assert sorted(revenue) == [("cancel", TOTAL), ("order", -TOTAL)]
    refunded: dict[str, int] = {}
    for _shop, ref, account, amount, _cur in rows:
        if ref.startswith(f"refund:{order.label}:"):
            refunded[account] = refunded.get(account, 0) + amount
    # the refund is owed to the customer (receivable) and paid out of the PSP's clearing
    assert {a: v for a, v in refunded.items() if v} == {
        "customer_receivable": TOTAL, "psp_clearing:scripted": -TOTAL}
    await clean_books(env)


# ---- PaymentService._ledger_for: the exact rows of one request's change of state --------
# Issue 20: mutation testing of payments/service.py found the capture's ref (it names the
# payment request) and a refund booked with a capture in one step unchecked.


async def _order_rows(env: Env, order: Order) -> list[tuple[str, str, int]]:
    """(ref, account, signed amount) of every posting of the order, in a stable order."""
    return sorted((ref, account, amount) for _shop, ref, account, amount, _cur
                  in await env.service.repo.ledger_rows(order.shop_id)
                  if ref.split(":")[1:2] == [order.label])


async def test_a_capture_and_a_tip_are_booked_under_their_request_ids(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await pay(env, link, TOTAL)
    tip = await ask(env, await fresh(env, order), "tip", Money(500, "INR"))
    await pay(env, tip, 500)
    label = order.label
    assert await _order_rows(env, order) == sorted([
        (f"order:{label}", "customer_receivable", TOTAL),
        (f"order:{label}", "merchant_revenue", -TOTAL),
        # the ref names the payment request whose money it is, not only the order
        (f"capture:{label}:{link.id}", "customer_receivable", -TOTAL),
        (f"capture:{label}:{link.id}", "psp_clearing:scripted", TOTAL),
        # a tip is income nobody owed: clearing up, tips up, the receivable untouched
        (f"tip:{label}:{tip.id}", "psp_clearing:scripted", 500),
        (f"tip:{label}:{tip.id}", "tips", -500)])
    assert await _accounts(env, label, order.shop_id) == {
        "merchant_revenue": -TOTAL, "psp_clearing": TOTAL + 500, "tips": -500}
    await clean_books(env)


async def test_a_refund_that_came_before_its_capture_is_paid_out_with_the_capture(
        env: Env) -> None:
    # the provider's refund event is older than nothing we know: no capture yet, so it
    # refunds nothing; the capture it refunds, dated before it, then brings both at once
    order = await new_order(env)
    link = await ask(env, order)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 4_000, at=T0 // 1000 + 50,
                                              payment_id="payA", refund_id="rfnd_A"))
    assert await _order_rows(env, order) == sorted([
        (f"order:{order.label}", "customer_receivable", TOTAL),
        (f"order:{order.label}", "merchant_revenue", -TOTAL)])
    env.psp.capture("payA", TOTAL)
    await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id="payA"))
    request = await env.service.repo.request(link.id)
    assert request is not None
    assert (request.captured_minor, request.refunded_minor) == (TOTAL, 4_000)
    # one step books the capture and the refund's payout, each under the request's id
    mine = [row for row in await _order_rows(env, order) if row[0].endswith(f":{link.id}")]
    assert mine == sorted([
        (f"capture:{order.label}:{link.id}", "customer_receivable", -TOTAL),
        (f"capture:{order.label}:{link.id}", "psp_clearing:scripted", TOTAL),
        (f"refund:{order.label}:{link.id}", "psp_clearing:scripted", -4_000),
        (f"refund:{order.label}:{link.id}", "refunds_payable", 4_000)])
    assert await env.service.ledger_balanced()
    # and that refund is the provider's own (dashboard): booked as one processed refund
    # row with revenue giving the money back, as if its webhook had come after the capture
    (refund,) = await env.service.repo.refunds_for_order(order.id)
    assert (refund.amount_minor, refund.status, refund.provider_ref, refund.reason,
            refund.payment_id, refund.against) == (
        4_000, RefundStatus.PROCESSED, "rfnd_A", "provider", "payA", "merchant_revenue")
    settled = {"merchant_revenue": -TOTAL + 4_000, "psp_clearing": TOTAL - 4_000}
    assert await _accounts(env, order.label, order.shop_id) == settled
    await clean_books(env)
    # its webhook delivered again, under another event id, books nothing more
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 4_000, at=T0 // 1000 + 50,
                                              payment_id="payA", refund_id="rfnd_A"))
    assert len(await env.service.repo.refunds_for_order(order.id)) == 1
    assert await _accounts(env, order.label, order.shop_id) == settled
    await clean_books(env)


async def test_a_refund_before_its_capture_ends_in_the_books_of_the_usual_order(
        env: Env) -> None:
    """The same events in the usual order (capture, then the provider's refund) and in the
    reverse one leave every account of the order the same."""
    books = []
    for refund_first in (False, True):
        order = await new_order(env)
        link = await ask(env, order)
        pid, rid = f"pay{int(refund_first)}", f"rfnd{int(refund_first)}"
        refund = event(link, K.REFUNDED, 2_500, at=T0 // 1000 + 50, payment_id=pid,
                       refund_id=rid)
        if refund_first:
            await env.service.apply_event(NAME, refund)
        env.psp.capture(pid, TOTAL)
        await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id=pid))
        if not refund_first:
            await env.service.apply_event(NAME, refund)
        rows = await env.service.repo.refunds_for_order(order.id)
        assert [(r.amount_minor, r.status, r.provider_ref) for r in rows] == [
            (2_500, RefundStatus.PROCESSED, rid)]
        assert (await fresh(env, order)).status == "partially_refunded"
        books.append(await _accounts(env, order.label, order.shop_id))
    assert books[0] == books[1] == {"merchant_revenue": -TOTAL + 2_500,
                                    "psp_clearing": TOTAL - 2_500}
    await clean_books(env)


# ---- PaymentService._refunds_the_capture_counts: which early refunds a capture books -------
# Issue 20: the mutation run of the refund-before-capture fix (f4d0b35) found that no test
# had more than one early event, so which of them the capture books, and what it tells the
# merchant (update.provider_refund), were unchecked.


async def _refund_rows(env: Env, order: Order) -> list[tuple[int, str, str | None, str]]:
    return sorted((r.amount_minor, str(r.status), r.provider_ref, r.payment_id)
                  for r in await env.service.repo.refunds_for_order(order.id))


async def test_a_capture_books_each_early_provider_refund_of_its_payment_once(
        env: Env) -> None:
    """Before the capture: a failed attempt, a failed refund the provider never paid, one
    refund delivered twice under two event ids, and a second refund. The capture books the
    two refunds that paid out, once each, and reports their sum as the provider's own."""
    order = await new_order(env)
    link = await ask(env, order)
    at = T0 // 1000 + 50
    for early in (event(link, K.FAILED, TOTAL, payment_id="pay0"),
                  event(link, K.REFUND_FAILED, 1_000, at=at, payment_id="pay1",
                        refund_id="rfnd_failed"),
                  event(link, K.REFUNDED, 3_000, at=at, payment_id="pay1", refund_id="rfnd_1"),
                  event(link, K.REFUNDED, 3_000, at=at, payment_id="pay1", refund_id="rfnd_1"),
                  event(link, K.REFUNDED, 2_000, at=at + 1, payment_id="pay1",
                        refund_id="rfnd_2")):
        await env.service.apply_event(NAME, early)
    assert await env.service.repo.refunds_for_order(order.id) == []
    env.psp.capture("pay1", TOTAL)
    update = await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL,
                                                       payment_id="pay1"))
    assert update is not None
    assert update.provider_refund == Money(5_000, "INR")
    assert await _refund_rows(env, order) == [
        (2_000, "processed", "rfnd_2", "pay1"), (3_000, "processed", "rfnd_1", "pay1")]
    assert await _accounts(env, order.label, order.shop_id) == {
        "merchant_revenue": -TOTAL + 5_000, "psp_clearing": TOTAL - 5_000}
    await clean_books(env)


async def test_a_capture_books_a_whole_refund_made_in_two_parts_down_to_one_paisa(
        env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    at = T0 // 1000 + 50
    await env.service.apply_event(NAME, event(link, K.REFUNDED, TOTAL - 1, at=at,
                                              payment_id="payW", refund_id="rfnd_most"))
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 1, at=at + 1,
                                              payment_id="payW", refund_id="rfnd_paisa"))
    env.psp.capture("payW", TOTAL)
    update = await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL,
                                                       payment_id="payW"))
    assert update is not None and update.provider_refund == Money(TOTAL, "INR")
    assert await _refund_rows(env, order) == [
        (1, "processed", "rfnd_paisa", "payW"), (TOTAL - 1, "processed", "rfnd_most", "payW")]
    assert await _accounts(env, order.label, order.shop_id) == {}
    # all of it went back, as a capture then a whole refund would leave it
    assert (await fresh(env, order)).status == "refunded"
    await clean_books(env)


async def test_an_early_refund_of_another_payment_waits_for_that_payments_capture(
        env: Env) -> None:
    """Two payments on one link, each refunded before its capture, the other payment's
    refund delivered first. A refund gives back from its own payment only: each capture
    books its own payment's refund, and the other waits for its capture."""
    order = await new_order(env)
    link = await ask(env, order, "payment_link")
    at = T0 // 1000 + 50
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 1_500, at=at,
                                              payment_id="payB", refund_id="rfnd_B"))
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 2_500, at=at,
                                              payment_id="payA", refund_id="rfnd_A"))
    env.psp.capture("payA", 6_000)
    first = await env.service.apply_event(NAME, event(link, K.CAPTURED, 6_000,
                                                      payment_id="payA"))
    assert first is not None and first.provider_refund == Money(2_500, "INR")
    assert await _refund_rows(env, order) == [(2_500, "processed", "rfnd_A", "payA")]
    env.psp.capture("payB", 4_000)
    second = await env.service.apply_event(NAME, event(link, K.CAPTURED, 4_000,
                                                       payment_id="payB"))
    assert second is not None and second.provider_refund == Money(1_500, "INR")
    assert await _refund_rows(env, order) == [
        (1_500, "processed", "rfnd_B", "payB"), (2_500, "processed", "rfnd_A", "payA")]
    assert await _accounts(env, order.label, order.shop_id) == {
        "merchant_revenue": -TOTAL + 4_000, "psp_clearing": TOTAL - 4_000}
    await clean_books(env)


async def test_a_capture_books_its_own_payments_early_refund_before_another_payments(
        env: Env) -> None:
    """The link's state counts only what was captured: a capture of 3,000 with early
    refunds of 2,000 (another payment, delivered first) and 3,000 (its own) counts 3,000,
    and that is its own payment's refund, not the other's."""
    order = await new_order(env)
    link = await ask(env, order, "payment_link")
    at = T0 // 1000 + 50
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 2_000, at=at,
                                              payment_id="payY", refund_id="rfnd_Y"))
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 3_000, at=at + 1,
                                              payment_id="payX", refund_id="rfnd_X"))
    env.psp.capture("payX", 3_000)
    update = await env.service.apply_event(NAME, event(link, K.CAPTURED, 3_000,
                                                       payment_id="payX"))
    assert update is not None and update.provider_refund == Money(3_000, "INR")
    assert await _refund_rows(env, order) == [(3_000, "processed", "rfnd_X", "payX")]


async def test_an_early_refund_that_names_no_payment_is_the_captures(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 4_000, at=T0 // 1000 + 50,
                                              refund_id="rfnd_nopay"))
    env.psp.capture("payN", TOTAL)
    await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id="payN"))
    assert await _refund_rows(env, order) == [(4_000, "processed", "rfnd_nopay", "payN")]
    await clean_books(env)


async def test_an_early_refund_of_late_money_is_owed_back_not_taken_from_revenue(
        env: Env) -> None:
    """The order was cancelled; the shopper paid anyway and the provider refunded part of
    it by itself before the capture's webhook came. Revenue never moves for that money."""
    order = await new_order(env)
    link = await ask(env, order, "payment_link")
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    await env.service.apply_event(NAME, event(link, K.REFUNDED, 4_000, at=T0 // 1000 + 50,
                                              payment_id="payL", refund_id="rfnd_L"))
    env.psp.capture("payL", TOTAL)
    await env.service.apply_event(NAME, event(link, K.CAPTURED, TOTAL, payment_id="payL"))
    rows = await env.service.repo.refunds_for_order(order.id)
    provider = [r for r in rows if r.provider_ref == "rfnd_L"]
    assert [(r.amount_minor, r.status) for r in provider] == [(4_000, RefundStatus.PROCESSED)]
    assert provider[0].against != "merchant_revenue"
    # the rest went back through our own refund: nothing of the late money is kept
    assert sum(r.amount_minor for r in rows) == TOTAL
    assert await _accounts(env, order.label, order.shop_id) == {}
    revenue = [(ref.split(":")[0], amount) for _shop, ref, account, amount, _cur
               in await env.service.repo.ledger_rows(order.shop_id)
               if account == "merchant_revenue"]
    assert sorted(revenue) == [("cancel", TOTAL), ("order", -TOTAL)]
    await clean_books(env)


# ---- PaymentService._order_after at its smallest amounts ---------------------------------


async def test_the_smallest_order_is_paid_by_one_paisa(env: Env) -> None:
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id="money", channel="simulator", customer="paisa",
        lines=[OrderLine("TOFFEE", "Toffee", 1, Money(1, "INR"))],
        delivery=Money(0, "INR"), address="", language="en")
    await env.db.write(writes)
    assert order.total_minor == 1
    await pay(env, await ask(env, order), 1)
    assert (await fresh(env, order)).status == "paid"
    assert await _accounts(env, order.label, order.shop_id) == {
        "merchant_revenue": -1, "psp_clearing": 1}
    await clean_books(env)


async def test_one_paisa_given_back_by_the_provider_makes_the_order_partly_refunded(
        env: Env) -> None:
    for refund_first in (False, True):
        order = await new_order(env)
        link = await ask(env, order)
        pid = f"payP{int(refund_first)}"
        refund = event(link, K.REFUNDED, 1, at=T0 // 1000 + 50, payment_id=pid,
                       refund_id=f"rfnd_P{int(refund_first)}")
        if refund_first:
            await env.service.apply_event(NAME, refund)
        await pay(env, link, TOTAL, pid)
        if not refund_first:
            await env.service.apply_event(NAME, refund)
        assert (await fresh(env, order)).status == "partially_refunded"
        assert await _accounts(env, order.label, order.shop_id) == {
            "merchant_revenue": -TOTAL + 1, "psp_clearing": TOTAL - 1}
    await clean_books(env)


async def test_a_provider_refund_larger_than_the_held_excess_gives_back_part_of_the_sale(
        env: Env) -> None:
    """Paid 15,000 for a 10,000 order, the 5,000 beyond it held for the merchant; then the
    provider refunds 8,000 of the first payment by itself. 5,000 of it is the shopper's
    excess and 3,000 is the sale: revenue gives back 3,000 and the order is partly refunded.
    (It was booked as 8,000 of excess: revenue kept the whole sale, the shopper's account
    went 3,000 the wrong way, and the audit saw nothing.)"""
    env.policy["other"] = "hold"
    order = await new_order(env)
    qr, link = await ask(env, order), await ask(env, order, "payment_link")
    await pay(env, qr, TOTAL, "payQ")
    await pay(env, link, 5_000, "payL")
    await env.service.apply_event(NAME, event(qr, K.REFUNDED, 8_000, at=T0 // 1000 + 50,
                                              payment_id="payQ", refund_id="rfnd_dash"))
    rows = await env.service.repo.refunds_for_order(order.id)
    assert sorted((r.amount_minor, r.against, r.status, r.provider_ref, r.payment_id)
                  for r in rows) == [
        (3_000, "merchant_revenue", RefundStatus.PROCESSED, "rfnd_dash", "payQ"),
        (5_000, "customer_receivable", RefundStatus.PROCESSED, "rfnd_dash", "payQ")]
    assert (await fresh(env, order)).status == "partially_refunded"
    assert await _accounts(env, order.label, order.shop_id) == {
        "merchant_revenue": -TOTAL + 3_000, "psp_clearing": TOTAL - 3_000}
    await clean_books(env)
    # its webhook again, under another event id: nothing more
    await env.service.apply_event(NAME, event(qr, K.REFUNDED, 8_000, at=T0 // 1000 + 50,
                                              payment_id="payQ", refund_id="rfnd_dash"))
    assert len(await env.service.repo.refunds_for_order(order.id)) == 2
    await clean_books(env)


# ---- PaymentService._transfers and transfer_claims: what counts as a manual transfer -------
# Issue 20: the mutation run left `_transfers` (the capability *and* the transfer methods)
# and `transfer_claims` (an authorized event *and* a `claim:` id) with only one half
# checked: the manual provider has both halves everywhere, so they never disagreed.


class _LinksOnly(ManualTransferProvider):
    """A provider module built on the manual one (it has every transfer method) that serves
    UPI links only: it does not declare the ``transfer`` capability."""

    name: ClassVar[str] = "links_only"
    capabilities: ClassVar[frozenset[str]] = frozenset({"upi_link", "qr"})

    async def create_payment_link(self, request: LinkRequest) -> ProviderLink:
        return ProviderLink(provider=self.name, provider_ref=f"lo_{request.reference}",
                            reference=request.reference, amount=request.amount,
                            upi_uri=f"upi://pay?pa=shop@okaxis&tr={request.reference}")


class _BankFeed(ManualTransferProvider):
    """Transfers to the merchant's bank account with a feed of incoming credits: an NEFT
    credit not cleared yet comes as ``authorized`` under the bank's own id, which is not
    the shopper saying they sent it."""

    name: ClassVar[str] = "bankfeed"


def _service_with(env: Env, provider: PaymentProvider) -> PaymentService:
    providers: dict[str, PaymentProvider] = {NAME: env.psp, provider.name: provider}
    return PaymentService(env.db, providers, public_url="http://127.0.0.1", now_ms=env.now)


async def test_a_provider_that_does_not_declare_transfers_takes_no_transfer_claims(
        env: Env) -> None:
    """The ``transfer`` capability decides, not the methods a provider class happens to
    have: a link of a links-only provider refuses a shopper's transaction id and has no
    manual confirmation, and its money sits in that provider's own clearing account."""
    service = _service_with(env, _LinksOnly())
    order = await new_order(env)
    writes = WriteSet()
    link = await service.request_payment(
        writes, order, method="upi_link", plan=PaymentPlan(provider="links_only", payee=None))
    await env.db.write(writes)
    assert not service.is_transfer(link)
    with pytest.raises(PaymentError) as refused:
        await service.record_transfer_claim(WriteSet(), link, "8N7A6D5EE7")
    assert (refused.value.code, str(refused.value)) == ("unsupported", "not a manual transfer")
    assert service.transfer_confirmation(link, order.total, "8N7A6D5EE7", env.now()) is None
    assert await service.transfer_claims(link) == []
    await service.apply_event("links_only", ProviderEvent(
        provider="links_only", event_id="lo_ev1", kind=K.CAPTURED,
        provider_ref=str(link.provider_ref), amount=order.total, occurred_at=T0 // 1000,
        payment_id="lo_pay1", reference=link.id, refs=(link.id,)))
    assert (await fresh(env, order)).status == "paid"
    assert await _order_rows(env, order) == sorted([
        (f"order:{order.label}", "customer_receivable", TOTAL),
        (f"order:{order.label}", "merchant_revenue", -TOTAL),
        (f"capture:{order.label}:{link.id}", "customer_receivable", -TOTAL),
        (f"capture:{order.label}:{link.id}", "psp_clearing:links_only", TOTAL)])
    await clean_books(env)


async def test_a_banks_own_authorization_is_not_a_shoppers_transfer_claim(env: Env) -> None:
    """Only the shopper's claims (``authorized`` under ``claim:<id>``) are listed, and only
    they keep a transfer open past its expiry: a transfer the bank reports as an uncleared
    credit, with no claim, still expires and moves nothing in the books."""
    service = _service_with(env, _BankFeed())
    plan = PaymentPlan(provider=NAME, payee=None, transfer_provider="bankfeed", transfers={
        "bank_transfer": TransferPayee(method="bank_transfer", number="50100012345678",
                                       name="Rahman Grocery", expiry_minutes=60)})
    claimed, silent = await new_order(env), await new_order(env)
    writes = WriteSet()
    transfers = [await service.request_payment(writes, o, method="bank_transfer", plan=plan)
                 for o in (claimed, silent)]
    await env.db.write(writes)
    writes = WriteSet()
    assert await service.record_transfer_claim(writes, transfers[0], "UTR0001234")
    await env.db.write(writes)
    for n, transfer in enumerate(transfers):
        await service.apply_event("bankfeed", ProviderEvent(
            provider="bankfeed", event_id=f"feed:{n}", kind=K.AUTHORIZED,
            provider_ref=transfer.id, amount=Money(TOTAL, "INR"), occurred_at=T0 // 1000,
            payment_id=f"neft_{n}", reference=transfer.id, refs=(transfer.id,)))
    assert await service.transfer_claims(transfers[0]) == ["UTR0001234"]
    assert await service.transfer_claims(transfers[1]) == []
    env.advance(60 * 60_000 + 1_000)
    assert [u.request.id for u in await service.expire_due()] == [transfers[1].id]
    stored = [await service.repo.request(t.id) for t in transfers]
    assert [r.status if r else None for r in stored] == [
        PaymentStatus.ISSUED, PaymentStatus.EXPIRED]
    for order in (claimed, silent):
        assert await _accounts(env, order.label, order.shop_id) == {
            "customer_receivable": TOTAL, "merchant_revenue": -TOTAL}
    await clean_books(env)
