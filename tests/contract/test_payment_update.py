"""What one provider event hands to the flows, field by field, and when it is stored.

The flows tell the shopper and the merchant what happened from the ``PaymentUpdate`` that
``PaymentService.apply_event`` passes to ``notify`` (bot/flows/payment_updates.py), and
``notify`` writes its messages into the same write set as the payment, so a message goes
out only if the money was stored. Issue 20: the mutation run of payments/service.py found
the update's fields, the write set and the excess policy's question unchecked (the money
tests call ``apply_event`` without ``notify``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from catalog.money import Money
from payments.providers.base import ProviderEvent, TransferPayee
from payments.repository import Order, OrderLine
from payments.service import PaymentError, PaymentPlan, PaymentService, PaymentUpdate
from payments.status import OrderEvent, PaymentStatus
from storage import jobs
from storage.database import Conflict, WriteSet
from tests.contract.money_env import (
    T0,
    TOTAL,
    Env,
    K,
    ask,
    clean_books,
    event,
    fresh,
    new_order,
    pay,
)
from tests.fakes.psp import NAME

_TOLD = "test_told"


@dataclass
class _Told:
    """A notify that records each update and writes one job row with the payment."""

    updates: list[PaymentUpdate] = field(default_factory=list)

    async def __call__(self, update: PaymentUpdate, writes: WriteSet) -> None:
        self.updates.append(update)
        jobs.schedule(writes, f"told:{update.event.event_id}", shop_id=update.order.shop_id,
                      kind=_TOLD, due_at=0, payload=update.order_status_after, now_ms=0)


async def _told_rows(env: Env) -> list[tuple[str, str]]:
    return sorted((str(r[0]), str(r[5])) for r in await jobs.due(env.db, [_TOLD], 1, 100))


def _inr(minor: int) -> Money:
    return Money(minor, "INR")


async def test_a_capture_tells_the_flows_exactly_what_changed_in_the_same_write(
        env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    told = _Told()
    env.psp.capture("pay_told", TOTAL)
    captured = event(link, K.CAPTURED, TOTAL, payment_id="pay_told")
    update = await env.service.apply_event(NAME, captured, told)
    assert update is not None and told.updates == [update]
    assert (update.request.id, update.request.status, update.request.captured_minor,
            update.request.refunded_minor) == (link.id, PaymentStatus.PAID, TOTAL, 0)
    stored = await env.service.repo.request(link.id)
    assert stored is not None and stored.status == PaymentStatus.PAID
    assert update.order == order  # the order as it was before the event
    assert update.event == captured
    assert (update.before.status, update.after.status) == (PaymentStatus.ISSUED,
                                                           PaymentStatus.PAID)
    assert (update.order_status_before, update.order_status_after) == (
        "pending_payment", "paid")
    assert update.newly_paid
    assert (update.excess_before, update.excess_after, update.excess_policy) == (
        _inr(0), _inr(0), "refund")
    assert (update.closed, update.provider_refund, update.refund, update.rejected) == (
        (), None, None, None)
    # what notify wrote was stored with the payment
    assert await _told_rows(env) == [(f"told:{captured.event_id}", "paid")]
    await clean_books(env)


async def test_a_part_payment_closes_nothing_and_the_last_part_closes_the_other_link(
        env: Env) -> None:
    order = await new_order(env)
    qr = await ask(env, order, amount=_inr(4_000))
    link = await ask(env, order, "payment_link")
    told = _Told()
    env.psp.capture("pay_part", 4_000)
    part = await env.service.apply_event(
        NAME, event(qr, K.CAPTURED, 4_000, payment_id="pay_part"), told)
    assert part is not None
    assert (part.order_status_after, part.closed) == ("pending_payment", ())
    assert (await fresh(env, order)).status == "pending_payment"
    rest = await env.service.repo.request(link.id)
    assert rest is not None and rest.status == PaymentStatus.ISSUED
    # the rest through a new link: the order is paid and the one left open is closed
    last = await ask(env, order, "payment_link")
    env.psp.capture("pay_rest", TOTAL - 4_000)
    paid = await env.service.apply_event(
        NAME, event(last, K.CAPTURED, TOTAL - 4_000, payment_id="pay_rest"), told)
    assert paid is not None and paid.order_status_after == "paid"
    assert [r.id for r in paid.closed] == [link.id]
    assert [r.status for r in paid.closed] == [PaymentStatus.CANCELLED]
    statuses = {r.id: r.status for r in await env.service.requests_for_order(order.id)}
    assert statuses == {qr.id: PaymentStatus.PAID, link.id: PaymentStatus.CANCELLED,
                        last.id: PaymentStatus.PAID}
    assert len(await _told_rows(env)) == 2
    await clean_books(env)


async def test_the_excess_policy_is_asked_for_the_orders_shop_and_status(env: Env) -> None:
    asked: list[tuple[str, str]] = []

    def policy(shop_id: str, status: str) -> str:
        asked.append((shop_id, status))
        return "refund"

    service = PaymentService(env.db, env.service.providers, public_url="http://127.0.0.1",
                             now_ms=env.now, excess_policy=policy)
    env = Env(env.db, env.psp, service, env.clock, env.policy)
    order = await new_order(env)
    await pay(env, await ask(env, order), TOTAL)
    assert asked == [("money", "paid")]


async def test_a_held_excess_waits_for_the_merchant_even_when_the_policy_changes(
        env: Env) -> None:
    """Only money beyond the total that an event brings in is refunded by the policy; an
    unrelated later event does not refund what the merchant chose to hold."""
    env.policy["other"] = "hold"
    order = await new_order(env)
    qr, link = await ask(env, order), await ask(env, order, "payment_link")
    await pay(env, qr, TOTAL)
    told = _Told()
    env.psp.capture("pay_twice", TOTAL)
    second = await env.service.apply_event(
        NAME, event(link, K.CAPTURED, TOTAL, payment_id="pay_twice"), told)
    assert second is not None
    assert (second.excess_before, second.excess_after, second.excess_policy) == (
        _inr(0), _inr(TOTAL), "hold")
    env.policy["other"] = "refund"  # the merchant changes the setting
    later = await env.service.apply_event(
        NAME, event(link, K.AUTHORIZED, TOTAL, payment_id="pay_again"), told)
    assert later is not None
    assert (later.excess_before, later.excess_after) == (_inr(TOTAL), _inr(TOTAL))
    assert await env.service.repo.refunds_for_order(order.id) == []
    assert env.psp.paid_out() == 0
    await clean_books(env, "money_held")


async def test_an_event_on_a_closed_request_keeps_its_date_and_a_late_capture_is_dated_after(
        env: Env) -> None:
    """The provider's date is stored as it came, except a capture that arrives after we
    closed the request: it is dated one second after the close, so it counts as late."""
    order = await new_order(env)
    link = await ask(env, order, "payment_link")
    writes = WriteSet()
    await env.service.change_order(writes, order, OrderEvent.CANCEL)
    await env.db.write(writes)
    closed = await env.service.repo.request(link.id)
    assert closed is not None and closed.status == PaymentStatus.CANCELLED
    closed_at = env.now() // 1000
    early = T0 // 1000 - 60
    await env.service.apply_event(NAME, event(link, K.FAILED, TOTAL, at=early,
                                              payment_id="pay_failed", event_id="ev_failed"))
    await pay(env, link, TOTAL, "pay_late", at=early)
    events = {e.event_id: e for e in await env.service.repo.events_for(closed)}
    assert events["ev_failed"].occurred_at == early
    (late,) = [e for e in events.values() if e.kind is K.CAPTURED]
    assert late.occurred_at == closed_at + 1
    await clean_books(env)


async def test_our_refund_settled_by_the_providers_webhook_is_the_updates_refund(
        env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    pid = await pay(env, link, TOTAL)
    env.psp.refund_mode = "pending"
    await env.service.refund_order(await fresh(env, order), _inr(3_000))
    (sent,) = await env.service.repo.refunds_for_order(order.id)
    assert sent.provider_ref is not None
    told = _Told()
    update = await env.service.apply_event(
        NAME, event(link, K.REFUNDED, 3_000, at=T0 // 1000 + 50, payment_id=pid,
                    refund_id=sent.provider_ref), told)
    assert update is not None and told.updates == [update]
    (settled,) = await env.service.repo.refunds_for_order(order.id)
    assert update.refund is not None
    assert (update.refund.id, update.refund.status, update.refund.amount_minor) == (
        sent.id, settled.status, 3_000)
    assert update.provider_refund is None  # ours, not one the provider made by itself
    assert update.order_status_after == "partially_refunded"
    # the request as it stands after the event, as the flows word it ("₹30 refunded")
    assert (update.request.id, update.request.captured_minor,
            update.request.refunded_minor) == (link.id, TOTAL, 3_000)
    await clean_books(env)


# ---- apply_event: its guard per order, its retries, and an event for no request ----------


async def test_a_slow_order_does_not_hold_up_another_orders_payment(env: Env) -> None:
    """The service's guard is per order: while one order's event waits inside it (its
    notify is slow), another order's capture goes through."""
    slow, quick = await new_order(env), await new_order(env)
    slow_link, quick_link = await ask(env, slow), await ask(env, quick)
    release = asyncio.Event()

    async def waits(update: PaymentUpdate, writes: WriteSet) -> None:
        await release.wait()

    env.psp.capture("pay_slow", TOTAL)
    env.psp.capture("pay_quick", TOTAL)
    held = asyncio.create_task(env.service.apply_event(
        NAME, event(slow_link, K.CAPTURED, TOTAL, payment_id="pay_slow"), waits))
    await asyncio.sleep(0.05)
    assert not held.done()
    update = await asyncio.wait_for(env.service.apply_event(
        NAME, event(quick_link, K.CAPTURED, TOTAL, payment_id="pay_quick")), 5)
    assert update is not None and update.order_status_after == "paid"
    release.set()
    assert (await held) is not None
    assert (await fresh(env, slow)).status == "paid"


async def test_two_processes_paying_one_order_at_once_both_count(env: Env) -> None:
    """Two service objects (two processes) read the order at the same moment and each
    applies another payment's capture: one write conflicts, that process reads again and
    applies its capture then. Neither payment is lost."""
    order = await new_order(env)
    qr = await ask(env, order, amount=_inr(4_000))
    link = await ask(env, order, "payment_link", amount=_inr(6_000))
    both_read = asyncio.Barrier(2)
    calls = {"qr": 0, "link": 0}

    def meeting(name: str) -> Callable[[PaymentUpdate, WriteSet], Awaitable[None]]:
        async def notify(update: PaymentUpdate, writes: WriteSet) -> None:
            calls[name] += 1
            if calls[name] == 1:  # the first decision of each, on the same read
                await both_read.wait()
        return notify

    env.psp.capture("pay_qr", 4_000)
    env.psp.capture("pay_link", 6_000)
    first, second = env.restart().service, env.restart().service
    updates = await asyncio.gather(
        first.apply_event(NAME, event(qr, K.CAPTURED, 4_000, payment_id="pay_qr"),
                          meeting("qr")),
        second.apply_event(NAME, event(link, K.CAPTURED, 6_000, payment_id="pay_link"),
                           meeting("link")))
    assert all(u is not None for u in updates)
    assert sorted(calls.values()) == [1, 2]  # one of them decided again
    book = await env.service.book(await fresh(env, order))
    assert (book.captured, book.excess) == (TOTAL, 0)
    assert (await fresh(env, order)).status == "paid"
    await clean_books(env)


async def test_an_order_that_keeps_moving_leaves_the_event_for_a_redelivery(
        env: Env) -> None:
    """Another process moves the order's money every time this one decides: after its
    retries the event is refused with a Conflict, nothing of it stored, and the provider's
    redelivery applies it."""
    order = await new_order(env)
    link = await ask(env, order)

    async def races(update: PaymentUpdate, writes: WriteSet) -> None:
        other = WriteSet()
        env.service.repo.bump_money_version(other, update.order.id, update.order.money_version)
        await env.db.write(other)

    env.psp.capture("pay_busy", TOTAL)
    captured = event(link, K.CAPTURED, TOTAL, payment_id="pay_busy")
    with pytest.raises(Conflict) as moving:
        await env.service.apply_event(NAME, captured, races)
    assert str(moving.value) == (f"order {order.id} kept moving; event left for a "
                                 "redelivery")
    request = await env.service.repo.request(link.id)
    assert request is not None and await env.service.repo.events_for(request) == []
    assert (await env.service.apply_event(NAME, captured)) is not None
    assert (await fresh(env, order)).status == "paid"
    await clean_books(env)


async def test_an_event_for_no_request_is_kept_and_logged_without_its_details(
        env: Env, caplog: pytest.LogCaptureFixture) -> None:
    stray = ProviderEvent(provider=NAME, event_id="ev_stray", kind=K.CAPTURED,
                          provider_ref="sl_unknown", amount=_inr(TOTAL),
                          occurred_at=T0 // 1000, payment_id="pay_stray",
                          reference="pr_unknown", refs=("pr_unknown",))
    with caplog.at_level(logging.WARNING, logger="payments.service"):
        assert await env.service.apply_event(NAME, stray) is None
    assert [r.getMessage() for r in caplog.records if r.name == "payments.service"] == [
        f"payment event {NAME}/captured matches no payment request; kept for reconcile"]
    assert [row[1] for row in await env.service.repo.orphan_events()] == ["ev_stray"]


# ---- place_order and the close of the requests left open ---------------------------------

_BKASH = PaymentPlan(provider=NAME, payee=None, transfers={"bkash": TransferPayee(
    method="bkash", number="01711111111", name="Rahman Grocery")})


async def _place(env: Env, lines: list[OrderLine], *, cod: bool = False) -> Order:
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id="money", channel="simulator", customer="placing", lines=lines,
        delivery=_inr(1_000), address="Park Street", language="en", cash_on_delivery=cod)
    await env.db.write(writes)
    return order


@pytest.mark.parametrize(("lines", "code"), [
    ([], "empty_order"),
    ([OrderLine("THALI", "Thali", 0, _inr(9_000))], "bad_line"),
    ([OrderLine("THALI", "Thali", -1, _inr(9_000))], "bad_line"),
    ([OrderLine("THALI", "Thali", 1, _inr(9_000)),
      OrderLine("CAKE", "Cake", 1, Money(500, "AED"))], "bad_line"),
])
async def test_an_order_no_one_can_pay_is_refused_and_nothing_is_stored(
        env: Env, lines: list[OrderLine], code: str) -> None:
    with pytest.raises(PaymentError) as refused:
        await _place(env, lines)
    assert refused.value.code == code
    assert await env.service.orders("money") == []


async def test_a_placed_order_is_stored_as_returned_with_its_cash_request(env: Env) -> None:
    order = await _place(env, [OrderLine("THALI", "Thali", 2, _inr(4_500))], cod=True)
    assert order.id == f"money/ORD-{order.number}" and order.label == f"ORD-{order.number}"
    assert (order.subtotal_minor, order.delivery_minor, order.tip_minor,
            order.total_minor) == (9_000, 1_000, 0, TOTAL)
    assert await env.service.order(order.id) == order
    (cash,) = await env.service.requests_for_order(order.id)
    assert cash.id.startswith("pr_") and len(cash.id) == 23
    assert len(cash.token) == 32  # 24 random bytes, url-safe
    assert (cash.method, cash.status, cash.amount_minor, cash.captured_minor,
            cash.refunded_minor, cash.upi_link, cash.link_url, cash.vpa) == (
        "cod", PaymentStatus.ISSUED, TOTAL, 0, 0, "", "", None)


async def test_a_paid_order_closes_its_open_requests_but_not_a_tip_nor_a_transfers_link(
        env: Env) -> None:
    """Paid through a link: the other open link and the bKash transfer are closed (a
    ``cancelled`` event each, dated now in whole seconds), only the link the provider can
    cancel gets a cancel job, and an open tip stays open."""
    order = await new_order(env)
    env.advance(1_500)  # not a whole second: the close event's date is
    other = await ask(env, order, "payment_link")
    writes = WriteSet()
    transfer = await env.service.request_payment(writes, order, method="bkash", plan=_BKASH)
    tip = await env.service.request_payment(writes, order, method="tip", plan=_BKASH,
                                            amount=_inr(2_000))
    await env.db.write(writes)
    paying = await ask(env, order)
    await pay(env, paying, TOTAL)
    statuses = {r.id: r.status for r in await env.service.requests_for_order(order.id)}
    assert statuses == {other.id: PaymentStatus.CANCELLED, transfer.id: PaymentStatus.CANCELLED,
                        tip.id: PaymentStatus.ISSUED, paying.id: PaymentStatus.PAID}
    for closed in (other, transfer):
        (close,) = [e for e in await env.service.repo.events_for(closed)
                    if e.kind is K.CANCELLED]
        assert (close.event_id, close.amount, close.occurred_at) == (
            f"close:{closed.id}", _inr(0), env.now() // 1000)
        assert type(close.occurred_at) is int
    # the cancel jobs ran after the commit: the provider cancelled only its own link
    assert env.psp.cancelled == [other.provider_ref]
    assert await env.service.repo.due_link_cancels(env.now() + 1) == []
    # and the transfer, which no provider can cancel, never had a job written
    jobs_written = await env.db.fetchall(
        "SELECT key, status FROM scheduled_jobs WHERE kind = 'cancel_link'")
    assert [(str(k), str(s)) for k, s in jobs_written] == [
        (f"cancel_link:{other.id}", "fired")]


@pytest.mark.parametrize("public_url", ["http://127.0.0.1:8080", "http://127.0.0.1:8080/",
                                        "http://127.0.0.1:8080//"])
async def test_the_pay_page_link_has_one_slash_however_the_public_url_ends(
        env: Env, public_url: str) -> None:
    """``HAAT_PUBLIC_URL`` written with a trailing slash (or two) still gives the shopper
    ``…/pay/<token>``: a doubled slash is another path to a strict proxy."""
    service = PaymentService(env.db, env.service.providers, public_url=public_url,
                             now_ms=env.now)
    order = await new_order(env)
    writes = WriteSet()
    request = await service.request_payment(writes, order, method="upi_link",
                                            plan=PaymentPlan(provider=NAME, payee=None))
    await env.db.write(writes)
    pages = [u for u in (request.link_url, request.upi_link) if "/pay/" in (u or "")]
    assert pages, (request.link_url, request.upi_link)
    for url in pages:
        assert url.startswith("http://127.0.0.1:8080/pay/") and "//pay" not in url
