"""Property tests through the real service and database: any delivery order of the same
provider events (with duplicates) ends in the same money, and the books always balance."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.money import Money
from payments.providers.base import ProviderEvent, UpiPayee
from payments.providers.upi_intent import UpiIntentProvider
from payments.repository import OrderLine
from payments.service import PaymentPlan, PaymentService
from payments.status import PaymentEventKind
from storage.database import Database, WriteSet, open_database

K = PaymentEventKind
TOTAL = 10_000  # ₹100.00
_counter = itertools.count()


@pytest.fixture
async def service(backend_url: str) -> AsyncIterator[PaymentService]:
    """On the backend of this pass (tests/conftest.py: backend_url)."""
    db: Database = open_database(backend_url)
    await db.start()
    yield PaymentService(db, {"upi_intent": UpiIntentProvider(None)},
                         public_url="http://127.0.0.1", now_ms=lambda: int(time.time() * 1000))
    await db.close()


# an event: (kind, payment or refund number, second it happened); one payment (or refund)
# id always carries the same amount, as with a real PSP
CAPTURE_AMOUNTS = (2_500, 5_000, 10_000, 2_500)
REFUND_AMOUNTS = (1_000, 2_500, 5_000, 1_000)
EVENT = st.one_of(
    st.tuples(st.just(K.CAPTURED), st.integers(0, 3), st.integers(0, 100)),
    st.tuples(st.just(K.FAILED), st.integers(4, 6), st.integers(0, 100)),
    st.tuples(st.just(K.REFUNDED), st.integers(0, 3), st.integers(101, 200)),
)


async def _new_request(service: PaymentService) -> tuple[str, str]:
    writes = WriteSet()
    n = next(_counter)
    order = await service.place_order(
        writes, shop_id="props", channel="simulator", customer=f"c{n}",
        lines=[OrderLine("SAMOSA", "Samosa", 1, Money(TOTAL - 3_000, "INR"))],
        delivery=Money(3_000, "INR"), address="", language="en")
    plan = PaymentPlan(provider="upi_intent", payee=UpiPayee(vpa="shop@okaxis", name="Shop"))
    request = await service.request_payment(writes, order, method="upi_link", plan=plan)
    await service.db.write(writes)
    return request.id, request.provider_ref or request.id


def _events(spec: list[tuple[K, int, int]], ref: str, request_id: str,
            base: int) -> list[ProviderEvent]:
    events = []
    for number, (kind, which, second) in enumerate(spec):
        refund = kind is K.REFUNDED
        amount = (REFUND_AMOUNTS[which] if refund else
                  CAPTURE_AMOUNTS[which] if kind is K.CAPTURED else 0)
        events.append(ProviderEvent(
            provider="upi_intent", event_id=f"{request_id}-e{number}", kind=kind,
            provider_ref=ref, amount=Money(amount, "INR"), occurred_at=base + second,
            payment_id=f"{request_id}-p{which % 4}",
            refund_id=f"{request_id}-r{which}" if refund else None,
            reference=request_id, refs=(request_id,)))
    return events


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.lists(EVENT, min_size=1, max_size=7), seed=st.randoms(use_true_random=False))
async def test_any_delivery_order_ends_in_the_same_money(
        service: PaymentService, spec: list[tuple[K, int, int]],
        seed: object) -> None:
    base = int(time.time())
    finals = []
    for attempt in range(2):
        request_id, ref = await _new_request(service)
        events = _events(spec, ref, request_id, base)
        deliveries = events + events[: len(events) // 2]  # some delivered twice
        if attempt:
            seed.shuffle(deliveries)  # type: ignore[attr-defined]
        for event in deliveries:
            await service.apply_event("upi_intent", event)
        request = await service.repo.request(request_id)
        assert request is not None
        finals.append((request.captured_minor, request.refunded_minor, request.status))
        # refunds never exceed captures; captured money is all there
        assert request.refunded_minor <= request.captured_minor
        captured = {e.payment_id: e.amount.minor for e in events if e.kind is K.CAPTURED}
        assert request.captured_minor == sum(captured.values())
    assert finals[0] == finals[1]
    assert await service.ledger_balanced()


async def test_concurrent_duplicates_apply_once(service: PaymentService) -> None:
    request_id, ref = await _new_request(service)
    event = _events([(K.CAPTURED, 2, 1)], ref, request_id, int(time.time()))[0]
    updates = await asyncio.gather(*(service.apply_event("upi_intent", event)
                                     for _ in range(8)))
    assert sum(u is not None for u in updates) == 1
    request = await service.repo.request(request_id)
    assert request is not None and request.captured_minor == TOTAL
    assert await service.ledger_balanced()
