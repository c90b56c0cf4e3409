"""Shared by the order-money tests: a payment service on a real database with the scripted
PSP (tests/fakes/psp.py), a controllable clock, and small helpers that act as the world
does (place an order, ask for money, deliver a provider event)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from catalog.money import Money
from payments.audit import audit
from payments.providers.base import PaymentProvider, ProviderEvent
from payments.providers.manual import ManualTransferProvider
from payments.repository import Order, OrderLine, PaymentRequest
from payments.service import PaymentPlan, PaymentService
from payments.status import PaymentEventKind, apply_events
from storage.database import Database, WriteSet
from tests.fakes.psp import NAME, ScriptedPsp

K = PaymentEventKind
T0 = 1_795_408_200_000
TOTAL = 10_000
_ids = itertools.count(1)


@dataclass
class Env:
    db: Database
    psp: ScriptedPsp
    service: PaymentService
    clock: list[int]
    policy: dict[str, str] = field(default_factory=lambda: {"cancelled": "refund",
                                                            "other": "refund"})

    def now(self) -> int:
        return self.clock[0]

    def advance(self, ms: int) -> None:
        self.clock[0] += ms

    def restart(self) -> Env:
        """A new service object on the same database (a restart, or a second process)."""
        # the scripted PSP, and manual transfers to the merchant's own wallet (bKash…)
        providers: dict[str, PaymentProvider] = {NAME: self.psp,
                                                 "manual": ManualTransferProvider()}
        service = PaymentService(self.db, providers, public_url="http://127.0.0.1",
                                 now_ms=self.now, excess_policy=self._policy)
        return Env(self.db, self.psp, service, self.clock, self.policy)

    def _policy(self, shop_id: str, status: str) -> str:
        return self.policy["cancelled" if status == "cancelled" else "other"]


PLAN = PaymentPlan(provider=NAME, payee=None)


async def cod_order(env: Env) -> Order:
    """A cash-on-delivery order (placed ``awaiting_confirmation`` with its cash request)."""
    return await new_order(env, customer="cod-shopper", address="Park Street",
                           cash_on_delivery=True)


async def new_order(env: Env, total: int = TOTAL, *, customer: str | None = None,
                    address: str = "", cash_on_delivery: bool = False) -> Order:
    writes = WriteSet()
    order = await env.service.place_order(
        writes, shop_id="money", channel="simulator", customer=customer or f"c{next(_ids)}",
        lines=[OrderLine("THALI", "Thali", 1, Money(total - 1_000, "INR"))],
        delivery=Money(1_000, "INR"), address=address, language="en",
        cash_on_delivery=cash_on_delivery)
    await env.db.write(writes)
    return order


async def ask(env: Env, order: Order, method: str = "upi_link",
              amount: Money | None = None) -> PaymentRequest:
    writes = WriteSet()
    request = await env.service.request_payment(writes, order, method=method, plan=PLAN,
                                                amount=amount)
    await env.db.write(writes)
    return request


def event(request: PaymentRequest, kind: K, amount: int = 0, *, at: int | None = None,
          payment_id: str | None = None, refund_id: str | None = None,
          event_id: str | None = None) -> ProviderEvent:
    return ProviderEvent(
        provider=NAME, event_id=event_id or f"ev{next(_ids)}", kind=kind,
        provider_ref=request.provider_ref or request.id, amount=Money(amount, "INR"),
        occurred_at=(T0 // 1000) if at is None else at, payment_id=payment_id,
        refund_id=refund_id, reference=request.id, refs=(request.id,))


async def pay(env: Env, request: PaymentRequest, amount: int, payment_id: str | None = None,
              *, at: int | None = None) -> str:
    pid = payment_id or f"pay{next(_ids)}"
    env.psp.capture(pid, amount)
    await env.service.apply_event(NAME, event(request, K.CAPTURED, amount, at=at,
                                              payment_id=pid))
    return pid


async def fresh(env: Env, order: Order) -> Order:
    found = await env.service.repo.order(order.id)
    assert found is not None
    return found


async def late_money(env: Env, request: PaymentRequest) -> int:
    """What the request's events count as paid after close (then refunded by policy)."""
    row = await env.service.repo.request(request.id)
    assert row is not None and row.status in ("paid_after_close", "refunded")
    events = await env.service.repo.events_for(row)
    return apply_events(row.amount, events).captured_after_close.minor


async def clean_books(env: Env, *allowed: str) -> None:
    """payments/audit.py finds nothing (or only the named kinds)."""
    found = [a for a in await audit(env.service.repo, shop_id="money", now_ms=env.now())
             if a.kind not in allowed]
    assert not found, [str(a) for a in found]
    assert await env.service.ledger_balanced()
