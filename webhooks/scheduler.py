"""Periodic work: payment expiry, reminders, reconciliation, outbox retries, catalog syncs.

Everything it does is idempotent and durable (compare-and-set rows), so running it from a
timer, from ``haat test``'s ``wait:`` step, or twice at once is safe.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.flows.payment_updates import PaymentNotifier
from bot.reminders import Reminders
from payments.service import PaymentService
from webhooks.meta_catalog import CatalogJobs
from webhooks.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class Scheduler:
    payments: PaymentService
    notifier: PaymentNotifier
    reminders: Reminders
    outbox: Outbox
    catalog: CatalogJobs | None = None  # sync_on_reload jobs, run in the background
    interval_seconds: float = 5.0
    reconcile_every: int = 60  # ticks: every 5 minutes at the default interval

    async def run_due(self) -> None:
        await self.payments.expire_due(self.notifier)
        await self.payments.retry_refunds(self.notifier)  # durable, with backoff
        await self.payments.run_link_cancels(self.notifier)
        await self.reminders.run_due()
        if self.catalog is not None:
            self.catalog.kick()  # never waits on Meta (a slow sync would hold up the rest)
        await self.outbox.run_due()
        await self.outbox.drain()

    async def reconcile(self) -> dict[str, int]:
        report = await self.payments.reconcile(self.notifier)
        await self.outbox.run_due()
        return report

    async def run_forever(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(self.interval_seconds)
            tick += 1
            try:
                await self.run_due()
                if tick % self.reconcile_every == 0:
                    report = await self.reconcile()
                    if report["applied"]:
                        log.warning("reconcile applied %d missed payment events",
                                    report["applied"])
            except Exception:
                log.exception("scheduled work failed; will retry")
