"""One provider event counts once even when several services on one database get it.

A single service's lock serialises its own deliveries, which hid the database's unique
guard on provider events (issue 20). Here the same webhook reaches ten service objects on
the same database at once (ten processes behind a load balancer), then once more later.
(Removing only the event row's guard, ``must_change`` in payments/repository.py
``insert_event``, is still caught here by the request row's version check: the two guards
back each other up; docs/TESTING.md.)
"""

from __future__ import annotations

import asyncio

from tests.contract.money_env import TOTAL, Env, K, ask, clean_books, event, fresh, new_order
from tests.fakes.psp import NAME


async def test_the_same_capture_at_ten_services_at_once_is_captured_once(env: Env) -> None:
    order = await new_order(env)
    link = await ask(env, order)
    env.psp.capture("pay_once", TOTAL)
    captured = event(link, K.CAPTURED, TOTAL, payment_id="pay_once", event_id="evt_once")
    services = [env.restart().service for _ in range(10)]
    await asyncio.gather(*(s.apply_event(NAME, captured) for s in services),
                         return_exceptions=True)
    await env.restart().service.apply_event(NAME, captured)  # a redelivery, much later
    events = await env.service.repo.events_for(await env.service.repo.request(link.id))  # type: ignore[arg-type]
    assert [e.event_id for e in events if e.kind is K.CAPTURED] == ["evt_once"]
    assert (await fresh(env, order)).status == "paid"
    assert env.psp.refunded == {}  # nothing counted twice, so no "overpayment" refunded
    await clean_books(env)
