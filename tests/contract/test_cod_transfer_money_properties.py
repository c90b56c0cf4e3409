"""Property tests of the order-money invariants for cash on delivery and manual transfers
(docs/ARCHITECTURE.md, "Money invariants"), through the real service and database, on
SQLite and PostgreSQL.

Hypothesis writes random programs against one order that is either cash on delivery
(placed ``awaiting_confirmation`` with its cash request) or prepaid by a manual transfer
(bKash to the merchant's own wallet): the shopper confirms, cancels or switches to a
prepaid method (a transfer, a UPI link); the shopper claims a transaction id (once, twice,
another one); the merchant approves it (``paid ORD-… <trx>``: refused for an id the
shopper never gave, as bot/flows/merchant.py ``cmd_paid`` refuses it), approves it twice
or with a second id, or never (the transfer expires, the order is cancelled); the rider
delivers and collects the cash, or the order comes back (``returned``); events are
replayed, services restart, PSP money arrives on a link, refunds are asked and booked by
hand. The actions of tests/contract/test_order_money_properties.py (captures on links,
redeliveries, restarts, refunds) are mixed in. After every step and at the end, at the
level of the order and the ledger account: each account holds what the order's book says
(``cash_in_hand`` exactly the cash taken less the cash given back; the merchant's wallet
``psp_clearing:manual:bkash`` what was confirmed there), the ledger balances, money beyond
the total is never silent (held where the audit sees it, or refunded), a claim alone moves
no money, and nobody is told "paid" before money moved.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.money import Money
from payments.audit import audit, expected_balances, order_balances
from payments.ledger import Account
from payments.providers.base import ProviderEvent, TransferPayee
from payments.repository import Order, OrderLine, PaymentRequest
from payments.service import PaymentError, PaymentPlan, PaymentUpdate
from payments.status import (
    OPEN_FOR_PAYMENT,
    InvalidTransition,
    OrderEvent,
    OrderStatus,
    PaymentEventKind,
    RefundStatus,
)
from storage.database import WriteSet
from tests.contract.money_env import PLAN, T0, TOTAL, Env, fresh
from tests.contract.test_order_money_properties import Run, _by_hand, _step
from tests.fakes.psp import HandRefundPsp, ScriptedPsp

K = PaymentEventKind
BKASH = PaymentPlan(provider=PLAN.provider, payee=None, transfers={"bkash": TransferPayee(
    method="bkash", number="01711111111", name="Rahman Grocery")})
TRX = ("8N7A6D5EE7", "7A6B5C4D9X", "9Z8Y7X6W5V")  # bKash TrxIDs: 10 letters and digits
_IDS = itertools.count(1)
PAID_LIKE = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUND_PENDING,
             OrderStatus.REFUNDED)

LIFECYCLE = st.tuples(st.sampled_from(["confirm", "confirm", "ship", "ship", "deliver",
                                       "deliver", "collect", "return", "cancel",
                                       "deliver_plain", "expire_transfers"]), st.just(0))
CLAIM = st.tuples(st.just("claim"), st.tuples(st.integers(0, 3), st.sampled_from(TRX)))
APPROVE = st.tuples(st.just("approve"), st.tuples(st.integers(0, 3),
                                                  st.sampled_from([None, *TRX])))
STEP = st.one_of(
    LIFECYCLE, LIFECYCLE, LIFECYCLE, LIFECYCLE, CLAIM, CLAIM, APPROVE, APPROVE,
    st.tuples(st.just("switch"), st.sampled_from(["bkash", "bkash", "upi_link"])),
    st.tuples(st.just("approve_amount"), st.tuples(st.integers(0, 3),
                                                   st.sampled_from([2_500, TOTAL]))),
    st.tuples(st.just("replay"), st.integers(0, 9)),
    # the prepaid-order program's own actions, mixed in
    st.tuples(st.just("capture"), st.tuples(st.integers(0, 3), st.sampled_from(
        [5_000, TOTAL]), st.booleans())),
    st.tuples(st.sampled_from(["redeliver"]), st.integers(0, 9)),
    st.tuples(st.sampled_from(["restart", "expire_due", "refund_excess", "by_hand"]),
              st.just(None)),
    st.tuples(st.just("refund"), st.sampled_from([None, 1_000])),
)


class CashRun(Run):
    """A program's state: beside the PSP's requests and events (``Run``), the transfer
    requests, the shopper's claims, the cash and manual events applied, and every update
    the shopper would hear of."""

    def __init__(self, env: Env) -> None:
        super().__init__(env)
        self.transfers: list[PaymentRequest] = []
        self.claims: dict[str, list[str]] = {}  # request id → transaction ids claimed
        self.applied: list[tuple[str, ProviderEvent]] = []  # (provider, event) once applied
        self.cash_taken = 0
        self.told_paid: list[PaymentUpdate] = []

    async def notify(self, update: PaymentUpdate, writes: WriteSet) -> None:
        """Where the bot's payment notifier would tell the shopper; "paid" (or "cash
        received") only for a capture that moved money, never for a claim."""
        cash = update.request.method == "cod"
        if update.newly_paid or (cash and update.after.captured.minor
                                 > update.before.captured.minor):
            assert update.event.kind is K.CAPTURED, update.event
            assert not update.event.event_id.startswith("claim:"), update.event
            assert update.after.captured.minor > update.before.captured.minor, update
            self.told_paid.append(update)


Action = Callable[[CashRun, Order, Any], Awaitable[None]]


async def _move(run: CashRun, order: Order, event: OrderEvent) -> None:
    writes = WriteSet()
    with contextlib.suppress(InvalidTransition):
        await run.env.service.change_order(writes, order, event)
        await run.env.db.write(writes)


async def _cash(run: CashRun, order: Order, deliver: bool) -> None:
    """``deliver ORD-…`` (``deliver``) or ``paid ORD-…`` at the door: the cash due."""
    with contextlib.suppress(PaymentError):
        update = await run.env.service.collect_cash(order, deliver=deliver, notify=run.notify)
        if update is not None:
            run.cash_taken += update.after.captured.minor - update.before.captured.minor
            run.applied.append(("cash", update.event))


async def _switch(run: CashRun, order: Order, method: str) -> None:
    """The shopper pays now instead (``cod:prepaid:…``), or the transfer order's own ask."""
    writes = WriteSet()
    with contextlib.suppress(PaymentError):
        request = await run.env.service.request_payment(
            writes, order, method=method, plan=BKASH if method == "bkash" else PLAN)
        await run.env.db.write(writes)
        (run.transfers if method == "bkash" else run.requests).append(request)


async def _claim(run: CashRun, order: Order, arg: tuple[int, str]) -> None:
    """The shopper's transaction id: kept against the request, no money moves."""
    if not run.transfers:
        return
    request = run.transfers[arg[0] % len(run.transfers)]
    before = await _balances(run.env, order)
    writes = WriteSet()
    if await run.env.service.record_transfer_claim(writes, request, arg[1]):
        run.claims.setdefault(request.id, []).append(arg[1])
    await run.env.db.write(writes)
    assert await _balances(run.env, order) == before  # a claim is not money
    assert (await fresh(run.env, order)).status is order.status


async def _approve(run: CashRun, order: Order, arg: tuple[int, str | None]) -> None:
    """``paid ORD-… [<trx>]``: what the shopper claimed (refused for an id they never gave:
    the merchant's rejection), for what the order still owes."""
    if not run.transfers or order.status is not OrderStatus.PENDING_PAYMENT:
        return  # cmd_paid: nothing to confirm on an order that no longer waits
    request = run.transfers[arg[0] % len(run.transfers)]
    claims = run.claims.get(request.id, [])
    trx = arg[1] if arg[1] is not None else (claims[-1] if claims else None)
    if claims and trx not in claims:
        return  # "the shopper gave transaction id …, not …": nothing recorded
    book = await run.env.service.book(order)
    left = Money(max(order.total_minor - book.captured, 0), order.currency)
    await _confirm(run, request, left, trx)


async def _approve_amount(run: CashRun, order: Order, arg: tuple[int, int]) -> None:
    """``paid ORD-… <amount> <reference>``: money the merchant saw, even on a closed order."""
    if run.transfers:
        request = run.transfers[arg[0] % len(run.transfers)]
        await _confirm(run, request, Money(arg[1], order.currency), f"REF{next(_IDS):07d}")


async def _confirm(run: CashRun, request: PaymentRequest, amount: Money,
                   trx: str | None) -> None:
    if amount.minor <= 0:
        return
    event = run.env.service.transfer_confirmation(request, amount, trx, run.env.now())
    assert event is not None
    if await run.env.service.apply_event("manual", event, run.notify) is not None:
        run.applied.append(("manual", event))


async def _replay(run: CashRun, order: Order, index: int) -> None:
    """A command typed twice, a restart that applies again: the same event is one."""
    if run.applied:
        provider, event = run.applied[index % len(run.applied)]
        assert await run.env.service.apply_event(provider, event, run.notify) is None


async def _expire_transfers(run: CashRun, order: Order, _: object) -> None:
    """The merchant never saw the money: a day later the transfer expires."""
    run.env.advance(25 * 3_600_000)
    await run.env.service.expire_due()


ACTIONS: dict[str, Action] = {
    "confirm": lambda run, order, _: _move(run, order, OrderEvent.CONFIRM),
    "ship": lambda run, order, _: _move(run, order, OrderEvent.SHIP),
    "return": lambda run, order, _: _move(run, order, OrderEvent.RETURN),
    "cancel": lambda run, order, _: _move(run, order, OrderEvent.CANCEL),
    "deliver_plain": lambda run, order, _: _move(run, order, OrderEvent.DELIVER),
    "deliver": lambda run, order, _: _cash(run, order, True),
    "collect": lambda run, order, _: _cash(run, order, False),
    "switch": _switch, "claim": _claim, "approve": _approve,
    "approve_amount": _approve_amount, "replay": _replay,
    "expire_transfers": _expire_transfers,
}


async def _balances(env: Env, order: Order) -> dict[str, int]:
    return order_balances(await env.service.repo.ledger_rows("money"), "money", order.label)


async def _check(run: CashRun, order_id: str, policy: str) -> None:
    env = run.env
    order = await _order(env, order_id)
    book = await env.service.book(order)
    # 1. each account holds what the order's book says, cash_in_hand and the wallet too
    actual = await _balances(env, order)
    for account, want in expected_balances(book).items():
        assert actual.get(account, 0) == want, (account, actual, order.status)
    cash_back = sum(r.amount_minor for r in book.refunds if r.status == RefundStatus.PROCESSED
                    and book.cash_request is not None
                    and r.payment_request_id == book.cash_request.id)
    assert actual.get(Account.CASH_IN_HAND, 0) == run.cash_taken - cash_back, actual
    wallet = await _wallet(env, order)
    confirmed = sum(e.amount.minor for p, e in run.applied if p == "manual")
    assert wallet == confirmed - _manual_back(book, run), (wallet, confirmed)
    assert await env.service.ledger_balanced()
    # 2. beyond its total is never silent: refunded, or held where the audit sees it
    found = {a.kind for a in await audit(env.service.repo, shop_id="money", now_ms=env.now())
             if a.order == order.label}
    assert "status_mismatch" not in found, found
    if book.excess:
        visible = found & {"money_held", "money_held_on_cancelled", "refund_failed"}
        assert visible or (policy == "refund" and book.live_refunds), (book.excess, found)
    # 3. paid (to the shopper) only with the money in; and a waiting order owes its total
    if order.status in PAID_LIKE or (order.status is OrderStatus.DELIVERED and book.cash_request):
        assert book.captured >= order.total_minor, (order.status, book.captured)
    if order.status in OPEN_FOR_PAYMENT:
        assert book.captured < order.total_minor, order.status
    # 4. refunds never exceed what each payment captured
    for capture in book.captures():
        assert sum(r.amount_minor for r in book.live_refunds
                   if r.payment_id == capture.payment_id) <= capture.amount


async def _order(env: Env, order_id: str) -> Order:
    found = await env.service.repo.order(order_id)
    assert found is not None
    return found


async def _wallet(env: Env, order: Order) -> int:
    """The merchant's bKash account's balance for this order (``psp_clearing:manual:bkash``)."""
    rows = await env.service.repo.ledger_rows("money")
    return sum(amount for _shop, ref, account, amount, _c in rows
               if account.endswith(":manual:bkash") and ref.split(":")[1:2] == [order.label])


def _manual_back(book: Any, run: CashRun) -> int:
    ids = {r.id for r in run.transfers}
    return sum(r.amount_minor for r in book.refunds if r.status == RefundStatus.PROCESSED
               and r.payment_request_id in ids)


async def _start(run: CashRun, cod: bool) -> Order:
    """A cash-on-delivery order, or a prepaid order waiting for a bKash transfer."""
    writes = WriteSet()
    order = await run.env.service.place_order(
        writes, shop_id="money", channel="simulator", customer=f"cod{next(_IDS)}",
        lines=[OrderLine("ALOO", "Aloo", 1, Money(TOTAL - 1_000, "INR"))],
        delivery=Money(1_000, "INR"), address="Dhanmondi", language="bn",
        cash_on_delivery=cod)
    await run.env.db.write(writes)
    if not cod:
        await _switch(run, order, "bkash")
    return order


@settings(max_examples=50, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(program=st.lists(STEP, min_size=8, max_size=20),
       policy=st.sampled_from(["refund", "hold"]), cod=st.booleans(),
       psp=st.sampled_from(["api", "by_hand"]))
async def test_cod_and_transfer_money_invariants_hold_for_any_program(
        env: Env, program: list[tuple[str, Any]], policy: str, cod: bool, psp: str) -> None:
    fake = ScriptedPsp.unique() if psp == "api" else HandRefundPsp.unique()
    base = Env(env.db, fake, env.service, [T0],
               {"cancelled": policy, "other": policy})
    run = CashRun(base.restart())
    order = await _start(run, cod)
    for op, arg in program:
        current = await _order(run.env, order.id)
        action = ACTIONS.get(op)
        if action is None:
            await _step(run, op, arg, order.id)
        else:
            await action(run, current, arg)
        await _check(run, order.id, policy)
    # the merchant pays back by hand whatever is owed (cash, a wallet: no refund API)
    await _by_hand(run.env, await _order(run.env, order.id), None)
    await _check(run, order.id, policy)
    told = {u.event.event_id for u in run.told_paid}
    assert told <= {e.event_id for _, e in run.applied} | {e.event_id for e in run.sent}
