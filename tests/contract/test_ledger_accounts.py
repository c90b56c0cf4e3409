"""The books account by account, written out by hand, not only "debits equal credits".

Issue 20: late money refunded after a cancel could be booked against revenue while the
books still balanced, and no test looked at the accounts. Each case here states, per
account, what the ledger must hold for one order (payments/ledger.py names the accounts).
"""

from __future__ import annotations

from payments.audit import order_balances
from payments.status import OrderEvent
from storage.database import WriteSet
from tests.contract.money_env import TOTAL, Env, ask, clean_books, late_money, new_order, pay


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
